"""The question log in one SQLite file (stdlib ``sqlite3``), the default ``QuestionStore``.

SQLite runs in WAL mode with ``synchronous=NORMAL``: a commit is in the WAL before ``write``
returns, so a killed process loses nothing committed, and a power cut loses at most the last
commits, never the database.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from mscqa.server.questions.store import (
    FeedbackRecord,
    OneWriter,
    QuestionGroup,
    QuestionRecord,
    Status,
    question_groups,
    question_row,
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS questions (
    id TEXT PRIMARY KEY,
    at REAL NOT NULL,
    question TEXT NOT NULL,
    normalised TEXT NOT NULL,
    context TEXT,
    answered INTEGER NOT NULL,
    confidence REAL NOT NULL,
    index_version TEXT NOT NULL,
    answer TEXT,
    passage TEXT
);
CREATE INDEX IF NOT EXISTS questions_at ON questions (at);
CREATE INDEX IF NOT EXISTS questions_group ON questions (answered, normalised, at);
CREATE TABLE IF NOT EXISTS feedback (
    answer_id TEXT PRIMARY KEY REFERENCES questions (id) ON DELETE CASCADE,
    at REAL NOT NULL,
    rating TEXT NOT NULL CHECK (rating IN ('up', 'down')),
    comment TEXT
);
CREATE INDEX IF NOT EXISTS feedback_rating ON feedback (rating, at);
"""

_GROUP_COLUMNS = """
    q.normalised, q.question, COUNT(*) AS n, MAX(q.at) AS last_seen, q.answered,
    q.confidence, q.index_version, q.context, q.answer, q.passage,
    SUM(f.rating = 'up') AS ups, SUM(f.rating = 'down') AS downs
"""
# SQLite takes the bare columns (question, passage, ...) from the row holding MAX(q.at): the
# latest wording of a question and what was found for it then.
_REPORTS: dict[str, str] = {
    "unanswered": f"""
        SELECT {_GROUP_COLUMNS} FROM questions q LEFT JOIN feedback f ON f.answer_id = q.id
        WHERE q.answered = 0 AND q.at >= ? GROUP BY q.normalised
        ORDER BY n DESC, last_seen DESC LIMIT ?""",
    "downvoted": f"""
        SELECT {_GROUP_COLUMNS} FROM questions q JOIN feedback f ON f.answer_id = q.id
        WHERE f.rating = 'down' AND q.at >= ? GROUP BY q.normalised
        ORDER BY n DESC, last_seen DESC LIMIT ?""",
    "all": f"""
        SELECT {_GROUP_COLUMNS} FROM questions q LEFT JOIN feedback f ON f.answer_id = q.id
        WHERE q.at >= ? GROUP BY q.normalised
        ORDER BY n DESC, last_seen DESC LIMIT ?""",
}


class SQLiteQuestionStore(OneWriter[sqlite3.Connection]):
    """The question log in one SQLite file (stdlib ``sqlite3``)."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as con:
            con.execute("PRAGMA journal_mode=WAL")
            con.executescript(_SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        con = sqlite3.connect(self.path, timeout=5.0, isolation_level=None, check_same_thread=False)
        con.execute("PRAGMA synchronous=NORMAL")
        con.execute("PRAGMA foreign_keys=ON")
        return con

    @contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        # A connection per call: reads are rare (feedback, the curator's report) and WAL lets
        # them run beside the writer without locking it.
        con = self._connect()
        try:
            yield con
        finally:
            con.close()

    def _open_writer(self) -> sqlite3.Connection:
        return self._connect()

    def write(
        self, questions: Sequence[QuestionRecord], feedback: Sequence[FeedbackRecord]
    ) -> None:
        with self._writer_lock:
            con = self._writer_conn()
            con.execute("BEGIN IMMEDIATE")
            try:
                con.executemany(
                    "INSERT OR IGNORE INTO questions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [question_row(q) for q in questions],
                )
                # A rating whose question was pruned meanwhile is skipped, not a failed batch.
                con.executemany(
                    "INSERT INTO feedback SELECT ?, ?, ?, ? WHERE EXISTS "
                    "(SELECT 1 FROM questions WHERE id = ?) ON CONFLICT (answer_id) DO UPDATE "
                    "SET at = excluded.at, rating = excluded.rating, comment = excluded.comment",
                    [(f.answer_id, f.at, f.rating, f.comment, f.answer_id) for f in feedback],
                )
                con.execute("COMMIT")
            except BaseException:
                if con.in_transaction:  # SQLite may have rolled back already (SQLITE_FULL)
                    con.execute("ROLLBACK")
                raise

    def prune(self, before: float) -> int:
        with self._writer_lock:
            cur = self._writer_conn().execute("DELETE FROM questions WHERE at < ?", (before,))
            return cur.rowcount

    def has(self, answer_id: str) -> bool:
        with self._reading() as con:
            row = con.execute("SELECT 1 FROM questions WHERE id = ?", (answer_id,)).fetchone()
        return row is not None

    def report(self, status: Status, since: float, limit: int) -> list[QuestionGroup]:
        with self._reading() as con:
            rows = con.execute(_REPORTS[status], (since, limit)).fetchall()
            keys = [r[0] for r in rows]
            comments = []
            if keys:
                marks = ",".join("?" * len(keys))
                comments = con.execute(
                    "SELECT q.normalised, f.rating, f.comment, f.at FROM feedback f "
                    f"JOIN questions q ON q.id = f.answer_id WHERE q.normalised IN ({marks}) "
                    "AND f.comment IS NOT NULL AND f.comment != '' AND q.at >= ? "
                    "ORDER BY f.at DESC",
                    (*keys, since),
                ).fetchall()
        return question_groups(rows, comments)
