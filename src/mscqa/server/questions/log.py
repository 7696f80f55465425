"""The question log: which questions the documents could not answer, and what users rated.

``QuestionLog.record`` is called with every answer ``/ask`` gives. It never touches the disk:
it keeps the answer in a bounded in-memory map (so ``POST /feedback`` can name any recent
answer, whatever is kept on disk) and, when the mode keeps it, puts it on the writer's queue
(``writer.LogWriter``: one thread, one transaction a batch, a full disk pauses it).

``MSCQA_QUESTION_LOG``:

* ``unanswered`` (default): refused questions, and the questions and answers users rated;
* ``all``: every question;
* ``off``: nothing (``POST /feedback`` answers 404: no answer can be rated).

Nothing about who asked is stored: no IP address, no user agent, no request id.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from typing import Literal

from mscqa.config import Settings
from mscqa.server.questions.sqlitestore import SQLiteQuestionStore
from mscqa.server.questions.store import (
    FeedbackRecord,
    QuestionGroup,
    QuestionStore,
    Rating,
    Status,
)
from mscqa.server.questions.writer import (
    DAY,
    FLUSH_SECONDS,
    RETRY_SECONDS,
    Asked,
    LogWriter,
    Rated,
)
from mscqa.types import Answer, Turn

log = logging.getLogger(__name__)

Mode = Literal["all", "unanswered", "off"]
DB_FILE = "questions.sqlite3"
RECENT_ANSWERS = 10_000  # answers POST /feedback can rate without them being on disk


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
        self._recent: OrderedDict[str, Asked] = OrderedDict()
        self._recent_lock = threading.Lock()
        self._writer = (
            LogWriter(
                self.store, days=days, flush_seconds=flush_seconds, retry_seconds=retry_seconds
            )
            if self.store is not None
            else None
        )

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
        asked = Asked(time.time(), question, history, answer)
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
        self._put(Rated(asked, FeedbackRecord(answer_id, time.time(), rating, comment or None)))
        return True

    def _stored(self, answer_id: str) -> bool:
        assert self.store is not None
        try:
            return self.store.has(answer_id)
        except Exception as exc:  # an unreadable log must not turn feedback into a 500
            log.warning("Question log: cannot look up answer %s: %s", answer_id, exc)
            return False

    def _put(self, item: Asked | Rated) -> None:
        assert self._writer is not None
        self._writer.put(item)

    # -- the curator's side ----------------------------------------------------------------

    def report(self, status: Status, limit: int = 100) -> list[QuestionGroup]:
        """Question groups of the last ``days`` days (see ``QuestionStore.report``)."""
        if self.store is None:
            return []
        return self.store.report(status, time.time() - self.days * DAY, limit)

    # -- the writer thread (``LogWriter``) ----------------------------------------------------

    @property
    def written(self) -> int:
        """Entries written so far."""
        return self._writer.written if self._writer else 0

    @property
    def dropped(self) -> int:
        """Entries not written: the queue was full, or the store could not be written."""
        return self._writer.dropped if self._writer else 0

    def start(self) -> None:
        if self._writer is not None:
            self._writer.start()

    def close(self, timeout: float = 5.0) -> None:
        """Write what is queued, stop the writer and close the store."""
        if self._writer is not None:
            self._writer.close(timeout)

    def flush(self, timeout: float = 10.0) -> None:
        """Return once everything recorded so far is written (or dropped)."""
        if self._writer is not None:
            self._writer.flush(timeout)
