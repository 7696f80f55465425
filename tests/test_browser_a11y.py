"""Accessibility scans with axe-core (npm, `make axe`) in headless Chromium: the chat, the
documents page and the document reader, in light and dark mode, at desktop and phone width,
each in the states a user sees (an answer, a refusal, the passage, the preview, the feedback
form, the conversation drawer, the curator's report). No serious or critical violation; the
colour-contrast rule runs on that real content, so both themes keep text at 4.5:1 or more.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from browser import (
    ADIPOSE_COLLECTED,
    DESKTOP_800,
    PHONE_844,
    TOKEN,
    Session,
    _expect,
    _session,
    answered_turn,
    ask,
    assistant_turn,
    axe_violations,
    chromium_browser,
    curator_server,
    reported,
)

__all__ = ["chromium_browser", "curator_server"]  # fixtures, used by name
pytestmark = [pytest.mark.slow, pytest.mark.browser]

VIEWPORTS = {"desktop": DESKTOP_800, "phone": PHONE_844}
CASES = [(theme, width) for theme in ("light", "dark") for width in VIEWPORTS]


@pytest.fixture(params=CASES, ids=[f"{t}-{w}" for t, w in CASES])
def styled(request: Any, chromium_browser: Any, curator_server: str) -> Iterator[Session]:
    theme, width = request.param
    for session in _session(chromium_browser, curator_server, VIEWPORTS[width], color_scheme=theme):
        session.theme = theme  # type: ignore[attr-defined]
        session.phone = width == "phone"  # type: ignore[attr-defined]
        yield session


def scan(page: Any, state: str, contrast_checks: int = 5) -> list[str]:
    return [f"[{state}] {v}" for v in axe_violations(page, min_contrast_checks=contrast_checks)]


def test_chat_page(styled: Session) -> None:
    expect = _expect()
    page = styled.page
    phone = styled.phone  # type: ignore[attr-defined]
    styled.open()
    found = scan(page, "welcome")

    ask(page, ADIPOSE_COLLECTED)
    turn = answered_turn(page, 0)
    ask(page, "What is the capital of France?")
    refused = assistant_turn(page, 1)
    expect(refused).to_have_class(re.compile(r"\bnot-found\b"))
    refused.locator(".related summary").click()
    turn.locator(".related summary").click()
    turn.locator(".answer-details summary").click()
    turn.locator(".action-down").click()
    expect(turn.locator(".feedback-form")).to_be_visible()
    turn.locator(".feedback-comment").fill("It does not say how long it takes")
    found += scan(page, "answer, refusal, related, details, feedback form", contrast_checks=40)

    if not phone:
        turn.locator(".cite").first.hover()
        expect(page.locator("#cite-preview")).to_be_visible()
        found += scan(page, "marker preview")
        page.mouse.move(1, 1)
    turn.locator(".cite").first.click()
    expect(page.locator("#passage")).to_be_visible()
    found += scan(page, "passage panel" + (" (sheet)" if phone else ""))
    page.keyboard.press("Escape")

    if phone:
        page.click("#history-toggle")
        expect(page.locator("#history")).to_be_visible()
        found += scan(page, "conversation drawer")
    page.locator(".history-delete").first.click()
    expect(page.locator("#toast")).to_be_visible()
    found += scan(page, "undo toast")
    assert found == []
    styled.assert_clean()


def test_documents_page(styled: Session) -> None:
    expect = _expect()
    base = styled.base_url
    answer = httpx.post(f"{base}/ask", json={"question": ADIPOSE_COLLECTED}, timeout=60).json()
    rating = {"id": answer["id"], "rating": "down", "comment": "Vague"}
    assert httpx.post(f"{base}/feedback", json=rating, timeout=30).status_code == 204
    refused = "Who won the 1998 World Cup?"
    httpx.post(f"{base}/ask", json={"question": refused}, timeout=60)
    # the question log writes in its own thread: wait until both lists have what is scanned
    reported(base, "unanswered", refused)
    reported(base, "downvoted", ADIPOSE_COLLECTED, lambda g: bool(g["comments"]))
    page = styled.page
    page.goto(f"{base}/documents/view")
    expect(page.locator("#docs-table")).to_be_visible()
    found = scan(page, "document list, token form")
    page.fill("#admin-token", "wrong")
    page.click("#token-form button[type=submit]")
    expect(page.locator("#token-message")).to_contain_text("Wrong admin token")
    found += scan(page, "refused token")
    page.fill("#admin-token", TOKEN)
    page.click("#token-form button[type=submit]")
    expect(page.locator("#unanswered-list .report-item").first).to_be_visible()
    expect(page.locator("#downvoted-list .report-item").first).to_be_visible()
    found += scan(page, "curator tools and report", contrast_checks=30)
    assert found == []
    styled.assert_clean()


def test_document_reader(styled: Session) -> None:
    expect = _expect()
    base = styled.base_url
    cited = httpx.post(f"{base}/ask", json={"question": ADIPOSE_COLLECTED}, timeout=60).json()
    span = cited["citations"][0]["sentences"][0]
    page = styled.page
    page.goto(f"{base}/read/msc-article.md?start={span['start']}&end={span['end']}")
    expect(page.locator("#cited")).to_be_in_viewport()
    found = scan(page, "reader with highlight", contrast_checks=30)
    page.goto(f"{base}/read/msc-article.md?start=9&end=999999999")
    found += scan(page, "reader, offsets out of range")
    page.goto(f"{base}/read/missing.md")
    found += scan(page, "404 page")
    assert found == []
    styled.assert_clean()


def _luminance(css: str) -> float:
    r, g, b = (int(x) / 255 for x in re.findall(r"\d+", css)[:3])

    def lin(c: float) -> float:
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b)


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_dark_mode_follows_the_system_setting(
    chromium_browser: Any, curator_server: str, theme: str
) -> None:
    for session in _session(chromium_browser, curator_server, DESKTOP_800, color_scheme=theme):
        page = session.page
        for path in ("/", "/documents/view", "/read/msc-article.md"):
            page.goto(curator_server + path)
            colours = page.evaluate(
                "() => { const s = getComputedStyle(document.body);"
                " const p = getComputedStyle(document.querySelector('main, .docs, .reader'));"
                " return [s.backgroundColor, s.color, p.color]; }"
            )
            background, text = _luminance(colours[0]), _luminance(colours[1])
            if theme == "dark":
                assert background < 0.05 and text > 0.7, (path, colours)
            else:
                assert background > 0.8 and text < 0.05, (path, colours)
            scheme = page.evaluate("getComputedStyle(document.documentElement).colorScheme")
            assert "dark" in scheme and "light" in scheme  # form controls follow the theme too
        session.assert_clean()
