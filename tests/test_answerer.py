"""Extractive answers: verbatim cited pieces, answer units, no padding, abstention, confidence."""

from __future__ import annotations

import dataclasses
import re

import pytest

from mscqa.answer import (
    CONFIDENCE_WEIGHTS,
    NOT_FOUND,
    AnswerPolicy,
    answer,
    confidence,
    features,
)
from mscqa.answer.ranker import Question, rank
from mscqa.ingest.sentences import split_sentences
from mscqa.types import Chunk, Hit, Retrieval, ScoredSentence, Unreadable

DOC_A = (
    "Adipose stem cells are collected by liposuction. The procedure uses a small incision. "
    "Japan has approved adipose stem cell products."
)
DOC_B = (
    "Bone marrow stem cells support hematopoiesis. Bone marrow collection is painful. "
    "Bone marrow collection is very painful."
)
DOC_D = (
    "It has anti-inflammatory properties. However, BM-MSCs also have obvious disadvantages. "
    "For example, the number of cells is limited. In addition, the collection hurts. "
    "They are widely studied."
)

# a ranker that orders pieces by their own cosine only, so each test controls the order
BY_DENSE = {"dense": 10.0}
EVIDENT = {"bias": 10.0}  # a confidence model that is always sure (tests that are not about it)


def make_chunk(doc_id: str, n: int, text: str, offset: int = 100, section: str = "S") -> Chunk:
    spans = tuple(split_sentences(text, offset))
    return Chunk(
        f"{doc_id}#{n}", doc_id, n, doc_id, section, offset, offset + len(text), text, "h", spans
    )


CHUNK_A = make_chunk("a.md", 0, DOC_A)
CHUNK_B = make_chunk("b.txt", 3, DOC_B, offset=7)
CHUNK_C = make_chunk("c.md", 1, "Umbilical cord cells come from cord tissue.")
CHUNK_D = make_chunk("d.md", 0, DOC_D, section="BM-MSCs")


def sent(
    chunk: Chunk,
    i: int,
    dense: float,
    lexical: float = 0.5,
    chunk_score: float = 1.0,
    rank: int = 0,
    found: frozenset[int] = frozenset(),
) -> ScoredSentence:
    start, end = chunk.sentences[i]
    return ScoredSentence(rank, chunk_score, chunk, start, end, dense, dense, lexical, found=found)


def text_of(s: ScoredSentence) -> str:
    return s.chunk.text[s.start - s.chunk.start : s.end - s.chunk.start]


def retrieval(
    sentences: list[ScoredSentence],
    hits: list[Hit] | None = None,
    *,
    top_dense: float = 0.9,
    coverage: float = 1.0,
    known: float = 1.0,
    terms: tuple[float, ...] = (),
    parts: tuple[frozenset[int], ...] = (),
    unreadable: tuple[tuple[Unreadable, float], ...] = (),
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
        terms=terms,
        parts=parts,
        unreadable=unreadable,
    )


def weak(sentences: list[ScoredSentence] | None = None) -> Retrieval:
    """A retrieval with no evidence at all: every confidence feature is zero."""
    sentences = sentences if sentences is not None else [sent(CHUNK_A, 0, 0.0, lexical=0.0)]
    return retrieval(sentences, top_dense=0.0, coverage=0.0, known=0.0)


def policy(**kwargs: object) -> AnswerPolicy:
    return AnswerPolicy(**({"ranker": BY_DENSE, "confidence": EVIDENT} | kwargs))  # type: ignore[arg-type]


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
    assert [c.chunk.chunk_id for c in out.related] == ["a.md#0", "b.txt#3", "c.md#1"]
    assert [c.n for c in out.related] == [1, 2, 3]
    assert [c.score for c in out.related] == [0.9, 0.6, 0.3]


def test_abstention_lists_at_most_policy_related() -> None:
    out = answer("q", weak(), AnswerPolicy(related=2))
    assert not out.answered
    assert len(out.related) == 2


def test_abstains_without_sentences_even_when_confident() -> None:
    out = answer("q", retrieval([]), policy(min_confidence=0.0))
    assert not out.answered and out.text == NOT_FOUND and out.citations == ()


def test_min_confidence_is_the_threshold() -> None:
    r = retrieval([sent(CHUNK_A, 0, 0.5)], top_dense=0.5, coverage=0.5)
    conf = answer("q", r, AnswerPolicy(min_confidence=0.0)).confidence
    assert answer("q", r, AnswerPolicy(min_confidence=conf - 1e-3)).answered
    assert not answer("q", r, AnswerPolicy(min_confidence=min(1.0, conf + 1e-3))).answered


# --- answers -----------------------------------------------------------------------------------


def test_answer_pieces_are_verbatim_and_cited() -> None:
    sentences = [
        sent(CHUNK_B, 1, 0.80, rank=1),
        sent(CHUNK_A, 0, 0.85),
        sent(CHUNK_A, 2, 0.78),
        sent(CHUNK_C, 0, 0.20, chunk_score=0.3, rank=2),
    ]
    out = answer("How are stem cells collected?", retrieval(sentences), policy(margin=1.0))
    assert out.answered
    parsed = parse(out.text)
    assert [q for q, _ in parsed] == [
        "Adipose stem cells are collected by liposuction.",
        "Bone marrow collection is painful.",
        "Japan has approved adipose stem cell products.",
    ]
    # citations numbered 1..m in order of first use; both A pieces share [1]
    assert [n for _, n in parsed] == [1, 2, 1]
    assert [(c.n, c.chunk.chunk_id) for c in out.citations] == [(1, "a.md#0"), (2, "b.txt#3")]
    assert out.citations[0].sentences == (CHUNK_A.sentences[0], CHUNK_A.sentences[2])
    assert [c.score for c in out.citations] == [0.9, 0.6]
    # every span is exactly a quoted piece
    for c in out.citations:
        for s, e in c.sentences:
            assert c.chunk.text[s - c.chunk.start : e - c.chunk.start] in [q for q, _ in parsed]
    assert [(c.n, c.chunk.chunk_id) for c in out.related] == [(3, "c.md#1")]


def test_a_pointer_is_quoted_with_the_sentences_that_complete_it() -> None:
    sentences = [sent(CHUNK_D, i, d) for i, d in enumerate([0.3, 0.9, 0.5, 0.4, 0.2])]
    out = answer("What are the disadvantages of BM-MSCs?", retrieval(sentences), policy())
    assert parse(out.text) == [
        (
            "However, BM-MSCs also have obvious disadvantages. For example, the number of "
            "cells is limited. In addition, the collection hurts.",
            1,
        )
    ]
    # one highlight covering the whole piece, from the pointer to the last completing sentence
    (span,) = out.citations[0].sentences
    assert span == (CHUNK_D.sentences[1][0], CHUNK_D.sentences[3][1])


def test_an_example_is_quoted_with_the_claim_it_illustrates() -> None:
    sentences = [sent(CHUNK_D, i, d) for i, d in enumerate([0.1, 0.2, 0.9, 0.1, 0.1])]
    quoted = parse(answer("Why culture them?", retrieval(sentences), policy()).text)[0][0]
    assert quoted.startswith("However, BM-MSCs also have obvious disadvantages. For example")


def test_single_sentences_when_units_are_off() -> None:
    sentences = [sent(CHUNK_D, i, d) for i, d in enumerate([0.3, 0.9, 0.5, 0.4, 0.2])]
    out = answer("q", retrieval(sentences), policy(units=False))
    assert parse(out.text)[0][0] == "However, BM-MSCs also have obvious disadvantages."


def test_a_further_piece_must_answer_too() -> None:
    best, close, far = sent(CHUNK_A, 0, 0.9), sent(CHUNK_A, 2, 0.82), sent(CHUNK_C, 0, 0.5)
    # scores 9, 8.2 and 5: within a margin of 1 only "close" joins the best
    out = answer("q", retrieval([far, close, best]), policy(margin=1.0))
    assert [q for q, _ in parse(out.text)] == [text_of(best), text_of(close)]
    wide = answer("q", retrieval([far, close, best]), policy(margin=5.0, further=5.0))
    assert len(parse(wide.text)) == 3


def test_each_part_of_a_compound_question_gets_its_piece() -> None:
    # terms 0-1 are the first part ("what are their advantages"), 2-3 the second ("how are they
    # collected"); the collection sentence scores too far below the best to join by margin
    first = sent(CHUNK_B, 0, 0.9, found=frozenset({0, 1}))
    second = sent(CHUNK_A, 0, 0.7, found=frozenset({2, 3}))
    r = retrieval([first, second], terms=(1.0, 1.0, 1.0, 1.0))
    assert len(parse(answer("q", r, policy(margin=1.0, gain=1.0)).text)) == 1
    compound = retrieval(
        [first, second], terms=(1.0, 1.0, 1.0, 1.0), parts=(frozenset({0, 1}), frozenset({2, 3}))
    )
    out = answer("q", compound, policy(margin=1.0, gain=1.0))
    assert [q for q, _ in parse(out.text)] == [text_of(first), text_of(second)]


def test_an_open_part_gets_the_piece_holding_most_of_it() -> None:
    # the second part's terms are 2-4; a better-ranked piece holds two of them, a lower one all
    first = sent(CHUNK_B, 0, 0.9, found=frozenset({0, 1}))
    some = sent(CHUNK_A, 0, 0.8, found=frozenset({2, 3}))
    most = sent(CHUNK_A, 1, 0.7, found=frozenset({2, 3, 4}))
    parts = (frozenset({0, 1}), frozenset({2, 3, 4}))
    r = retrieval([first, some, most], terms=(1.0,) * 5, parts=parts)
    out = answer("q", r, policy(margin=0.5, gain=1.0, max_sentences=2))
    assert [q for q, _ in parse(out.text)] == [text_of(first), text_of(most)]


def test_a_part_gets_its_own_piece_when_the_best_one_answers_another_part() -> None:
    # "How do BM-MSCs treat Parkinson's disease, and what did the trial find?": the trial
    # sentence (best) names BM-MSCs and Parkinson's too (terms 0-1), but it is there for the
    # second part (terms 2-3); the sentence holding the first part as fully joins for it
    chunk = make_chunk(
        "p.md",
        0,
        "A trial of BM-MSCs in Parkinson's found gains. BM-MSCs repair neurons in Parkinson's.",
    )
    trial = sent(chunk, 0, 0.9, found=frozenset({0, 1, 2, 3}))
    how = sent(chunk, 1, 0.7, found=frozenset({0, 1}))
    parts = (frozenset({0, 1}), frozenset({2, 3}))
    r = retrieval([trial, how], terms=(1.0,) * 4, parts=parts)
    out = answer("q", r, policy(margin=0.1, gain=1.0))
    assert [q for q, _ in parse(out.text)] == [text_of(trial), text_of(how)]
    # a question of one part: the trial sentence holds it all and stands alone
    single = retrieval([trial, how], terms=(1.0,) * 4)
    assert [q for q, _ in parse(answer("q", single, policy(margin=0.1, gain=1.0)).text)] == [
        text_of(trial)
    ]


def test_a_pieces_section_heading_counts_towards_a_part_when_it_refers_back() -> None:
    # "What do BM-MSCs do for tissue, and why expand them?": under the heading "BM-MSCs",
    # "It repairs tissue." holds the first part (terms 0-1) with its heading's term 0; another
    # sentence holds only term 1 of it
    chunk = make_chunk("p.md", 0, "BM-MSCs must be expanded. It repairs tissue.", section="BM-MSCs")
    other = make_chunk("q.md", 0, "Tissue is repaired by many cells.")
    expand = sent(chunk, 0, 0.9, found=frozenset({0, 2}))
    repairs = dataclasses.replace(sent(chunk, 1, 0.7, found=frozenset({1})), heading=frozenset({0}))
    loose = sent(other, 0, 0.8, found=frozenset({1}))
    parts = (frozenset({0, 1}), frozenset({2}))
    r = retrieval([expand, loose, repairs], terms=(1.0,) * 3, parts=parts)
    out = answer("q", r, policy(margin=0.1, gain=1.0, max_sentences=2))
    assert [q for q, _ in parse(out.text)] == [text_of(expand), text_of(repairs)]
    # a sentence that names its own subject does not take the heading's: under "The three
    # kinds of MSCs", "Cells repair tissue." is about no kind in particular
    chunk = make_chunk(
        "p.md", 0, "BM-MSCs must be expanded. Cells repair tissue.", section="BM-MSCs"
    )
    expand = sent(chunk, 0, 0.9, found=frozenset({0, 2}))
    general = dataclasses.replace(sent(chunk, 1, 0.7, found=frozenset({1})), heading=frozenset({0}))
    r = retrieval([expand, loose, general], terms=(1.0,) * 3, parts=parts)
    out = answer("q", r, policy(margin=0.1, gain=1.0, max_sentences=2))
    assert [q for q, _ in parse(out.text)] == [text_of(expand)]


def test_a_part_that_asks_for_no_figure_is_answered_without_one() -> None:
    # "Which country has approved it, and are products approved in China?": the place is asked
    # in the first part; the piece answering the second gives none and still joins
    chunk = make_chunk("p.md", 0, "Japan has approved adipose products. There are none in fat.")
    first = sent(chunk, 0, 0.9, found=frozenset({0}))
    second = sent(chunk, 1, 0.7, found=frozenset({1, 2}))
    parts = (frozenset({0}), frozenset({1, 2}))
    r = retrieval([first, second], terms=(1.0, 1.0, 1.0), parts=parts)
    out = answer("Which country has approved it, and are any approved?", r, policy())
    assert [q for q, _ in parse(out.text)] == [text_of(first), text_of(second)]


def test_a_piece_that_adds_the_missing_terms_joins() -> None:
    first = sent(CHUNK_B, 0, 0.9, found=frozenset({0}))
    other = sent(CHUNK_A, 0, 0.7, found=frozenset({1}))
    r = retrieval([first, other], terms=(1.0, 1.0))
    assert len(parse(answer("q", r, policy(margin=1.0, gain=0.4)).text)) == 2
    assert len(parse(answer("q", r, policy(margin=1.0, gain=0.6)).text)) == 1


def test_a_price_or_a_maker_no_piece_gives_is_refused_whatever_the_confidence() -> None:
    chunk = make_chunk(
        "p.md",
        0,
        "The U.S. Food and Drug Administration (FDA) has approved Prochymal for GVHD. "
        "Its high price limits its use.",
    )
    pieces = retrieval([sent(chunk, 0, 0.95), sent(chunk, 1, 0.9)])
    trusting = AnswerPolicy(min_confidence=0.0)
    for question in (
        "How much does Prochymal cost?",
        "Which company makes Prochymal?",
        "When did the FDA approve Prochymal?",
    ):
        assert not answer(question, pieces, trusting).answered, question
    # a question without a strict kind is answered from the same pieces, and with
    # ``strict_kinds=False`` (the ablation) the confidence model alone weighs the missing price
    assert answer("Has the FDA approved Prochymal?", pieces, trusting).answered
    weighed = dataclasses.replace(trusting, strict_kinds=False)
    assert answer("How much does Prochymal cost?", pieces, weighed).answered


def test_a_question_asking_for_a_figure_needs_a_piece_that_gives_one() -> None:
    question = "In which year did Japan approve it?"
    chunk = make_chunk("y.md", 0, "Japan approved it in 2015. It is made of fat cells.")
    with_year = [sent(chunk, 1, 0.9), sent(chunk, 0, 0.85)]
    out = answer(question, retrieval(with_year), policy())
    assert parse(out.text)[0][0] == "Japan approved it in 2015."  # the one that gives it
    no_year = retrieval([sent(CHUNK_A, 2, 0.9)])
    # a date is a strict kind (``STRICT_KINDS``): no piece gives one, no answer
    assert not answer(question, no_year, policy()).answered
    assert not answer("When did Japan approve it?", no_year, policy()).answered  # a time, too
    when = "How many products has Japan approved?"  # a count: not a strict kind
    assert not answer(when, no_year, policy(strict_types=True)).answered
    # by default a missing figure is evidence for the confidence model, not a refusal rule
    soft = answer(when, no_year, policy())
    assert soft.answered and soft.meta["type_missing"] == 1.0
    shipped = AnswerPolicy(min_confidence=0.0)
    assert (
        answer(when, no_year, shipped).confidence
        < answer("Has Japan approved it?", no_year, shipped).confidence
    )
    assert answer(when, no_year, policy(types=False)).meta["type_missing"] == 0.0


def test_a_question_about_a_country_no_document_names_is_not_answered() -> None:
    # the documents speak of Japan; a question about India gets no answer about Japan, however
    # close the rest of it is
    base = retrieval([sent(CHUNK_A, 2, 0.9)])
    india = dataclasses.replace(
        base, corrected="Are stem cell products approved in India?", unknown_names=("India",)
    )
    refused = answer(india.corrected, india, policy())
    assert not refused.answered and refused.meta["unnamed_country"] == 1.0
    assert answer(india.corrected, india, policy(places=False)).answered
    japan = dataclasses.replace(base, corrected="Are stem cell products approved in Japan?")
    assert answer(japan.corrected, japan, policy()).answered
    # a capitalised word the corpus lacks that is no country is the confidence model's to weigh
    other = dataclasses.replace(
        base, corrected="Is it sold by Mesoblast?", unknown_names=("Mesoblast",)
    )
    assert answer(other.corrected, other, policy()).answered


def test_a_country_the_passages_name_in_another_form_is_no_unknown_name() -> None:
    # "in the US" where the passages say "the U.S.": the documents do name that country
    us = make_chunk("us.md", 0, "The U.S. Food and Drug Administration approved Prochymal.")
    base = retrieval([sent(us, 0, 0.9)], [Hit(0, us, 0.9, 0.9, 1.0)])
    asked = dataclasses.replace(
        base, corrected="Is any product approved in the USA?", unknown_names=("USA",)
    )
    out = answer(asked.corrected, asked, policy())
    assert out.answered and out.meta["unknown_name"] == 0.0
    # a country the passages do not name stays unknown, and unnamed
    india = dataclasses.replace(
        base, corrected="Is any product approved in India?", unknown_names=("India",)
    )
    refused = answer(india.corrected, india, policy())
    assert not refused.answered and refused.meta["unknown_name"] == 1.0


def test_a_unit_outside_the_best_document_costs_its_weight() -> None:
    a, b = sent(CHUNK_A, 0, 0.60), sent(CHUNK_B, 0, 0.62, rank=1)
    r = retrieval([a, b])
    feats = {u.chunk.doc_id: f for _, u, f in rank(r, Question.of("q", r))}
    assert (feats["a.md"]["other_document"], feats["b.txt"]["other_document"]) == (0.0, 1.0)
    by_cosine = answer("q", r, policy(max_sentences=1))
    assert parse(by_cosine.text)[0][0] == text_of(b)
    ranker = {"dense": 10.0, "other_document": -0.5}
    preferring = answer("q", r, policy(ranker=ranker, max_sentences=1))
    assert parse(preferring.text)[0][0] == text_of(a)
    # one document: no unit is outside it
    alone = retrieval([a], hits=[Hit(0, CHUNK_A, 0.9, 0.9, 3.0)])
    assert all(f["other_document"] == 0.0 for _, _, f in rank(alone, Question.of("q", alone)))


def test_at_most_max_sentences() -> None:
    sentences = [sent(CHUNK_A, i, 0.8) for i in range(3)] + [sent(CHUNK_C, 0, 0.8)]
    for m in (1, 2, 4):
        out = answer("q", retrieval(sentences), policy(max_sentences=m))
        assert len(parse(out.text)) == min(m, 4)


def test_near_duplicate_pieces_are_dropped() -> None:
    sentences = [sent(CHUNK_B, 1, 0.90), sent(CHUNK_B, 2, 0.89), sent(CHUNK_B, 0, 0.85)]
    out = answer("q", retrieval(sentences), policy())
    assert [q for q, _ in parse(out.text)] == [
        "Bone marrow collection is painful.",
        "Bone marrow stem cells support hematopoiesis.",
    ]


def test_answer_is_deterministic() -> None:
    r = retrieval([sent(CHUNK_A, 0, 0.8), sent(CHUNK_B, 0, 0.8)])
    assert answer("q", r) == answer("q", r)


def test_a_harm_stated_about_another_subject_does_not_answer_a_question_about_harm() -> None:
    # "What are the side effects of Prochymal?" over a sentence about a Parkinson's trial that
    # saw none: a statement of harm, about another subject; refused. The same sentence under a
    # passage that names Prochymal answers.
    trial = make_chunk(
        "t.md", 0, "Prochymal is approved for GVHD. The trial saw no side effects.", section="T"
    )
    other = make_chunk("o.md", 0, "A Parkinson's trial saw no side effects in 36 months.")
    q = "What are the side effects of Prochymal?"
    # term 0: "side effects", term 1: "Prochymal" (the subject)
    elsewhere = dataclasses.replace(
        retrieval([sent(other, 0, 0.9, found=frozenset({0}))], [Hit(0, other, 0.9, 0.9, 1.0)]),
        terms=(1.0, 1.0),
        subject_terms=frozenset({1}),
    )
    assert not answer(q, elsewhere, policy()).answered
    same = dataclasses.replace(
        retrieval(
            [sent(trial, 0, 0.5, found=frozenset({1})), sent(trial, 1, 0.9, found=frozenset({0}))],
            [Hit(0, trial, 0.9, 0.9, 1.0)],
        ),
        terms=(1.0, 1.0),
        subject_terms=frozenset({1}),
    )
    out = answer(q, same, policy())
    assert out.answered and "no side effects" in out.text
    # without a subject ("Is it safe?") any statement of harm or safety answers
    unnamed = dataclasses.replace(elsewhere, subject_terms=frozenset())
    assert answer("Were there side effects?", unnamed, policy()).answered


def test_a_harm_stated_anywhere_in_a_structured_report_answers_a_question_about_harm() -> None:
    # "Is laparoscopic adrenalectomy safe?" over an abstract: its results give the outcomes
    # ("The mean blood loss was 182 mL.") and another section states the harm; the whole
    # report is about the one study, whose results need not name its subject again
    results = make_chunk("r.md", 1, "The mean blood loss was 182 mL.", section="RESULTS")
    harms = make_chunk("r.md", 2, "No complications occurred.", offset=300, section="CONCLUSIONS")
    hits = [Hit(0, results, 0.9, 0.9, 1.0), Hit(1, harms, 0.5, 0.5, 0.5)]
    found = dataclasses.replace(
        retrieval([sent(results, 0, 0.9, found=frozenset({0})), sent(harms, 0, 0.2)], hits),
        terms=(1.0, 1.0),
        subject_terms=frozenset({1}),  # "laparoscopic": named in neither section
    )
    out = answer("Is laparoscopic adrenalectomy safe?", found, policy())
    assert out.answered and "blood loss" in out.text
    # the same passages under topic headings are about different things: refused
    topical = dataclasses.replace(
        found,
        sentences=tuple(
            dataclasses.replace(s, chunk=dataclasses.replace(s.chunk, section="Adrenal masses"))
            for s in found.sentences
        ),
    )
    assert not answer("Is laparoscopic adrenalectomy safe?", topical, policy()).answered


# --- unreadable parts ---------------------------------------------------------------------------

POINTER = make_chunk(
    "p.md",
    4,
    "There are no approved products in China. The following tables list the approved ones:",
    section="Approved products",
)
TABLE = Unreadable("p.md", "1. Approved in Japan", 400, 401, "Approved products", "p.md#4")
HITS = [Hit(0, POINTER, 0.9, 0.9, 1.0)]


def test_a_pointer_to_a_table_names_the_unreadable_part() -> None:
    sentences = [sent(POINTER, 0, 0.6), sent(POINTER, 1, 0.9)]
    r = retrieval(sentences, HITS, unreadable=((TABLE, 0.2),))
    out = answer("What does the article summarise?", r, policy())
    assert out.answered  # the announcement itself may answer
    assert out.unreadable == (TABLE,)
    listing = answer("List the approved products.", r, policy())
    assert not listing.answered and listing.text == NOT_FOUND
    assert listing.unreadable == (TABLE,)


def test_which_things_asked_for_over_a_pointer_to_a_table_is_the_unreadable_part() -> None:
    # "Which products has South Korea approved?" asks for the products themselves, a list: the
    # quoted announcement's completion is the table, so the answer says it could not be read
    sentences = [sent(POINTER, 0, 0.6), sent(POINTER, 1, 0.9)]
    r = retrieval(sentences, HITS, unreadable=((TABLE, 0.2),))
    for question in ("Which products has South Korea approved?", "What drugs did Japan approve?"):
        out = answer(question, r, policy())
        assert not out.answered and out.unreadable == (TABLE,), question
    # a plural that asks for a figure or a name of another kind keeps the announcement's quote
    # ("which countries": it names them; without a country sentence further down the document
    # to quote instead, ``further_figures``)
    places = answer(
        "Which countries does the article take as examples?", r, policy(further_figures=False)
    )
    assert places.unreadable == (TABLE,)
    assert Question.of("Which countries does it use?", r).listing is False
    assert Question.of("Which products has Korea approved?", r).listing
    assert not Question.of("What does this mean?", r).listing
    assert not Question.of("What analysis was done?", r).listing


def test_a_part_that_matches_better_than_any_text_makes_the_answer_say_so() -> None:
    sentences = [sent(POINTER, 0, 0.9, found=frozenset({0}))]
    matches = retrieval(sentences, HITS, terms=(1.0, 1.0, 1.0), unreadable=((TABLE, 0.9),))
    out = answer("Which products are approved in Japan?", matches, policy())
    assert not out.answered and out.unreadable == (TABLE,)
    weaker = retrieval(sentences, HITS, terms=(1.0, 1.0, 1.0), unreadable=((TABLE, 0.3),))
    assert answer("q", weaker, policy()).unreadable == ()
    off = answer("q", matches, policy(unreadable=False))
    assert off.answered and off.unreadable == ()


def test_a_follow_up_sharing_a_tables_words_is_answered_from_the_text() -> None:
    # "How do the cells help in that disease?" after a question about a trial: its own words
    # match a table's heading better than the quoted sentence, but the conversation's subject
    # found the sentence; only a follow-up asking for what a table holds is refused for it
    sentences = [sent(POINTER, 0, 0.9, found=frozenset({0}))]
    standalone = retrieval(sentences, HITS, terms=(1.0, 1.0, 1.0), unreadable=((TABLE, 0.9),))
    follow_up = dataclasses.replace(standalone, query="What happened in the trial? q")
    assert not answer("How do the cells help?", standalone, policy()).answered
    out = answer("How do the cells help?", follow_up, policy())
    assert out.answered and out.unreadable == (TABLE,)
    assert not answer("Which ones are approved?", follow_up, policy()).answered


def test_a_quoted_announcement_of_a_table_names_it_even_behind_the_best_piece() -> None:
    # the best piece answers something else; the second is the pointer whose completion is the
    # table: a question asking for the list is refused for it, another gets its quote
    first = sent(CHUNK_A, 2, 0.95)
    pointer = sent(POINTER, 1, 0.9, rank=1)
    hits = [Hit(0, CHUNK_A, 0.9, 0.9, 1.0), Hit(1, POINTER, 0.8, 0.8, 1.0)]
    r = retrieval([first, pointer], hits, unreadable=((TABLE, 0.2),))
    listing = answer("List the approved products by name.", r, policy())
    assert not listing.answered and listing.unreadable == (TABLE,)
    other = answer("What does the article summarise?", r, policy())
    assert other.answered and other.unreadable == (TABLE,)


def test_a_name_no_piece_gives_is_looked_for_in_a_table_as_close_as_the_text() -> None:
    # "What is the brand name of the product approved in Japan?": the best piece names no
    # product and a table is known by as much of the question: that is where the name was
    japan = make_chunk("p.md", 4, "At present, Japan has approved products.")
    sentences = [sent(japan, 0, 0.9, found=frozenset({0}))]
    hits = [Hit(0, japan, 0.9, 0.9, 1.0)]
    r = retrieval(sentences, hits, terms=(1.0, 1.0, 1.0), unreadable=((TABLE, 0.34),))
    out = answer("What is the brand name of the product approved in Japan?", r, policy())
    assert not out.answered and out.unreadable == (TABLE,)
    # a question that asks for no name gets the quote, and so does one whose name is quoted
    assert answer("Has Japan approved products?", r, policy()).answered
    named = make_chunk("p.md", 4, "At present, Japan has approved Temcell.")
    given = retrieval(
        [sent(named, 0, 0.9, found=frozenset({0}))],
        [Hit(0, named, 0.9, 0.9, 1.0)],
        terms=(1.0, 1.0, 1.0),
        unreadable=((TABLE, 0.34),),
    )
    brand = "What is the brand name of the product approved in Japan?"
    assert answer(brand, given, policy()).answered


def test_a_picture_inside_a_section_with_text_does_not_outrank_its_text() -> None:
    # an image under a heading whose section has text (recorded with that heading as its own
    # context) illustrates what the text says; a section with no text at all may be the answer
    sentences = [sent(POINTER, 0, 0.9, found=frozenset({0}))]
    picture = Unreadable("p.md", "Approved products", 300, 307, "Approved products", "p.md#3")
    illustrated = retrieval(sentences, HITS, terms=(1.0, 1.0, 1.0), unreadable=((picture, 0.9),))
    out = answer("Which products are approved in Japan?", illustrated, policy())
    assert out.answered and out.unreadable == (picture,)
    # asked for the picture itself, it still outranks
    assert not answer("Show me the figure of approved products.", illustrated, policy()).answered
    table = retrieval(sentences, HITS, terms=(1.0, 1.0, 1.0), unreadable=((TABLE, 0.9),))
    assert not answer("Which products are approved in Japan?", table, policy()).answered


def test_which_ones_asks_for_a_list() -> None:
    # after "Are there approved products in China?": the announced table is what it asks for
    sentences = [sent(POINTER, 0, 0.6), sent(POINTER, 1, 0.9)]
    r = retrieval(sentences, HITS, unreadable=((TABLE, 0.2),))
    assert Question.of("Then which ones are approved in Japan?", r).listing
    out = answer("Then which ones are approved in Japan?", r, policy())
    assert not out.answered and out.unreadable == (TABLE,)


# --- confidence ----------------------------------------------------------------------------------

BASE = {"top_dense": 0.5, "best_sentence": 0.5, "coverage": 0.5, "known": 0.5, "best_unit": 8.0}


@pytest.mark.parametrize("feature", ["top_dense", "best_sentence", "known", "best_unit"])
def test_confidence_rises_with_the_main_evidence(feature: str) -> None:
    assert CONFIDENCE_WEIGHTS[feature] > 0
    low, high = confidence({**BASE, feature: 0.2}), confidence({**BASE, feature: 0.9})
    assert high > low


def test_an_unknown_name_lowers_the_confidence() -> None:
    assert confidence({**BASE, "unknown_name": 1.0}) < confidence({**BASE, "unknown_name": 0.0})


def test_confidence_extremes_and_features() -> None:
    high = retrieval([sent(CHUNK_A, 0, 1.0, lexical=1.0)], top_dense=1.0, coverage=1.0)
    assert answer("q", high).confidence > 0.9
    assert confidence(features(weak())) < 0.1
    f = features(high)
    assert f["best_sentence"] == 1.0 and f["best_lexical"] == 1.0 and f["coverage"] == 1.0
    assert set(answer("q", high).meta) >= set(f) | {"best_unit", "answer_lexical"}


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


def test_a_bare_heading_line_is_never_the_answer() -> None:
    # a plain-text or PDF heading the loader did not recognise is a "sentence" of its passage,
    # and the closest to a question that repeats it: it is still no answer
    chunk = make_chunk("h.txt", 0, "Bone marrow stem cells\n\nThey are collected by aspiration.")
    out = answer(
        "What about bone marrow stem cells?",
        retrieval([sent(chunk, 0, 0.95), sent(chunk, 1, 0.6)], [Hit(0, chunk, 0.9, 0.9, 1.0)]),
        policy(),
    )
    assert [s for s, _ in parse(out.text)] == ["They are collected by aspiration."]
    only = answer(
        "What about bone marrow stem cells?",
        retrieval([sent(chunk, 0, 0.95)], [Hit(0, chunk, 0.9, 0.9, 1.0)]),
        policy(),
    )
    assert only.answered is False  # nothing but a heading to quote


ABSTRACT = (
    "To determine whether CPAP improves sleep in patients with lung fibrosis. "
    "Sleep quality improved in 9 of 12 patients after CPAP."
)


def test_an_aim_sentence_is_not_the_answer_to_a_question_about_findings() -> None:
    chunk = make_chunk("p.md", 0, ABSTRACT, section="BACKGROUND")
    found = frozenset({0})
    sentences = [sent(chunk, 0, 0.7, found=found), sent(chunk, 1, 0.55, found=found)]
    hits = [Hit(0, chunk, 0.9, 0.9, 1.0)]
    shipped = AnswerPolicy(confidence=EVIDENT)
    out = answer("Does CPAP improve sleep in lung fibrosis?", retrieval(sentences, hits), shipped)
    assert parse(out.text)[0][0] == "Sleep quality improved in 9 of 12 patients after CPAP."
    # without the aim feature the restated aim wins on its cosine
    no_aim = {k: w for k, w in shipped.ranker.items() if k != "aim"}
    out = answer(
        "Does CPAP improve sleep in lung fibrosis?",
        retrieval(sentences, hits),
        dataclasses.replace(shipped, ranker=no_aim),
    )
    assert parse(out.text)[0][0].startswith("To determine whether CPAP")
    # a question about the aim itself is answered by it
    out = answer("What was the aim of the CPAP study?", retrieval(sentences, hits), shipped)
    assert parse(out.text)[0][0].startswith("To determine whether CPAP")


def test_an_aim_sentence_does_not_send_the_answer_to_another_document() -> None:
    # the abstract whose aim restates the question is the right one; its result sentence, not a
    # neighbouring abstract's closer sentence, is the answer
    own = make_chunk("p.md", 0, ABSTRACT, section="BACKGROUND")
    other = make_chunk("q.md", 0, "CPAP was well tolerated by patients with asthma.")
    sentences = [sent(own, 0, 0.8), sent(own, 1, 0.55), sent(other, 0, 0.7, rank=1)]
    hits = [Hit(0, own, 0.9, 0.9, 1.0), Hit(1, other, 0.8, 0.8, 1.0)]
    shipped = AnswerPolicy(confidence=EVIDENT)
    out = answer("Does CPAP improve sleep in lung fibrosis?", retrieval(sentences, hits), shipped)
    assert out.citations[0].chunk.doc_id == "p.md"
    assert parse(out.text)[0][0] == "Sleep quality improved in 9 of 12 patients after CPAP."
    # the other abstract's sentence keeps the distance it had to the aim sentence (within the
    # margin: quoted after the answer); far behind, it is not quoted
    assert [c.chunk.doc_id for c in out.citations] == ["p.md", "q.md"]
    behind = [sent(own, 0, 0.8), sent(own, 1, 0.55), sent(other, 0, 0.5, rank=1)]
    alone = answer("Does CPAP improve sleep in lung fibrosis?", retrieval(behind, hits), shipped)
    assert [c.chunk.doc_id for c in alone.citations] == ["p.md"]


def test_within_the_best_document_a_passage_gap_counts_half() -> None:
    first = make_chunk("d.md", 0, "Stem cells are studied widely.", offset=0)
    second = make_chunk("d.md", 1, "Marrow is collected by aspiration.", offset=40)
    other = make_chunk("e.md", 0, "Marrow is collected by aspiration in clinics.", offset=0)
    hits = [Hit(0, first, 1.0, 0.9, 1.0), Hit(1, other, 0.5, 0.5, 1.0)]

    def picked(weights: dict[str, float]) -> str:
        sentences = [
            sent(first, 0, 0.50, lexical=0.0),
            sent(second, 0, 0.75, lexical=0.0, chunk_score=0.5, rank=2),
            sent(other, 0, 0.75, lexical=0.0, chunk_score=0.5, rank=1),
        ]
        out = answer("How is marrow collected?", retrieval(sentences, hits), policy(ranker=weights))
        return out.citations[0].chunk.chunk_id

    weights = {"dense": 4.5, "passage": 3.0, "behind_in_document": 1.5}
    assert picked(weights) == "d.md#1"  # 4.5*0.75 + 3*0.5 + 1.5*0.5 > 4.5*0.5 + 3
    assert picked({"dense": 4.5, "passage": 3.0}) == "d.md#0"  # the gap counts in full


def test_within_a_structured_reports_best_document_the_passage_gap_does_not_count() -> None:
    # the sections of an abstract: which one holds most of the question's words says nothing
    # about which sentence answers it; under topic headings the gap still counts half
    def picked(sections: tuple[str, str]) -> str:
        first = make_chunk("d.md", 0, "Sleep improved in most.", offset=0, section=sections[0])
        second = make_chunk("d.md", 1, "Sleep improved in 9 of 12.", offset=40, section=sections[1])
        hits = [Hit(0, first, 1.0, 0.9, 1.0), Hit(1, second, 0.3, 0.3, 1.0)]
        sentences = [
            sent(first, 0, 0.60, lexical=0.0),
            sent(second, 0, 0.65, lexical=0.0, chunk_score=0.3, rank=1),
        ]
        weights = {"dense": 4.5, "passage": 3.0, "behind_in_document": 1.5}
        weights["behind_in_report"] = 1.5
        out = answer("Did sleep improve?", retrieval(sentences, hits), policy(ranker=weights))
        return out.citations[0].chunk.chunk_id

    assert picked(("RESULTS", "FINDINGS")) == "d.md#1"
    assert picked(("Sleep", "Sleep in detail")) == "d.md#0"


# --- the role of a section in a structured abstract ---------------------------------------------

METHODS = "Sleep quality was measured with a questionnaire before and after CPAP."
RESULTS = "Sleep quality improved in 9 of 12 patients."


def _abstract(doc: str = "s.md") -> tuple[Chunk, Chunk]:
    return (
        make_chunk(doc, 0, METHODS, offset=0, section="PATIENTS AND METHODS"),
        make_chunk(doc, 1, RESULTS, offset=100, section="RESULTS"),
    )


def test_a_question_about_findings_is_answered_by_the_results() -> None:
    methods, results = _abstract()
    # the methods sentence restates the question's words: closer, and it says nothing found
    sentences = [sent(methods, 0, 0.70), sent(results, 0, 0.62, chunk_score=0.9, rank=1)]
    hits = [Hit(0, methods, 0.9, 0.9, 1.0), Hit(1, results, 0.8, 0.8, 1.0)]
    shipped = AnswerPolicy(confidence=EVIDENT)
    question = "Did sleep quality change with CPAP?"
    out = answer(question, retrieval(sentences, hits), shipped)
    assert parse(out.text)[0][0] == RESULTS
    roles = ("in_results", "in_methods", "in_background")
    no_roles = {k: w for k, w in shipped.ranker.items() if k not in roles}
    without = dataclasses.replace(shipped, ranker=no_roles)
    out = answer(question, retrieval(sentences, hits), without)
    assert parse(out.text)[0][0] == METHODS
    # a question about how it was done is answered by the methods
    sentences = [sent(methods, 0, 0.60), sent(results, 0, 0.62, chunk_score=0.9, rank=1)]
    out = answer("How was sleep quality measured?", retrieval(sentences, hits), shipped)
    assert parse(out.text)[0][0] == METHODS


def test_a_section_role_orders_a_documents_own_sentences_not_documents() -> None:
    # another abstract's result sentence gains nothing over the best abstract's methods one:
    # which document answers is decided without the roles
    methods, _ = _abstract("s.md")
    _, other = _abstract("t.md")
    sentences = [sent(methods, 0, 0.70), sent(other, 0, 0.66, rank=1)]
    hits = [Hit(0, methods, 0.9, 0.9, 1.0), Hit(1, other, 0.85, 0.85, 1.0)]
    out = answer(
        "Did sleep quality change with CPAP?",
        retrieval(sentences, hits),
        AnswerPolicy(confidence=EVIDENT, max_sentences=1),
    )
    assert out.citations[0].chunk.doc_id == "s.md"


def test_a_figure_further_down_the_best_document_answers_a_count() -> None:
    # "How many patients were started on CPAP?": the best piece names the conditions and gives
    # no count; one of the same document, too far below to join by margin, gives it
    chunk = make_chunk(
        "p.md", 0, "Sleep apnea is common in fibrosis. Twelve patients were included."
    )
    other = make_chunk("o.md", 0, "Forty patients were treated elsewhere.")
    background = sent(chunk, 0, 0.9, found=frozenset({0}))
    count = sent(chunk, 1, 0.6, found=frozenset({0}))
    elsewhere = sent(other, 0, 0.7, found=frozenset({0}))
    question = "How many patients were started on CPAP?"
    r = retrieval([background, elsewhere, count], terms=(1.0,))
    out = answer(question, r, policy(margin=1.0, gain=1.0))
    assert [q for q, _ in parse(out.text)] == [text_of(count)]
    # the confidence is that of the answer without it; with the rule off, the best piece
    plain = answer(question, r, policy(margin=1.0, gain=1.0, further_figures=False))
    assert [q for q, _ in parse(plain.text)] == [text_of(background)]
    assert out.confidence == plain.confidence
    # another document's figure answers another study's question
    r = retrieval([background, elsewhere], terms=(1.0,))
    assert [q for q, _ in parse(answer(question, r, policy(margin=1.0, gain=1.0)).text)] == [
        text_of(background)
    ]


def test_a_documents_piece_giving_the_asked_figure_comes_first_but_is_no_evidence() -> None:
    # "How many ...?" over an abstract whose background restates the question and whose
    # methods give the count a little further down: the count is quoted
    chunk = make_chunk(
        "c.md", 0, "Sleep apnea is common in lung fibrosis. Twelve patients were started on CPAP."
    )
    question = "How many patients with lung fibrosis were started on CPAP?"
    typed = policy(ranker={**BY_DENSE, "type_ok": 1.5}, confidence={"bias": 0.0})
    far = retrieval([sent(chunk, 0, 0.70), sent(chunk, 1, 0.58)])
    out = answer(question, far, typed)
    assert parse(out.text)[0][0] == "Twelve patients were started on CPAP."
    # it lies further below the best piece than the margin: no piece good enough gives the
    # count, which the confidence model reads as before (``type_missing``)
    assert out.meta["type_missing"] == 1.0
    near = retrieval([sent(chunk, 0, 0.70), sent(chunk, 1, 0.65)])
    assert answer(question, near, typed).meta["type_missing"] == 0.0
    # without the preference (nor a figure looked for further down) the restatement comes first
    plain = answer(question, far, policy(confidence={"bias": 0.0}, further_figures=False))
    assert parse(plain.text)[0][0] == "Sleep apnea is common in lung fibrosis."
