"""Extractive answers: verbatim pieces of retrieved passages, each with its citation.

Pure and deterministic: given the question's retrieval result it ranks answer units (a sentence,
or adjacent sentences that belong together; ``answer.units``) with the learned ranker
(``answer.ranker``), quotes the best one and further ones only when they answer the question
too, numbers citations and decides whether to abstain. It never retrieves and never writes a
word of its own into an answer other than the ``[n]`` markers.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from mscqa.answer.expected import satisfies
from mscqa.answer.ranker import RANKER_WEIGHTS, Question, Unit, rank
from mscqa.types import Answer, Chunk, Citation, Retrieval, Unreadable

NOT_FOUND = "I couldn't find that in the documents."

# Logistic confidence model: the probability that the quoted answer is right. Fitted by
# bench/quality/calibrate.py with k-fold cross-validation on the dev questions (at 5d8740d).
# Refitted after the ranker's ``other_document`` cost, the out-of-fold dev figures moved by one
# question (in scope refused 0.015 -> 0.010, out of scope 0.792 both), while the test split
# (two more article questions refused, 22:55 in bench/quality/test_runs.md) and PubMedQA (first
# citation 0.975 -> 0.974) lost: not a gain, so these weights stay.
CONFIDENCE_WEIGHTS: dict[str, float] = {
    "bias": -4.695,
    "top_dense": 1.868,
    "best_sentence": 1.87,
    "known": 0.799,
    "best_lexical": 0.774,
    "coverage": 2.4,
    "best_unit": 0.454,
    "answer_lexical": 0.241,
    "answer_dense": 0.393,
    "type_ok": -0.252,
    "type_missing": -3.474,
    "unknown_name": -2.959,
}

_WORD = re.compile(r"\w+")
# an unreadable part's heading must hold this share of the question's terms to be named
UNREADABLE_SHARE = 0.5


@dataclass(frozen=True, slots=True)
class AnswerPolicy:
    """How many pieces to quote, which ones, and when to abstain.

    A piece after the first must answer the question too (no padding): its ranker score (a
    log-odds scale) is within ``margin`` of the first piece's, or it is within ``further`` and
    adds at least ``gain`` of the question's term weight that the pieces before it did not hold
    (the other half of "X, and Y?"). ``units=False`` quotes single sentences, ``types=False``
    drops the answer-type check (``strict_types`` refuses when no piece gives the asked kind;
    by default the confidence model weighs that), ``parts=False`` the compound questions and
    ``unreadable=False`` the unreadable parts (for the ablation); ``ranker`` and
    ``confidence`` are the two models' weights.
    """

    max_sentences: int = 3
    min_confidence: float = 0.5
    margin: float = 1.0
    further: float = 3.0
    gain: float = 0.2
    related: int = 3  # closest passages shown with a "not found" answer
    units: bool = True
    types: bool = True
    strict_types: bool = False
    parts: bool = True
    unreadable: bool = True
    ranker: Mapping[str, float] = field(default_factory=lambda: RANKER_WEIGHTS)
    confidence: Mapping[str, float] = field(default_factory=lambda: CONFIDENCE_WEIGHTS)

    def __post_init__(self) -> None:
        if self.max_sentences < 1:
            raise ValueError(f"max_sentences must be >= 1, got {self.max_sentences}")
        if not 0.0 <= self.min_confidence <= 1.0:
            raise ValueError(f"min_confidence must be in [0, 1], got {self.min_confidence}")


Ranked = list[tuple[float, Unit, dict[str, float]]]


def features(retrieval: Retrieval, chosen: Ranked | None = None) -> dict[str, float]:
    """The evidence the confidence is computed from (all roughly in [0, 1]).

    With the ``chosen`` pieces: how probable the ranker finds the first, and the share of the
    question's terms the quoted text holds, so the confidence is about *this* answer.
    """
    best = max((max(s.dense, s.context) for s in retrieval.sentences), default=0.0)
    best_lex = max((s.lexical for s in retrieval.sentences), default=0.0)
    feats = {
        "best_lexical": best_lex,
        "top_dense": retrieval.top_dense,
        "best_sentence": best,
        "coverage": retrieval.coverage,
        "known": retrieval.known,
        # a capitalised name the corpus never uses ("European Medicines Agency", "iPSCs")
        "unknown_name": float(bool(retrieval.unknown_names)),
    }
    if chosen:
        found = frozenset().union(*(u.found for _, u, _ in chosen))
        total = sum(retrieval.terms)
        feats["best_unit"] = chosen[0][0]
        feats["answer_lexical"] = sum(retrieval.terms[i] for i in found) / total if total else 0.0
        feats["answer_dense"] = max(f["dense"] for _, _, f in chosen)
        feats["type_ok"] = chosen[0][2]["type_ok"]
        feats["type_missing"] = chosen[0][2]["type_missing"]
    return feats


def confidence(
    feats: Mapping[str, float], weights: Mapping[str, float] = CONFIDENCE_WEIGHTS
) -> float:
    """``sigmoid(bias + sum_i w_i * x_i)``: the probability that the answer is right."""
    z = weights["bias"] + sum(weights[k] * v for k, v in feats.items() if k in weights)
    return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))


def answer(question: str, retrieval: Retrieval, policy: AnswerPolicy = AnswerPolicy()) -> Answer:
    """Compose the answer for ``question`` from ``retrieval`` under ``policy``."""
    asked = Question.of(question, retrieval)
    if not policy.types:
        asked = dataclasses.replace(asked, kind=None)
    if not policy.parts:
        asked = dataclasses.replace(asked, parts=())
    ranked = rank(retrieval, asked, policy.ranker, policy.units) if retrieval.sentences else []
    chosen = _choose(ranked, asked, policy)
    unreadable, outranks = (
        _unreadable(chosen, retrieval, asked) if policy.unreadable else ((), False)
    )
    feats = features(retrieval, chosen)
    conf = confidence(feats, policy.confidence)
    if conf < policy.min_confidence or not chosen or outranks:
        return _abstain(retrieval, policy, conf, feats, unreadable)
    numbers: dict[str, int] = {}
    spans: dict[str, list[tuple[int, int]]] = {}
    chunks: dict[str, Chunk] = {}
    parts: list[str] = []
    for _, unit, _ in chosen:
        cid = unit.chunk.chunk_id
        if cid not in numbers:
            numbers[cid] = len(numbers) + 1
            chunks[cid] = unit.chunk
            spans[cid] = []
        spans[cid].append((unit.start, unit.end))
        parts.append(f"{unit.text} [{numbers[cid]}]")
    scores = {h.chunk.chunk_id: h.score for h in retrieval.hits}
    citations = tuple(
        Citation(n, chunks[cid], scores.get(cid, 0.0), tuple(sorted(spans[cid])))
        for cid, n in numbers.items()
    )
    related = tuple(
        Citation(len(numbers) + i + 1, h.chunk, h.score)
        for i, h in enumerate(h for h in retrieval.hits if h.chunk.chunk_id not in numbers)
    )
    return Answer(
        " ".join(parts),
        True,
        round(conf, 4),
        citations,
        related,
        meta=feats,
        unreadable=unreadable,
    )


def _abstain(
    retrieval: Retrieval,
    policy: AnswerPolicy,
    conf: float,
    feats: dict[str, float],
    unreadable: tuple[Unreadable, ...] = (),
) -> Answer:
    related = tuple(
        Citation(i + 1, h.chunk, h.score) for i, h in enumerate(retrieval.hits[: policy.related])
    )
    return Answer(
        NOT_FOUND,
        False,
        round(min(conf, policy.min_confidence), 4),
        (),
        related,
        meta=feats,
        unreadable=unreadable,
    )


def _unreadable(
    chosen: Ranked, retrieval: Retrieval, question: Question
) -> tuple[tuple[Unreadable, ...], bool]:
    """The parts of the documents without text that this answer should name, and whether one
    of them is what the question asks for (then the answer is "not found, and that part could
    not be read" rather than a weaker quote).

    A part is named when the best piece announces it (a pointer, "... as follows:", whose
    completion is that image or table), or when the words it is known by (its heading, the
    heading before it, the sentence before it) hold at least half of the question's terms and
    no fewer than the best piece does. It outranks the quotable text when it holds more of
    them than the best piece, or when the best piece is its announcement and the question asks
    for the list, the names or the number the announcement promises.
    """
    if not retrieval.unreadable:
        return (), False
    best = chosen[0] if chosen else None
    # the best piece is known by its words and its section's heading, as a part is by its own
    best_share = (
        question.share(best[1].found | best[1].members[0].heading) if best is not None else 0.0
    )
    announcing = best is not None and not best[1].complete
    announced = {
        u
        for u, _ in retrieval.unreadable
        if announcing and best and u.after == best[1].chunk.chunk_id
    }
    # "the table of ...", "the figure": the question itself points at non-text content
    floor = UNREADABLE_SHARE / 2 if question.pictured else UNREADABLE_SHARE
    top = max(share for _, share in retrieval.unreadable)
    titled = {
        u
        for u, share in retrieval.unreadable
        if share >= max(floor, best_share if not question.pictured else 0.0, top - 0.1)
    }
    named = tuple(u for u, _ in retrieval.unreadable if u in announced | titled)
    asks_for_content = question.listing or (question.kind or ("",))[0] in ("name", "count")
    outranks = (
        any(share > best_share for u, share in retrieval.unreadable if u in titled)
        or (bool(titled) and question.pictured)
        or (bool(announced) and asks_for_content)
    )
    return named, outranks


def _choose(ranked: Ranked, question: Question, policy: AnswerPolicy) -> Ranked:
    """The pieces to quote, best first."""
    if not ranked:
        return []
    if question.kind is not None:
        # The question asks for a figure (a year, an amount, a count...): among the pieces
        # good enough to quote, only those that give one can answer it.
        best = ranked[0][0]
        giving = [
            r
            for r in ranked
            if r[0] >= best - policy.margin and satisfies(question.kind, r[1].text)
        ]
        if giving or policy.strict_types:
            ranked = giving
        # else: no piece gives it; the answer stands, and the confidence model, which sees
        # that (``type_missing``), decides whether it is an answer at all
        if not ranked:
            return []
    chosen = [ranked[0]]
    covered = set(ranked[0][1].found)
    seen = [_words(ranked[0][1].text)]
    best = ranked[0][0]
    # A compound question ("What is X, and how is Y done?"): each part the pieces so far leave
    # open gets the best piece that answers it, if that one answers the question too.
    for part in question.parts:
        if len(chosen) == policy.max_sentences:
            break
        have = question.share(frozenset(covered), part)
        for p, unit, feats in ranked[1:]:
            if p < best - policy.further:
                break
            if question.share(unit.found, part) > max(have, 0.5) and not any(
                _overlaps(unit, u) for _, u, _ in chosen
            ):
                chosen.append((p, unit, feats))
                covered |= unit.found
                seen.append(_words(unit.text))
                break
    for p, unit, feats in ranked[1:]:
        if len(chosen) == policy.max_sentences or p < best - policy.further:
            break
        if any(_overlaps(unit, u) for _, u, _ in chosen):
            continue  # already quoted, or overlapping a piece that is
        words = _words(unit.text)
        if any(_jaccard(words, other) > 0.6 for other in seen):
            continue  # a near-duplicate of a piece already quoted
        gain = question.share(unit.found - covered)
        if p >= best - policy.margin or gain >= policy.gain:
            chosen.append((p, unit, feats))
            covered |= unit.found
            seen.append(words)
    return chosen


def _overlaps(a: Unit, b: Unit) -> bool:
    return a.chunk.chunk_id == b.chunk.chunk_id and a.start < b.end and b.start < a.end


def _words(text: str) -> set[str]:
    return set(_WORD.findall(text.lower()))


def _jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0
