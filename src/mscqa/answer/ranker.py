"""Which answer unit answers the question: a linear score over the evidence of each unit.

Every sentence of the retrieved passages (and of the best document's other passages) is the
centre of one unit (``units.unit_around``); the distinct units are scored by
``sum_i w_i * x_i`` over ``FEATURES``: the unit's own cosine to the question and
to the question with its conversation, the share of the question's terms it holds, whether its
section heading names them, its passage's retrieval score and rank, its neighbours' cosine,
whether it is a pointer without its completion, whether it gives the kind of figure the question
asks for, whether a list question meets a sentence that enumerates, and the role of its section
in a structured text (``answer.roles``: results, methods, background). Which of them count,
and how much, is ``RANKER_WEIGHTS`` (see there: a listwise model fitted on the dev questions
did not beat the hand-set weights, so those ship); a constant, so nothing is trained at run
time.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from mscqa.answer.expected import expected_type, satisfies
from mscqa.answer.roles import asks_method, section_role
from mscqa.answer.units import asks_aim, bare_line, is_pointer, states_aim, unit_around
from mscqa.types import Chunk, Retrieval, ScoredSentence

FEATURES = (
    "dense",
    "dense_mean",
    "context",
    "lexical",
    "section",
    "passage",
    "top_passage",
    "same_document",
    "neighbour",
    "pointer_only",
    "type_ok",
    "type_missing",
    "list_fit",
    "length",
    "size",
    "first",
    "novel",
    "aim",
    "behind_in_document",
    "behind_in_report",
    "in_results",
    "in_background",
    "in_methods",
)

# The ranking weights: the old answerer's sentence score (0.45 cosine + 0.25 shared words + 0.3
# passage score, times 10 so that ``AnswerPolicy.margin`` is on the scale of the features' log
# odds). A listwise model over all ``FEATURES`` was fitted on the dev questions
# (``bench/quality/ranker.py``, ``LEARNED_WEIGHTS`` there): out of fold it tied these weights on
# dev, and with no abstention threshold it quoted the gold fact less often on the test split
# (bench.quality.ablation, "selection only"), so the hand-set weights are the ones shipped.
# ``other_document`` (a unit outside the best passage's document) costs 0.5: in a corpus of
# many abstracts the best document's own sentences answer more often than a similar sentence
# of a neighbour (PubMed dev: cited gold 0.75 -> 0.78); a one-document corpus is unchanged.
# ``aim`` (a unit that states a study's aim or open question, to a question not about aims)
# costs 3: an abstract's objective restates the question in its own words and answers nothing
# (PubMed dev gold in the answer 0.722 -> 0.778, the second dev set 0.646 -> 0.709; article
# unchanged). ``behind_in_document`` (how far a unit's passage scores below the best passage,
# for units of the best document) gives back half of the passage score's gap: once the
# document is found, which of its passages matched the question's words best says less than
# the sentence's own match (article dev 0.952 -> 0.970, its second dev set 0.795 -> 0.819).
# ``in_results`` / ``in_methods`` / ``in_background`` (the unit's section is a structured
# text's results, to a question about a finding; its methods, to a question about how something
# was done; its background: ``answer.roles``) order a document's own units as ``aim`` does:
# the sentence that restates a question's setting in the methods or background is closer to
# it than the result that answers it (PubMed dev gold in the answer 0.806 -> 0.833, cited 0.806
# -> 0.889; the second dev set 0.747 -> 0.785, 0.823 -> 0.873; the article has no such
# headings and is unchanged; PubMedQA /ask unchanged at 0.974 / 0.4% refused). ``type_ok``
# (the unit gives the kind of figure the question asks for: ``answer.expected``) orders a
# document's own units the same way: "How many patients ... were started on CPAP?" is answered
# by the methods' "Twelve patients ... were included", not by the background sentence that
# restates the question (PubMed dev gold in the answer 0.833 -> 0.889, cited 0.889 -> 0.944;
# the second dev set 0.797 -> 0.835, 0.886 -> 0.899; the article's dev files and PubMedQA /ask,
# 0.976 / 0.4% refused, unchanged; 1.0 and 2.0 gain less or refuse one more in scope). It is
# no evidence that any piece answers: which pieces are good enough to quote, and the
# confidence model's ``type_missing``, are judged without it (``answerer._choose``).
# ``behind_in_report`` gives back the other half of that gap when the unit's section has an
# IMRaD role (``answer.roles``), so within the best document of a structured report the
# passage score does not count at all (1.5 + 1.5 = the passage weight): an abstract's sections
# are short, and the one sharing most of the question's words is the background or methods
# restating it, not the result that answers (PubMed dev2 gold in the answer 0.848 -> 0.873,
# cited 0.899 -> 0.924; pubmed.dev 0.889 both, 0.944 both, one question won and one lost; the
# article has no such sections and is unchanged; PubMedQA /ask unchanged at 0.976 / 0.4%).
RANKER_WEIGHTS: dict[str, float] = {
    "dense": 4.5,
    "lexical": 2.5,
    "passage": 3.0,
    "other_document": -0.5,
    "aim": -3.0,
    "behind_in_document": 1.5,
    "behind_in_report": 1.5,
    "in_results": 1.0,
    "in_methods": 1.0,
    "in_background": -0.5,
    "type_ok": 1.5,
}

# The features that order a document's own units and not documents (``_within_documents``).
WITHIN_DOCUMENT = ("aim", "in_results", "in_methods", "in_background", "type_ok")

_LIST_Q = re.compile(
    r"\b(list|name|enumerate|which (are|were) the|what (are|were) (the|all|some)|"
    r"(what|which) (kinds?|types?|sorts?|ones|diseases|conditions|tissues|cells|measures|outcomes|"
    r"ways|effects|parts|components|groups|substances|factors)\b)",
    re.IGNORECASE,
)
# "Which products has South Korea approved?", "What drugs did they test?": a plural noun asked
# for with "which"/"what" asks for the things themselves, a list, when it asks for no figure or
# name of another kind (``Question.of``: "which countries" asks for places)
_PLURAL_Q = re.compile(
    r"\b(?:what|which)\s+(?:[\w-]+\s+){0,3}?[a-z-]*[a-z-][^siu\W]s\s+"
    r"(?:has|have|had|did|do|does|are|were|is|was|can|could|will|would)\b",
    re.IGNORECASE,
)
_PICTURE_Q = re.compile(
    r"\b(tables?|figures?|images?|charts?|pictures?|diagrams?|graphs?|photos?)\b", re.I
)
_ENUMERATION = re.compile(r",|;|\band\b|\bor\b")


@dataclass(frozen=True, slots=True)
class Question:
    """What the answerer knows about the question itself (from its text and its terms)."""

    kind: tuple[str, str | None] | None  # the kind of figure it asks for (answer.expected)
    listing: bool  # it asks to list or name several things
    weights: tuple[float, ...]  # its terms' weights (``Retrieval.terms``)
    parts: tuple[frozenset[int], ...] = ()  # the terms of each sub-question, if compound
    pictured: bool = False  # it asks for a table, figure or image
    aim: bool = False  # it asks for a study's aim (``units.asks_aim``)
    method: bool = False  # it asks how something was done (``roles.asks_method``)
    subject: frozenset[int] = frozenset()  # the terms naming its subject (``Retrieval``)
    sides: tuple[frozenset[int], ...] = ()  # the terms of each side it compares

    @classmethod
    def of(cls, question: str, retrieval: Retrieval) -> Question:
        kind = expected_type(question)
        return cls(
            kind,
            bool(_LIST_Q.search(question) or (kind is None and _PLURAL_Q.search(question))),
            retrieval.terms,
            retrieval.parts,
            bool(_PICTURE_Q.search(question)),
            asks_aim(question),
            kind is None and asks_method(question),  # a figure is a finding
            retrieval.subject_terms,
            retrieval.sides,
        )

    def share(self, found: frozenset[int], of: frozenset[int] | None = None) -> float:
        """The share of the question's term weight (or of the terms ``of``) in ``found``."""
        terms = set(range(len(self.weights))) if of is None else of
        total = sum(self.weights[i] for i in terms)
        return sum(self.weights[i] for i in found & terms) / total if total else 0.0


@dataclass(frozen=True, slots=True)
class Unit:
    """Adjacent sentences of one passage quoted as one piece."""

    members: tuple[ScoredSentence, ...]
    complete: bool  # False: it ends on a pointer whose completion is not in the passage
    neighbour: float  # best cosine of the sentences just before and after it (0 if none)
    position: int  # index of its first sentence in the passage

    @property
    def chunk(self) -> Chunk:
        return self.members[0].chunk

    @property
    def start(self) -> int:
        return self.members[0].start

    @property
    def end(self) -> int:
        return self.members[-1].end

    @property
    def text(self) -> str:
        """The piece exactly as in the passage (what the answer quotes)."""
        chunk = self.chunk
        return chunk.text[self.start - chunk.start : self.end - chunk.start]

    @property
    def found(self) -> frozenset[int]:
        return frozenset().union(*(s.found for s in self.members))


def units(retrieval: Retrieval, grouped: bool = True) -> list[Unit]:
    """The distinct units of the retrieval's scored sentences, passage by passage (with
    ``grouped=False``, every sentence alone)."""
    by_chunk: dict[str, list[ScoredSentence]] = {}
    for s in retrieval.sentences:
        by_chunk.setdefault(s.chunk.chunk_id, []).append(s)
    out: list[Unit] = []
    for scored in by_chunk.values():
        scored.sort(key=lambda s: s.start)
        texts = [_text(s) for s in scored]
        seen: set[tuple[int, int]] = set()
        chunk = scored[0].chunk if scored else None
        for i in range(len(scored)):
            first, last, complete = unit_around(texts, i) if grouped else (i, i, True)
            if (first, last) in seen or (
                chunk is not None and _bare(chunk, scored[first : last + 1])
            ):
                continue
            seen.add((first, last))
            around = [scored[j].dense for j in (first - 1, last + 1) if 0 <= j < len(scored)]
            out.append(
                Unit(tuple(scored[first : last + 1]), complete, max(around, default=0.0), first)
            )
    return out


def unit_features(
    unit: Unit,
    question: Question,
    top_doc: str | None,
    passage: frozenset[int] = frozenset(),
    passage_kind: bool = False,
) -> dict[str, float]:
    """The evidence ``unit`` answers ``question`` (all in [0, 1] or {0, 1}); ``passage``: the
    question's terms that the unit's passage holds (its scored sentences'; a structured
    report's whole document, ``_topic``), ``passage_kind``: whether that passage gives the kind
    of answer a question about harm asks for."""
    members = unit.members
    # A pointer ("BM-MSCs also have obvious disadvantages.") is close to every question about
    # its topic and says nothing; the unit is as close as the sentences that carry content.
    content = [s for s in members if not is_pointer(_text(s))] or list(members)
    dense = [s.dense for s in content]
    text = unit.text
    if question.kind is not None and question.kind[0] == "harm":
        # A question about harm or safety is answered from a passage that states one, about
        # the question's own subject (named in the unit, its heading, or its passage, a
        # structured report's whole document): not
        # from "no significant side effects were seen in the Parkinson's trial" for "What are
        # the side effects of Prochymal?". The passage, not the unit: an abstract that
        # answers "Is laparoscopic adrenalectomy safe?" says so in its results, whose best
        # sentence may give the outcomes without a word of harm.
        # A structured report's sections are about the one study its document reports, whose
        # subject retrieval found: there the statement is enough (the word read as the
        # subject is often a modifier its abstract never repeats: "delayed" of "Will delayed
        # surgery increase the complications?").
        kind_ok = passage_kind and (
            not question.subject
            or _topic(unit.chunk) == unit.chunk.doc_id
            or bool(question.subject & (unit.found | members[0].heading | passage))
        )
    else:
        kind_ok = question.kind is not None and satisfies(question.kind, text)
    role = section_role(unit.chunk.section)
    items = len(_ENUMERATION.findall(text))
    return {
        "dense": max(dense),
        "dense_mean": sum(dense) / len(dense),
        "context": max(s.context for s in content),
        "lexical": question.share(_found(unit, content)),
        "section": members[0].section,
        "passage": members[0].chunk_score,
        "top_passage": float(members[0].chunk_rank == 0),
        "same_document": float(unit.chunk.doc_id == top_doc),
        "other_document": float(top_doc is not None and unit.chunk.doc_id != top_doc),
        "neighbour": unit.neighbour,
        "pointer_only": float(not unit.complete),
        "type_ok": float(kind_ok),
        "type_missing": float(question.kind is not None and not kind_ok),
        "list_fit": float(question.listing) * min(1.0, items / 4),
        "length": min(1.0, len(text.split()) / 60),
        "size": min(1.0, (len(members) - 1) / 3),
        "first": float(unit.position == 0),
        "novel": sum(s.novel for s in content) / len(content),
        "aim": float(not question.aim and any(states_aim(_text(s)) for s in content)),
        "behind_in_document": float(unit.chunk.doc_id == top_doc) * (1 - members[0].chunk_score),
        "behind_in_report": float(unit.chunk.doc_id == top_doc and role is not None)
        * (1 - members[0].chunk_score),
        "in_results": float(role == "results" and not question.method),
        "in_background": float(role == "background"),
        "in_methods": float(role == "methods" and question.method),
    }


def score(feats: Mapping[str, float], weights: Mapping[str, float] = RANKER_WEIGHTS) -> float:
    """``sum_i w_i * x_i``: how well the unit answers the question, on a log-odds scale
    (``exp(score)`` over the question's candidates, normalised, is the ranker's belief)."""
    return sum(weights.get(k, 0.0) * v for k, v in feats.items())


def rank(
    retrieval: Retrieval,
    question: Question,
    weights: Mapping[str, float] = RANKER_WEIGHTS,
    grouped: bool = True,
) -> list[tuple[float, Unit, dict[str, float]]]:
    """Every unit with its score and features, best first (ties: the better passage, then
    document order)."""
    top_doc = retrieval.hits[0].chunk.doc_id if retrieval.hits else None
    scored = []
    held: dict[str, frozenset[int]] = {}
    states: dict[str, bool] = {}
    if question.kind is not None and question.kind[0] == "harm":
        # per topic: the question's terms its scored sentences hold, and whether it (or its
        # heading) states a harm or safety
        seen: set[str] = set()
        for s in retrieval.sentences:
            key = _topic(s.chunk)
            held[key] = held.get(key, frozenset()) | s.found
            if s.chunk.chunk_id not in seen:
                seen.add(s.chunk.chunk_id)
                text = f"{s.chunk.section or ''}\n{s.chunk.text}"
                states[key] = states.get(key, False) or satisfies(question.kind, text)
    for unit in units(retrieval, grouped):
        key = _topic(unit.chunk)
        feats = unit_features(
            unit, question, top_doc, held.get(key, frozenset()), states.get(key, False)
        )
        scored.append((score(feats, weights), unit, feats))
    within = {k: weights[k] for k in WITHIN_DOCUMENT if weights.get(k)}
    if within:
        scored = _within_documents(scored, within)
    scored.sort(key=lambda t: (-t[0], t[1].members[0].chunk_rank, t[1].start))
    return scored


def _topic(chunk: Chunk) -> str:
    """What a passage's sentences are about together: its document when its section is a part
    of a structured report (``roles.section_role``: an abstract's background, methods and
    results are about one study, which its results need not name again), else the passage
    itself (a topic heading's sections are about different things)."""
    return chunk.doc_id if section_role(chunk.section) else chunk.chunk_id


def _within_documents(
    scored: list[tuple[float, Unit, dict[str, float]]], weights: Mapping[str, float]
) -> list[tuple[float, Unit, dict[str, float]]]:
    """The ``WITHIN_DOCUMENT`` features (``weights``) order a document's own units, not
    documents: the ``aim`` cost, the section roles (``answer.roles``) and the asked figure
    (``type_ok``).

    Which sentence of an abstract answers is its result, not its restated aim; but the aim
    sentence matching the question best is the evidence that the abstract is the right one
    ("To compare a sliding hip screw and an intramedullary nail in pertrochanteric fractures"
    for "Pertrochanteric fractures: is there an advantage to an intramedullary nail?"). So a
    document's units are ranked with the cost and then shifted together so that the best of
    them scores what the document's best unit scores without it: between documents the order
    and the distances are those without the cost, within one those with it.

        s'(u) = s(u) + max_{v in doc(u)} (s(v) - sum_k w_k x_k(v)) - max_{v in doc(u)} s(v)

    Subtracting the cost alone took the first citation of 7 of PubMedQA's 1000 questions away
    from their own abstract (bench.quality.pubmedqa; one of them to a refusal, as the score the
    confidence model reads fell with it). The section roles added to every unit's score (in a
    trial together with a weight for the answer type) took PubMedQA's first citation from
    0.974 to 0.971 and its refusals from 0.4% to 0.6%; within documents, neither moves.
    """
    if not any(f[k] for _, _, f in scored for k in weights):
        return scored  # nothing to shift: the common case, kept cheap
    docs = [u.members[0].chunk.doc_id for _, u, _ in scored]
    raw: dict[str, float] = {}
    costed: dict[str, float] = {}
    for doc, (p, _, feats) in zip(docs, scored, strict=True):
        without = p - sum(w * feats[k] for k, w in weights.items())
        if without > raw.get(doc, -math.inf):
            raw[doc] = without
        if p > costed.get(doc, -math.inf):
            costed[doc] = p
    shift = {doc: raw[doc] - costed[doc] for doc in raw}
    return [(p + shift[doc], u, f) for doc, (p, u, f) in zip(docs, scored, strict=True)]


def _found(unit: Unit, content: list[ScoredSentence]) -> frozenset[int]:
    """The question terms the unit holds: those of its best content sentence and of its
    pointer (which names the topic), not the union of every sentence, which would favour long
    units for holding a little of everything."""
    pointers = [s.found for s in unit.members if s not in content]
    best = max(content, key=lambda s: (len(s.found), s.dense)).found
    return frozenset().union(best, *pointers)


def _bare(chunk: Chunk, members: Sequence[ScoredSentence]) -> bool:
    """Whether every sentence of a unit is a bare line (``units.bare_line``)."""
    at = chunk.start
    return all(bare_line(chunk.text, s.start - at, s.end - at) for s in members)


def vector(feats: Mapping[str, float], names: Sequence[str] = FEATURES) -> list[float]:
    return [feats[n] for n in names]


def _text(s: ScoredSentence) -> str:
    return s.chunk.text[s.start - s.chunk.start : s.end - s.chunk.start]
