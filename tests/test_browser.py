"""End-to-end tests of the chat page in headless Chromium, against the real app.

The ``live_server`` fixture (tests/conftest.py) yields the base URL of a uvicorn server running
the real app with the real model over the bundled corpus (corpus/msc-article.md).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.browser]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-quic",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP = {"width": 1280, "height": 860}
PHONE = {"width": 375, "height": 740}
DESKTOP_800 = {"width": 1280, "height": 800}
PHONE_844 = {"width": 390, "height": 844}
ANSWER_TIMEOUT_MS = 90_000  # the first question may wait for the model to warm up
UI_TIMEOUT_MS = 5_000

ADIPOSE_COLLECTED = "How are adipose mesenchymal stem cells collected?"


@dataclass
class Session:
    """A page plus everything it logged, so each test can assert the page stayed clean."""

    page: Any
    base_url: str
    requests: list[str] = field(default_factory=list)
    csp_violations: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)

    def open(self) -> None:
        self.page.goto(self.base_url + "/")
        self.page.wait_for_selector("#ask-form")

    def assert_clean(self) -> None:
        assert self.csp_violations == [], f"CSP violations: {self.csp_violations}"
        assert self.page_errors == [], f"uncaught page errors: {self.page_errors}"


@pytest.fixture(scope="module")
def chromium_browser() -> Iterator[Any]:
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI"):  # `make test` installs it: in CI its absence is a failure
            pytest.fail(f"headless Chromium missing at {CHROMIUM}; `make chromium` installs it")
        pytest.skip(f"headless Chromium not installed at {CHROMIUM} (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    playwright = sync_api.sync_playwright().start()
    try:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
    finally:
        playwright.stop()


def _session(browser: Any, base_url: str, viewport: dict[str, int]) -> Iterator[Session]:
    context = browser.new_context(viewport=viewport)
    context.set_default_timeout(UI_TIMEOUT_MS)
    page = context.new_page()
    session = Session(page=page, base_url=base_url.rstrip("/"))

    def on_console(msg: Any) -> None:
        text = msg.text
        if "Content Security Policy" in text or "Refused to" in text:
            session.csp_violations.append(text)

    page.on("console", on_console)
    page.on("pageerror", lambda exc: session.page_errors.append(str(exc)))
    page.on("request", lambda req: session.requests.append(req.url))
    try:
        yield session
    finally:
        context.close()


@pytest.fixture()
def chat(chromium_browser: Any, live_server: str) -> Iterator[Session]:
    yield from _session(chromium_browser, live_server, DESKTOP)


@pytest.fixture()
def phone_chat(chromium_browser: Any, live_server: str) -> Iterator[Session]:
    yield from _session(chromium_browser, live_server, PHONE)


def _expect() -> Any:
    from playwright.sync_api import expect

    return expect


def ask(page: Any, question: str) -> None:
    page.fill("#question", question)
    page.click("#send")


def assistant_turn(page: Any, index: int) -> Any:
    """The index-th (0-based) assistant turn, once it has arrived."""
    turn = page.locator(".turn.assistant").nth(index)
    _expect()(turn).to_be_visible(timeout=ANSWER_TIMEOUT_MS)
    return turn


def answered_turn(page: Any, index: int) -> Any:
    turn = assistant_turn(page, index)
    expect = _expect()
    expect(turn).not_to_have_class(re.compile(r"\b(not-found|error)\b"))
    expect(turn.locator(".answer")).to_be_visible()
    return turn


def test_answer_with_citation_opens_highlighted_passage(chat: Session) -> None:
    expect = _expect()
    page = chat.page
    chat.open()
    ask(page, ADIPOSE_COLLECTED)

    turn = answered_turn(page, 0)
    expect(turn.locator(".answer")).to_contain_text("liposuction")
    expect(page.locator("#send")).to_be_enabled()

    cite = turn.locator(".cite").first
    expect(cite).to_have_attribute("data-n", re.compile(r"^\d+$"))
    cite.click()

    passage = page.locator("#passage")
    expect(passage).to_be_visible()
    expect(passage.locator(".passage-title")).to_have_text(re.compile(r"\S"))
    mark = passage.locator(".passage-text mark").first
    expect(mark).to_be_visible()
    mark_text = mark.text_content() or ""
    passage_text = passage.locator(".passage-text").text_content() or ""
    assert mark_text.strip(), "highlight is empty"
    assert mark_text in passage_text

    passage.locator(".passage-close").click()
    expect(passage).to_be_hidden()
    chat.assert_clean()


def test_follow_up_question_uses_history(chat: Session) -> None:
    expect = _expect()
    page = chat.page
    chat.open()
    first = "What are the advantages of adipose mesenchymal stem cells?"
    ask(page, first)
    answered_turn(page, 0)

    with page.expect_request(lambda r: r.method == "POST" and r.url.endswith("/ask")) as req:
        ask(page, "How are they collected?")
    payload = req.value.post_data_json
    history = payload.get("history") or []
    assert [m["role"] for m in history] == ["user", "assistant"]
    assert history[0]["content"] == first

    second = answered_turn(page, 1)
    expect(second.locator(".answer")).to_contain_text("liposuction")

    # "New conversation" clears the turns and the history sent with the next question.
    page.click("#new-conversation")
    expect(page.locator("#conversation .turn")).to_have_count(0)
    with page.expect_request(lambda r: r.method == "POST" and r.url.endswith("/ask")) as req:
        ask(page, ADIPOSE_COLLECTED)
    assert not req.value.post_data_json.get("history")
    assistant_turn(page, 0)
    chat.assert_clean()


def test_out_of_scope_question_shows_not_found(chat: Session) -> None:
    expect = _expect()
    page = chat.page
    chat.open()
    ask(page, "What is the capital of France?")
    turn = assistant_turn(page, 0)
    expect(turn).to_have_class(re.compile(r"\bnot-found\b"))
    expect(turn.locator(".cite")).to_have_count(0)
    chat.assert_clean()


def test_question_markup_is_shown_as_text(chat: Session) -> None:
    expect = _expect()
    page = chat.page
    chat.open()
    question = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=1</script>'
    page.fill("#question", question)
    page.press("#question", "Enter")

    expect(page.locator(".turn.user .question-text").first).to_have_text(question)
    assistant_turn(page, 0)  # answer, not-found or error: the round trip finished
    page.wait_for_timeout(300)

    assert page.evaluate("typeof window.__pwned") == "undefined"
    expect(page.locator("#conversation img")).to_have_count(0)
    expect(page.locator("#conversation script")).to_have_count(0)
    base = urlsplit(chat.base_url)
    for url in chat.requests:
        parts = urlsplit(url)
        if parts.scheme == "data":
            continue
        assert (parts.scheme, parts.netloc) == (base.scheme, base.netloc), f"off-site: {url}"
        assert parts.path != "/x", f"markup in the question triggered a request: {url}"
    chat.assert_clean()


def test_keyboard_only(chat: Session) -> None:
    expect = _expect()
    page = chat.page
    chat.open()

    for _ in range(20):
        if page.evaluate("document.activeElement && document.activeElement.id") == "question":
            break
        page.keyboard.press("Tab")
    expect(page.locator("#question")).to_be_focused()

    # Shift+Enter adds a line; it does not send.
    page.keyboard.type("draft")
    page.keyboard.press("Shift+Enter")
    assert "\n" in page.input_value("#question")
    expect(page.locator("#conversation .turn")).to_have_count(0)
    page.fill("#question", "")

    page.keyboard.type(ADIPOSE_COLLECTED)
    page.keyboard.press("Enter")
    turn = answered_turn(page, 0)

    cite = turn.locator(".cite").first
    assert cite.evaluate("el => el.tagName") == "BUTTON"
    cite.focus()
    expect(cite).to_be_focused()
    page.keyboard.press("Enter")
    passage = page.locator("#passage")
    expect(passage).to_be_visible()
    assert page.evaluate("document.getElementById('passage').contains(document.activeElement)")

    page.keyboard.press("Escape")
    expect(passage).to_be_hidden()
    expect(cite).to_be_focused()
    chat.assert_clean()


def test_phone_width_has_no_horizontal_scroll(phone_chat: Session) -> None:
    expect = _expect()
    page = phone_chat.page
    phone_chat.open()
    width = PHONE["width"]

    def scroll_width() -> int:
        return int(page.evaluate("document.documentElement.scrollWidth"))

    assert scroll_width() <= width + 1
    ask(page, ADIPOSE_COLLECTED)
    turn = answered_turn(page, 0)
    assert scroll_width() <= width + 1

    turn.locator(".cite").first.click()
    expect(page.locator("#passage")).to_be_visible()
    assert scroll_width() <= width + 1
    for selector in ("#question", "#send"):
        box = page.locator(selector).bounding_box()
        assert box is not None
        assert box["x"] >= 0
        assert box["x"] + box["width"] <= width + 1
    phone_chat.assert_clean()


HOSTILE = (
    "Hostile passages are quoted safely. "
    'Stem cell spam <script>window.__pwned=1</script> and <img src=/x onerror="window.__pwned=1"> '
    "with [a link](javascript:window.__pwned=1) and ![pixel](/tracker.png) inside."
)


@pytest.fixture(scope="module")
def hostile_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real uvicorn server over a corpus whose only document carries markup and links."""
    import socket
    import threading
    import time

    import uvicorn

    from mscqa.config import Settings
    from mscqa.embedding.embedder import HashingEmbedder
    from mscqa.indexing import build_index
    from mscqa.server.app import create_app
    from mscqa.service import QAService

    root = tmp_path_factory.mktemp("hostile")
    (root / "corpus").mkdir()
    (root / "corpus" / "evil.md").write_text(
        f"---\ntitle: <b onmouseover=alert(1)>Evil</b>\n---\n\n## <i>Section</i>\n\n{HOSTILE}\n"
    )
    settings = Settings(
        corpus_dir=root / "corpus", index_dir=root / "index", min_confidence=0.0, _env_file=None
    )
    embedder = HashingEmbedder()
    build_index(settings, embedder)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings, QAService(settings, embedder)),
            host="127.0.0.1",
            port=port,
            log_level="warning",
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_document_markup_is_shown_as_text(chromium_browser: Any, hostile_server: str) -> None:
    expect = _expect()
    for session in _session(chromium_browser, hostile_server, DESKTOP):
        page = session.page
        session.open()
        ask(page, "Stem cell spam script img link pixel inside?")
        turn = answered_turn(page, 0)
        expect(turn.locator(".answer")).to_contain_text("<script>")
        turn.locator(".cite").first.click()
        passage = page.locator("#passage")
        expect(passage).to_be_visible()
        expect(passage.locator(".passage-text")).to_contain_text("onerror=")
        expect(passage.locator(".passage-title")).to_contain_text("<b onmouseover")
        page.wait_for_timeout(300)
        assert page.evaluate("typeof window.__pwned") == "undefined"
        for tag in ("script", "img", "a[href^='javascript']", "b", "i"):
            expect(page.locator(f"#conversation {tag}, #passage {tag}")).to_have_count(0)
        base = urlsplit(session.base_url)
        for url in session.requests:
            parts = urlsplit(url)
            if parts.scheme == "data":
                continue
            assert (parts.scheme, parts.netloc) == (base.scheme, base.netloc), url
            assert parts.path not in ("/x", "/tracker.png"), f"document markup fetched {url}"
        session.assert_clean()


def _cited_sentence(base_url: str, question: str) -> tuple[str, dict[str, int], str]:
    """(doc_id, span, sentence) of the first sentence the answer to ``question`` quotes."""
    import httpx

    body = httpx.post(f"{base_url}/ask", json={"question": question}, timeout=60).json()
    cited = body["citations"][0]
    span = cited["sentences"][0]
    text = cited["text"][span["start"] - cited["start"] : span["end"] - cited["start"]]
    return cited["doc_id"], span, text


@pytest.mark.parametrize("viewport", [DESKTOP_800, PHONE_844], ids=["desktop", "phone"])
def test_document_view_opens_at_the_cited_sentence_by_url(
    chromium_browser: Any, live_server: str, viewport: dict[str, int]
) -> None:
    expect = _expect()
    doc_id, span, sentence = _cited_sentence(live_server, ADIPOSE_COLLECTED)
    for session in _session(chromium_browser, live_server, viewport):
        page = session.page
        page.goto(f"{session.base_url}/read/{doc_id}?start={span['start']}&end={span['end']}")
        mark = page.locator("#cited")
        expect(mark).to_have_text(sentence)
        expect(mark).to_be_in_viewport()
        expect(mark).to_be_focused()
        # the rest of the document is there to read around it, sections as headings
        assert page.locator(".reader-text p").count() > 10
        assert page.locator(".reader-text h3").count() > 3
        expect(page.locator(".reader-text")).to_contain_text("Mesenchymal stem cells (MSCs) are")
        assert int(page.evaluate("document.documentElement.scrollWidth")) <= viewport["width"]
        # offsets the document does not have: the document, no highlight, a note saying why
        page.goto(f"{session.base_url}/read/{doc_id}?start=5&end=999999999")
        expect(page.locator(".reader-note")).to_be_visible()
        expect(page.locator("mark")).to_have_count(0)
        response = page.goto(f"{session.base_url}/read/no-such-doc.md?start=0&end=5")
        assert response is not None and response.status == 404
        expect(page.locator("h2")).to_have_text("Document not found")
        session.assert_clean()
