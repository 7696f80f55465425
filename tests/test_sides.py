"""The two sides of a comparison: read from the question, and a piece quoted for each."""

from __future__ import annotations

import dataclasses

import pytest

from mscqa.answer import answer
from mscqa.retrieval.sides import side_parts, sides
from mscqa.retrieval.vocabulary import Term
from test_answerer import make_chunk, parse, policy, retrieval, sent, text_of


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("Bone marrow vs fat: which hurts less?", ("Bone marrow", "fat")),
        ("How does Prochymal compare with Temcell?", ("Prochymal", "Temcell")),
        ("Which is used more in China, cord or fat?", ("cord", "fat")),
        ("What is the difference between Japan and China?", ("Japan", "China")),
        # the head noun after the longer side is both sides'
        ("How do bone marrow and umbilical cord MSCs differ?", ("bone marrow", "umbilical cord")),
    ],
)
def test_the_sides_are_the_runs_around_the_connector(
    question: str, expected: tuple[str, str]
) -> None:
    assert sides(question) == expected


@pytest.mark.parametrize(
    "question",
    ["What is the dose?", "Did stem cells help and stay safe?", "What is MSC and how is it made?"],
)
def test_no_sides_without_a_comparison(question: str) -> None:
    assert sides(question) is None


def term(*tokens: str) -> Term:
    return Term(1.0, (frozenset(tokens),))


def test_side_parts_are_term_indices_without_the_shared_ones() -> None:
    terms = [term("bone", "marrow"), term("msc"), term("fat"), term("pain")]
    assert side_parts("Bone marrow MSCs vs fat MSCs: which hurts?", terms) == (
        frozenset({0}),
        frozenset({2}),
    )
    assert side_parts("What is the pain like?", terms) == ()


def test_a_side_no_piece_speaks_of_gets_one() -> None:
    # "Fat vs cord: which is used more in China?": the best piece is about cord (term 0); the
    # fat piece (term 1) ranks too low to join by margin or gain, but it is a side's piece
    chunk = make_chunk("p.md", 0, "Cord cells are used more in China. Fat cells are used less.")
    cord = sent(chunk, 0, 0.9, found=frozenset({0, 2}))
    fat = sent(chunk, 1, 0.7, found=frozenset({1, 2}))
    r = dataclasses.replace(
        retrieval([cord, fat], terms=(1.0, 1.0, 1.0)), sides=(frozenset({0}), frozenset({1}))
    )
    out = answer("q", r, policy(margin=1.0, gain=1.0))
    assert [q for q, _ in parse(out.text)] == [text_of(cord), text_of(fat)]
    alone = answer("q", r, policy(margin=1.0, gain=1.0, sides=False))
    assert [q for q, _ in parse(alone.text)] == [text_of(cord)]


def test_a_piece_holding_both_sides_answers_alone() -> None:
    chunk = make_chunk("p.md", 0, "Cord cells beat fat cells in China. Fat cells are used less.")
    both = sent(chunk, 0, 0.9, found=frozenset({0, 1}))
    fat = sent(chunk, 1, 0.7, found=frozenset({1}))
    r = dataclasses.replace(
        retrieval([both, fat], terms=(1.0, 1.0)), sides=(frozenset({0}), frozenset({1}))
    )
    assert [q for q, _ in parse(answer("q", r, policy(margin=1.0, gain=1.0)).text)] == [
        text_of(both)
    ]


def test_a_side_piece_is_about_that_side_alone_before_one_naming_both() -> None:
    # "Fat vs cord: how well does each multiply?": the best piece is about fat; an overview
    # naming fat and cord ranks above the cord sentence, but says nothing of cord alone
    chunk = make_chunk(
        "p.md", 0, "Fat cells multiply fast. Fat and cord cells are used most. Cord cells expand."
    )
    fat = sent(chunk, 0, 0.9, found=frozenset({0, 2}))
    both = sent(chunk, 1, 0.8, found=frozenset({0, 1}))
    cord = sent(chunk, 2, 0.7, found=frozenset({1}))
    r = dataclasses.replace(
        retrieval([fat, both, cord], terms=(1.0, 1.0, 1.0)),
        sides=(frozenset({0}), frozenset({1})),
    )
    out = answer("q", r, policy(margin=0.05, gain=1.0))
    assert [q for q, _ in parse(out.text)] == [text_of(fat), text_of(cord)]


def test_a_side_piece_comes_from_the_first_pieces_document() -> None:
    here = make_chunk("p.md", 0, "Cord cells are used more in China.")
    there = make_chunk("other.md", 0, "Fat cells are used less.")
    cord = sent(here, 0, 0.9, found=frozenset({0}))
    fat = sent(there, 0, 0.7, found=frozenset({1}))
    r = dataclasses.replace(
        retrieval([cord, fat], terms=(1.0, 1.0)), sides=(frozenset({0}), frozenset({1}))
    )
    assert [q for q, _ in parse(answer("q", r, policy(margin=1.0, gain=1.0)).text)] == [
        text_of(cord)
    ]


def test_a_sentence_naming_neither_side_is_about_its_heading() -> None:
    # under the heading "Fat MSCs" (term 1), "China has fewer applications." names no side
    chunk = make_chunk("p.md", 0, "Cord cells are used in China. China has fewer applications.")
    cord = sent(chunk, 0, 0.9, found=frozenset({0, 2}))
    fewer = dataclasses.replace(sent(chunk, 1, 0.7, found=frozenset({2})), heading=frozenset({1}))
    r = dataclasses.replace(
        retrieval([cord, fewer], terms=(1.0, 1.0, 1.0)), sides=(frozenset({0}), frozenset({1}))
    )
    out = answer("q", r, policy(margin=0.1, gain=1.0))
    assert [q for q, _ in parse(out.text)] == [text_of(cord), text_of(fewer)]


def test_passages_holding_a_side_are_looked_for_in_the_best_document() -> None:
    from mscqa.retrieval.sides import side_rows

    terms = [term("bone", "marrow"), term("fat"), term("pain")]
    passages = {10: {"fat", "pain"}, 11: {"pain"}, 12: {"bone", "marrow"}, 13: {"fat"}}
    sides_ = (frozenset({0}), frozenset({1}))
    # the first passages (in the order given, best first) holding each side, at most limit
    assert side_rows(sides_, terms, [11, 13, 10, 12], passages.__getitem__, limit=1) == [12, 13]
    assert side_rows(sides_, terms, [11], passages.__getitem__) == []
