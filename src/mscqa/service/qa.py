"""Questions and the catalogue: ``QAService.ask`` answers from the live snapshot.

>>> from mscqa.config import Settings
>>> service = QAService(Settings())
>>> service.load()                                    # doctest: +SKIP
>>> service.ask("How are adipose MSCs collected?").answered   # doctest: +SKIP
True

The snapshot a request answers from is the ``Serving`` it took at its start
(``service.live``), so an answer never mixes two snapshots; an answer is cached by snapshot
version, normalised question and history.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from mscqa.answer.answerer import NOT_FOUND, AnswerPolicy, answer
from mscqa.answer.cache import AnswerCache, normalise_question, visible, visible_history
from mscqa.config import Settings
from mscqa.embedding.choice import QueryEncoders
from mscqa.embedding.embedder import Embedder
from mscqa.embedding.sentence_transformer import SentenceTransformerEmbedder
from mscqa.errors import InvalidQuestion, NotFound
from mscqa.index import SnapshotStore
from mscqa.index.backends import open_store
from mscqa.retrieval.conversation import contextualize, with_conversation
from mscqa.retrieval.retriever import Retrieval
from mscqa.service.live import LiveSnapshot, Serving
from mscqa.types import Answer, Document, Hit, Turn


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
        self.policy = policy or AnswerPolicy(
            max_sentences=settings.max_sentences, min_confidence=settings.min_confidence
        )
        self.live = LiveSnapshot(
            open_store(settings),
            QueryEncoders(settings, self.embedder, injected=self._injected),
            retrieval or {},
        )
        self._cache = AnswerCache(settings.cache_size)
        # Called with (question, history, answer) after every answer ``ask`` gives; the app
        # registers the question log here. They must not block: /ask waits for them.
        self.observers: list[Callable[[str, Sequence[Turn], Answer], None]] = []

    # -- lifecycle (``LiveSnapshot``) -------------------------------------------------------

    def load(self) -> None:
        """Load the snapshot ``CURRENT`` points at (blocking). Raises ``NoIndexError``."""
        self.live.load()

    def refresh(self) -> bool:
        """Swap to a newer snapshot if ``CURRENT`` moved. Returns True when it swapped."""
        return self.live.refresh()

    def wait_for_change(self, timeout: float, stop: threading.Event) -> None:
        """Block until the store may hold a newer snapshot, ``timeout`` s pass, or ``stop``."""
        self.store.wait_for_change(timeout, stop)

    def close(self) -> None:
        """Release the store's connections (reopened if the service is used again)."""
        self.store.close()

    @property
    def store(self) -> SnapshotStore:
        return self.live.store

    @property
    def encoders(self) -> QueryEncoders:
        return self.live.encoders

    @property
    def last_error(self) -> str | None:
        """Why there is no snapshot (or no newer one) to serve, or None."""
        return self.live.last_error

    @property
    def ready(self) -> bool:
        return self.live.ready

    def serving(self) -> Serving:
        """The serving snapshot with its retriever; ``IndexNotReady`` while the first one loads,
        ``NoIndexError`` when there is none (or it cannot be loaded)."""
        return self.live.serving()

    @property
    def not_found(self) -> str:
        """What an answer says when the documents do not hold it."""
        return NOT_FOUND

    @property
    def injected(self) -> bool:
        """True when the embedder was given (a test's fake): builds must use it too."""
        return self._injected

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
        composed = self.compose(question, retrieval)
        alone = self.policy.reread and query == question and with_conversation(question, history)
        if alone and not composed.answered:
            # Read as standing alone ("Who in the US approved a treatment?" after a question on
            # GVHD names a subject of its own) it found nothing sure; it may still lean on the
            # conversation: read after the earlier user turns, the answer that reading is sure
            # of is given. Not shipped (``AnswerPolicy.reread``): out-of-scope questions are
            # answered that way too ("Suggest a name for my new puppy." after a question on
            # bone marrow MSCs quotes their disadvantages at 0.92; review, session 7).
            other = live.retriever.search(alone, max(k, 5), question=question)
            other = dataclasses.replace(other, hits=other.hits[:k])
            answered = self.compose(question, other)
            if answered.answered:
                return other, answered
        return retrieval, composed

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
