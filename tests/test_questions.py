"""The question log (what is kept per mode, retention, grouping), POST /feedback and the
curator's /admin/questions report and export, over a real SQLite file."""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from mscqa.config import Settings
from mscqa.evaluation import evaluate, load_questions
from mscqa.server.app import create_app
from mscqa.server.questions import QuestionLog, SQLiteQuestionStore
from mscqa.server.questions import log as qlog_module
from mscqa.server.questions import writer as qlog_writer
from mscqa.server.questions.log import DB_FILE
from mscqa.server.questions.store import FeedbackRecord, QuestionRecord
from mscqa.service import QAService
from mscqa.types import Turn

TOKEN = "curator-secret"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ANSWERED = "How are adipose stem cells collected?"
REFUSED = "What is the capital of France?"


def _settings(base: Settings, tmp_path: Path, mode: str = "unanswered", **extra) -> Settings:
    return base.model_copy(
        update={
            "data_dir": tmp_path / "data",
            "question_log": mode,
            "admin_token": extra.pop("admin_token", None),
            **extra,
        }
    )


@pytest.fixture
def make_client(
    tiny_settings: Settings, tiny_service: QAService, tmp_path: Path
) -> Iterator[Callable[..., TestClient]]:
    from pydantic import SecretStr

    opened: list[TestClient] = []

    def make(mode: str = "unanswered") -> TestClient:
        settings = _settings(tiny_settings, tmp_path, mode, admin_token=SecretStr(TOKEN))
        client = TestClient(create_app(settings, tiny_service))
        client.__enter__()
        opened.append(client)
        return client

    yield make
    for client in opened:
        client.__exit__(None, None, None)


def flush(client: TestClient) -> QuestionLog:
    questions: QuestionLog = client.app.state.questions
    questions.flush()
    return questions


def rows(tmp_path: Path, sql: str = "SELECT question, answered FROM questions ORDER BY at"):
    with sqlite3.connect(tmp_path / "data" / DB_FILE) as con:
        return con.execute(sql).fetchall()


def ask(client: TestClient, question: str, history: list[dict] | None = None) -> dict:
    r = client.post("/ask", json={"question": question, "history": history or []})
    assert r.status_code == 200, r.text
    return r.json()


# --- what each mode keeps ----------------------------------------------------------------------


def test_unanswered_mode_keeps_refused_questions_and_rated_answers(make_client, tmp_path) -> None:
    client = make_client("unanswered")
    answered = ask(client, ANSWERED)
    refused = ask(client, REFUSED)
    assert answered["answered"] and not refused["answered"]
    flush(client)
    assert rows(tmp_path) == [(REFUSED, 0)]
    # an answer that is not on disk can still be rated: it is written with its rating
    r = client.post("/feedback", json={"id": answered["id"], "rating": "down", "comment": "Old"})
    assert r.status_code == 204 and r.content == b""
    flush(client)
    assert rows(tmp_path) == [(ANSWERED, 1), (REFUSED, 0)]  # in the order they were asked
    assert rows(tmp_path, "SELECT answer_id, rating, comment FROM feedback") == [
        (answered["id"], "down", "Old")
    ]


def test_all_mode_keeps_every_question(make_client, tmp_path) -> None:
    client = make_client("all")
    for q in (ANSWERED, REFUSED, ANSWERED):
        ask(client, q)
    flush(client)
    assert rows(tmp_path) == [(ANSWERED, 1), (REFUSED, 0), (ANSWERED, 1)]


def test_off_mode_keeps_nothing_and_refuses_feedback(make_client, tmp_path) -> None:
    client = make_client("off")
    answer = ask(client, REFUSED)
    r = client.post("/feedback", json={"id": answer["id"], "rating": "up"})
    assert r.status_code == 404
    assert "MSCQA_QUESTION_LOG=off" in r.json()["detail"]
    assert not (tmp_path / "data").exists()
    report = client.get("/admin/questions", headers=AUTH).json()
    assert report["mode"] == "off" and report["questions"] == []


def test_nothing_about_the_asker_is_stored(make_client, tmp_path) -> None:
    client = make_client("all")
    answer = ask(client, REFUSED)
    client.post("/feedback", json={"id": answer["id"], "rating": "down"})
    client.app.state.questions.close()
    raw = b"".join(p.read_bytes() for p in (tmp_path / "data").iterdir())
    for marker in (b"testclient", b"127.0.0.1", b"python-httpx", b"X-Request-ID"):
        assert marker not in raw
    with sqlite3.connect(tmp_path / "data" / DB_FILE) as con:
        columns = {
            r[1] for t in ("questions", "feedback") for r in con.execute(f"PRAGMA table_info({t})")
        }
    assert not columns & {"ip", "client", "user_agent", "host", "request_id"}


def test_the_log_file_is_in_wal_mode(make_client, tmp_path) -> None:
    flush(make_client("all"))
    assert rows(tmp_path, "PRAGMA journal_mode") == [("wal",)]


# --- POST /feedback --------------------------------------------------------------------------


def test_feedback_can_be_changed_and_takes_the_openai_id_form(make_client, tmp_path) -> None:
    client = make_client("all")
    answer = ask(client, ANSWERED)
    assert client.post("/feedback", json={"id": answer["id"], "rating": "up"}).status_code == 204
    again = {"id": f"chatcmpl-{answer['id']}", "rating": "down", "comment": "  Wrong year.  "}
    assert client.post("/feedback", json=again).status_code == 204
    flush(client)
    assert rows(tmp_path, "SELECT rating, comment FROM feedback") == [("down", "Wrong year.")]


@pytest.mark.parametrize(
    ("payload", "status", "fragment"),
    [
        ({"id": "0" * 24, "rating": "up"}, 404, "No recent answer"),
        ({"rating": "up"}, 422, "id"),
        ({"id": "x", "rating": "meh"}, 422, "rating"),
        ({"id": "x", "rating": None}, 422, "rating"),
        ({"id": "../etc", "rating": "up"}, 422, "id"),
        ({"id": "x" * 65, "rating": "up"}, 422, "id"),
        ({"id": "x", "rating": "up", "comment": "c" * 2001}, 422, "comment"),
        ({"id": "x", "rating": "up", "comment": "bad\u202etext"}, 422, "comment"),
    ],
)
def test_feedback_errors(make_client, payload: dict, status: int, fragment: str) -> None:
    client = make_client("unanswered")
    r = client.post("/feedback", json=payload)
    assert r.status_code == status
    assert fragment in r.json()["detail"]


def test_an_answer_is_found_in_the_log_after_a_restart(
    tiny_settings: Settings, tiny_service: QAService, tmp_path: Path
) -> None:
    settings = _settings(tiny_settings, tmp_path, "all")
    with TestClient(create_app(settings, tiny_service)) as c:
        old = ask(c, ANSWERED)["id"]
    with TestClient(create_app(settings, tiny_service)) as c:  # nothing of it in memory
        assert c.post("/feedback", json={"id": old, "rating": "down"}).status_code == 204
        c.app.state.questions.flush()
    assert rows(tmp_path, "SELECT answer_id, rating FROM feedback") == [(old, "down")]


def test_recent_answers_are_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mscqa.types import Answer

    monkeypatch.setattr(qlog_module, "RECENT_ANSWERS", 3)
    questions = QuestionLog(SQLiteQuestionStore(tmp_path / "q.db"), "unanswered")
    ids = [f"a{i}" for i in range(5)]
    for i in ids:
        questions.record("Q?", [], Answer("A", True, 0.9, id=i, index_version="v"))
    assert not questions.feedback("a0", "up", None)  # forgotten, and never written
    assert questions.feedback("a4", "up", None)
    questions.close()


# --- the report ----------------------------------------------------------------------------


def test_report_groups_by_normalised_text_most_frequent_first(make_client) -> None:
    client = make_client("unanswered")
    for q in (REFUSED, "what is the  CAPITAL of france?", "Who won the 1998 World Cup?", REFUSED):
        ask(client, q)
    flush(client)
    r = client.get("/admin/questions", headers=AUTH)
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    body = r.json()
    assert (body["status"], body["mode"], body["days"]) == ("unanswered", "unanswered", 90)
    groups = body["questions"]
    assert [(g["normalised"], g["count"]) for g in groups] == [
        ("what is the capital of france?", 3),
        ("who won the 1998 world cup?", 1),
    ]
    top = groups[0]
    assert top["question"] == REFUSED  # the latest wording
    assert top["last_seen"].endswith("Z") and top["answered"] is False
    assert top["answer"] is None
    closest = top["closest"]
    assert closest["doc_id"] and closest["text"]
    assert (
        closest["url"] == f"/read/{closest['doc_id']}?start={closest['start']}&end={closest['end']}"
    )
    assert client.get(closest["url"]).status_code == 200


def test_report_of_answers_marked_wrong_with_comments(make_client) -> None:
    client = make_client("unanswered")
    first, second, liked = (
        ask(client, ANSWERED),
        ask(client, ANSWERED),
        ask(client, "What is Prochymal?"),
    )
    client.post("/feedback", json={"id": first["id"], "rating": "down", "comment": "Too vague"})
    client.post("/feedback", json={"id": second["id"], "rating": "down"})
    client.post("/feedback", json={"id": liked["id"], "rating": "up", "comment": "Great"})
    flush(client)
    groups = client.get("/admin/questions?status=downvoted", headers=AUTH).json()["questions"]
    assert len(groups) == 1
    g = groups[0]
    assert (g["question"], g["count"], g["downvotes"], g["answered"]) == (ANSWERED, 2, 2, True)
    assert g["answer"] == first["answer"]
    assert [c["comment"] for c in g["comments"]] == ["Too vague"]
    everything = client.get("/admin/questions?status=all", headers=AUTH).json()["questions"]
    assert {(x["normalised"], x["upvotes"], x["downvotes"]) for x in everything} == {
        (ANSWERED.casefold(), 0, 2),
        ("what is prochymal?", 1, 0),
    }


def test_follow_ups_keep_the_question_they_lean_on(make_client) -> None:
    client = make_client("all")
    history = [
        {"role": "user", "content": "Tell me about umbilical cord stem cells"},
        {"role": "assistant", "content": "Umbilical cord stem cells come from cord tissue. [1]"},
    ]
    ask(client, "Which country uses them more?", history)
    ask(client, "What is the capital of France?", history)  # stands alone: no context kept
    flush(client)
    groups = client.get("/admin/questions?status=all", headers=AUTH).json()["questions"]
    context = {g["question"]: g["context"] for g in groups}
    assert context == {
        "Which country uses them more?": ["Tell me about umbilical cord stem cells"],
        "What is the capital of France?": [],
    }


def test_retention_removes_old_questions(tmp_path: Path) -> None:
    store = SQLiteQuestionStore(tmp_path / "q.db")
    now = time.time()

    def record(i: str, days_ago: float) -> QuestionRecord:
        return QuestionRecord(i, now - days_ago * 86400, i, i, (), False, 0.1, "v", None, None)

    store.write(
        [record("old", 91), record("recent", 89)],
        [FeedbackRecord("old", now - 91 * 86400, "down", None)],
    )
    questions = QuestionLog(store, "all", days=90)
    assert [g.question for g in questions.report("all")] == ["recent"]  # not shown once expired
    questions.start()  # the writer prunes when it starts (and every hour)
    questions.close()
    with sqlite3.connect(tmp_path / "q.db") as con:
        assert con.execute("SELECT id FROM questions").fetchall() == [("recent",)]
        assert con.execute("SELECT COUNT(*) FROM feedback").fetchone() == (0,)


@pytest.mark.parametrize(
    ("headers", "status"),
    [({}, 401), ({"Authorization": "Bearer wrong"}, 403), ({"Authorization": "Basic x"}, 401)],
)
def test_admin_questions_need_the_token(make_client, headers: dict, status: int) -> None:
    client = make_client("unanswered")
    for path in ("/admin/questions", "/admin/questions/export"):
        assert client.get(path, headers=headers).status_code == status


def test_admin_questions_are_off_without_a_token_setting(
    tiny_settings: Settings, tiny_service: QAService, tmp_path: Path
) -> None:
    with TestClient(create_app(_settings(tiny_settings, tmp_path), tiny_service)) as c:
        r = c.get("/admin/questions", headers=AUTH)
    assert r.status_code == 403 and "MSCQA_ADMIN_TOKEN" in r.json()["detail"]


@pytest.mark.parametrize("query", ["status=wrong", "limit=0", "limit=10001", "limit=x"])
def test_admin_questions_bad_parameters(make_client, query: str) -> None:
    client = make_client("unanswered")
    r = client.get(f"/admin/questions?{query}", headers=AUTH)
    assert r.status_code == 422 and r.json()["detail"]


# --- export --------------------------------------------------------------------------------


def test_export_is_jsonl_that_mscqa_eval_reads(
    make_client, tmp_path: Path, tiny_service: QAService
) -> None:
    client = make_client("unanswered")
    history = [{"role": "user", "content": "Tell me about umbilical cord stem cells"}]
    for q in (REFUSED, REFUSED.upper()):
        ask(client, q)
    ask(client, "And what about their price?", history)
    wrong = ask(client, ANSWERED)
    client.post("/feedback", json={"id": wrong["id"], "rating": "down", "comment": "Missing dose"})
    flush(client)

    r = client.get("/admin/questions/export", headers=AUTH)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/x-ndjson")
    assert r.headers["content-disposition"].startswith(
        'attachment; filename="questions-unanswered-'
    )
    path = tmp_path / "exported.jsonl"
    path.write_bytes(r.content)
    items = load_questions(path)
    by_question = {i.question: i for i in items}
    assert set(by_question) == {REFUSED.upper(), "And what about their price?"}
    assert by_question[REFUSED.upper()].kind == "user-unanswered"
    follow_up = by_question["And what about their price?"]
    assert [(t.role, t.content) for t in follow_up.history] == [("user", history[0]["content"])]
    first = json.loads(r.text.splitlines()[0])
    assert (first["count"], first["gold"], first["expect_abstain"]) == (2, [], False)
    assert first["id"].startswith("user-")

    wrong_lines = client.get("/admin/questions/export?status=downvoted", headers=AUTH).text
    (tmp_path / "wrong.jsonl").write_text(wrong_lines)
    [item] = load_questions(tmp_path / "wrong.jsonl")
    assert (item.question, item.kind) == (ANSWERED, "user-downvoted")
    assert json.loads(wrong_lines)["comments"] == ["Missing dose"]
    assert json.loads(wrong_lines)["answer_given"] == wrong["answer"]
    assert "answer_given" not in first  # a refused question has no answer to judge
    # `mscqa eval` runs on it as it is (gold phrases are the curator's to fill in)
    result = evaluate(tiny_service, items)
    assert result["metrics"]["questions"] == 2


# --- a failing store never fails /ask --------------------------------------------------------


class FailingStore(SQLiteQuestionStore):
    """The real store, whose writes fail as SQLite does on a full disk while ``full``."""

    full = True

    def write(self, questions, feedback) -> None:
        if self.full:
            raise sqlite3.OperationalError("database or disk is full")
        super().write(questions, feedback)


def test_a_failing_store_stops_logging_with_a_warning_then_resumes(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from mscqa.types import Answer

    store = FailingStore(tmp_path / "q.db")
    questions = QuestionLog(store, "all", flush_seconds=0.01, retry_seconds=0.2)
    refused = [Answer("No.", False, 0.1, id=f"r{i}", index_version="v") for i in range(3)]
    with caplog.at_level(logging.WARNING, logger=qlog_writer.__name__):
        questions.record("Q1?", [Turn("user", "x")], refused[0])
        questions.flush()
        assert "cannot write (database or disk is full)" in caplog.text
        questions.record("Q2?", [], refused[1])  # while paused: dropped without trying
        questions.flush()
        assert caplog.text.count("cannot write") == 1
        store.full = False
        time.sleep(0.25)
        questions.record("Q3?", [], refused[2])
        questions.flush()
    assert "writing again" in caplog.text
    assert questions.dropped == 2 and questions.written == 1
    assert [g.question for g in questions.report("all")] == ["Q3?"]
    questions.close()
