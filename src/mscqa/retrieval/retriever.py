"""Hybrid search over a snapshot: dense (FAISS) and lexical (BM25) fused, plus sentence scores.

>>> retriever = Retriever(snapshot, embedder)                      # doctest: +SKIP
>>> result = retriever.search("How are adipose MSCs collected?", k=5)  # doctest: +SKIP
>>> result.hits[0].chunk.section                                   # doctest: +SKIP
'Adipose mesenchymal stem cells (AD-MSCs)'
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Sequence

import numpy as np

from mscqa.embedding.embedder import Embedder
from mscqa.index.lexical import tokenize
from mscqa.index.snapshot import IndexSnapshot
from mscqa.retrieval.fusion import FUSION_MODES, fuse
from mscqa.retrieval.spelling import Speller
from mscqa.retrieval.vocabulary import expand, token_equivalents
from mscqa.types import Hit, Retrieval, ScoredSentence


class Retriever:
    """Hybrid retrieval. Pure given its snapshot and embedder; safe to share between threads."""

    def __init__(
        self,
        snapshot: IndexSnapshot,
        embedder: Embedder,
        *,
        fusion: str = "weighted",
        # 0.75: PubMedQA hit@1/@3 0.978/0.989 at 0.7 -> 0.979/0.992, the article's dev set
        # unchanged, the held-out set's hit@1 0.800 -> 0.833 (bench/README.md, pubmedqa)
        alpha: float = 0.75,
        candidates: int = 50,
        sentence_weight: float = 0.5,
        per_document: int = 1,
    ) -> None:
        if fusion not in FUSION_MODES:
            raise ValueError(f"fusion must be one of {FUSION_MODES}, got {fusion!r}")
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"alpha must be in [0, 1], got {alpha}")
        self.snapshot = snapshot
        self.embedder = embedder
        self.fusion = fusion
        self.alpha = alpha
        self.candidates = candidates
        self.sentence_weight = sentence_weight
        self.per_document = per_document
        stats = snapshot.term_stats()
        # each chunk's sentences as token sets, made the first time the chunk is a hit
        self._sentence_tokens: dict[int, list[frozenset[str]]] = {}
        n = max(1, stats.passages)
        self._idf = {t: math.log(1 + (n - f + 0.5) / (f + 0.5)) for t, f in stats.df.items()}
        self._unknown_idf = math.log(1 + (n + 0.5) / 0.5)
        self._equivalents = token_equivalents(tokenize)
        self._group_tokens = token_equivalents(tokenize, multiword=True)
        self.speller = Speller(stats.words)

    def search(self, query: str, k: int, *, question: str | None = None) -> Retrieval:
        """Top ``k`` chunks for ``query``; sentences of those chunks scored against ``question``.

        ``query`` may carry conversation context; ``question`` (default: ``query``) is what the
        answer's sentences must answer.
        """
        corrected = self.speller.correct(query)
        question = self.speller.correct(question) if question and question != query else corrected
        query = corrected
        snap = self.snapshot
        n = len(snap.chunks)
        vectors = self.embedder.encode([query, question] if question != query else [query])
        qvec = vectors[0]
        svec = vectors[-1]
        cand = min(n, max(self.candidates, k))
        rows, dense = snap.dense_candidates(qvec, cand) if cand else (_NO_ROWS, _NO_SCORES)
        touched = dense != 0
        if self.sentence_weight and touched.any() and snap.sentence_count:
            # A passage is as relevant as its best sentence, too: long passages that mix
            # topics have diluted vectors, but one of their sentences matches sharply. Only
            # the dense candidates' sentences are scored (cost independent of corpus size).
            best = self._best_sentence(rows[touched], qvec)
            dense = dense.copy()
            dense[touched] = (1 - self.sentence_weight) * dense[touched] + (
                self.sentence_weight * best
            )
        # Every row of the snapshot, or (a backend that returns only its best lexical rows)
        # the dense candidates and those: the first max(k, candidates) of the fused order are
        # the same, as a row in neither scores 0 densely and below them lexically.
        lex_rows, lex_scores = snap.lexical_scores(expand(query), max(k, self.candidates))
        universe = np.arange(n) if lex_rows is None else np.union1d(rows, lex_rows)
        dense_u = np.zeros(len(universe), dtype=np.float32)
        dense_u[np.searchsorted(universe, rows)] = dense
        if lex_rows is None:
            lexical = lex_scores
        else:
            lexical = np.zeros(len(universe), dtype=np.float32)
            lexical[np.searchsorted(universe, lex_rows)] = lex_scores
        fused = fuse(self.fusion, dense_u, lexical, self.alpha)
        ranked = np.argsort(-fused, kind="stable")
        order = self._diverse(universe[ranked], min(k, n))
        at = {int(universe[i]): int(i) for i in ranked[: max(k, self.candidates)]}
        hits = tuple(
            Hit(r, chunk, float(fused[at[r]]), float(dense_u[at[r]]), float(lexical[at[r]]))
            for r, chunk in zip(order, snap.chunks_at(order), strict=True)
        )
        q_tokens = self._weights(question)
        ctx_tokens = self._weights(query)
        top_tokens = set().union(*(snap.chunk_tokens(h.row) for h in hits[:3])) if hits else set()
        top_dense = float(dense_u.max()) if len(universe) else 0.0
        return Retrieval(
            query=query,
            hits=hits,
            sentences=self._sentences(hits, svec, qvec, q_tokens),
            top_dense=max(top_dense, 0.0) if len(universe) < n else top_dense,
            coverage=self._share(ctx_tokens, top_tokens),
            known=self._share(ctx_tokens, self._idf.keys()),
            corrected=question,
            unknown_names=self.unknown_names(question),
        )

    def _best_sentence(self, rows: np.ndarray, vec: np.ndarray) -> np.ndarray:
        """Best sentence cosine of each passage in ``rows`` (a passage with none scores -1)."""
        return self.snapshot.best_sentences(rows, vec)

    def _diverse(self, order: np.ndarray, k: int) -> list[int]:
        """The first ``k`` of ``order`` with at most ``per_document`` passages per document,
        filled up in score order when fewer documents qualify.

        Measured on PubMedQA (bench/pubmedqa.py): a cap of one passage per document raised
        hit@3 from 0.986 to 0.989 and lost no question; a single-document corpus is unchanged.
        """
        if not self.per_document:
            return [int(r) for r in order[:k]]
        doc_of = self.snapshot.doc_of
        kept: list[int] = []
        skipped: list[int] = []
        count: dict[str, int] = {}
        for r in order[: max(k, self.candidates)]:
            doc = doc_of(int(r))
            if count.get(doc, 0) < self.per_document:
                kept.append(int(r))
                count[doc] = count.get(doc, 0) + 1
                if len(kept) == k:
                    return kept
            else:
                skipped.append(int(r))
        return (
            (kept + skipped)[:k] if len(kept) + len(skipped) >= k else [int(r) for r in order[:k]]
        )

    def unknown_names(self, question: str) -> tuple[str, ...]:
        """Names in the question (capitalised words after the first) the corpus never uses.

        "Has the European Medicines Agency approved...?" asks about something the documents do
        not mention, however similar the rest of the question is to a passage.
        """
        words = _NAME.findall(question)
        out = []
        for i, word in enumerate(words):
            if i == 0 and word[1:].islower():
                continue  # an ordinary capitalised first word
            tokens = tokenize(word)
            if tokens and not any(
                t in self._idf or any(a in self._idf for a in self._group_tokens.get(t, ()))
                for t in tokens
            ):
                out.append(word)
        return tuple(out)

    def _weights(self, text: str) -> dict[str, float]:
        return {t: self._idf.get(t, self._unknown_idf) for t in set(tokenize(text))}

    def _share(self, weights: dict[str, float], present: Collection[str]) -> float:
        """idf-weighted share of the question's tokens (or their synonyms) in ``present``."""
        total = sum(weights.values())
        if not total:
            return 0.0
        found = sum(
            w
            for t, w in weights.items()
            if t in present or any(a in present for a in self._equivalents.get(t, ()))
        )
        return found / total

    def _sentences(
        self,
        hits: Sequence[Hit],
        svec: np.ndarray,
        qvec: np.ndarray,
        q_tokens: dict[str, float],
    ) -> tuple[ScoredSentence, ...]:
        out: list[ScoredSentence] = []
        top = hits[0].score if hits and hits[0].score > 0 else 1.0
        vectors = self.snapshot.sentence_vectors([h.row for h in hits])
        for rank, (hit, vecs) in enumerate(zip(hits, vectors, strict=True)):
            sims = vecs @ svec
            ctx = vecs @ qvec
            for (start, end), sim, csim, words in zip(
                hit.chunk.sentences, sims, ctx, self._tokens_of(hit.row), strict=True
            ):
                out.append(
                    ScoredSentence(
                        rank,
                        max(0.0, hit.score / top),
                        hit.chunk,
                        start,
                        end,
                        float(sim),
                        float(csim),
                        self._share(q_tokens, words),
                    )
                )
        return tuple(out)

    def _tokens_of(self, row: int) -> list[frozenset[str]]:
        """Token sets of chunk ``row``'s sentences, tokenised once per snapshot (a question
        scores every sentence of its hits: re-tokenising them took ~0.15 ms a question)."""
        tokens = self._sentence_tokens.get(row)
        if tokens is None:
            chunk = self.snapshot.chunks_at([row])[0]
            text, at = chunk.text, chunk.start  # chunk.text is its document's text[start:end]
            tokens = [frozenset(tokenize(text[a - at : b - at])) for a, b in chunk.sentences]
            self._sentence_tokens[row] = tokens  # a racing thread computes the same list
        return tokens


_NAME = re.compile(r"\b[A-Za-z]*[A-Z][A-Za-z0-9'-]*")
_NO_ROWS = np.zeros(0, dtype=np.int64)
_NO_SCORES = np.zeros(0, dtype=np.float32)
