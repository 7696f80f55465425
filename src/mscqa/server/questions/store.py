"""Where the question log is kept: the ``QuestionStore`` interface and its SQLite implementation.

The log's front (``questionlog.QuestionLog``) decides what is kept and hands batches to one
writer thread; a store only reads and writes. A second implementation (PostgreSQL) can sit
behind the same interface: ``write`` is called from one thread only, the other methods from any.

SQLite runs in WAL mode with ``synchronous=NORMAL``: a commit is in the WAL before ``write``
returns, so a killed process loses nothing committed, and a power cut loses at most the last
commits, never the database.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

Status = Literal["unanswered", "downvoted", "all"]
STATUSES: tuple[Status, ...] = ("unanswered", "downvoted", "all")
Rating = Literal["up", "down"]


@dataclass(frozen=True, slots=True)
class Passage:
    """The passage closest to a question: what a curator reads to see what was found."""

    doc_id: str
    title: str
    section: str | None
    chunk_id: str
    start: int
    end: int
    text: str


@dataclass(frozen=True, slots=True)
class QuestionRecord:
    id: str  # the answer's id
    at: float  # Unix time
    question: str
    normalised: str  # grouping key: NFKC, case-folded, whitespace collapsed
    context: tuple[str, ...]  # the earlier questions a follow-up leaned on, oldest first
    answered: bool
    confidence: float
    index_version: str
    answer: str | None  # the answer given (None when refused)
    passage: Passage | None


@dataclass(frozen=True, slots=True)
class FeedbackRecord:
    answer_id: str
    at: float
    rating: Rating
    comment: str | None


@dataclass(frozen=True, slots=True)
class Comment:
    rating: Rating
    comment: str
    at: float


@dataclass(frozen=True, slots=True)
class QuestionGroup:
    """Every logged question with one normalised text: how often, how recently, the latest
    wording, what was answered and the passage found for it."""

    normalised: str
    question: str
    count: int
    last_seen: float
    answered: bool
    confidence: float
    index_version: str
    context: tuple[str, ...]
    answer: str | None
    passage: Passage | None
    upvotes: int
    downvotes: int
    comments: tuple[Comment, ...] = field(default=())


class QuestionStore(Protocol):
    """Storage behind the question log."""

    def write(
        self, questions: Sequence[QuestionRecord], feedback: Sequence[FeedbackRecord]
    ) -> None:
        """Store a batch in one transaction: new questions (an id already stored is kept
        as is), then feedback (the latest rating for an answer replaces an earlier one)."""

    def prune(self, before: float) -> int:
        """Delete questions, with their feedback, asked before ``before``; returns how many."""

    def has(self, answer_id: str) -> bool:
        """Whether the answer ``answer_id`` is stored."""

    def report(self, status: Status, since: float, limit: int) -> list[QuestionGroup]:
        """Question groups seen since ``since``, the most frequent first (for ``downvoted``,
        the most often marked wrong), at most ``limit``."""

    def close(self) -> None: ...


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
COMMENTS_PER_GROUP = 5


class SQLiteQuestionStore:
    """The question log in one SQLite file (stdlib ``sqlite3``)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._writer: sqlite3.Connection | None = None
        self._writer_lock = threading.Lock()
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

    def write(
        self, questions: Sequence[QuestionRecord], feedback: Sequence[FeedbackRecord]
    ) -> None:
        with self._writer_lock:
            if self._writer is None:
                self._writer = self._connect()
            con = self._writer
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
            if self._writer is None:
                self._writer = self._connect()
            cur = self._writer.execute("DELETE FROM questions WHERE at < ?", (before,))
            return cur.rowcount

    def has(self, answer_id: str) -> bool:
        with self._reading() as con:
            row = con.execute("SELECT 1 FROM questions WHERE id = ?", (answer_id,)).fetchone()
        return row is not None

    def report(self, status: Status, since: float, limit: int) -> list[QuestionGroup]:
        with self._reading() as con:
            rows = con.execute(_REPORTS[status], (since, limit)).fetchall()
            keys = [r[0] for r in rows]
            comments: dict[str, list[Comment]] = {k: [] for k in keys}
            if keys:
                marks = ",".join("?" * len(keys))
                for key, rating, text, at in con.execute(
                    "SELECT q.normalised, f.rating, f.comment, f.at FROM feedback f "
                    f"JOIN questions q ON q.id = f.answer_id WHERE q.normalised IN ({marks}) "
                    "AND f.comment IS NOT NULL AND f.comment != '' AND q.at >= ? "
                    "ORDER BY f.at DESC",
                    (*keys, since),
                ):
                    if len(comments[key]) < COMMENTS_PER_GROUP:
                        comments[key].append(Comment(rating, text, at))
        return [
            QuestionGroup(
                normalised=r[0],
                question=r[1],
                count=r[2],
                last_seen=r[3],
                answered=bool(r[4]),
                confidence=r[5],
                index_version=r[6],
                context=tuple(json.loads(r[7])) if r[7] else (),
                answer=r[8],
                passage=passage_of(r[9]),
                upvotes=int(r[10] or 0),
                downvotes=int(r[11] or 0),
                comments=tuple(comments[r[0]]),
            )
            for r in rows
        ]

    def close(self) -> None:
        with self._writer_lock:
            if self._writer is not None:
                self._writer.close()
                self._writer = None


def question_row(q: QuestionRecord) -> tuple[object, ...]:
    passage = None
    if q.passage is not None:
        p = q.passage
        passage = json.dumps(
            {
                "doc_id": p.doc_id,
                "title": p.title,
                "section": p.section,
                "chunk_id": p.chunk_id,
                "start": p.start,
                "end": p.end,
                "text": p.text,
            }
        )
    return (
        q.id,
        q.at,
        q.question,
        q.normalised,
        json.dumps(list(q.context)) if q.context else None,
        int(q.answered),
        q.confidence,
        q.index_version,
        q.answer,
        passage,
    )


def passage_of(raw: str | None) -> Passage | None:
    return Passage(**json.loads(raw)) if raw else None
