"""A loaded folder snapshot: read-only, safe to share between threads; it answers the read
path's calls (``store.IndexSnapshot``) from FAISS, the sentence table and BM25. The records are
in memory; the vectors and BM25's scores are mapped from the snapshot's files (``folder``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mscqa.index.dense import SentenceTable
from mscqa.index.lexical import LexicalIndex, corpus_words, tokenize
from mscqa.index.manifest import Manifest
from mscqa.index.store import SnapshotParts, TermStats, chunk_words, lexical_text
from mscqa.memo import Lru
from mscqa.types import Chunk, Definition, Document, Unreadable


class Snapshot:
    """A loaded, read-only index snapshot. Safe to share between threads."""

    def __init__(
        self,
        path: Path,
        manifest: Manifest,
        documents: dict[str, Document],
        chunks: list[Chunk],
        dense: Any,
        sentences: SentenceTable,
        lexical: LexicalIndex,
        abbreviations: Sequence[Definition] = (),
        unreadable: Sequence[Unreadable] = (),
    ) -> None:
        self.path = path
        self.manifest = manifest
        self.documents = documents
        self.chunks = chunks
        self.dense = dense
        self.sentences = sentences
        self.lexical = lexical
        # Start row of each chunk's sentences in the sentence table.
        self.sentence_start = np.searchsorted(sentences.owner, np.arange(len(chunks) + 1))
        self._tokens: Lru[int, set[str]] = Lru(20_000)  # chunk_tokens of the rows asked for
        self._stats: TermStats | None = None
        self._abbreviations = list(abbreviations)
        self._unreadable = list(unreadable)

    @property
    def abbreviations(self) -> list[Definition]:
        """The abbreviations the documents define (mined at index time)."""
        return self._abbreviations

    @property
    def unreadable(self) -> list[Unreadable]:
        """The parts of the documents with no text (image or table placeholders)."""
        return self._unreadable

    @property
    def version(self) -> str:
        return self.manifest.version

    def parts(self) -> SnapshotParts:
        """Everything this snapshot holds besides its manifest, as a build hands it to a
        store: to write the same snapshot into another store (``bench.common``)."""
        return SnapshotParts(
            list(self.documents.values()),
            self.chunks,
            self.dense.reconstruct_n(0, len(self.chunks)),
            self.sentences.vectors,
            self.sentences.owner,
            self._abbreviations,
            self._unreadable,
        )

    # -- the search surface the Retriever reads; a Postgres snapshot answers the same calls --

    def doc_of(self, row: int) -> str:
        return self.chunks[row].doc_id

    def chunks_at(self, rows: Sequence[int]) -> list[Chunk]:
        return [self.chunks[r] for r in rows]

    def chunk_counts(self) -> dict[str, int]:
        """Passages per document."""
        counts: dict[str, int] = {}
        for c in self.chunks:
            counts[c.doc_id] = counts.get(c.doc_id, 0) + 1
        return counts

    @property
    def sentence_count(self) -> int:
        return len(self.sentences.owner)

    def dense_candidates(self, vec: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Rows of the ``n`` passages nearest to ``vec`` and their inner products, best first."""
        scores, rows = self.dense.search(vec.reshape(1, -1).astype(np.float32), n)
        valid = rows[0] >= 0
        return rows[0][valid], scores[0][valid]

    def best_sentences(self, rows: np.ndarray, vec: np.ndarray) -> np.ndarray:
        """Best sentence cosine of each passage in ``rows`` (a passage with none scores -1)."""
        starts = self.sentence_start
        lo, hi = starts[rows], starts[rows + 1]
        counts = hi - lo
        best = np.full(len(rows), -1.0, dtype=np.float32)
        has = counts > 0
        if not has.any():
            return best
        idx = np.concatenate([np.arange(a, b) for a, b in zip(lo[has], hi[has], strict=True)])
        sims = self.sentences.vectors[idx] @ vec
        offsets = np.concatenate([[0], np.cumsum(counts[has])[:-1]])
        best[has] = np.maximum.reduceat(sims, offsets)
        return best

    def sentence_vectors(self, rows: Sequence[int]) -> list[np.ndarray]:
        """The sentence vectors of each passage in ``rows``, in sentence order."""
        starts = self.sentence_start
        return [self.sentences.vectors[starts[r] : starts[r + 1]] for r in rows]

    def lexical_scores(
        self, query: str, limit: int, rows: Sequence[int] = ()
    ) -> tuple[np.ndarray | None, np.ndarray]:
        """BM25 of ``query``: ``(None, score of every row)`` here (``limit`` and ``rows`` are for
        backends that return only their best ``(rows, scores)`` and those of ``rows``)."""
        return None, self.lexical.scores(query)

    def term_stats(self) -> TermStats:
        """Document frequencies of the indexed tokens (from BM25's score matrix: nothing is
        tokenised again) and the speller's vocabulary (cached)."""
        if self._stats is None:
            words = corpus_words(chunk_words(c) for c in self.chunks)
            df = self.lexical.document_frequencies()
            self._stats = TermStats(len(self.chunks), df, frozenset(words))
        return self._stats

    def chunk_tokens(self, row: int) -> set[str]:
        """The words BM25 indexed for passage ``row`` (tokenised when first asked: the read
        path asks for a few rows a question, and tokenising all of them held up a server's
        start by ~20 s at 100k passages)."""
        tokens = self._tokens.get(row)
        if tokens is None:
            tokens = set(tokenize(lexical_text(self.chunks[row])))
            self._tokens.put(row, tokens)
        return tokens
