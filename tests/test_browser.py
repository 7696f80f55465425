"""End-to-end tests of the chat page in headless Chromium, against the real app.

The ``live_server`` fixture (tests/conftest.py) yields the base URL of a uvicorn server running
the real app with the real model over the bundled corpus (corpus/msc-article.md).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from browser import (
    ADIPOSE_COLLECTED,
    DESKTOP,
    DESKTOP_800,
    PHONE,
    PHONE_844,
    Session,
    _expect,
    _session,
    answered,
    answered_turn,
    ask,
    assistant_turn,
    chat,
    chromium_browser,
    phone_chat,
)

__all__ = ["chat", "chromium_browser", "phone_chat"]  # fixtures, used by name
pytestmark = [pytest.mark.slow, pytest.mark.browser]


def test_answer_with_citation_opens_highlighted_passage(chat: Session) -> None:
    expect = _expect()
    page, turn = answered(chat)
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
    first = "What are the advantages of adipose mesenchymal stem cells?"
    page, _ = answered(chat, first)

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
    from mscqa.embedding.hashing import HashingEmbedder
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
        page, turn = answered(session, "Stem cell spam script img link pixel inside?")
        expect(turn.locator(".answer")).to_contain_text("<script>")
        turn.locator(".cite").first.click()
        passage = page.locator("#passage")
        expect(passage).to_be_visible()
        expect(passage.locator(".passage-text")).to_contain_text("onerror=")
        expect(passage.locator(".passage-title")).to_contain_text("<i>Section</i>")
        expect(passage.locator(".passage-section")).to_contain_text("<b onmouseover")
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
