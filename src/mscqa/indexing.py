"""The write path: build an index snapshot from the corpus folder and publish it.

>>> from mscqa.config import Settings
>>> report = build_index(Settings())        # doctest: +SKIP
>>> report.version, report.chunks           # doctest: +SKIP
('20261125T040512123456Z', 17)
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from .chunker import Chunker
from .config import Settings
from .embedcache import EmbeddingCache, text_key
from .embedder import Embedder, SentenceTransformerEmbedder
from .errors import BuildInProgress, CorpusError, SnapshotError
from .loaders import Skipped, load_corpus
from .retriever import Retriever
from .store import dense_text, load_snapshot, publish, save_snapshot
from .types import Chunk, Document

log = logging.getLogger(__name__)

# progress(stage, done, total): stage is "load", "embed" or "write".
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True, slots=True)
class BuildReport:
    version: str
    documents: int
    chunks: int
    sentences: int
    embedded: int
    reused: int
    seconds: float
    skipped: list[Skipped] = field(default_factory=list)


@contextlib.contextmanager
def writer_lock(index_dir: Path, wait: bool = False) -> Iterator[None]:
    """One index writer at a time, across processes (an advisory ``flock``)."""
    index_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(index_dir / "writer.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            raise BuildInProgress(
                f"Another build holds {index_dir}/writer.lock; wait for it to finish."
            ) from None
        yield
    finally:
        os.close(fd)


def new_version() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")


def build_index(
    settings: Settings,
    embedder: Embedder | None = None,
    progress: Progress | None = None,
    *,
    wait_for_lock: bool = False,
) -> BuildReport:
    """Build a snapshot of ``settings.corpus_dir`` into ``settings.index_dir`` and publish it.

    Unchanged passages reuse cached embeddings. The corpus is only read, never written.
    """
    started = time.perf_counter()
    embedder = embedder or SentenceTransformerEmbedder(settings.model, threads=os.cpu_count() or 1)
    index_dir = settings.index_dir
    with writer_lock(index_dir, wait=wait_for_lock):
        loaded = load_corpus(settings.corpus_dir)
        if not loaded.documents:
            reasons = "; ".join(f"{s.file}: {s.reason}" for s in loaded.skipped) or "it is empty"
            raise CorpusError(
                f"No document could be indexed from {settings.corpus_dir} ({reasons}). "
                "Add .md or .txt files (or other supported formats) there."
            )
        if progress:
            progress("load", len(loaded.documents), len(loaded.documents))
        chunker = Chunker(settings.chunk_chars)
        chunks = [c for d in loaded.documents for c in chunker.chunk(d)]
        sentence_texts, owner = _sentence_table(loaded.documents, chunks)
        chunk_texts = [dense_text(c) for c in chunks]
        cache = EmbeddingCache(index_dir / "cache", embedder.fingerprint())
        total = len(chunk_texts) + len(sentence_texts)
        done = 0

        def tick(n: int) -> None:
            nonlocal done
            done += n
            if progress:
                progress("embed", done, total)

        chunk_vectors = cache.embed(embedder, chunk_texts, tick)
        sentence_vectors = cache.embed(embedder, sentence_texts, tick)
        version = new_version()
        manifest = {
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "model": {"name": embedder.name, "sha256": embedder.fingerprint(), "dim": embedder.dim},
            "chunking": chunker.settings(),
            "corpus": {d.doc_id: d.sha256 for d in loaded.documents},
            "skipped": [{"file": s.file, "reason": s.reason} for s in loaded.skipped],
        }
        if progress:
            progress("write", 0, 1)
        path = save_snapshot(
            index_dir,
            version,
            manifest,
            loaded.documents,
            chunks,
            chunk_vectors,
            sentence_vectors,
            owner,
        )
        _check(path, embedder)
        publish(index_dir, version, keep=settings.keep_snapshots)
        cache.save({text_key(t) for t in chunk_texts + sentence_texts})
        if progress:
            progress("write", 1, 1)
    report = BuildReport(
        version=version,
        documents=len(loaded.documents),
        chunks=len(chunks),
        sentences=len(sentence_texts),
        embedded=cache.computed,
        reused=cache.reused,
        seconds=time.perf_counter() - started,
        skipped=loaded.skipped,
    )
    log.info(
        "Built index %s: %d documents, %d chunks, %d embedded, %d reused, %d skipped, %.1fs",
        version,
        report.documents,
        report.chunks,
        report.embedded,
        report.reused,
        len(report.skipped),
        report.seconds,
    )
    return report


def _sentence_table(documents: list[Document], chunks: list[Chunk]) -> tuple[list[str], np.ndarray]:
    texts = {d.doc_id: d.text for d in documents}
    sentence_texts: list[str] = []
    owner: list[int] = []
    for row, chunk in enumerate(chunks):
        for start, end in chunk.sentences:
            sentence_texts.append(texts[chunk.doc_id][start:end])
            owner.append(row)
    return sentence_texts, np.asarray(owner, dtype=np.int32)


def _check(path: Path, embedder: Embedder) -> None:
    """Refuse to publish a snapshot that does not load or cannot answer a canary query."""
    snapshot = load_snapshot(path)
    canary = snapshot.chunks[0]
    result = Retriever(snapshot, embedder).search(canary.text[:300], k=1)
    if not result.hits:
        raise SnapshotError(f"new snapshot {path.name} failed its canary query; not published")


def rollback(settings: Settings) -> str:
    """Point ``CURRENT`` back at the snapshot before the serving one. Returns its version."""
    from .store import current_version, list_versions

    with writer_lock(settings.index_dir):
        versions = list_versions(settings.index_dir)
        current = current_version(settings.index_dir)
        older = [v for v in versions if current is None or v < current]
        if not older:
            raise SnapshotError(
                "There is no earlier index snapshot to roll back to "
                f"(kept: {', '.join(versions) or 'none'})."
            )
        publish(settings.index_dir, older[-1], keep=max(settings.keep_snapshots, len(versions)))
        return older[-1]
