"""The question log: which questions the documents could not answer, and what users rated.

``QuestionLog.record`` is called with every answer ``/ask`` gives. It never touches the disk:
it keeps the answer in a bounded in-memory map (so ``POST /feedback`` can name any recent
answer, whatever is kept on disk) and, when the mode keeps it, puts it on a queue. One writer
thread drains the queue every ``flush_seconds`` and writes each batch in one transaction, so a
crash or ``kill -9`` loses at most that much. A full disk (or any storage error) stops the
writes with one warning, drops entries meanwhile, and tries again ``retry_seconds`` later.

``MSCQA_QUESTION_LOG``:

* ``unanswered`` (default): refused questions, and the questions and answers users rated;
* ``all``: every question;
* ``off``: nothing (``POST /feedback`` answers 404: no answer can be rated).

Nothing about who asked is stored: no IP address, no user agent, no request id.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from mscqa.answer.cache import normalise_question
from mscqa.config import Settings
from mscqa.retrieval.conversation import context_turns
from mscqa.server.questions.store import (
    FeedbackRecord,
    Passage,
    QuestionGroup,
    QuestionRecord,
    QuestionStore,
    Rating,
    SQLiteQuestionStore,
    Status,
)
from mscqa.types import Answer, Turn

log = logging.getLogger(__name__)

Mode = Literal["all", "unanswered", "off"]
DB_FILE = "questions.sqlite3"
RECENT_ANSWERS = 10_000  # answers POST /feedback can rate without them being on disk
QUEUE_SIZE = 50_000  # entries waiting for the writer before new ones are dropped
FLUSH_SECONDS = 0.25  # how long a batch gathers: a kill -9 loses at most about this much
RETRY_SECONDS = 60.0  # after a failed write (a full disk), entries are dropped this long
DAY = 86_400.0


@dataclass(frozen=True, slots=True)
class _Asked:
    at: float
    question: str
    history: Sequence[Turn]
    answer: Answer


@dataclass(frozen=True, slots=True)
class _Rated:
    asked: _Asked | None  # None: the question is already stored
    feedback: FeedbackRecord


# On the writer's queue: an answer, a rating, a flush waiting to be told, or None (stop).
_Item = _Asked | _Rated | threading.Event | None


class QuestionLog:
    """What users asked and rated, kept per ``mode`` in a ``QuestionStore``.

    >>> from mscqa.config import Settings
    >>> qlog = QuestionLog.from_settings(Settings(question_log="off"))
    >>> qlog.mode, qlog.enabled
    ('off', False)
    """

    def __init__(
        self,
        store: QuestionStore | None,
        mode: Mode = "unanswered",
        *,
        days: int = 90,
        flush_seconds: float = FLUSH_SECONDS,
        retry_seconds: float = RETRY_SECONDS,
    ) -> None:
        if mode not in ("all", "unanswered", "off"):
            raise ValueError(f"mode must be 'all', 'unanswered' or 'off', got {mode!r}")
        if days < 1:
            raise ValueError(f"days must be at least 1, got {days}")
        self.store = store if mode != "off" else None
        self.mode: Mode = mode if store is not None else "off"
        self.days = days
        self.flush_seconds = flush_seconds
        self.retry_seconds = retry_seconds
        self._recent: OrderedDict[str, _Asked] = OrderedDict()
        self._recent_lock = threading.Lock()
        self._queue: queue.SimpleQueue[_Item] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._paused_until = 0.0
        self._failing = False
        self._failing_since = 0  # ``dropped`` when the writes started failing
        self._next_prune = 0.0
        self.written = 0
        self.dropped = 0

    @classmethod
    def from_settings(cls, settings: Settings) -> QuestionLog:
        """The log ``MSCQA_QUESTION_LOG`` asks for, in ``MSCQA_DATA_DIR``. A data folder that
        cannot be opened turns it off with a warning: the server answers questions anyway."""
        if settings.question_log == "off":
            return cls(None, "off", days=settings.question_log_days)
        path = settings.data_dir / DB_FILE
        store: QuestionStore
        try:
            if settings.database_url is not None:  # every replica's questions in one place
                from mscqa.server.questions.pgstore import PgQuestionStore

                store = PgQuestionStore(settings.database_url.get_secret_value())
            else:
                store = SQLiteQuestionStore(path)
        except Exception as exc:  # sqlite3.Error, PermissionError, a full disk, no database
            where = "the index database" if settings.database_url else path
            log.warning("Question log off: cannot open %s (%s)", where, exc)
            return cls(None, "off", days=settings.question_log_days)
        return cls(
            store,
            settings.question_log,
            days=settings.question_log_days,
            flush_seconds=FLUSH_SECONDS,
            retry_seconds=RETRY_SECONDS,
        )

    @property
    def enabled(self) -> bool:
        return self.mode != "off"

    # -- the request path (never waits on the disk) ----------------------------------------

    def record(self, question: str, history: Sequence[Turn], answer: Answer) -> None:
        """Note an answer just given (a ``QAService`` observer)."""
        if self.store is None or not answer.id:
            return
        asked = _Asked(time.time(), question, history, answer)
        with self._recent_lock:
            self._recent[answer.id] = asked
            if len(self._recent) > RECENT_ANSWERS:
                self._recent.popitem(last=False)
        if self.mode == "all" or not answer.answered:
            self._put(asked)

    def feedback(self, answer_id: str, rating: Rating, comment: str | None) -> bool:
        """Keep a rating of the answer ``answer_id``; False when no such answer is known."""
        if self.store is None:
            return False
        with self._recent_lock:
            asked = self._recent.get(answer_id)
        if asked is None and not self._stored(answer_id):
            return False
        self._put(_Rated(asked, FeedbackRecord(answer_id, time.time(), rating, comment or None)))
        return True

    def _stored(self, answer_id: str) -> bool:
        assert self.store is not None
        try:
            return self.store.has(answer_id)
        except Exception as exc:  # an unreadable log must not turn feedback into a 500
            log.warning("Question log: cannot look up answer %s: %s", answer_id, exc)
            return False

    def _put(self, item: _Asked | _Rated) -> None:
        if self._queue.qsize() >= QUEUE_SIZE:
            self.dropped += 1
            return
        self._queue.put(item)

    # -- the curator's side ----------------------------------------------------------------

    def report(self, status: Status, limit: int = 100) -> list[QuestionGroup]:
        """Question groups of the last ``days`` days (see ``QuestionStore.report``)."""
        if self.store is None:
            return []
        return self.store.report(status, time.time() - self.days * DAY, limit)

    # -- the writer thread -----------------------------------------------------------------

    def start(self) -> None:
        if self.store is None or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="mscqa-question-log", daemon=True)
        self._thread.start()

    def close(self, timeout: float = 5.0) -> None:
        """Write what is queued, stop the writer and close the store."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout)
            self._thread = None
        if self.store is not None:
            self.store.close()

    def flush(self, timeout: float = 10.0) -> None:
        """Return once everything recorded so far is written (or dropped)."""
        if self.store is None:
            return
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

    def _drain(self, batch: list[_Item]) -> list[_Item]:
        while True:
            try:
                batch.append(self._queue.get_nowait())
            except queue.Empty:
                return batch

    def _write(self, batch: Sequence[_Item]) -> None:
        try:
            self._store([b for b in batch if isinstance(b, _Asked | _Rated)])
        finally:
            for b in batch:
                if isinstance(b, threading.Event):
                    b.set()

    def _store(self, items: Sequence[_Asked | _Rated]) -> None:
        assert self.store is not None
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
            questions = [_record(i) for i in items if isinstance(i, _Asked)]
            questions += [_record(i.asked) for i in items if isinstance(i, _Rated) and i.asked]
            feedback = [i.feedback for i in items if isinstance(i, _Rated)]
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


def _record(asked: _Asked) -> QuestionRecord:
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
