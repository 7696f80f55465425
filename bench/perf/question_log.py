"""What the question log costs ``/ask``: one server per ``MSCQA_QUESTION_LOG`` mode, same run.

    .venv/bin/python -m bench.perf.question_log [--questions 400] [--repeats 400] [--json]

Three ``mscqa serve`` processes on the same article index: the log ``off`` (the baseline),
``unanswered`` (the default) and ``all`` (every question written). Each gets the same new
questions (computed, never cached) and one repeated question (a cache hit, where the log's
share of the time is largest), one question to each server in turn (in a shuffled order) so
all three see the same background load. Medians over HTTP (keep-alive, the standard
library's client); the target is the log ``all`` within 0.3 ms of ``off``. The rows each
server wrote are counted at the end, to show the log was writing while it was timed. Then,
in process, ``QAService.ask`` on a cached answer with and without the log observing it: the
log's own cost per answer, without HTTP's noise.
"""

from __future__ import annotations

import contextlib
import json
import random
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.common import (
    AskClient,
    same_run,
    save,
    server,
    summary,
    table,
    varied_questions,
)

MODES = ("off", "unanswered", "all")
TARGET_MS = 0.3


def run(index_dir: Path, n: int, repeats: int) -> dict[str, Any]:
    questions = varied_questions(n)
    data = Path(tempfile.mkdtemp(prefix="mscqa-bench-log-"))
    times: dict[str, dict[str, list[float]]] = {m: {"new": [], "repeated": []} for m in MODES}
    with (
        _server(index_dir, data, "off") as off,
        _server(index_dir, data, "unanswered") as unanswered,
        _server(index_dir, data, "all") as every,
    ):
        urls = (off, unanswered, every)
        clients = {m: AskClient(url) for m, url in zip(MODES, urls, strict=True)}
        for client in clients.values():  # warm up: model, first connection, cache entry
            for q in ("What are mesenchymal stem cells?", "Warm-up question two?"):
                client.ask_ms(q)
        # One question to each server in turn, in a shuffled order: on a busy machine any
        # burst of background load falls on all three alike.
        order = list(MODES)
        rng = random.Random(0)
        repeated = "How are adipose mesenchymal stem cells collected?"
        work = [("new", q) for q in questions] + [("repeated", repeated)] * repeats
        for kind, question in work:
            rng.shuffle(order)
            for mode in order:
                times[mode][kind].append(clients[mode].ask_ms(question))
        for client in clients.values():
            client.close()
    written = {m: _rows(data / m) for m in MODES}
    return {"times": times, "written": written, "questions": len(questions), "repeats": repeats}


@contextlib.contextmanager
def _server(index_dir: Path, data: Path, mode: str) -> Iterator[str]:
    with server(index_dir, MSCQA_QUESTION_LOG=mode, MSCQA_DATA_DIR=str(data / mode)) as s:
        yield s[0]


def in_process(index_dir: Path, n: int) -> dict[str, float]:
    """``QAService.ask`` on a cached answer with and without the log ``all`` observing it, in
    alternating blocks of 50 (microseconds): the log's own cost without HTTP's noise."""
    from mscqa.config import Settings
    from mscqa.server.questions import QuestionLog, SQLiteQuestionStore
    from mscqa.service import QAService

    service = QAService(Settings(index_dir=index_dir, _env_file=None))
    service.load()
    folder = Path(tempfile.mkdtemp(prefix="mscqa-bench-log-"))
    questions = QuestionLog(SQLiteQuestionStore(folder / "questions.sqlite3"), "all")
    questions.start()
    question = "How are adipose mesenchymal stem cells collected?"
    service.ask(question)
    times: dict[str, list[float]] = {"off": [], "all": []}
    for block in range(2 * (n // 50)):
        mode = "all" if block % 2 else "off"
        service.observers[:] = [questions.record] if mode == "all" else []
        for _ in range(50):
            started = time.perf_counter()
            service.ask(question)
            times[mode].append((time.perf_counter() - started) * 1e6)
    questions.close()
    return {m: round(statistics.median(v), 2) for m, v in times.items()}


def _rows(folder: Path) -> int:
    db = folder / "questions.sqlite3"
    if not db.is_file():
        return 0
    with sqlite3.connect(db) as con:
        return int(con.execute("SELECT COUNT(*) FROM questions").fetchone()[0])


def main() -> None:
    args, result = same_run(__doc__ or "", (400, 400), run, in_process, 4000)
    stats = {m: {kind: summary(v) for kind, v in result["times"][m].items()} for m in MODES}
    result["summary"] = stats
    rows = []
    for kind in ("new", "repeated"):
        base = stats["off"][kind]["median"]
        for mode in MODES:
            median = stats[mode][kind]["median"]
            delta = median - base
            rows.append(
                [
                    f"/ask {kind} question, log {mode}",
                    median,
                    stats[mode][kind]["p90"],
                    "(baseline)" if mode == "off" else round(delta, 3),
                    f"<= {TARGET_MS}" if mode == "all" else "",
                    ("yes" if delta <= TARGET_MS else "NO") if mode == "all" else "",
                ]
            )
    load = " ".join(str(x) for x in result["machine"]["loadavg"])
    print(f"\n## Question log cost, same run (ms over HTTP; load average {load})\n")
    print(table(["figure", "median", "p90", "median - off", "target", "met"], rows))
    print(f"rows written: {result['written']} (new questions: {result['questions']} per server)")
    us = result["in_process_us"]
    print(
        f"in process, a cached answer: {us['off']} us with the log off, {us['all']} us with the "
        f"log all observing it (+{us['all'] - us['off']:.2f} us), median of 4000 each"
    )
    save("question_log", {k: v for k, v in result.items() if k != "times"})
    if args.json:
        print(json.dumps({k: v for k, v in result.items() if k != "times"}, indent=2))


if __name__ == "__main__":
    main()
