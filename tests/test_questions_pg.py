"""The question log in PostgreSQL: the same answers as the SQLite store on the same records,
and one log for every server that shares the database."""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from mscqa.config import Settings
from mscqa.embedding import HashingEmbedder
from mscqa.index import pgdb
from mscqa.indexing import build_index
from mscqa.server.app import create_app
from mscqa.server.questions import QuestionLog, SQLiteQuestionStore
from mscqa.server.questions.pgstore import PgQuestionStore
from mscqa.server.questions.store import STATUSES, FeedbackRecord, Passage, QuestionRecord
from mscqa.service import QAService

TOKEN = "curator-secret"


@pytest.fixture
def migrated(pg_url: str) -> str:
    conn = pgdb.connect(pg_url)
    try:
        pgdb.migrate(conn)
    finally:
        conn.close()
    return pg_url


def records(n: int = 120) -> tuple[list[QuestionRecord], list[FeedbackRecord]]:
    rng = random.Random(3)
    questions, feedback = [], []
    for i in range(n):
        topic = rng.choice(["adipose", "marrow", "cord", "japan", "dose"])
        answered = rng.random() < 0.5
        passage = Passage(f"{topic}.md", topic.title(), None, f"{topic}.md#0", 0, 9, "Some text")
        questions.append(
            QuestionRecord(
                id=f"a{i}",
                at=1000.0 + i,
                question=f"What about {topic}? ({i})",
                normalised=f"what about {topic}?",
                context=("Earlier question",) if i % 7 == 0 else (),
                answered=answered,
                confidence=round(rng.random(), 3),
                index_version=f"v{i // 40}",
                answer="An answer [1]" if answered else None,
                passage=passage if rng.random() < 0.8 else None,
            )
        )
        if rng.random() < 0.4:
            rating = rng.choice(["up", "down"])
            comment = rng.choice([None, "", "Wrong year.", "Good"])
            feedback.append(FeedbackRecord(f"a{i}", 2000.0 + i, rating, comment))  # type: ignore[arg-type]
    feedback.append(FeedbackRecord("a999", 3000.0, "down", "its question was pruned"))
    return questions, feedback


def test_the_database_store_answers_as_the_sqlite_store(migrated: str, tmp_path: Path) -> None:
    sqlite, pg = SQLiteQuestionStore(tmp_path / "q.db"), PgQuestionStore(migrated)
    try:
        questions, feedback = records()
        for store in (sqlite, pg):
            store.write(questions[:60], feedback[:20])
            store.write(questions[60:] + questions[:5], feedback[20:])  # repeats are kept as is
            store.write([], [FeedbackRecord("a3", 4000.0, "down", "changed my mind")])
        for status in STATUSES:
            for since in (0.0, 1050.0):
                assert pg.report(status, since, 50) == sqlite.report(status, since, 50), status
        assert pg.has("a1") and not pg.has("nope")
        assert pg.prune(1030.0) == sqlite.prune(1030.0) == 30
        for status in STATUSES:
            assert pg.report(status, 0.0, 50) == sqlite.report(status, 0.0, 50)
    finally:
        sqlite.close()
        pg.close()


def test_every_replica_logs_into_one_database(
    migrated: str, tmp_path: Path, tiny_corpus: Path
) -> None:
    base = Settings(
        corpus_dir=tiny_corpus,
        index_dir=tmp_path / "index",
        chunk_chars=200,
        database_url=migrated,
        question_log="all",
        admin_token=SecretStr(TOKEN),
        rate_limit_per_minute=0,
        _env_file=None,
    )
    embedder = HashingEmbedder(256)
    build_index(base, embedder)
    services = [QAService(base, embedder) for _ in range(2)]
    clients = []
    try:
        for n, service in enumerate(services):
            settings = base.model_copy(update={"data_dir": tmp_path / f"data-{n}"})
            client = TestClient(create_app(settings, service))
            client.__enter__()
            clients.append(client)
        a, b = clients
        for client in clients:  # each loads the index in the background first
            deadline = time.monotonic() + 60
            while client.get("/health").status_code != 200:
                assert time.monotonic() < deadline
                time.sleep(0.05)
        first = a.post("/ask", json={"question": "How are adipose stem cells collected?"}).json()
        b.post("/ask", json={"question": "What is the capital of France?"})
        for client in clients:
            questions: QuestionLog = client.app.state.questions
            questions.flush()
            assert isinstance(questions.store, PgQuestionStore)
        # a rating given through B for an answer A gave is found in the shared log
        assert b.post("/feedback", json={"id": first["id"], "rating": "down"}).status_code == 204
        b.app.state.questions.flush()
        auth = {"Authorization": f"Bearer {TOKEN}"}
        every = a.get("/admin/questions?status=all", headers=auth).json()
        asked = {g["question"] for g in every["questions"]}
        assert asked == {"How are adipose stem cells collected?", "What is the capital of France?"}
        wrong = a.get("/admin/questions?status=downvoted", headers=auth).json()["questions"]
        assert [g["question"] for g in wrong] == ["How are adipose stem cells collected?"]
        assert not (tmp_path / "data-0" / "questions.sqlite3").exists()  # nothing local
    finally:
        for client in clients:
            client.__exit__(None, None, None)


def test_an_unmigrated_database_turns_the_log_off_with_a_warning(
    pg_url: str, tmp_path: Path, caplog
) -> None:
    settings = Settings(
        database_url=pg_url, data_dir=tmp_path / "data", question_log="all", _env_file=None
    )
    questions = QuestionLog.from_settings(settings)
    assert questions.mode == "off"
    assert "Question log off" in caplog.text and "index database" in caplog.text
