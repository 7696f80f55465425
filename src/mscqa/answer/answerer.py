"""Extractive answers: verbatim pieces of retrieved passages, each with its citation.

Pure and deterministic: given the question's retrieval result it ranks answer units (a sentence,
or adjacent sentences that belong together; ``answer.units``) with the learned ranker
(``answer.ranker``), quotes the best one and further ones only when they answer the question
too, numbers citations and decides whether to abstain. It never retrieves and never writes a
word of its own into an answer other than the ``[n]`` markers.
"""

from __future__ import annotations

import dataclasses
import itertools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from mscqa.answer.confidence import (
    CONFIDENCE_WEIGHTS,
    Ranked,
    confidence,
    features,
    passage_countries,
)
from mscqa.answer.expected import STRICT_KINDS, country_code, places, satisfies
from mscqa.answer.ranker import RANKER_WEIGHTS, Question, Unit, rank
from mscqa.answer.sides import side_pieces
from mscqa.answer.unreadable import unreadable_parts
from mscqa.types import Answer, Chunk, Citation, Retrieval, Unreadable

NOT_FOUND = "I couldn't find that in the documents."

_WORD = re.compile(r"\w+")
# a compound question's part gets, among the pieces holding within this share of the most of
# its terms, the best ranked one (dev: 2 compound questions more right, none lost)
PART_TOLERANCE = 0.1
PART_POOL = 12  # a part's piece is among the best-ranked ones


@dataclass(frozen=True, slots=True)
class AnswerPolicy:
    """How many pieces to quote, which ones, and when to abstain.

    A piece after the first must answer the question too (no padding): its ranker score (a
    log-odds scale) is within ``margin`` of the first piece's, or it is within ``further`` and
    adds at least ``gain`` of the question's term weight that the pieces before it did not hold
    (the other half of "X, and Y?"). ``units=False`` quotes single sentences, ``types=False``
    drops the answer-type check (``strict_types`` refuses when no piece gives the asked kind;
    by default the confidence model weighs that, except for ``STRICT_KINDS``, a price, a dose,
    a time or a maker, which ``strict_kinds=False`` weighs too), ``parts=False`` the compound
    questions, ``sides=False`` the comparisons' side pieces, ``further_figures=False`` the figure
    looked for further down the best document, ``unreadable=False`` the
    unreadable parts, ``places=False`` the refusal of
    questions about a country no document names (for the ablation); ``reread=True`` reads a
    refused question with history that reads as standing alone once more after the
    conversation's user turns (``QAService``; not shipped: read with words it does not say, an
    out-of-scope question, "Suggest a name for my new puppy.", finds the earlier topic's
    sentences and is answered); ``ranker`` and
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
    strict_kinds: bool = True
    parts: bool = True
    sides: bool = True
    further_figures: bool = True
    unreadable: bool = True
    places: bool = True
    reread: bool = False
    ranker: Mapping[str, float] = field(default_factory=lambda: RANKER_WEIGHTS)
    confidence: Mapping[str, float] = field(default_factory=lambda: CONFIDENCE_WEIGHTS)

    def __post_init__(self) -> None:
        if self.max_sentences < 1:
            raise ValueError(f"max_sentences must be >= 1, got {self.max_sentences}")
        if not 0.0 <= self.min_confidence <= 1.0:
            raise ValueError(f"min_confidence must be in [0, 1], got {self.min_confidence}")


def answer(question: str, retrieval: Retrieval, policy: AnswerPolicy = AnswerPolicy()) -> Answer:
    """Compose the answer for ``question`` from ``retrieval`` under ``policy``."""
    asked = Question.of(question, retrieval)
    if not policy.types:
        asked = dataclasses.replace(asked, kind=None)
    if not policy.parts:
        asked = dataclasses.replace(asked, parts=())
    ranked = rank(retrieval, asked, policy.ranker, policy.units) if retrieval.sentences else []
    chosen = judged = _choose(ranked, asked, policy, further_figures=False)
    if (
        policy.further_figures
        and asked.kind is not None
        and chosen
        and chosen[0][2]["type_missing"]
    ):
        # no piece close to the best gives the figure asked for; one further down the best
        # document may (``_further_figures``). The confidence stays that of the answer without
        # it: a figure found only there is no more evidence that the documents answer.
        chosen = _choose(ranked, asked, policy)
    unreadable, outranks = (
        unreadable_parts(chosen, retrieval, asked) if policy.unreadable else ((), False)
    )
    feats = features(retrieval, judged)
    conf = confidence(feats, policy.confidence)
    # "Are MSC products approved in India?" over documents that never name India: whatever
    # they say about other countries, they cannot say anything about that one
    elsewhere = policy.places and _unnamed_country(retrieval)
    if elsewhere:
        feats["unnamed_country"] = 1.0
    if conf < policy.min_confidence or not chosen or outranks or elsewhere:
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


def _choose(
    ranked: Ranked, question: Question, policy: AnswerPolicy, further_figures: bool = True
) -> Ranked:
    """The pieces to quote, best first (``further_figures``: see ``_further_figures``)."""
    if not ranked:
        return []
    every = ranked
    missing = False
    if question.kind is not None:
        # The question asks for a figure (a year, an amount, a count...): among the pieces
        # good enough to quote, only those that give one can answer it. Good enough is judged
        # without the ranker's preference for a document's pieces that give it (``type_ok``,
        # ``ranker.WITHIN_DOCUMENT``), which orders the pieces but is no evidence that any
        # of them answers: a piece far below the best that gives a figure is no reason to
        # quote a figure (the confidence model reads ``type_missing`` for that).
        bonus = policy.ranker.get("type_ok", 0.0)
        untyped = [r[0] - bonus * r[2]["type_ok"] for r in ranked]
        best = max(untyped)
        giving = [
            r
            for r, u in zip(ranked, untyped, strict=True)
            if u >= best - policy.margin and r[2]["type_ok"]  # it gives one (``satisfies``)
        ]
        strict = policy.strict_kinds and question.kind[0] in STRICT_KINDS
        missing = not giving
        if further_figures and not giving and not (policy.strict_types or strict):
            giving = _further_figures(ranked, question, best - policy.further)
        if giving or policy.strict_types or strict:
            ranked = giving
        # else: no piece gives it; the answer stands, and the confidence model, which sees
        # that (``type_missing``), decides whether it is an answer at all. A price, a dose, a
        # date, a length of time or a maker (``STRICT_KINDS``) that no piece gives is not in
        # the documents, however close the pieces' topic: "How much does Prochymal cost?"
        # over a sentence about its approval is refused.
        if not ranked:
            return []
    first = ranked[0]
    if missing:
        # none good enough gives the figure, whichever piece the ranker's preference put first
        first = (first[0], first[1], {**first[2], "type_ok": 0.0, "type_missing": 1.0})
    chosen = [first]
    covered = set(ranked[0][1].found)
    seen = [_words(ranked[0][1].text)]
    best = ranked[0][0]
    # A compound question ("What is X, and how is Y done?"): each part gets a piece of its own,
    # the one that holds the most of that part's terms, if that one answers the question too.
    # They are drawn from every piece, not only those giving the figure the question asks for:
    # "Which country ..., and are any products approved in China?" asks for a place in its
    # first part only.
    for pick in _part_pieces(every, question, best - policy.further):
        if len(chosen) == policy.max_sentences:
            break
        if any(_overlaps(pick[1], u) for _, u, _ in chosen):
            continue
        chosen.append(pick)
        covered |= pick[1].found
        seen.append(_words(pick[1].text))
    if policy.sides:
        # "A vs B: which ...?": a side no piece so far speaks of gets one (``answer.sides``)
        for pick in side_pieces(every, chosen, question, best - policy.further):
            if len(chosen) == policy.max_sentences:
                break
            chosen.append(pick)
            covered |= pick[1].found
            seen.append(_words(pick[1].text))
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


def _further_figures(ranked: Ranked, question: Question, floor: float) -> Ranked:
    """The pieces of the best piece's document scoring at least ``floor`` that give the figure
    ``question`` asks for, when none within the margin does: "How many patients with IPF and
    OSA were started on CPAP?" is answered by "Twelve patients ... were included", ranked
    below a background sentence on the two conditions that gives no count. Only the best
    piece's document counts: another abstract's figure answers another study's question."""
    doc = ranked[0][1].chunk.doc_id
    assert question.kind is not None
    return [
        (p, unit, feats)
        for p, unit, feats in ranked
        if p >= floor and unit.chunk.doc_id == doc and satisfies(question.kind, unit.text)
    ]


def _part_pieces(every: Ranked, question: Question, floor: float) -> Ranked:
    """One piece for each part of a compound question, in the parts' order.

    A part's candidates are the pieces scoring at least ``floor`` that hold, within
    ``PART_TOLERANCE``, the most of its terms (more than half of them; a part no piece holds
    so much of gets none). The section heading of a piece that opens by referring back counts
    as part of it (``_held``): under "Bone marrow MSCs (BM-MSCs)" the sentence "It also ...
    helps repair damaged tissues" holds "BM-MSCs"; a sentence naming its own subject does not
    take the heading's (under "The characteristics of bone marrow, fat and cord MSCs" a
    sentence about all three is not about bone marrow ones).

    The parts are then given their pieces together, as many distinct pieces as there are
    parts when the candidates allow it, the best-ranked ones among those: in "How do BM-MSCs
    treat Parkinson's disease and what did the trial find?" the trial sentence names BM-MSCs
    and Parkinson's disease too, but it answers the second part, and the first part gets the
    sentence about how they treat it instead of leaning on the trial's.
    """
    if not question.parts:
        return []
    pool = [r for r in every if r[0] >= floor][:PART_POOL]
    options: list[list[int]] = []
    for part in question.parts:
        shares = [question.share(_held(r[1]), part) for r in pool]
        most = max(shares, default=0.0)
        if most <= 0.5:
            options.append([-1])
            continue
        options.append([i for i, s in enumerate(shares) if s >= most - PART_TOLERANCE][:4])
    best: tuple[int, int] | None = None
    choice: tuple[int, ...] = ()
    for combo in itertools.product(*options):
        taken = [i for i in combo if i >= 0]
        key = (len(set(taken)), -sum(taken))  # more distinct pieces, then better-ranked ones
        if best is None or key > best:
            best, choice = key, combo
    return [pool[i] for i in dict.fromkeys(i for i in choice if i >= 0)]


def _unnamed_country(retrieval: Retrieval) -> bool:
    """Whether the question names a country (ISO 3166) that no document names, in this form
    or another one the retrieved passages use ("USA" where they say "United States")."""
    unknown = {w.lower() for w in retrieval.unknown_names}
    unnamed = [
        name
        for name in places(retrieval.corrected)
        if all(w.lower().strip(".") in unknown for w in name.split())
    ]
    if not unnamed:
        return False
    named = passage_countries(retrieval)
    return any(country_code(name) not in named for name in unnamed)


def _overlaps(a: Unit, b: Unit) -> bool:
    return a.chunk.chunk_id == b.chunk.chunk_id and a.start < b.end and b.start < a.end


def _words(text: str) -> set[str]:
    return set(_WORD.findall(text.lower()))


def _jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


_REFERS = re.compile(r"\s*(?:it|its|they|their|them|this|these|such)\b", re.I)


def _held(unit: Unit) -> frozenset[int]:
    """The terms a piece holds, its section heading's too when it opens by referring back."""
    if _REFERS.match(unit.text):
        return unit.found | unit.members[0].heading
    return unit.found
