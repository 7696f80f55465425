"""Sentence scores of the retrieved passages: cosine to the question, its terms, its section.

Every sentence of the hits (and of the best document's further passages) gets a
``ScoredSentence``: its cosine to the question alone and to the question with its conversation,
the share of the question's term weight it holds, the share its section heading holds, and how
much of it is new to the question. Token sets are made once per snapshot and reused.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from mscqa.index import IndexSnapshot
from mscqa.index.lexical import tokenize
from mscqa.retrieval.vocabulary import Term
from mscqa.types import Chunk, Hit, ScoredSentence


class SentenceScorer:
    """Scores the sentences of passages against a question. Safe to share between threads."""

    def __init__(self, snapshot: IndexSnapshot) -> None:
        self.snapshot = snapshot
        # each chunk's sentences as token sets, made the first time the chunk is a hit
        self.sentence_tokens: dict[int, list[frozenset[str]]] = {}
        self._section_tokens: dict[str | None, frozenset[str]] = {}

    def score(
        self,
        hits: Sequence[Hit],
        more: list[tuple[int, float]],
        svec: np.ndarray,
        qvec: np.ndarray,
        terms: list[Term],
    ) -> tuple[ScoredSentence, ...]:
        """The sentences of ``hits`` and of the passages ``more`` (rows with their fused
        scores), scored against the question's vector ``svec``, the conversation's ``qvec``
        and the question's ``terms``."""
        out: list[ScoredSentence] = []
        top = hits[0].score if hits and hits[0].score > 0 else 1.0
        total = sum(t.weight for t in terms) or 1.0
        asked = frozenset().union(*(form for t in terms for form in t.forms))
        passages: list[tuple[int, Chunk, float]] = [(h.row, h.chunk, h.score) for h in hits] + [
            (r, c, score)
            for (r, score), c in zip(
                more, self.snapshot.chunks_at([r for r, _ in more]), strict=True
            )
        ]
        vectors = self.snapshot.sentence_vectors([r for r, _, _ in passages])
        for rank, ((row, chunk, score), vecs) in enumerate(zip(passages, vectors, strict=True)):
            sims = vecs @ svec
            ctx = vecs @ qvec
            heading = self.heading_tokens(chunk.section)
            named = frozenset(i for i, t in enumerate(terms) if t.found_in(heading))
            section = sum(terms[i].weight for i in named) / total
            for (start, end), sim, csim, words in zip(
                chunk.sentences, sims, ctx, self.tokens_of(row), strict=True
            ):
                found = frozenset(i for i, t in enumerate(terms) if t.found_in(words))
                out.append(
                    ScoredSentence(
                        rank,
                        max(0.0, score / top),
                        chunk,
                        start,
                        end,
                        float(sim),
                        float(csim),
                        sum(terms[i].weight for i in found) / total,
                        found=found,
                        section=section,
                        heading=named,
                        novel=len(words - asked) / len(words) if words else 0.0,
                    )
                )
        return tuple(out)

    def heading_tokens(self, section: str | None) -> frozenset[str]:
        tokens = self._section_tokens.get(section)
        if tokens is None:
            tokens = frozenset(tokenize(section or ""))
            self._section_tokens[section] = tokens  # a racing thread computes the same set
        return tokens

    def tokens_of(self, row: int) -> list[frozenset[str]]:
        """Token sets of chunk ``row``'s sentences, tokenised once per snapshot (a question
        scores every sentence of its hits: re-tokenising them took ~0.15 ms a question)."""
        tokens = self.sentence_tokens.get(row)
        if tokens is None:
            chunk = self.snapshot.chunks_at([row])[0]
            text, at = chunk.text, chunk.start  # chunk.text is its document's text[start:end]
            tokens = [frozenset(tokenize(text[a - at : b - at])) for a, b in chunk.sentences]
            self.sentence_tokens[row] = tokens  # a racing thread computes the same list
        return tokens
