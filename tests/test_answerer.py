"""Extractive answers: verbatim cited sentences, abstention and confidence."""

from __future__ import annotations

import dataclasses
import re

import pytest

from mscqa.answer.answerer import (
    CONFIDENCE_WEIGHTS,
    NOT_FOUND,
    AnswerPolicy,
    answer,
    confidence,
    features,
    sentence_score,
)
from mscqa.ingest.chunker import split_sentences
from mscqa.retrieval.retriever import Retrieval, ScoredSentence
from mscqa.types import Chunk, Hit

DOC_A = (
    "Adipose stem cells are collected by liposuction. The procedure uses a small incision. "
    "Japan has approved adipose stem cell products."
)
DOC_B = (
    "Bone marrow stem cells support hematopoiesis. Bone marrow collection is painful. "
    "Bone marrow collection is very painful."
)


def make_chunk(doc_id: str, n: int, text: str, offset: int = 100) -> Chunk:
    spans = tuple(split_sentences(text, offset))
    return Chunk(
        f"{doc_id}#{n}", doc_id, n, doc_id, "Section", offset, offset + len(text), text, "h", spans
    )


CHUNK_A = make_chunk("a.md", 0, DOC_A)
CHUNK_B = make_chunk("b.txt", 3, DOC_B, offset=7)
CHUNK_C = make_chunk("c.md", 1, "Umbilical cord cells come from cord tissue.")


def sent(
    chunk: Chunk,
    i: int,
    dense: float,
    lexical: float = 0.5,
    chunk_score: float = 1.0,
    rank: int = 0,
) -> ScoredSentence:
    start, end = chunk.sentences[i]
    values = {
        "chunk_rank": rank,
        "chunk_score": chunk_score,
        "chunk": chunk,
        "start": start,
        "end": end,
        "dense": dense,
        "context": dense,  # cosine against the contextualised query, where the record has it
        "lexical": lexical,
    }
    names = {f.name for f in dataclasses.fields(ScoredSentence)}
    return ScoredSentence(**{k: v for k, v in values.items() if k in names})


def text_of(s: ScoredSentence) -> str:
    return s.chunk.text[s.start - s.chunk.start : s.end - s.chunk.start]


def retrieval(
    sentences: list[ScoredSentence],
    hits: list[Hit] | None = None,
    *,
    top_dense: float = 0.9,
    coverage: float = 1.0,
    known: float = 1.0,
) -> Retrieval:
    if hits is None:
        hits = [
            Hit(0, CHUNK_A, 0.9, 0.9, 3.0),
            Hit(1, CHUNK_B, 0.6, 0.6, 1.0),
            Hit(2, CHUNK_C, 0.3, 0.3, 0.0),
        ]
    return Retrieval(
        query="q",
        hits=hits,
        sentences=sentences,
        top_dense=top_dense,
        coverage=coverage,
        known=known,
        corrected="q",
    )


def weak(sentences: list[ScoredSentence] | None = None) -> Retrieval:
    """A retrieval with no evidence at all: every confidence feature is zero."""
    sentences = sentences if sentences is not None else [sent(CHUNK_A, 0, 0.0, lexical=0.0)]
    return retrieval(sentences, top_dense=0.0, coverage=0.0, known=0.0)


def parse(text: str) -> list[tuple[str, int]]:
    parts = re.findall(r"(.+?) \[(\d+)\](?: |$)", text)
    assert " ".join(f"{s} [{n}]" for s, n in parts) == text
    return [(s, int(n)) for s, n in parts]


# --- abstention --------------------------------------------------------------------------------


def test_abstains_below_min_confidence() -> None:
    out = answer("What is football?", weak(), AnswerPolicy(min_confidence=0.5))
    assert out.answered is False
    assert out.text == NOT_FOUND
    assert out.citations == ()
    assert out.confidence < 0.5
    assert out.meta == features(weak())
    assert [c.chunk.chunk_id for c in out.related] == ["a.md#0", "b.txt#3", "c.md#1"]
    assert [c.n for c in out.related] == [1, 2, 3]
    assert [c.score for c in out.related] == [0.9, 0.6, 0.3]


def test_abstention_lists_at_most_policy_related() -> None:
    out = answer("q", weak(), AnswerPolicy(related=2))
    assert not out.answered
    assert len(out.related) == 2


def test_abstains_without_sentences_even_when_confident() -> None:
    out = answer("q", retrieval([]), AnswerPolicy(min_confidence=0.0))
    assert not out.answered and out.text == NOT_FOUND and out.citations == ()


def test_min_confidence_is_the_threshold() -> None:
    r = retrieval([sent(CHUNK_A, 0, 0.5)], top_dense=0.5, coverage=0.5)
    conf = confidence(features(r))
    assert answer("q", r, AnswerPolicy(min_confidence=conf - 1e-6)).answered
    assert not answer("q", r, AnswerPolicy(min_confidence=min(1.0, conf + 1e-3))).answered


# --- answers -----------------------------------------------------------------------------------


def test_answer_sentences_are_verbatim_and_cited() -> None:
    sentences = [
        sent(CHUNK_B, 1, 0.80, rank=1),
        sent(CHUNK_A, 0, 0.85),
        sent(CHUNK_A, 2, 0.70),
        sent(CHUNK_C, 0, 0.20, chunk_score=0.3, rank=2),
    ]
    out = answer("How are stem cells collected?", retrieval(sentences), AnswerPolicy())
    assert out.answered
    parsed = parse(out.text)
    assert len(parsed) == 3
    by_n = {c.n: c for c in out.citations}
    for quote, n in parsed:
        citation = by_n[n]
        assert quote in citation.chunk.text
        spans = [
            citation.chunk.text[s - citation.chunk.start : e - citation.chunk.start]
            for s, e in citation.sentences
        ]
        assert quote in spans
    # the best sentence comes first, then by score
    assert [q for q, _ in parsed] == [
        "Adipose stem cells are collected by liposuction.",
        "Bone marrow collection is painful.",
        "Japan has approved adipose stem cell products.",
    ]
    # citations numbered 1..m in order of first use; both A sentences share [1]
    assert [n for _, n in parsed] == [1, 2, 1]
    assert [(c.n, c.chunk.chunk_id) for c in out.citations] == [(1, "a.md#0"), (2, "b.txt#3")]
    assert out.citations[0].sentences == (CHUNK_A.sentences[0], CHUNK_A.sentences[2])
    assert [c.score for c in out.citations] == [0.9, 0.6]
    # uncited hits are related, numbered after the citations
    assert [(c.n, c.chunk.chunk_id) for c in out.related] == [(3, "c.md#1")]


def test_at_most_max_sentences() -> None:
    sentences = [sent(CHUNK_A, i, 0.8) for i in range(3)] + [sent(CHUNK_C, 0, 0.8)]
    for m in (1, 2, 4):
        out = answer("q", retrieval(sentences), AnswerPolicy(max_sentences=m, margin=1.0))
        assert len(parse(out.text)) == min(m, 4)


def test_near_duplicate_sentences_are_dropped() -> None:
    sentences = [sent(CHUNK_B, 1, 0.90), sent(CHUNK_B, 2, 0.89), sent(CHUNK_B, 0, 0.85)]
    out = answer("q", retrieval(sentences), AnswerPolicy(max_sentences=3, margin=1.0))
    quotes = [q for q, _ in parse(out.text)]
    assert quotes == [
        "Bone marrow collection is painful.",
        "Bone marrow stem cells support hematopoiesis.",
    ]


def test_sentences_far_below_the_best_are_not_added() -> None:
    best, close, far = sent(CHUNK_A, 0, 0.9), sent(CHUNK_A, 2, 0.75), sent(CHUNK_C, 0, 0.5)
    assert (
        sentence_score(best) - sentence_score(close)
        < 0.12
        < (sentence_score(best) - sentence_score(far))
    )
    out = answer("q", retrieval([far, close, best]), AnswerPolicy(max_sentences=3))
    quotes = [q for q, _ in parse(out.text)]
    assert quotes == [text_of(best), text_of(close)]
    wide = answer("q", retrieval([far, close, best]), AnswerPolicy(max_sentences=3, margin=0.5))
    assert len(parse(wide.text)) == 3


def test_answer_is_deterministic() -> None:
    r = retrieval([sent(CHUNK_A, 0, 0.8), sent(CHUNK_B, 0, 0.8)])
    assert answer("q", r) == answer("q", r)


# --- confidence ----------------------------------------------------------------------------------

BASE = {"top_dense": 0.5, "best_sentence": 0.5, "coverage": 0.5, "known": 0.5, "best_lexical": 0.5}


@pytest.mark.parametrize("feature", sorted(BASE))
def test_confidence_is_monotonic_in_each_feature(feature: str) -> None:
    values = [confidence({**BASE, feature: x / 10}) for x in range(11)]
    assert all(0.0 < v < 1.0 for v in values)
    # more evidence never lowers the confidence
    assert values == sorted(values), f"confidence falls as {feature} rises"


def test_confidence_rises_with_the_main_evidence() -> None:
    for feature in ("top_dense", "best_sentence"):
        assert CONFIDENCE_WEIGHTS[feature] > 0
        low, high = confidence({**BASE, feature: 0.2}), confidence({**BASE, feature: 0.9})
        assert high > low


def test_confidence_extremes_and_features() -> None:
    high = retrieval([sent(CHUNK_A, 0, 1.0, lexical=1.0)], top_dense=1.0, coverage=1.0)
    assert confidence(features(high)) > 0.9
    assert confidence(features(weak())) < 0.1
    high = retrieval([sent(CHUNK_A, 0, 0.95, lexical=0.9)], top_dense=0.95, coverage=1.0)
    f = features(high)
    assert f["best_sentence"] == 0.95 and f["best_lexical"] == 0.9 and f["coverage"] == 1.0
    assert answer("q", high).meta == f


def test_confidence_does_not_overflow() -> None:
    assert confidence({**BASE, "top_dense": 1e6}) == pytest.approx(1.0)
    assert confidence({**BASE, "top_dense": -1e6}) == pytest.approx(0.0)


@pytest.mark.parametrize(
    "kwargs",
    [{"max_sentences": 0}, {"min_confidence": -0.1}, {"min_confidence": 1.1}],
)
def test_answer_policy_validation(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        AnswerPolicy(**kwargs)
