"""The question log's writer thread: entries queue in memory and are written in batches.

One thread drains the queue every ``flush_seconds`` and writes each batch in one transaction,
so a crash or ``kill -9`` loses at most that much; the request path only puts on the queue.
A full disk (or any storage error) stops the writes with one warning, drops entries
meanwhile, and tries again ``retry_seconds`` later. Entries older than ``days`` are pruned
once an hour.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

from mscqa.answer.cache import normalise_question
from mscqa.retrieval.conversation import context_turns
from mscqa.server.questions.store import FeedbackRecord, Passage, QuestionRecord, QuestionStore
from mscqa.types import Answer, Turn

log = logging.getLogger(__name__)

QUEUE_SIZE = 50_000  # entries waiting for the writer before new ones are dropped
FLUSH_SECONDS = 0.25  # how long a batch gathers: a kill -9 loses at most about this much
RETRY_SECONDS = 60.0  # after a failed write (a full disk), entries are dropped this long
DAY = 86_400.0


@dataclass(frozen=True, slots=True)
class Asked:
    """An answer given: to ``question`` after ``history``, at ``at`` (epoch seconds)."""

    at: float
    question: str
    history: Sequence[Turn]
    answer: Answer


@dataclass(frozen=True, slots=True)
class Rated:
    """A rating of an answer, with the answer when it is not stored yet."""

    asked: Asked | None  # None: the question is already stored
    feedback: FeedbackRecord


# On the writer's queue: an answer, a rating, a flush waiting to be told, or None (stop).
Item = Asked | Rated | threading.Event | None


class LogWriter:
    """Writes queued ``Asked``/``Rated`` entries to ``store`` from one thread (``start``);
    ``written`` and ``dropped`` count entries."""

    def __init__(
        self,
        store: QuestionStore,
        *,
        days: int,
        flush_seconds: float = FLUSH_SECONDS,
        retry_seconds: float = RETRY_SECONDS,
    ) -> None:
        self.store = store
        self.days = days
        self.flush_seconds = flush_seconds
        self.retry_seconds = retry_seconds
        self._queue: queue.SimpleQueue[Item] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._paused_until = 0.0
        self._failing = False
        self._failing_since = 0  # ``dropped`` when the writes started failing
        self._next_prune = 0.0
        self.written = 0
        self.dropped = 0

    def put(self, item: Asked | Rated) -> None:
        """Queue an entry (never waits); dropped when the queue is full."""
        if self._queue.qsize() >= QUEUE_SIZE:
            self.dropped += 1
            return
        self._queue.put(item)

    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="mscqa-question-log", daemon=True)
        self._thread.start()

    def close(self, timeout: float = 5.0) -> None:
        """Write what is queued, stop the writer and close the store."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout)
            self._thread = None
        self.store.close()

    def flush(self, timeout: float = 10.0) -> None:
        """Return once everything put so far is written (or dropped)."""
        if self._thread is None:
            self._write(self._drain([]))
            return
        done = threading.Event()
        self._queue.put(done)
        done.wait(timeout)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is not None:
                # Let a batch gather: one transaction per flush, not one per question.
                time.sleep(self.flush_seconds)
            batch = self._drain([first])
            self._write(batch)
            if None in batch:
                return

    def _drain(self, batch: list[Item]) -> list[Item]:
        while True:
            try:
                batch.append(self._queue.get_nowait())
            except queue.Empty:
                return batch

    def _write(self, batch: Sequence[Item]) -> None:
        try:
            self._store([b for b in batch if isinstance(b, Asked | Rated)])
        finally:
            for b in batch:
                if isinstance(b, threading.Event):
                    b.set()

    def _store(self, items: Sequence[Asked | Rated]) -> None:
        now = time.time()
        if now < self._paused_until:
            self.dropped += len(items)
            return
        try:
            if now >= self._next_prune:
                pruned = self.store.prune(now - self.days * DAY)
                if pruned:
                    log.info(
                        "Question log: removed %d questions older than %d days", pruned, self.days
                    )
                self._next_prune = now + 3600
            if not items:
                return
            questions = [_record(i) for i in items if isinstance(i, Asked)]
            questions += [_record(i.asked) for i in items if isinstance(i, Rated) and i.asked]
            feedback = [i.feedback for i in items if isinstance(i, Rated)]
            self.store.write(questions, feedback)
            self.written += len(items)
            if self._failing:
                log.warning(
                    "Question log: writing again (%d entries were not logged)",
                    self.dropped - self._failing_since,
                )
                self._failing = False
        except Exception as exc:  # a full disk, a locked or damaged file: never /ask's problem
            self.dropped += len(items)
            self._paused_until = now + self.retry_seconds
            if not self._failing:  # one warning when it stops; retries that fail are quiet
                self._failing, self._failing_since = True, self.dropped - len(items)
                log.warning(
                    "Question log: cannot write (%s); questions are answered but not logged "
                    "until it can (retrying every %.0f s)",
                    exc,
                    self.retry_seconds,
                )
            else:
                log.debug("Question log: still cannot write (%s)", exc)


def _record(asked: Asked) -> QuestionRecord:
    a = asked.answer
    found = a.citations[0] if a.citations else (a.related[0] if a.related else None)
    passage = None
    if found is not None:
        c = found.chunk
        passage = Passage(c.doc_id, c.title, c.section, c.chunk_id, c.start, c.end, c.text)
    return QuestionRecord(
        id=a.id,
        at=asked.at,
        question=asked.question,
        normalised=normalise_question(asked.question),
        context=tuple(context_turns(asked.question, asked.history)),
        answered=a.answered,
        confidence=a.confidence,
        index_version=a.index_version,
        answer=a.text if a.answered else None,
        passage=passage,
    )
