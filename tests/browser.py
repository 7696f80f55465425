"""Helpers for the browser tests: headless Chromium (Debian's, driven by Playwright), a page
session that records CSP violations and page errors, and the chat page's common steps.

Fixtures defined here are imported by the test modules that use them.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from waiting import wait_until

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
# How long an action or an expect() waits for its element or condition: it returns as soon as
# that holds, so only a failure waits this long. Playwright's 5 s was short for a 2-core CI
# machine beside a benchmark.
UI_TIMEOUT_MS = 20_000

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


def _session(
    browser: Any,
    base_url: str,
    viewport: dict[str, int],
    color_scheme: str = "light",
    permissions: tuple[str, ...] = (),
) -> Iterator[Session]:
    context = browser.new_context(
        viewport=viewport, color_scheme=color_scheme, permissions=list(permissions)
    )
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

    expect.set_options(timeout=UI_TIMEOUT_MS)
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


# --- a server with the curator's tools and every question logged ------------------------------

TOKEN = "browser-curator-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def curator_server(
    real_service: Any, real_settings: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """`mscqa serve` over the session's real index with MSCQA_ADMIN_TOKEN set and the question
    log keeping every question (in its own data folder)."""
    from conftest import mscqa_serve

    data = tmp_path_factory.mktemp("curator-data")
    env = {
        "MSCQA_ADMIN_TOKEN": TOKEN,
        "MSCQA_DATA_DIR": str(data),
        "MSCQA_QUESTION_LOG": "all",
        "MSCQA_RATE_LIMIT_PER_MINUTE": "0",
    }
    with mscqa_serve(real_settings, **env) as (_, url):
        yield url


@dataclass
class OwnServer:
    proc: Any  # the `mscqa serve` process
    url: str
    corpus: Path


@contextlib.contextmanager
def own_mscqa(real_settings: Any, tmp_path: Path, **env: str) -> Iterator[OwnServer]:
    """A server of its own on a copy of the real index and corpus, that a test may rebuild or
    kill, with the curator's token and its own question log (``env``: more MSCQA_* values)."""
    from conftest import mscqa_serve

    corpus = tmp_path / "corpus"
    shutil.copytree(real_settings.corpus_dir, corpus)
    index = tmp_path / "index"
    shutil.copytree(real_settings.index_dir, index, ignore=shutil.ignore_patterns("*.lock"))
    settings = real_settings.model_copy(update={"corpus_dir": corpus, "index_dir": index})
    env = {"MSCQA_ADMIN_TOKEN": TOKEN, "MSCQA_DATA_DIR": str(tmp_path / "data"), **env}
    with mscqa_serve(settings, **env) as (proc, url):
        yield OwnServer(proc, url, corpus)


def reported(
    url: str, status: str, question: str, done: Callable[[dict[str, Any]], bool] = bool
) -> dict[str, Any]:
    """The group of ``question`` in the curator's report of ``status`` (``GET
    /admin/questions``) once it is there and ``done`` holds for it. The question log writes
    in a thread of its own, after the reply and each rating on its own: on a loaded machine
    later than any fixed sleep."""

    def groups() -> list[dict[str, Any]]:
        r = httpx.get(f"{url}/admin/questions", params={"status": status}, headers=AUTH, timeout=30)
        assert r.status_code == 200, r.text
        questions: list[dict[str, Any]] = r.json()["questions"]
        return questions

    def match(found: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [g for g in found if g["question"] == question and done(g)]

    seen = wait_until(f"{question!r} in the {status} report", groups, lambda f: bool(match(f)))
    return match(seen)[0]


def serving_documents(url: str, documents: int) -> None:
    """Wait until the server at ``url`` answers from an index of ``documents`` documents: it
    swaps to a rebuilt snapshot a moment after the build job is done, not at once."""
    wait_until(
        f"the server to swap to an index of {documents} documents",
        lambda: httpx.get(f"{url}/health", timeout=30).json(),
        lambda health: (health.get("index") or {}).get("documents") == documents,
    )


def answered(session: Session, question: str = ADIPOSE_COLLECTED) -> tuple[Any, Any]:
    """Open the chat, ask ``question`` and wait for its answer: (page, the answer's turn)."""
    session.open()
    ask(session.page, question)
    return session.page, answered_turn(session.page, 0)


# --- axe-core -------------------------------------------------------------------------------------

AXE = os.path.join(os.path.dirname(__file__), "a11y", "node_modules", "axe-core", "axe.min.js")
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]


def axe_violations(
    page: Any, impacts: tuple[str, ...] = ("serious", "critical"), min_contrast_checks: int = 5
) -> list[str]:
    """Run axe-core (from npm, `make axe`) in the page; the violations of the given impacts,
    one line each with the elements. Page-level rules see what is on screen now; at least
    ``min_contrast_checks`` elements must have had their text contrast measured."""
    if not os.path.exists(AXE):
        if os.environ.get("CI"):
            pytest.fail(f"axe-core missing at {AXE}; `make axe` installs it")
        pytest.skip(f"axe-core not installed at {AXE} (make axe)")
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        # evaluated through the DevTools protocol, so the page's CSP does not apply to it
        page.evaluate(Path(AXE).read_text(encoding="utf-8") + "\n;0")
    result = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", AXE_TAGS
    )
    found = [
        f"{v['id']} ({v['impact']}): {v['help']} -> "
        + "; ".join(
            " ".join(n["target"]) + " " + n.get("failureSummary", "")[:160] for n in v["nodes"][:4]
        )
        for v in result["violations"]
        if v["impact"] in impacts
    ]
    # Contrast axe could not work out counts as a failure too, unless the text is only covered
    # for the moment (the sticky question box, or the passage panel, over a turn).
    for rule in result["incomplete"]:
        if rule["id"] == "color-contrast":
            found += [
                f"color-contrast undetermined: {' '.join(n['target'])}: {n['any'][0]['message']}"
                for n in rule["nodes"]
                if n["any"] and not re.search(r"overlapped|obscured", n["any"][0]["message"])
            ]
    checked = sum(len(r["nodes"]) for r in result["passes"] if r["id"] == "color-contrast")
    assert checked >= min_contrast_checks, f"text contrast measured on only {checked} elements"
    return found
