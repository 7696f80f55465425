"""Sentence scores of the retrieved passages: cosine to the question, its terms, its section.

Every sentence of the hits (and of the best document's further passages) gets a
``ScoredSentence``: its cosine to the question alone and to the question with its conversation,
the share of the question's term weight it holds, the share its section heading holds, and how
much of it is new to the question. Token sets are made once per snapshot and reused.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from mscqa.index import IndexSnapshot
from mscqa.index.lexical import tokenize
from mscqa.retrieval.vocabulary import QUESTION_WORDS, Term
from mscqa.types import Chunk, Hit, ScoredSentence


class SentenceScorer:
    """Scores the sentences of passages against a question. Safe to share between threads."""

    def __init__(
        self, snapshot: IndexSnapshot, *, continuations: bool = True, abbreviations: bool = True
    ) -> None:
        """``continuations``: a sentence that refers back to the one before it ("The
        technology doubles the yield.") is found by that one's words too (``continues``).
        ``abbreviations``: a sentence that uses an abbreviation its document defines holds the
        words of the long form too ("BM-MSCs have disadvantages." is found by "marrow")."""
        self.snapshot = snapshot
        self.continuations = continuations
        # doc_id -> [(short form's tokens, long form's tokens)]
        self._defined: dict[str, list[tuple[frozenset[str], frozenset[str]]]] = {}
        for d in snapshot.abbreviations if abbreviations else ():
            short, long = frozenset(tokenize(d.short)), frozenset(tokenize(d.long))
            if short and long - short:
                self._defined.setdefault(d.doc_id, []).append((short, long))
        # each chunk's sentences as token sets, made the first time the chunk is a hit
        self.sentence_tokens: dict[int, list[frozenset[str]]] = {}
        self._section_tokens: dict[str | None, frozenset[str]] = {}
        # each chunk's sentences' inherited tokens (``inherited``), made like ``sentence_tokens``
        self._inherited: dict[int, list[frozenset[str]]] = {}

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
            for (start, end), sim, csim, words, before in zip(
                chunk.sentences, sims, ctx, self.tokens_of(row), self.inherited(row), strict=True
            ):
                found = frozenset(i for i, t in enumerate(terms) if t.found_in(words))
                if before and self.continuations:
                    found |= frozenset(i for i, t in enumerate(terms) if t.found_in(before))
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

    def inherited(self, row: int) -> list[frozenset[str]]:
        """For each sentence of chunk ``row``, the tokens of the sentence before it when it
        continues that one (``continues``), else none; the sentence before the first one is
        the last of the previous chunk of the same document and section."""
        out = self._inherited.get(row)
        if out is None:
            chunk = self.snapshot.chunks_at([row])[0]
            tokens = self.tokens_of(row)
            before: frozenset[str] = frozenset()
            if row > 0 and chunk.n > 0:
                prev = self.snapshot.chunks_at([row - 1])[0]
                if prev.doc_id == chunk.doc_id and prev.section == chunk.section:
                    before = (self.tokens_of(row - 1) or [frozenset()])[-1]
            text, at = chunk.text, chunk.start
            out = []
            for (a, b), words in zip(chunk.sentences, tokens, strict=True):
                out.append(
                    before if before and continues(text[a - at : b - at], before) else frozenset()
                )
                before = words
            self._inherited[row] = out
        return out

    def tokens_of(self, row: int) -> list[frozenset[str]]:
        """Token sets of chunk ``row``'s sentences, tokenised once per snapshot (a question
        scores every sentence of its hits: re-tokenising them took ~0.15 ms a question)."""
        tokens = self.sentence_tokens.get(row)
        if tokens is None:
            chunk = self.snapshot.chunks_at([row])[0]
            text, at = chunk.text, chunk.start  # chunk.text is its document's text[start:end]
            tokens = [frozenset(tokenize(text[a - at : b - at])) for a, b in chunk.sentences]
            defined = self._defined.get(chunk.doc_id)
            if defined:
                tokens = [_spelt_out(words, defined) for words in tokens]
            self.sentence_tokens[row] = tokens  # a racing thread computes the same list
        return tokens


def _spelt_out(
    words: frozenset[str], defined: list[tuple[frozenset[str], frozenset[str]]]
) -> frozenset[str]:
    """``words`` with the long forms' words of the abbreviations among them."""
    extra = [long for short, long in defined if short <= words]
    return words.union(*extra) if extra else words


# A sentence that opens with a pronoun, or with "the/this/such ..." and a noun the sentence before
# it used ("... ddl microfluidic technology ... . The technology bypasses ..."), is about what
# that sentence named: it is found by that sentence's words too.
_PRONOUN = re.compile(r"(?:it|its|they|their|them|he|she|his|her)\b", re.I)
_DETERMINER = re.compile(r"(?:the|this|these|that|those|such)\s+([A-Za-z-]+)", re.I)


def continues(sentence: str, before: frozenset[str]) -> bool:
    """Whether ``sentence`` refers back to the sentence before it (whose tokens are
    ``before``): it opens with a pronoun, or with a determiner and a noun ``before`` holds."""
    text = sentence.lstrip(" \t\"'(")
    if _PRONOUN.match(text):
        return True
    m = _DETERMINER.match(text)
    if m is None or m.group(1).lower() in QUESTION_WORDS:  # "This may ...", "That was ..."
        return False
    return bool(set(tokenize(m.group(1))) & before)
