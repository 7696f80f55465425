"""Faults of the question log: a server killed with SIGKILL mid-traffic, and a full disk.

A kill loses at most the last second of entries and never damages the database; a full disk
stops logging with a warning and never stops /ask.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from conftest import mscqa_serve
from mscqa.config import Settings
from mscqa.server.app import create_app
from mscqa.server.questions import log as qlog_module
from mscqa.server.questions import writer as qlog_writer
from mscqa.server.questions.log import DB_FILE
from mscqa.service import QAService
from waiting import wait_until


def _integrity(db: Path) -> str:
    with sqlite3.connect(db) as con:
        return str(con.execute("PRAGMA integrity_check").fetchone()[0])


def _stored_ids(db: Path) -> set[str]:
    with sqlite3.connect(db) as con:
        return {r[0] for r in con.execute("SELECT id FROM questions")}


@pytest.mark.slow
def test_kill_9_mid_traffic_loses_at_most_a_second_and_never_corrupts(
    real_service: QAService, real_settings: Settings, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    env = {
        "MSCQA_DATA_DIR": str(data),
        "MSCQA_QUESTION_LOG": "all",
        "MSCQA_RATE_LIMIT_PER_MINUTE": "0",
        "MSCQA_LOG_LEVEL": "WARNING",
    }
    answered: list[tuple[float, str]] = []  # (monotonic time the answer arrived, its id)
    stop = threading.Event()
    with mscqa_serve(real_settings, **env) as (proc, url):

        def traffic(worker: int) -> None:
            with httpx.Client(base_url=url, timeout=10) as client:
                n = 0
                while not stop.is_set():
                    n += 1
                    question = f"Question {worker}-{n}: how are adipose stem cells collected?"
                    try:
                        r = client.post("/ask", json={"question": question})
                    except httpx.HTTPError:
                        return  # the server is gone
                    if r.status_code == 200:
                        answered.append((time.monotonic(), r.json()["id"]))

        threads = [threading.Thread(target=traffic, args=(i,)) for i in range(3)]
        for t in threads:
            t.start()
        # enough traffic to judge, however slow the machine (a fixed 5 s gave fewer than 20
        # answers a second old on a loaded one): then the kill, mid-traffic
        wait_until(
            "over 20 answers given over a second ago",
            lambda: sum(at < time.monotonic() - 1.0 for at, _ in answered),
            lambda n: n > 20,
            timeout=180,
        )
        killed_at = time.monotonic()
        proc.kill()  # SIGKILL: no shutdown, no final flush
        proc.wait(timeout=10)
        stop.set()
        for t in threads:
            t.join(timeout=15)

    db = data / DB_FILE
    assert _integrity(db) == "ok"
    stored = _stored_ids(db)
    before = [i for at, i in answered if at < killed_at - 1.0]
    assert len(before) > 20, "too little traffic to judge"
    missing = [i for i in before if i not in stored]
    assert missing == [], f"{len(missing)} answers given over a second before the kill are lost"
    assert stored <= {i for _, i in answered}

    # The next server opens the same file, keeps logging, and old answers can still be rated.
    with mscqa_serve(real_settings, **env) as (_, url):
        old = before[0]
        assert httpx.post(f"{url}/feedback", json={"id": old, "rating": "down"}).status_code == 204
        new = httpx.post(f"{url}/ask", json={"question": "After the restart?"}).json()["id"]
    assert _integrity(db) == "ok"
    assert new in _stored_ids(db)
    with sqlite3.connect(db) as con:
        rating = con.execute("SELECT rating FROM feedback WHERE answer_id = ?", (old,)).fetchall()
    assert rating == [("down",)]


def _fill(folder: Path) -> Path:
    """Write a file until the disk is full; returns it (delete it to free the space)."""
    filler = folder / "filler"
    with filler.open("wb", buffering=0) as f:
        for size in (65536, 4096, 512, 1):
            try:
                while True:
                    f.write(b"x" * size)
            except OSError:
                pass
    return filler


def test_a_full_disk_stops_logging_with_a_warning_never_ask(
    small_disk: Path,
    tiny_settings: Settings,
    tiny_service: QAService,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(qlog_module, "RETRY_SECONDS", 0.5)
    settings = tiny_settings.model_copy(
        update={"data_dir": small_disk / "data", "question_log": "all", "rate_limit_per_minute": 0}
    )
    db = small_disk / "data" / DB_FILE
    long = "Why is the sky green in the documents about stem cells? " * 30
    with TestClient(create_app(settings, tiny_service)) as client:
        questions = client.app.state.questions
        client.post("/ask", json={"question": "Before the disk fills up?"})
        questions.flush()
        filler = _fill(small_disk)
        with caplog.at_level(logging.WARNING, logger=qlog_writer.__name__):
            for i in range(40):
                r = client.post("/ask", json={"question": f"{i} {long}"[:1900]})
                assert r.status_code == 200, r.text
                if i % 10 == 0:
                    questions.flush()
            questions.flush()
        assert "cannot write" in caplog.text
        assert caplog.text.count("cannot write") == 1  # one warning, not one a question
        assert questions.dropped > 0
        assert client.get("/health").status_code == 200

        filler.unlink()
        time.sleep(0.6)
        with caplog.at_level(logging.WARNING, logger=qlog_writer.__name__):
            after = client.post("/ask", json={"question": "After space is freed?"}).json()["id"]
            questions.flush()
        assert "writing again" in caplog.text
    assert _integrity(db) == "ok"
    assert after in _stored_ids(db)
