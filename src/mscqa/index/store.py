"""The store seam: what the read path needs of a loaded snapshot (``IndexSnapshot``), what the
write path hands a store (``SnapshotParts`` and a ``Manifest``, through a ``SnapshotWriter``),
where snapshots live (``SnapshotStore``: the folder or PostgreSQL), and how a chunk becomes the
text each index part sees (one place for all)."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from mscqa.errors import SnapshotError
from mscqa.index.manifest import Counts, Manifest
from mscqa.types import Chunk, Definition, Document, Unreadable


@dataclass(frozen=True, slots=True)
class TermStats:
    """What hybrid search needs to know about the whole corpus besides its passages."""

    passages: int
    df: dict[str, int]  # passages holding each indexed token
    words: frozenset[str]  # lower-cased corpus words, the spelling corrector's vocabulary


def lexical_text(chunk: Chunk) -> str:
    """What BM25 indexes for a chunk: its section heading and its text."""
    return f"{chunk.section}\n{chunk.text}" if chunk.section else chunk.text


def chunk_words(chunk: Chunk) -> str:
    """What the spelling corrector learns words from: a chunk's heading and its text."""
    return f"{chunk.section or ''} {chunk.text}"


def sentence_text(chunk: Chunk, sentence: str) -> str:
    """What the embedder sees for a sentence: its section heading too, so "It has
    anti-inflammatory properties." under "Bone marrow mesenchymal stem cells (BM-MSCs)" is
    about BM-MSCs (the sentence vector scores the sentence for answers and its passage)."""
    return f"{chunk.section}: {sentence}" if chunk.section else sentence


def dense_text(chunk: Chunk) -> str:
    """What the embedder sees for a chunk: its section heading gives the passage its topic."""
    return f"{chunk.section}: {chunk.text}" if chunk.section else chunk.text


@dataclass(frozen=True, slots=True)
class SnapshotParts:
    """Everything a store keeps of one snapshot besides its manifest, as a build hands it over.

    Row ``i`` of ``chunk_vectors`` is ``chunks[i]``; sentence ``j`` (``sentence_vectors[j]``)
    belongs to chunk ``sentence_owner[j]``. ``abbreviations`` and ``unreadable`` are plain
    records (the folder store writes one JSON object a line, the database a table each).
    """

    documents: Sequence[Document]
    chunks: Sequence[Chunk]
    chunk_vectors: np.ndarray
    sentence_vectors: np.ndarray
    sentence_owner: np.ndarray
    abbreviations: Sequence[Definition] = ()
    unreadable: Sequence[Unreadable] = ()

    def __post_init__(self) -> None:
        if len(self.chunks) != len(self.chunk_vectors):
            raise SnapshotError(f"{len(self.chunks)} chunks but {len(self.chunk_vectors)} vectors")
        if len(self.sentence_owner) != len(self.sentence_vectors):
            raise SnapshotError("sentence table and sentence vectors disagree")

    def counts(self) -> Counts:
        """What the manifest records of these parts (and a load checks against them)."""
        return Counts(len(self.documents), len(self.chunks), len(self.sentence_owner))


class IndexSnapshot(Protocol):
    """What the read path needs of a loaded snapshot, whichever backend holds it."""

    @property
    def manifest(self) -> Manifest: ...
    @property
    def documents(self) -> Mapping[str, Document]: ...
    @property
    def chunks(self) -> Sequence[Chunk]: ...
    @property
    def version(self) -> str: ...
    @property
    def sentence_count(self) -> int: ...
    def doc_of(self, row: int) -> str: ...
    def chunks_at(self, rows: Sequence[int]) -> list[Chunk]: ...
    def chunk_counts(self) -> dict[str, int]: ...
    def dense_candidates(self, vec: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]: ...
    def best_sentences(self, rows: np.ndarray, vec: np.ndarray) -> np.ndarray: ...
    def sentence_vectors(self, rows: Sequence[int]) -> list[np.ndarray]: ...
    def lexical_scores(
        self, query: str, limit: int, rows: Sequence[int] = ()
    ) -> tuple[np.ndarray | None, np.ndarray]: ...
    def term_stats(self) -> TermStats: ...
    def chunk_tokens(self, row: int) -> set[str]: ...
    @property
    def abbreviations(self) -> Sequence[Definition]: ...
    @property
    def unreadable(self) -> Sequence[Unreadable]: ...


class SnapshotWriter(Protocol):
    """The write path's handle, valid while the store's writer lock is held."""

    def write(self, manifest: Manifest, parts: SnapshotParts) -> None:
        """Write snapshot ``manifest.version`` (not published until ``publish``)."""
        ...

    def load(self, version: str) -> IndexSnapshot: ...
    def publish(self, version: str, keep: int) -> None: ...
    def rollback(self, keep: int) -> str: ...


class SnapshotStore(Protocol):
    """Where snapshots live: a folder (``FolderStore``) or PostgreSQL (``pgstore.PgStore``)."""

    models_dir: Path  # this machine's ONNX exports of the model (both backends)

    def where(self) -> str: ...
    def writer(self, wait: bool = False) -> contextlib.AbstractContextManager[SnapshotWriter]: ...
    def current_version(self) -> str | None: ...
    def current_manifest(self) -> Manifest | None: ...
    def list_versions(self) -> list[str]: ...
    def load_current(self) -> IndexSnapshot: ...
    def retire(self, snapshot: IndexSnapshot) -> None: ...
    def wait_for_change(self, timeout: float, stop: threading.Event) -> None: ...
    def check(self) -> None:
        """Raise ``DatabaseUnavailable`` when the store cannot be reached right now."""
        ...

    def close(self) -> None: ...
