"""Answer units: pointers go with the sentences that complete them, examples with their claim."""

from __future__ import annotations

import pytest

from mscqa.answer.units import (
    MAX_UNIT,
    asks_aim,
    bare_line,
    continues,
    exemplifies,
    is_pointer,
    states_aim,
    unit_around,
)

DISADVANTAGES = [
    "It has anti-inflammatory properties.",
    "However, BM-MSCs also have obvious disadvantages.",
    "For example, the number of cells is limited.",
    "In addition, the collection process hurts.",
    "They are widely studied.",
]


@pytest.mark.parametrize(
    "sentence",
    [
        "However, BM-MSCs also have obvious disadvantages.",
        "The method has several advantages.",
        "The results were as follows:",
        "Patients were divided into three groups as follows.",
        "The following drugs were given:",
        "Adverse events included:",
    ],
)
def test_pointers(sentence: str) -> None:
    assert is_pointer(sentence)


@pytest.mark.parametrize(
    "sentence",
    [
        "It has anti-inflammatory and immune regulatory properties.",
        "BM-MSCs have disadvantages such as pain, low yield, high price and a limited number of "
        "cells, so clinicians prefer fat and cord cells in most of the clinics we surveyed.",
        "The number of cells is limited.",
    ],
)
def test_not_pointers(sentence: str) -> None:
    assert not is_pointer(sentence)


def test_markers() -> None:
    assert exemplifies("For example, the number is limited.")
    assert exemplifies("Such as liposuction.")
    assert not exemplifies("In addition, it hurts.")
    assert continues("In addition, it hurts.") and continues("Moreover, it costs.")
    assert not continues("It has anti-inflammatory properties.")


def test_a_pointer_takes_its_completion_and_what_continues_it() -> None:
    assert unit_around(DISADVANTAGES, 1) == (1, 3, True)


def test_an_example_takes_the_claim_before_it_and_so_the_whole_unit() -> None:
    assert unit_around(DISADVANTAGES, 2) == (1, 3, True)


def test_a_continuation_alone_stays_alone() -> None:
    assert unit_around(DISADVANTAGES, 3) == (3, 3, True)
    assert unit_around(DISADVANTAGES, 0) == (0, 0, True)
    assert unit_around(DISADVANTAGES, 4) == (4, 4, True)


def test_a_pointer_at_the_end_of_its_passage_is_incomplete() -> None:
    texts = ["There are no approved products in China.", "The following tables list them:"]
    assert unit_around(texts, 1) == (1, 1, False)


def test_a_unit_is_at_most_max_unit_sentences() -> None:
    texts = ["It has these advantages:", *(f"Also, benefit {i}." for i in range(10))]
    first, last, complete = unit_around(texts, 0)
    assert (first, complete) == (0, True) and last - first + 1 == MAX_UNIT


def test_bare_lines_are_short_lines_alone_not_ended_as_statements() -> None:
    text = (
        "Bone marrow MSCs (BM-MSCs)\nThey come from bone. A list: a, b.\n"
        "What is a stem cell?\nShort line ended as a statement.\n"
    )

    def bare(piece: str) -> bool:
        start = text.index(piece)
        return bare_line(text, start, start + len(piece))

    assert bare("Bone marrow MSCs (BM-MSCs)")  # a heading the extractor did not see
    assert bare("What is a stem cell?")  # a question answers nothing
    assert not bare("They come from bone.")  # not alone on its line, and a statement
    assert not bare("Short line ended as a statement.")


@pytest.mark.parametrize(
    "sentence",
    [
        "To determine if clinical variables identify children with pathologic radiographs.",
        "Our aim was to assess the effect of CPAP on sleep.",
        "The purpose of this study is to examine whether the cancer is early.",
        "We aimed to compare the self-inflating bag with the T-piece.",
        "This study was designed to compare tidal volumes.",
        "Its role in primary rectal cancer remains uncertain.",
        "The relationship between selection and performance has yet to be explored.",
        "This study therefore prospectively assesses the impact of scanning on management.",
        "We evaluated in a randomized trial the hypothesis that the program does not help.",
        "To discuss whether such procedures are feasible.",
        "There are little comparative data assessing the devices.",
        "It is generally assumed that these patients bleed more.",
    ],
)
def test_aim_statements(sentence: str) -> None:
    assert states_aim(sentence)


@pytest.mark.parametrize(
    "sentence",
    [
        "Pathologic radiographs were identified in 61 patients (9%).",
        "Heated humidification was added to treat the nocturnal cough.",
        "The cells are used to treat osteoarthritis.",
        "Patients were asked to determine their own dose.",
        "We found no evidence of recurrence.",
        "Few patients had complications.",
        "Participation in the program had a positive effect on physical activity.",
    ],
)
def test_findings_are_not_aim_statements(sentence: str) -> None:
    assert not states_aim(sentence)


def test_a_question_about_the_aim_is_answered_by_one() -> None:
    assert asks_aim("What was the aim of the CPAP study?")
    assert asks_aim("What did the researchers set out to test?")
    assert not asks_aim("How many patients were started on CPAP?")
