"""The serving snapshot and its hot swap: ``LiveSnapshot`` loads what ``CURRENT`` points at,
swaps to a newer one when it moves, and keeps the last good one when a new one fails.

A request takes the current ``Serving`` (snapshot + retriever) once at its start, so a swap
in the middle of a request never mixes two snapshots: requests in flight finish on the one
they started with, and the store retires the old snapshot once they are done.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mscqa.embedding.choice import QueryEncoders
from mscqa.embedding.embedder import Embedder
from mscqa.errors import (
    DatabaseUnavailable,
    IndexNotReady,
    ModelError,
    MscqaError,
    NoIndexError,
    SnapshotError,
)
from mscqa.index import IndexSnapshot, SnapshotStore
from mscqa.retrieval.retriever import Retriever

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


class LiveSnapshot:
    """The ``Serving`` that answers now, loaded from ``store`` with ``encoders``' question
    encoder; ``retrieval`` holds keyword arguments for every ``Retriever`` it makes."""

    def __init__(
        self, store: SnapshotStore, encoders: QueryEncoders, retrieval: Mapping[str, Any]
    ) -> None:
        self.store = store
        self.encoders = encoders
        self._retrieval = dict(retrieval)
        self._live: Serving | None = None
        self._reload_lock = threading.Lock()
        # why there is nothing (or nothing newer) to serve, for health checks and errors
        self.last_error: str | None = None

    def load(self) -> None:
        """Load the snapshot ``CURRENT`` points at (blocking). Raises ``NoIndexError`` (or the
        error that kept it from loading, which ``serving()`` then reports)."""
        with self._reload_lock:
            old = self._live
            try:
                self._live = self._open(self.store.current_version())
            except MscqaError as exc:
                self.last_error = str(exc)
                raise
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
