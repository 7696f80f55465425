"""The chat a daily user keeps: conversations that survive a reload, answer actions (copy,
rating, retry), marker previews, the document view, the status line, the length limit and the
phone sheet — in headless Chromium against a real `mscqa serve` with the real model.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from browser import (
    ADIPOSE_COLLECTED,
    AUTH,
    DESKTOP_800,
    PHONE_844,
    TOKEN,
    OwnServer,
    Session,
    _expect,
    _session,
    answered,
    answered_turn,
    ask,
    assistant_turn,
    chromium_browser,
    curator_server,
    own_mscqa,
    reported,
    serving_documents,
)
from waiting import finished_job

__all__ = ["chromium_browser", "curator_server"]  # fixtures, used by name
pytestmark = [pytest.mark.slow, pytest.mark.browser]

FOLLOW_UP = "How are they collected?"
ADVANTAGES = "What are the advantages of adipose mesenchymal stem cells?"
OUT_OF_SCOPE = "What is the capital of France?"


@pytest.fixture()
def desktop(chromium_browser: Any, curator_server: str) -> Iterator[Session]:
    yield from _session(
        chromium_browser,
        curator_server,
        DESKTOP_800,
        permissions=("clipboard-read", "clipboard-write"),
    )


@pytest.fixture()
def phone(chromium_browser: Any, curator_server: str) -> Iterator[Session]:
    yield from _session(chromium_browser, curator_server, PHONE_844)


def asks(page: Any) -> list[Any]:
    """Collect the /ask requests the page sends from now on."""
    seen: list[Any] = []
    page.on(
        "request",
        lambda r: seen.append(r) if r.method == "POST" and r.url.endswith("/ask") else None,
    )
    return seen


def history_titles(page: Any) -> list[str]:
    return [t.strip() for t in page.locator("#history-list .history-title").all_text_contents()]


# --- conversations -------------------------------------------------------------------------


def test_a_conversation_survives_a_reload(desktop: Session) -> None:
    expect = _expect()
    page, turn = answered(desktop, ADVANTAGES)
    first = turn.locator(".answer").text_content()
    ask(page, FOLLOW_UP)
    answered_turn(page, 1)

    page.reload()
    expect(page.locator(".turn.user .question-text")).to_have_text([ADVANTAGES, FOLLOW_UP])
    expect(page.locator(".turn.assistant .answer").first).to_have_text(first or "")
    expect(page.locator("#welcome")).to_be_hidden()
    assert history_titles(page) == [ADVANTAGES]
    expect(page.locator("#history-list [aria-current='true']")).to_have_count(1)

    # the restored conversation goes on: its history is sent with the next question
    with page.expect_request(lambda r: r.method == "POST" and r.url.endswith("/ask")) as req:
        ask(page, "And their disadvantages?")
    history = req.value.post_data_json["history"]
    assert [m["content"] for m in history if m["role"] == "user"] == [ADVANTAGES, FOLLOW_UP]
    assistant_turn(page, 2)
    desktop.assert_clean()


def test_new_conversation_keeps_the_old_one_in_the_list(desktop: Session) -> None:
    expect = _expect()
    page, _ = answered(desktop, ADVANTAGES)
    page.click("#new-conversation")
    expect(page.locator("#conversation .turn")).to_have_count(0)
    expect(page.locator("#welcome")).to_be_visible()
    with page.expect_request(lambda r: r.method == "POST" and r.url.endswith("/ask")) as req:
        ask(page, ADIPOSE_COLLECTED)
    assert not req.value.post_data_json.get("history")  # a new conversation starts afresh
    answered_turn(page, 0)
    assert history_titles(page) == [ADIPOSE_COLLECTED, ADVANTAGES]  # newest first

    # open the older one: its turns come back, and follow-ups continue it
    page.locator("#history-list .history-open", has_text=ADVANTAGES).click()
    expect(page.locator(".turn.user .question-text")).to_have_text([ADVANTAGES])
    with page.expect_request(lambda r: r.method == "POST" and r.url.endswith("/ask")) as req:
        ask(page, FOLLOW_UP)
    assert req.value.post_data_json["history"][0]["content"] == ADVANTAGES
    expect(answered_turn(page, 1).locator(".answer")).to_contain_text("liposuction")

    # delete one, undo, delete again: it stays gone after a reload
    item = page.locator("#history-list .history-item", has_text=ADIPOSE_COLLECTED)
    item.locator(".history-delete").click()
    assert history_titles(page) == [ADVANTAGES]
    expect(page.locator("#toast")).to_contain_text("deleted")
    page.click("#toast-undo")
    assert sorted(history_titles(page)) == sorted([ADIPOSE_COLLECTED, ADVANTAGES])
    page.locator("#history-list .history-item", has_text=ADIPOSE_COLLECTED).locator(
        ".history-delete"
    ).click()
    page.reload()
    assert history_titles(page) == [ADVANTAGES]
    desktop.assert_clean()


# --- answer actions --------------------------------------------------------------------------


def test_copy_puts_the_answer_as_markdown_with_markers_and_sources(desktop: Session) -> None:
    expect = _expect()
    page, turn = answered(desktop)
    answer = page.evaluate("() => JSON.parse(localStorage.getItem('mscqa.conversations'))")
    response = answer["conversations"][0]["turns"][0]["response"]
    turn.locator(".action-copy").click()
    expect(turn.locator(".action-status")).to_have_text("Copied the answer and its sources.")
    copied = page.evaluate("navigator.clipboard.readText()")

    assert copied.startswith(f"**{ADIPOSE_COLLECTED}**\n\n{response['answer']}\n")
    assert re.search(r"liposuction[^\n]*\[1\]", copied), "the [n] markers keep their brackets"
    assert "\nSources:\n" in copied
    for c in response["citations"]:
        line = next(x for x in copied.splitlines() if x.startswith(f"[{c['n']}] "))
        assert c["section"] in line and c["title"] in line
        first = c["sentences"][0]
        url = f"{desktop.base_url}/read/{c['doc_id']}?start={first['start']}&end={first['end']}"
        assert f"<{url}>" in line
        assert httpx.get(url, timeout=30).status_code == 200
    desktop.assert_clean()


def test_ratings_and_comments_reach_the_curator_report(desktop: Session) -> None:
    expect = _expect()
    question = "Which country uses umbilical cord MSCs more?"
    page, turn = answered(desktop, question)
    down = turn.locator(".action-down")
    with page.expect_response(lambda r: r.url.endswith("/feedback")) as resp:
        down.click()
    assert resp.value.status == 204
    sent = resp.value.request.post_data_json
    assert sent["rating"] == "down" and sent["comment"] is None and sent["id"]
    expect(down).to_have_attribute("aria-pressed", "true")
    expect(turn.locator(".action-status")).to_contain_text("rating was sent")
    comment = turn.locator(".feedback-comment")
    expect(comment).to_be_focused()
    comment.fill("It should say which country exactly")
    with page.expect_response(lambda r: r.url.endswith("/feedback")) as resp:
        turn.locator(".feedback-form button[type=submit]").click()
    assert resp.value.status == 204
    assert resp.value.request.post_data_json["comment"] == "It should say which country exactly"
    expect(turn.locator(".feedback-form")).to_be_hidden()

    page.reload()  # the rating is part of the saved conversation
    expect(page.locator(".action-down").first).to_have_attribute("aria-pressed", "true")

    # the rating and the comment are two writes: wait for both, not only the first
    group = reported(desktop.base_url, "downvoted", question, lambda g: bool(g["comments"]))
    assert group["comments"][0]["comment"] == "It should say which country exactly"
    desktop.assert_clean()


def test_retry_asks_again_in_place(desktop: Session) -> None:
    expect = _expect()
    page, turn = answered(desktop)
    turn.locator(".answer-details summary").click()
    first_id = turn.locator(".answer-details dd").nth(2).text_content()
    with page.expect_request(lambda r: r.method == "POST" and r.url.endswith("/ask")) as req:
        turn.locator(".action-retry").click()
    assert req.value.post_data_json["question"] == ADIPOSE_COLLECTED
    again = answered_turn(page, 0)
    expect(page.locator(".turn.assistant")).to_have_count(1)  # replaced, not appended
    expect(page.locator(".turn.user")).to_have_count(1)
    again.locator(".answer-details summary").click()
    expect(again.locator(".answer-details dd").nth(2)).not_to_have_text(first_id or "")
    desktop.assert_clean()


# --- markers, sources and the document --------------------------------------------------------


def test_a_marker_previews_its_sentence_and_source_on_hover_and_focus(desktop: Session) -> None:
    expect = _expect()
    page, turn = answered(desktop)
    preview = page.locator("#cite-preview")
    cites = turn.locator(".cite")
    # the sentence the second marker follows, as the page shows it
    said = cites.nth(1).evaluate(
        """el => { const r = document.createRange();
             const prev = [...el.parentNode.querySelectorAll('.cite')]
               .filter(c => c.compareDocumentPosition(el) & Node.DOCUMENT_POSITION_FOLLOWING).pop();
             if (prev) r.setStartAfter(prev); else r.setStart(el.parentNode, 0);
             r.setEndBefore(el); return r.toString().trim(); }"""
    )

    cites.nth(1).hover()
    expect(preview).to_be_visible()
    expect(preview).to_have_attribute("role", "tooltip")
    expect(preview.locator(".cite-preview-source")).to_contain_text("Source ")
    assert (preview.locator("mark").text_content() or "").strip() == said
    expect(cites.nth(1)).to_have_attribute("aria-describedby", "cite-preview")
    preview.hover()  # the pointer can move onto the preview: it stays
    page.wait_for_timeout(400)
    expect(preview).to_be_visible()
    page.mouse.move(5, 5)
    expect(preview).to_be_hidden()

    cites.first.focus()
    expect(preview).to_be_visible()
    page.keyboard.press("Escape")  # dismissable without moving focus
    expect(preview).to_be_hidden()
    expect(cites.first).to_be_focused()
    desktop.assert_clean()


def test_the_passage_panel_opens_the_document_at_the_quoted_sentence(desktop: Session) -> None:
    expect = _expect()
    page, turn = answered(desktop)
    cite = turn.locator(".cite").nth(1)
    preview_text = None
    cite.hover()
    preview_text = page.locator("#cite-preview mark").text_content()
    cite.click()
    link = page.locator("#passage .passage-read")
    expect(link).to_be_visible()
    with page.context.expect_page() as opened:
        link.click()
    reader = opened.value
    reader.wait_for_load_state()
    mark = reader.locator("#cited")
    expect(mark).to_have_text(preview_text or "")
    expect(mark).to_be_in_viewport()
    assert reader.url.startswith(f"{desktop.base_url}/read/msc-article.md?start=")
    reader.close()
    desktop.assert_clean()


def test_sources_name_their_document_once_and_stay_distinct(desktop: Session) -> None:
    expect = _expect()
    page, turn = answered(desktop)
    sources = turn.locator(".sources")
    title = page.evaluate(
        "() => JSON.parse(localStorage.getItem('mscqa.conversations')).conversations[0]"
        ".turns[0].response.citations[0].title"
    )
    expect(sources.locator(".sources-doc")).to_have_text(title)  # one document: said once
    assert title not in (sources.locator(".sources-list").text_content() or "")
    labels = [
        (b.locator(".source-main").text_content(), b.locator(".source-quote").text_content())
        for b in sources.locator(".source-link").all()
    ]
    assert len(set(labels)) == len(labels) >= 2
    for cite in turn.locator(".cite").all():
        label = cite.get_attribute("aria-label") or ""
        assert label.startswith("Source ") and title not in label  # short, no repeated title
    desktop.assert_clean()


# Two of its sources are passages of one section ("osteoarthritis"): their section alone would
# label both the same.
ONE_SECTION_TWICE = (
    "What improvements did arthritis patients treated with bone marrow mesenchymal stem cells "
    "show, and which cytokines are reduced?"
)


def test_two_sources_from_one_section_are_told_apart(desktop: Session) -> None:
    page, turn = answered(desktop, ONE_SECTION_TWICE)
    cited = page.evaluate(
        "() => JSON.parse(localStorage.getItem('mscqa.conversations')).conversations[0]"
        ".turns[0].response.citations.map(c => c.section)"
    )
    sections = [s for s in cited if cited.count(s) > 1]
    assert sections, f"the premise changed: no section cited twice in {cited}"
    buttons = turn.locator(".sources .source-link").all()
    labels = [b.locator(".source-label").text_content() for b in buttons]  # without the n
    assert len(set(labels)) == len(labels), labels
    same = [b for b, s in zip(buttons, cited, strict=True) if s == sections[0]]
    assert {b.locator(".source-main").text_content() for b in same} == {sections[0]}
    quotes = {b.locator(".source-quote").text_content() for b in same}
    assert len(quotes) == len(same)  # the start of each quoted sentence tells them apart
    desktop.assert_clean()


# --- the question box -----------------------------------------------------------------------


def test_the_length_limit_is_checked_before_sending(desktop: Session) -> None:
    expect = _expect()
    page = desktop.page
    desktop.open()
    sent = asks(page)
    limit = int(page.evaluate("document.body.dataset.maxQuestionChars"))
    page.fill("#question", "x" * (limit - 10))
    counter = page.locator("#ask-count")
    expect(counter).to_have_text(f"{limit - 10:,} of {limit:,} characters")
    page.fill("#question", "x" * (limit + 1))
    expect(counter).to_contain_text("shorten the question by 1")
    expect(page.locator("#question")).to_have_attribute("aria-invalid", "true")
    page.press("#question", "Enter")
    page.click("#send")
    page.wait_for_timeout(300)
    assert sent == []
    expect(page.locator("#conversation .turn")).to_have_count(0)  # no huge bubble, no error
    expect(page.locator("#question")).to_have_value("x" * (limit + 1))  # nothing lost
    page.fill("#question", "x" * limit)
    expect(page.locator("#question")).not_to_have_attribute("aria-invalid", "true")
    desktop.assert_clean()


def test_enter_while_an_answer_is_coming_says_so(desktop: Session) -> None:
    expect = _expect()
    page = desktop.page
    desktop.open()

    # a slow network (Chromium's own throttling): the answer takes over 1.5 s to arrive
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    conditions = {
        "offline": False,
        "latency": 1500,
        "downloadThroughput": -1,
        "uploadThroughput": -1,
    }
    cdp.send("Network.emulateNetworkConditions", conditions)
    sent = asks(page)
    ask(page, ADIPOSE_COLLECTED)
    page.fill("#question", "A second question?")
    page.press("#question", "Enter")
    expect(page.locator("#ask-busy")).to_be_visible()
    expect(page.locator("#question")).to_have_value("A second question?")
    answered_turn(page, 0)
    expect(page.locator("#ask-busy")).to_be_hidden()
    assert len(sent) == 1
    desktop.assert_clean()


def test_developer_details_are_behind_a_disclosure(desktop: Session) -> None:
    expect = _expect()
    page = desktop.page
    desktop.open()
    with page.expect_response(lambda r: r.url.endswith("/ask")) as resp:
        ask(page, ADIPOSE_COLLECTED)
    body = resp.value.json()
    turn = answered_turn(page, 0)
    details = turn.locator(".answer-details")
    expect(details.locator("dl")).to_be_hidden()
    visible = turn.inner_text()
    assert " ms" not in visible and "confidence" not in visible.lower()
    details.locator("summary").click()
    expect(details.locator("dl")).to_be_visible()
    expect(details).to_contain_text(body["id"])
    expect(details).to_contain_text(body["index_version"])
    expect(details).to_contain_text(f"{body['confidence']:.2f}")
    desktop.assert_clean()


# --- accessibility of the conversation -------------------------------------------------------


def test_only_answers_are_announced(desktop: Session) -> None:
    expect = _expect()
    page = desktop.page
    desktop.open()
    assert page.locator("#conversation").get_attribute("aria-live") is None
    live = page.locator("[aria-live], [role=status], [role=alert]")
    assert "conversation" not in [x.get_attribute("id") for x in live.all()]
    ask(page, ADIPOSE_COLLECTED)
    turn = answered_turn(page, 0)
    announcer = page.locator("#announcer")
    expect(announcer).to_have_text(re.compile(r"^Answer: .*liposuction"))
    said = announcer.text_content() or ""
    assert "[1]" not in said and ADIPOSE_COLLECTED not in said and "Source" not in said
    assert "Searching" not in said
    ask(page, OUT_OF_SCOPE)
    assistant_turn(page, 1)
    expect(announcer).to_have_text(re.compile(r"^Not found in the documents"))
    assert turn.locator(".cite").count() >= 1
    desktop.assert_clean()


def test_phone_sheet_is_modal_with_a_backdrop_and_keeps_tab_inside(phone: Session) -> None:
    expect = _expect()
    page, turn = answered(phone)
    cite = turn.locator(".cite").first
    cite.click()
    sheet = page.locator("#passage")
    expect(sheet).to_be_visible()
    expect(page.locator("#backdrop")).to_be_visible()
    expect(sheet).to_have_attribute("aria-modal", "true")
    assert page.evaluate("document.getElementById('main').inert")
    for _ in range(8):
        page.keyboard.press("Tab")
        assert page.evaluate("document.getElementById('passage').contains(document.activeElement)")
    page.keyboard.press("Shift+Tab")
    assert page.evaluate("document.getElementById('passage').contains(document.activeElement)")
    page.locator("#backdrop").click(position={"x": 20, "y": 20})
    expect(sheet).to_be_hidden()
    expect(page.locator("#backdrop")).to_be_hidden()
    assert not page.evaluate("document.getElementById('main').inert")
    expect(cite).to_be_focused()
    phone.assert_clean()


def test_markers_and_actions_have_44px_touch_targets_on_phones(phone: Session) -> None:
    page, turn = answered(phone)
    for cite in turn.locator(".cite").all():
        cite.scroll_into_view_if_needed()
        box = cite.bounding_box()
        assert box is not None
        cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        for dx, dy in ((0, -21), (0, 21), (-21, 0), (21, 0)):
            hit = page.evaluate(
                "([x, y]) => { const e = document.elementFromPoint(x, y); "
                "return e && e.closest('.cite') ? e.closest('.cite').dataset.n : null; }",
                [cx + dx, cy + dy],
            )
            assert hit == cite.get_attribute("data-n"), f"marker {hit} at {dx},{dy}"
    for button in turn.locator(".answer-actions button, .source-link").all():
        box = button.bounding_box()
        assert box is not None and box["height"] >= 44 and box["width"] >= 44
    phone.assert_clean()


def test_the_conversation_list_is_a_drawer_on_phones(phone: Session) -> None:
    expect = _expect()
    page, _ = answered(phone)
    expect(page.locator("#history")).to_be_hidden()
    toggle = page.locator("#history-toggle")
    toggle.click()
    drawer = page.locator("#history")
    expect(drawer).to_be_visible()
    expect(drawer).to_have_attribute("aria-modal", "true")
    expect(toggle).to_have_attribute("aria-expanded", "true")
    expect(page.locator("#backdrop")).to_be_visible()
    assert history_titles(page) == [ADIPOSE_COLLECTED]
    for _ in range(6):
        page.keyboard.press("Tab")
        assert page.evaluate("document.getElementById('history').contains(document.activeElement)")
    page.keyboard.press("Escape")
    expect(drawer).to_be_hidden()
    expect(toggle).to_be_focused()
    assert int(page.evaluate("document.documentElement.scrollWidth")) <= PHONE_844["width"]
    phone.assert_clean()


# --- the status line ---------------------------------------------------------------------------


@pytest.fixture()
def own_server(real_service: Any, real_settings: Any, tmp_path: Path) -> Iterator[OwnServer]:
    with own_mscqa(real_settings, tmp_path) as server:
        yield server


def test_the_status_line_follows_rebuilds_and_outages(
    chromium_browser: Any, own_server: OwnServer
) -> None:
    expect = _expect()
    proc, url = own_server.proc, own_server.url
    for session in _session(chromium_browser, url, DESKTOP_800):
        page = session.page
        page.clock.install()
        session.open()
        status = page.locator("#status")
        expect(status).to_have_text(re.compile(r"^Indexed: 1 document, \d+ passages$"))
        expect(status).to_have_class(re.compile(r"\bstatus-ok\b"))

        # a curator adds a document and rebuilds: the open page notices without a reload
        files = {"file": ("notes.md", b"# Notes\n\nAdipose cells are also called fat cells.\n")}
        r = httpx.post(f"{url}/admin/documents", files=files, headers=AUTH, timeout=30)
        assert r.status_code == 201, r.text
        job = httpx.post(f"{url}/admin/reindex", headers=AUTH, timeout=30).json()["job_id"]
        finished = finished_job(url, job, AUTH)
        assert finished["state"] == "done", finished
        serving_documents(url, 2)  # the swap comes a moment after the job is done
        page.clock.run_for(16_000)
        expect(status).to_have_text(
            re.compile(r"^Indexed: 2 documents, \d+ passages \(just updated\)$")
        )

        # the server goes away: the status says so instead of staying green
        proc.kill()
        proc.wait(timeout=10)
        page.clock.run_for(16_000)
        expect(status).to_have_text("Cannot reach the server")
        expect(status).to_have_class(re.compile(r"\bstatus-bad\b"))
        session.assert_clean()


# --- the documents page -----------------------------------------------------------------------


@pytest.mark.parametrize("width", [1280, 700])
def test_documents_table_headers_never_break_inside_a_word(
    chromium_browser: Any, curator_server: str, width: int
) -> None:
    for session in _session(chromium_browser, curator_server, {"width": width, "height": 800}):
        page = session.page
        page.goto(f"{curator_server}/documents/view")
        _expect()(page.locator("#docs-table")).to_be_visible()
        lines = page.evaluate(
            """() => [...document.querySelectorAll('#docs-table th:not([hidden])')].map(th => {
                 const r = document.createRange(); r.selectNodeContents(th);
                 const tops = [...r.getClientRects()].map(x => Math.round(x.top));
                 return [th.textContent.trim(), new Set(tops).size];
               })"""
        )
        assert lines and all(n == 1 for _, n in lines), lines
        session.assert_clean()


def test_documents_page_lists_what_users_could_not_find(
    chromium_browser: Any, curator_server: str
) -> None:
    expect = _expect()
    refused = "What does the European Medicines Agency say about MSCs?"
    for q in (refused, refused.lower(), "Who won the football world cup in 1998?"):
        httpx.post(f"{curator_server}/ask", json={"question": q}, timeout=60)
    wrong = httpx.post(
        f"{curator_server}/ask", json={"question": ADIPOSE_COLLECTED}, timeout=60
    ).json()
    feedback = {"id": wrong["id"], "rating": "down", "comment": "Missing the recovery time"}
    assert httpx.post(f"{curator_server}/feedback", json=feedback, timeout=30).status_code == 204
    # the question log writes in its own thread: wait for what the page must show
    reported(curator_server, "unanswered", refused.lower(), lambda g: g["count"] >= 2)
    reported(
        curator_server,
        "downvoted",
        ADIPOSE_COLLECTED,
        lambda g: "Missing the recovery time" in [c["comment"] for c in g["comments"]],
    )

    for session in _session(chromium_browser, curator_server, DESKTOP_800):
        page = session.page
        page.goto(f"{curator_server}/documents/view")
        page.fill("#admin-token", TOKEN)
        page.click("#token-form button[type=submit]")
        unanswered = page.locator("#unanswered-list .report-item")
        expect(unanswered.first).to_be_visible()
        first = unanswered.first
        expect(first.locator(".report-question")).to_contain_text(refused.lower())
        expect(first.locator(".report-count")).to_have_text(re.compile(r"^[2-9]\d*$"))
        link = first.locator("a.report-link")
        href = link.get_attribute("href") or ""
        assert href.startswith("/read/")
        wrong_item = page.locator("#downvoted-list .report-item", has_text=ADIPOSE_COLLECTED)
        expect(wrong_item).to_contain_text("Missing the recovery time")
        expect(wrong_item).to_contain_text("Answer given:")

        # beside the upload form on a wide screen
        upload = page.locator("#upload-form").bounding_box()
        report = page.locator("#unanswered-heading").bounding_box()
        assert upload and report and report["x"] > upload["x"] + upload["width"] - 1
        assert abs(report["y"] - upload["y"]) < 80

        with page.expect_download() as download:
            page.click("#report-export")
        path = download.value.path()
        from mscqa.evaluation import load_questions

        items = load_questions(Path(path))
        assert refused.lower() in [i.question for i in items]
        session.assert_clean()
