"""The write path: build an index snapshot from the corpus folder and publish it.

>>> from mscqa.config import Settings
>>> report = build_index(Settings())        # doctest: +SKIP
>>> report.version, report.chunks           # doctest: +SKIP
('20261125T040512123456Z', 17)
"""

from __future__ import annotations

import functools
import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import numpy as np

from mscqa.config import Settings
from mscqa.embedding.cache import EmbeddingCache, open_cache
from mscqa.embedding.choice import build_embedder, export_query_model
from mscqa.embedding.embedder import Embedder, vectors_key
from mscqa.errors import CorpusError, SnapshotError
from mscqa.index import (
    IndexSnapshot,
    Manifest,
    ModelInfo,
    SnapshotParts,
    SnapshotStore,
    SnapshotWriter,
    Tokens,
    dense_text,
    folder_writer_lock,
    sentence_text,
)
from mscqa.index.backends import open_store
from mscqa.ingest.abbreviations import mine
from mscqa.ingest.boilerplate import Analysed
from mscqa.ingest.chunker import Chunked, Chunker
from mscqa.ingest.loaders import LoadResult, Skipped, load_corpus
from mscqa.memo import LastCall
from mscqa.types import Chunk, Definition, Document

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


@dataclass
class BuildCache:
    """What a process keeps from one build for the next (a server's admin rebuilds, a test
    suite): the chunks and the mined abbreviations of documents that did not change, and the
    build encoders already loaded (compiling the model again costs ~0.5 s), the passages'
    BM25 tokens (the store writing and checking the snapshot tokenises through it). ``build_index``
    takes one; without it a build keeps nothing (the vectors are reused from the embedding
    cache on disk either way)."""

    chunks: Chunked = field(default_factory=LastCall)
    abbreviations: LastCall[Document, list[Definition]] = field(default_factory=LastCall)
    chrome: Analysed = field(default_factory=LastCall)  # each document's boilerplate lines
    encoders: dict[tuple[Any, ...], Embedder] = field(default_factory=dict)
    tokens: Tokens = field(default_factory=LastCall)


# The folder store's lock (kept under this name for callers and tests).
writer_lock = folder_writer_lock


def new_version() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")


def build_index(
    settings: Settings,
    embedder: Embedder | None = None,
    progress: Progress | None = None,
    *,
    wait_for_lock: bool = False,
    threads: int | None = None,
    cache: BuildCache | None = None,
) -> BuildReport:
    """Build a snapshot of ``settings.corpus_dir`` into ``settings.index_dir`` and publish it.

    Unchanged passages reuse cached embeddings. The corpus is only read, never written.
    ``embedder`` defaults to ``build_embedder(settings, threads)``; ``threads`` defaults to
    ``settings.build_threads`` (0: every core). ``cache`` carries what an earlier build in
    this process already computed (``BuildCache``).
    """
    started = time.perf_counter()
    threads = threads or settings.build_threads or os.cpu_count() or 1
    kept = cache if cache is not None else BuildCache()
    store = open_store(settings, kept.tokens)
    try:
        with store.writer(wait=wait_for_lock) as writer:
            version, loaded, chunks, n_sentences, embedded = _build(
                settings, store, writer, embedder, progress, threads, kept
            )
    finally:
        store.close()
    report = BuildReport(
        version=version,
        documents=len(loaded.documents),
        chunks=len(chunks),
        sentences=n_sentences,
        embedded=embedded.computed,
        reused=embedded.reused,
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


def _build(
    settings: Settings,
    store: SnapshotStore,
    writer: SnapshotWriter,
    embedder: Embedder | None,
    progress: Progress | None,
    threads: int,
    kept: BuildCache,
) -> tuple[str, LoadResult, list[Chunk], int, EmbeddingCache]:
    """The build under the writer lock: load, chunk, embed, write, check, publish."""
    # Loaded (and its runtime's threads started) at the build's lowered priority.
    embedder = embedder or _niced(
        lambda: build_embedder(settings, threads, loaded=kept.encoders), settings.build_nice
    )
    loaded = load_corpus(settings.corpus_dir)
    if not loaded.documents:
        reasons = "; ".join(f"{s.file}: {s.reason}" for s in loaded.skipped) or "it is empty"
        raise CorpusError(
            f"No document could be indexed from {settings.corpus_dir} ({reasons}). "
            "Add .md or .txt files (or other supported formats) there."
        )
    if progress:
        progress("load", len(loaded.documents), len(loaded.documents))
    chunker = Chunker(settings.chunk_chars, memo=kept.chunks, chrome=kept.chrome)
    chunks = chunker.chunk_all(loaded.documents)
    unreadable = chunker.unreadable_all(loaded.documents)
    abbreviations = defined_abbreviations(loaded.documents, kept.abbreviations)
    sentence_texts, owner = _sentence_table(loaded.documents, chunks)
    chunk_texts = [dense_text(c) for c in chunks]
    cache = open_cache(writer, vectors_key(embedder))
    total = len(chunk_texts) + len(sentence_texts)
    done = 0

    def tick(n: int) -> None:
        nonlocal done
        done += n
        if progress:
            progress("embed", done, total)

    # (partials, not closures, so that the ``del`` below drops what they were given)
    chunk_vectors, sentence_vectors = _niced(
        functools.partial(_embed_both, cache, embedder, chunk_texts, sentence_texts, tick),
        settings.build_nice,
    )
    version = new_version()
    query_model = _niced(
        functools.partial(
            export_query_model,
            settings,
            embedder,
            chunk_texts[:8],
            chunk_vectors[:8],
            store.current_manifest(),
        ),
        settings.build_nice,
    )
    manifest = Manifest(
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        model=ModelInfo(embedder.name, embedder.fingerprint(), embedder.dim),
        chunking=chunker.settings(),
        corpus={d.doc_id: d.sha256 for d in loaded.documents},
        skipped=tuple((s.file, s.reason) for s in loaded.skipped),
        query_model=query_model,
        version=version,
    )
    if progress:
        progress("write", 0, 1)
    parts = SnapshotParts(
        loaded.documents, chunks, chunk_vectors, sentence_vectors, owner, abbreviations, unreadable
    )
    writer.write(manifest, parts)
    # what only the embedding and the writing needed goes before the snapshot is loaded back
    n_sentences = len(sentence_texts)
    del parts, chunk_texts, sentence_texts, chunk_vectors, sentence_vectors, owner
    _check(writer.load(version), embedder)
    writer.publish(version, keep=settings.keep_snapshots)
    cache.save()  # the vectors of every text this build embedded or reused
    if progress:
        progress("write", 1, 1)
    return version, loaded, chunks, n_sentences, cache


_T = TypeVar("_T")


def _embed_both(
    cache: EmbeddingCache,
    embedder: Embedder,
    chunk_texts: list[str],
    sentence_texts: list[str],
    tick: Callable[[int], None],
) -> tuple[np.ndarray, np.ndarray]:
    return cache.embed(embedder, chunk_texts, tick), cache.embed(embedder, sentence_texts, tick)


def _niced(work: Callable[[], _T], nice: int) -> _T:
    """Run ``work`` in a fresh thread whose CPU priority is lowered by ``nice``.

    On Linux priority is per thread and the OpenMP workers torch starts from that thread inherit
    it, so a build running beside ``mscqa serve`` leaves the CPU to queries first. The calling
    thread's priority is untouched (a server that builds keeps answering at full priority).
    """
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            if nice and sys.platform.startswith("linux"):
                tid = threading.get_native_id()
                current = os.getpriority(os.PRIO_PROCESS, tid)
                os.setpriority(os.PRIO_PROCESS, tid, min(19, current + nice))
            box["value"] = work()
        except BaseException as exc:  # re-raised in the caller's thread
            box["error"] = exc

    worker = threading.Thread(target=target, name="mscqa-build", daemon=True)
    worker.start()
    worker.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


def defined_abbreviations(
    documents: list[Document], memo: LastCall[Document, list[Definition]] | None = None
) -> list[Definition]:
    """The abbreviations every document defines ("long form (SF)"), mined at index time so a
    new document brings its own (``mscqa.ingest.abbreviations``). With ``memo`` (a build
    cache's), a rebuild mines only the documents that changed."""
    per_document = (memo if memo is not None else LastCall()).results(
        documents, lambda d: [Definition(d.doc_id, a.short, a.long) for a in mine(d.text)]
    )
    return [a for found in per_document for a in found]


def _sentence_table(documents: list[Document], chunks: list[Chunk]) -> tuple[list[str], np.ndarray]:
    texts = {d.doc_id: d.text for d in documents}
    sentence_texts: list[str] = []
    owner: list[int] = []
    for row, chunk in enumerate(chunks):
        for start, end in chunk.sentences:
            sentence_texts.append(sentence_text(chunk, texts[chunk.doc_id][start:end]))
            owner.append(row)
    return sentence_texts, np.asarray(owner, dtype=np.int32)


def _check(snapshot: IndexSnapshot, embedder: Embedder) -> None:
    """Refuse to publish a snapshot that does not load or cannot answer a canary query."""
    canary = snapshot.chunks[0].text[:300]
    # The dense and the lexical halves answer directly (building a whole Retriever, with its
    # spelling vocabulary, cost 0.2 s per build on 1000 documents; the server builds one anyway).
    rows, _ = snapshot.dense_candidates(embedder.encode([canary])[0], 1)
    lex_rows, lexical = snapshot.lexical_scores(canary, 1)
    complete = lex_rows is not None or len(lexical) == len(snapshot.chunks)
    if not len(rows) or rows[0] < 0 or not complete or not (len(lexical) and lexical.max() > 0):
        raise SnapshotError(
            f"new snapshot {snapshot.version} failed its canary query; not published"
        )


def rollback(settings: Settings) -> str:
    """Point the index back at the snapshot before the serving one. Returns its version."""
    store = open_store(settings)
    try:
        with store.writer() as writer:
            return writer.rollback(settings.keep_snapshots)
    finally:
        store.close()
