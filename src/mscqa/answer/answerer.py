"""Extractive answers: verbatim sentences from retrieved passages, each with its citation.

Pure and deterministic: given the question's retrieval result it picks sentences, numbers
citations and decides whether to abstain. It never retrieves and never writes a word of its own
into an answer other than the ``[n]`` markers.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from mscqa.answer.expected import expected_type, satisfies
from mscqa.types import Answer, Chunk, Citation, Retrieval, ScoredSentence

NOT_FOUND = "I couldn't find that in the documents."

# Logistic confidence model; see ``confidence`` and bench/calibrate.py for how it was fitted.
CONFIDENCE_WEIGHTS = {
    "bias": -4.59,
    "top_dense": 4.64,
    "best_sentence": 2.82,
    "known": 2.5,
    "best_lexical": 1.99,
}

_WORD = re.compile(r"\w+")


@dataclass(frozen=True, slots=True)
class AnswerPolicy:
    """How many sentences to quote and when to abstain."""

    max_sentences: int = 3
    min_confidence: float = 0.5
    margin: float = 0.12  # a further sentence must score within this of the best one
    related: int = 3  # closest passages shown with a "not found" answer

    def __post_init__(self) -> None:
        if self.max_sentences < 1:
            raise ValueError(f"max_sentences must be >= 1, got {self.max_sentences}")
        if not 0.0 <= self.min_confidence <= 1.0:
            raise ValueError(f"min_confidence must be in [0, 1], got {self.min_confidence}")


def features(retrieval: Retrieval) -> dict[str, float]:
    """The evidence the confidence is computed from (all roughly in [0, 1])."""
    best = max((max(s.dense, s.context) for s in retrieval.sentences), default=0.0)
    best_lex = max((s.lexical for s in retrieval.sentences), default=0.0)
    return {
        "best_lexical": best_lex,
        "top_dense": retrieval.top_dense,
        "best_sentence": best,
        "coverage": retrieval.coverage,
        "known": retrieval.known,
    }


def confidence(feats: dict[str, float], weights: dict[str, float] = CONFIDENCE_WEIGHTS) -> float:
    """``sigmoid(bias + sum_i w_i * x_i)``: the probability that the documents hold the answer."""
    z = weights["bias"] + sum(weights[k] * v for k, v in feats.items() if k in weights)
    return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))


def sentence_score(s: ScoredSentence) -> float:
    """How well one sentence answers: mostly meaning, then shared words, then passage rank."""
    return 0.45 * s.dense + 0.25 * s.lexical + 0.3 * s.chunk_score


def answer(question: str, retrieval: Retrieval, policy: AnswerPolicy = AnswerPolicy()) -> Answer:
    """Compose the answer for ``question`` from ``retrieval`` under ``policy``."""
    feats = features(retrieval)
    conf = confidence(feats)
    if conf < policy.min_confidence or not retrieval.sentences or retrieval.unknown_names:
        return _abstain(retrieval, policy, conf, feats)
    chosen = _choose(retrieval.sentences, policy, expected_type(question))
    if not chosen:  # the question asks for a figure that none of the best sentences gives
        return _abstain(retrieval, policy, conf, feats)
    numbers: dict[str, int] = {}
    spans: dict[str, list[tuple[int, int]]] = {}
    chunks: dict[str, Chunk] = {}
    parts: list[str] = []
    for s in chosen:
        cid = s.chunk.chunk_id
        if cid not in numbers:
            numbers[cid] = len(numbers) + 1
            chunks[cid] = s.chunk
            spans[cid] = []
        spans[cid].append((s.start, s.end))
        parts.append(f"{_text(s)} [{numbers[cid]}]")
    scores = {h.chunk.chunk_id: h.score for h in retrieval.hits}
    citations = tuple(
        Citation(n, chunks[cid], scores.get(cid, 0.0), tuple(sorted(spans[cid])))
        for cid, n in numbers.items()
    )
    related = tuple(
        Citation(len(numbers) + i + 1, h.chunk, h.score)
        for i, h in enumerate(h for h in retrieval.hits if h.chunk.chunk_id not in numbers)
    )
    return Answer(" ".join(parts), True, round(conf, 4), citations, related, meta=feats)


def _abstain(
    retrieval: Retrieval, policy: AnswerPolicy, conf: float, feats: dict[str, float]
) -> Answer:
    related = tuple(
        Citation(i + 1, h.chunk, h.score) for i, h in enumerate(retrieval.hits[: policy.related])
    )
    return Answer(
        NOT_FOUND, False, round(min(conf, policy.min_confidence), 4), (), related, meta=feats
    )


def _text(s: ScoredSentence) -> str:
    return s.chunk.text[s.start - s.chunk.start : s.end - s.chunk.start]


def _choose(
    sentences: Sequence[ScoredSentence],
    policy: AnswerPolicy,
    kind: tuple[str, str | None] | None = None,
) -> list[ScoredSentence]:
    ranked = sorted(sentences, key=sentence_score, reverse=True)
    best = sentence_score(ranked[0])
    if kind is not None:
        # Among the sentences good enough to quote, keep those that give the figure asked for.
        ranked = [
            s
            for s in ranked
            if sentence_score(s) >= best - policy.margin and satisfies(kind, _text(s))
        ]
        if not ranked:
            return []
        best = sentence_score(ranked[0])
    chosen: list[ScoredSentence] = []
    seen: list[set[str]] = []
    for s in ranked:
        if len(chosen) == policy.max_sentences or sentence_score(s) < best - policy.margin:
            break
        words = set(_WORD.findall(_text(s).lower()))
        if any(_jaccard(words, other) > 0.6 for other in seen):
            continue  # a near-duplicate of a sentence already quoted
        chosen.append(s)
        seen.append(words)
    return chosen


def _jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0
