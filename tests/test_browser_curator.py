"""The curator's loop, end to end in headless Chromium against a real `mscqa serve`: a user's
question the documents cannot answer and an answer marked wrong reach the documents page; the
curator downloads them as question files, adds a document through the page, rebuilds, and
`mscqa eval` (the real command) on the downloaded file shows the question answered — as the
chat then answers it. Also: the upload form refuses, before sending, what the server would.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from browser import (
    ANSWER_TIMEOUT_MS,
    AUTH,
    DESKTOP_800,
    TOKEN,
    OwnServer,
    Session,
    _expect,
    _session,
    answered_turn,
    ask,
    assistant_turn,
    chromium_browser,
    own_mscqa,
    reported,
    serving_documents,
)

__all__ = ["chromium_browser"]  # fixtures, used by name
pytestmark = [pytest.mark.slow, pytest.mark.browser]

MISSING = "What is the shelf life of cryopreserved MSC products?"
DOCUMENT = (
    "# Storage of MSC products\n\n"
    "## Cryopreservation\n\n"
    "Cryopreserved MSC products have a shelf life of two years when they are stored in the "
    "vapour phase of liquid nitrogen.\n"
)
RATED = "Which country uses umbilical cord MSCs more?"
COMMENT = "It should name the country"
MAX_UPLOAD_MB = 1


@pytest.fixture()
def server(real_service: Any, real_settings: Any, tmp_path: Path) -> Iterator[OwnServer]:
    with own_mscqa(
        real_settings, tmp_path, MSCQA_MAX_UPLOAD_MB=str(MAX_UPLOAD_MB), MSCQA_QUESTION_LOG="all"
    ) as s:
        yield s


@pytest.fixture()
def desktop(chromium_browser: Any, server: OwnServer) -> Iterator[Session]:
    yield from _session(chromium_browser, server.url, DESKTOP_800)


def use_token(page: Any, url: str) -> None:
    page.goto(f"{url}/documents/view")
    page.fill("#admin-token", TOKEN)
    page.click("#token-form button[type=submit]")
    _expect()(page.locator("#admin-tools")).to_be_visible()


def download(page: Any, button: str, tmp_path: Path) -> tuple[Path, list[dict[str, Any]]]:
    with page.expect_download() as info:
        page.click(button)
    path = tmp_path / info.value.suggested_filename
    info.value.save_as(path)
    return path, [json.loads(line) for line in path.read_text().splitlines()]


def mscqa_eval(server: OwnServer, questions: Path) -> dict[str, Any]:
    """`mscqa eval --json` on ``questions`` against the server's (rebuilt) index."""
    env = {
        **os.environ,
        "MSCQA_CORPUS_DIR": str(server.corpus),
        "MSCQA_INDEX_DIR": str(server.corpus.parent / "index"),
        "HF_HUB_OFFLINE": "1",
    }
    done = subprocess.run(
        [sys.executable, "-m", "mscqa.cli", "eval", "--json", "--rows", str(questions)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


def test_an_unanswered_question_becomes_an_answered_one(
    desktop: Session, server: OwnServer, tmp_path: Path
) -> None:
    expect = _expect()
    page = desktop.page

    # 1. users ask: one question the documents cannot answer, one answer marked wrong
    desktop.open()
    ask(page, MISSING)
    expect(assistant_turn(page, 0)).to_have_class(re.compile(r"\bnot-found\b"))
    ask(page, RATED)
    rated = answered_turn(page, 1)
    rated.locator(".action-down").click()
    rated.locator(".feedback-comment").fill(COMMENT)
    with page.expect_response(lambda r: r.url.endswith("/feedback")) as resp:
        rated.locator(".feedback-form button[type=submit]").click()
    assert resp.value.status == 204
    # the question log writes in its own thread: wait until the report has both
    reported(server.url, "unanswered", MISSING)
    reported(
        server.url, "downvoted", RATED, lambda g: COMMENT in [c["comment"] for c in g["comments"]]
    )

    # 2. the curator sees both next to the upload form, and downloads each as a question file
    use_token(page, server.url)
    expect(page.locator("#unanswered-list .report-item", has_text=MISSING)).to_be_visible()
    wrong = page.locator("#downvoted-list .report-item", has_text=RATED)
    expect(wrong).to_contain_text(COMMENT)
    unanswered_file, unanswered = download(page, "#report-export", tmp_path)
    assert unanswered_file.name.startswith("questions-unanswered-")
    assert [r["question"] for r in unanswered] == [MISSING]
    expect(page.locator("#unanswered-message")).to_contain_text("(1 question)")
    wrong_file, downvoted = download(page, "#downvoted-export", tmp_path)
    assert wrong_file.name.startswith("questions-downvoted-")
    [record] = downvoted
    assert (record["question"], record["kind"], record["comments"]) == (
        RATED,
        "user-downvoted",
        [COMMENT],
    )
    assert record["answer_given"], "the wrong answer is in the file, for the curator to judge"
    expect(page.locator("#downvoted-message")).to_contain_text("(1 question)")

    # 3. before: `mscqa eval` on the downloaded file, gold filled in, finds it unanswered
    record = {**unanswered[0], "gold": ["two years"]}
    unanswered_file.write_text(json.dumps(record) + "\n")
    before = mscqa_eval(server, unanswered_file)
    [row] = before["rows"]
    assert row["answered"] is False

    # 4. the curator adds a document that answers it, through the page, and rebuilds
    page.set_input_files(
        "#upload-file",
        files=[{"name": "storage.md", "mimeType": "text/markdown", "buffer": DOCUMENT.encode()}],
    )
    page.click("#upload-button")
    expect(page.locator("#upload-message")).to_contain_text("Stored storage.md")
    page.click("#rebuild")
    expect(page.locator("#job-message")).to_contain_text("Index rebuilt", timeout=ANSWER_TIMEOUT_MS)
    expect(page.locator("#docs-body")).to_contain_text("storage.md")

    # 5. after: the same file, the same command: answered, quoting the new document
    after = mscqa_eval(server, unanswered_file)
    [row] = after["rows"]
    assert row["answered"] is True and row["right"] is True, row

    # 6. and the chat answers the user's question from it
    serving_documents(server.url, 2)  # the swap comes a moment after the rebuild
    desktop.open()
    page.click("#new-conversation")
    ask(page, MISSING)
    turn = answered_turn(page, 0)
    expect(turn.locator(".answer")).to_contain_text("two years")
    expect(turn.locator(".sources")).to_contain_text("Cryopreservation")
    desktop.assert_clean()


def test_the_upload_form_refuses_what_the_server_would_before_sending(
    desktop: Session, server: OwnServer
) -> None:
    expect = _expect()
    page = desktop.page
    use_token(page, server.url)
    hint = page.locator("#upload-hint")
    expect(hint).to_contain_text(".docx")
    expect(hint).to_contain_text(f"up to {MAX_UPLOAD_MB} MB")
    accept = page.locator("#upload-file").get_attribute("accept") or ""
    assert set(accept.split(",")) >= {".md", ".txt", ".pdf", ".docx", ".html"}

    uploads: list[Any] = []
    page.on(
        "request",
        lambda r: uploads.append(r) if r.method == "POST" and "/admin/documents" in r.url else None,
    )
    message = page.locator("#upload-message")
    big = b"# Big\n\n" + b"Stem cells. " * (MAX_UPLOAD_MB * 1024 * 1024 // 12 + 10)
    cases = [
        ("notes.exe", b"MZ", "not a supported document type"),
        ("big.md", big, f"larger than the {MAX_UPLOAD_MB} MB upload limit"),
    ]
    for name, content, refusal in cases:
        page.set_input_files(
            "#upload-file", files=[{"name": name, "mimeType": "text/plain", "buffer": content}]
        )
        page.click("#upload-button")
        expect(message).to_contain_text(refusal)
        expect(message).to_have_class(re.compile(r"form-message-bad"))
    assert uploads == [], "nothing was sent"

    # the server says the same (the page's check is a courtesy, not the guard)
    r = httpx.post(
        f"{server.url}/admin/documents", files={"file": ("big.md", big)}, headers=AUTH, timeout=30
    )
    assert r.status_code == 413 and f"{MAX_UPLOAD_MB} MB" in r.json()["detail"]
    r = httpx.post(
        f"{server.url}/admin/documents", files={"file": ("x.exe", b"MZ")}, headers=AUTH, timeout=30
    )
    assert r.status_code == 415

    page.set_input_files(
        "#upload-file", files=[{"name": "ok.md", "mimeType": "text/markdown", "buffer": b"# Ok\n"}]
    )
    page.click("#upload-button")
    expect(message).to_contain_text("Stored ok.md")
    assert len(uploads) == 1
    desktop.assert_clean()
