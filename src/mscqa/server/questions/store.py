"""Where the question log is kept: the ``QuestionStore`` interface, the records it stores and
reports, and the row mapping both stores share (SQLite in ``sqlitestore``, PostgreSQL in
``pgstore``).

The log's front (``log.QuestionLog``) decides what is kept and hands batches to one writer
thread (``writer.LogWriter``); a store only reads and writes: ``write`` is called from one
thread only, the other methods from any.
"""

from __future__ import annotations

import json
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, Protocol, TypeVar

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


class _Closable(Protocol):
    def close(self) -> None: ...


C = TypeVar("C", bound=_Closable)


class OneWriter(ABC, Generic[C]):
    """A store's one writing connection: opened on first use (``_open_writer``), opened again
    when ``_usable`` says the old one is not, closed by :meth:`close`. Use it with
    ``_writer_lock`` held."""

    def __init__(self) -> None:
        self._writer: C | None = None
        self._writer_lock = threading.Lock()

    @abstractmethod
    def _open_writer(self) -> C:
        """A new writing connection."""

    def _usable(self, conn: C) -> bool:
        return True

    def _writer_conn(self) -> C:
        """The writing connection (call with ``_writer_lock`` held)."""
        if self._writer is None or not self._usable(self._writer):
            self._writer = self._open_writer()
        return self._writer

    def close(self) -> None:
        with self._writer_lock:
            if self._writer is not None:
                self._writer.close()
                self._writer = None


COMMENTS_PER_GROUP = 5  # comments shown with a question group, newest first


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


def question_groups(
    rows: Sequence[Sequence[Any]], comments: Iterable[Sequence[Any]]
) -> list[QuestionGroup]:
    """The report's groups from its rows (normalised question, latest question, count, last
    seen, answered, confidence, index version, context, answer, passage, upvotes, downvotes:
    both stores' report queries) and the comments on them, newest first (normalised
    question, rating, comment, time): at most ``COMMENTS_PER_GROUP`` a group."""
    kept: dict[str, list[Comment]] = {r[0]: [] for r in rows}
    for key, rating, text, at in comments:
        if len(kept[key]) < COMMENTS_PER_GROUP:
            kept[key].append(Comment(rating, text, at))
    return [
        QuestionGroup(
            normalised=r[0],
            question=r[1],
            count=int(r[2]),
            last_seen=float(r[3]),
            answered=bool(r[4]),
            confidence=float(r[5]),
            index_version=r[6],
            context=tuple(json.loads(r[7])) if r[7] else (),
            answer=r[8],
            passage=passage_of(r[9]),
            upvotes=int(r[10] or 0),
            downvotes=int(r[11] or 0),
            comments=tuple(kept[r[0]]),
        )
        for r in rows
    ]
