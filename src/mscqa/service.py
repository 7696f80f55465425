"""The read path: ``QAService.ask`` answers from the live snapshot and hot-swaps new ones.

>>> from mscqa.config import Settings
>>> service = QAService(Settings())
>>> service.load()                                    # doctest: +SKIP
>>> service.ask("How are adipose MSCs collected?").answered   # doctest: +SKIP
True

Each request takes the current ``Serving`` (snapshot + retriever) once at its start, so a swap
in the middle of a request never mixes two snapshots: requests in flight finish on the one
they started with.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import secrets
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mscqa.answer.answerer import NOT_FOUND, AnswerPolicy, answer
from mscqa.answer.cache import AnswerCache, normalise_question, visible, visible_history
from mscqa.config import Settings
from mscqa.embedding.choice import QueryEncoders
from mscqa.embedding.embedder import Embedder
from mscqa.embedding.sentence_transformer import SentenceTransformerEmbedder
from mscqa.errors import (
    DatabaseUnavailable,
    IndexNotReady,
    InvalidQuestion,
    ModelError,
    NoIndexError,
    NotFound,
    SnapshotError,
)
from mscqa.index import IndexSnapshot
from mscqa.index.backends import open_store
from mscqa.retrieval.conversation import contextualize
from mscqa.retrieval.retriever import Retrieval, Retriever
from mscqa.types import Answer, Document, Hit, Turn

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Serving:
    """What answers questions right now: a snapshot, its retriever and its query encoder.

    ``QAService.serving()`` returns it; a request takes it once, so a hot swap never mixes two
    snapshots inside one answer.
    """

    snapshot: IndexSnapshot
    retriever: Retriever
    pointer: str | None  # the CURRENT pointer this was loaded for

    @property
    def version(self) -> str:
        return self.snapshot.version

    @property
    def encoder(self) -> Embedder:
        """The question encoder (the snapshot's ONNX export, or torch)."""
        return self.retriever.embedder


class QAService:
    """Answers questions from the serving snapshot; reloads when ``CURRENT`` changes."""

    def __init__(
        self,
        settings: Settings,
        embedder: Embedder | None = None,
        *,
        policy: AnswerPolicy | None = None,
        retrieval: Mapping[str, Any] | None = None,
    ) -> None:
        """``policy`` (default: from ``settings``) and ``retrieval`` (keyword arguments of
        ``Retriever``) switch mechanisms on and off for evaluation (bench/quality/ablation.py)."""
        self.settings = settings
        # ``embedder`` (given, or torch) is the model's reference encoder; questions use the
        # snapshot's ONNX export instead when there is one (``embedding.choice.QueryEncoders``).
        self._injected = embedder is not None
        self.embedder = embedder or SentenceTransformerEmbedder(
            settings.model, threads=settings.query_threads
        )
        self.encoders = QueryEncoders(settings, self.embedder, injected=self._injected)
        self.policy = policy or AnswerPolicy(
            max_sentences=settings.max_sentences, min_confidence=settings.min_confidence
        )
        self.store = open_store(settings)
        self._retrieval = dict(retrieval or {})
        self._live: Serving | None = None
        self._cache = AnswerCache(settings.cache_size)
        self._reload_lock = threading.Lock()
        self.last_error: str | None = None
        # Called with (question, history, answer) after every answer ``ask`` gives; the app
        # registers the question log here. They must not block: /ask waits for them.
        self.observers: list[Callable[[str, Sequence[Turn], Answer], None]] = []

    # -- lifecycle -------------------------------------------------------------------------

    def load(self) -> None:
        """Load the snapshot ``CURRENT`` points at (blocking). Raises ``NoIndexError``."""
        with self._reload_lock:
            old = self._live
            self._live = self._open(self.store.current_version())
            if old is not None and old.snapshot is not self._live.snapshot:
                self.store.retire(old.snapshot)
            self.last_error = None
            snapshot = self._live.snapshot
            log.info(
                "Serving index %s (%d documents, %d chunks)",
                snapshot.version,
                len(snapshot.documents),
                len(snapshot.chunks),
            )

    def _open(self, pointer: str | None) -> Serving:
        """Load the current snapshot with its query encoder, ready to answer."""
        snapshot = self.store.load_current()
        try:
            embedder = self.encoders.for_snapshot(snapshot)
            embedder.warm_up()
        except BaseException:
            self.store.retire(snapshot)
            raise
        return Serving(snapshot, Retriever(snapshot, embedder, **self._retrieval), pointer)

    def refresh(self) -> bool:
        """Swap to a newer snapshot if ``CURRENT`` moved. Returns True when it swapped."""
        live = self._live
        try:
            pointer = self.store.current_version()
        except DatabaseUnavailable as exc:
            self._unreachable(exc)
            return False
        if live is not None and pointer == live.pointer:
            return False
        if not self._reload_lock.acquire(blocking=False):
            return False  # another thread is already loading it
        try:
            self._live = self._open(pointer)
            self.last_error = None
            if live is not None:
                self.store.retire(live.snapshot)  # once the requests still on it are done
            log.info("Switched to index %s", self._live.snapshot.version)
            return True
        except DatabaseUnavailable as exc:
            self._unreachable(exc)
            return False
        except (SnapshotError, NoIndexError, ModelError) as exc:
            self.last_error = str(exc)
            log.error("Could not load the new index: %s", exc)
            return False
        finally:
            self._reload_lock.release()

    def _unreachable(self, exc: DatabaseUnavailable) -> None:
        """The database is away: keep serving what is loaded; say so once per outage."""
        if self.last_error != str(exc):
            log.warning("%s", exc)
        self.last_error = str(exc)

    def wait_for_change(self, timeout: float, stop: threading.Event) -> None:
        """Block until the store may hold a newer snapshot, ``timeout`` s pass, or ``stop``."""
        self.store.wait_for_change(timeout, stop)

    def close(self) -> None:
        """Release the store's connections (reopened if the service is used again)."""
        self.store.close()

    @property
    def not_found(self) -> str:
        """What an answer says when the documents do not hold it."""
        return NOT_FOUND

    @property
    def injected(self) -> bool:
        """True when the embedder was given (a test's fake): builds must use it too."""
        return self._injected

    @property
    def ready(self) -> bool:
        return self._live is not None

    def serving(self) -> Serving:
        """The serving snapshot with its retriever; ``IndexNotReady`` while the first one loads,
        ``NoIndexError`` when there is none (or it cannot be loaded)."""
        live = self._live
        if live is None:
            if self.last_error:
                raise NoIndexError(self.last_error)
            raise IndexNotReady("The index is loading; try again in a few seconds.")
        return live

    # -- questions -------------------------------------------------------------------------

    def ask(self, question: str, top_k: int | None = None, history: Sequence[Turn] = ()) -> Answer:
        """Answer ``question`` (with optional chat ``history``) from the live snapshot."""
        started = time.perf_counter()
        question = self._check(question, history)
        history = visible_history(history)
        k = top_k or self.settings.top_k
        live = self.serving()
        key = (
            live.snapshot.version,
            normalise_question(question),
            tuple((t.role, normalise_question(t.content)) for t in history if t.role == "user"),
            k,
        )
        cached = self._cache.get(key)
        if cached is None:
            _, cached = self._answer(live, question, k, history)
            self._cache.put(key, cached)
        given = dataclasses.replace(
            cached,
            took_ms=round((time.perf_counter() - started) * 1000, 3),
            id=secrets.token_hex(12),
            index_version=live.snapshot.version,
        )
        for observe in self.observers:
            observe(question, history, given)
        return given

    def explain(
        self, question: str, top_k: int | None = None, history: Sequence[Turn] = ()
    ) -> tuple[Retrieval, Answer]:
        """The retrieval behind an answer as well as the answer (no cache); for evaluation."""
        question = self._check(question, history)
        history = visible_history(history)
        return self._answer(self.serving(), question, top_k or self.settings.top_k, history)

    def search(self, query: str, top_k: int | None = None) -> list[Hit]:
        """The passages hybrid retrieval ranks first for ``query``, best first (no answer is
        composed and nothing is cached); for tools that read passages themselves."""
        query = self._check(query, ())
        k = top_k or self.settings.top_k
        return list(self.serving().retriever.search(query, k).hits[:k])

    def _answer(
        self, live: Serving, question: str, k: int, history: Sequence[Turn]
    ) -> tuple[Retrieval, Answer]:
        query = contextualize(
            question, history, names_subject=live.retriever.names_subject(question)
        )
        # Look at a few more passages than will be cited so the best sentences can be found.
        # Passages are found with the conversation's context; sentences are chosen for the
        # question itself, so "How are they collected?" quotes the collection sentence.
        found = live.retriever.search(query, max(k, 5), question=question)
        retrieval = dataclasses.replace(found, hits=found.hits[:k])
        return retrieval, self.compose(question, retrieval)

    def compose(
        self, question: str, retrieval: Retrieval, policy: AnswerPolicy | None = None
    ) -> Answer:
        """The answer to ``question`` from ``retrieval`` under ``policy`` (default: the
        service's). ``evaluation`` uses it to see the answer a refusal stands for."""
        return answer(question, retrieval, policy or self.policy)

    def _check(self, question: str, history: Sequence[Turn]) -> str:
        question = visible(question).strip()
        if not question:
            raise InvalidQuestion("The question is empty; type a question about the documents.")
        if len(question) > self.settings.max_question_chars:
            raise InvalidQuestion(
                f"The question is {len(question)} characters long; the limit is "
                f"{self.settings.max_question_chars}."
            )
        if len(history) > self.settings.max_history_turns:
            raise InvalidQuestion(
                f"The history has {len(history)} turns; send at most "
                f"{self.settings.max_history_turns} (the most recent ones)."
            )
        return question

    # -- catalogue -------------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        live = self.serving()
        self.store.check()  # a database that cannot be reached is a 503 here, as on /ask
        snap = live.snapshot
        return {
            "status": "ok",
            "index": {
                "version": snap.version,
                "documents": len(snap.documents),
                "chunks": len(snap.chunks),
            },
        }

    def document(self, doc_id: str) -> tuple[Document, str]:
        """The serving snapshot's document ``doc_id`` and that snapshot's version."""
        snap = self.serving().snapshot
        doc = snap.documents.get(doc_id)
        if doc is None:
            raise NotFound(f"No document {doc_id!r} in index {snap.version}; GET /documents.")
        return doc, snap.version

    def documents(self) -> list[dict[str, Any]]:
        snap = self.serving().snapshot
        counts = snap.chunk_counts()
        corpus_dir = self.settings.corpus_dir
        out = []
        for doc in snap.documents.values():
            meta = dict(doc.metadata)
            try:
                added = os.stat(corpus_dir / doc.path).st_mtime
            except OSError:
                added = None
            out.append(
                {
                    "doc_id": doc.doc_id,
                    "title": doc.title,
                    "chunks": counts.get(doc.doc_id, 0),
                    "format": doc.format,
                    "path": doc.path,
                    "sha256": doc.sha256,
                    "date": meta.get("date"),
                    "characters": len(doc.text),
                    "modified": added,
                }
            )
        return out
