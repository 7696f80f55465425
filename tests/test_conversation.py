"""Follow-up detection and contextualisation of questions."""

from __future__ import annotations

import pytest

from mscqa.retrieval.conversation import contextualize, is_follow_up, with_conversation
from mscqa.types import Turn

FOLLOW_UPS = [
    "How are they collected?",
    "And in China?",
    "What about for Parkinson's?",
    "Why?",
    "Is it approved?",
]
STANDALONE = [
    "What is Prochymal approved for?",
    "Which country uses umbilical cord MSCs more?",
    "How are adipose mesenchymal stem cells collected?",
]


@pytest.mark.parametrize("question", FOLLOW_UPS)
def test_follow_ups(question: str) -> None:
    assert is_follow_up(question)


@pytest.mark.parametrize("question", STANDALONE)
def test_standalone_questions(question: str) -> None:
    assert not is_follow_up(question)


HISTORY = [
    Turn("user", "What are adipose MSCs?"),
    Turn("assistant", "Adipose stem cells are collected by liposuction. [1]"),
    Turn("user", "Are they used in Japan?"),
    Turn("assistant", "Japan has approved adipose stem cell products. [1]"),
]


def test_follow_up_is_prefixed_by_recent_user_turns_only() -> None:
    out = contextualize("How are they collected?", HISTORY)
    assert out == "What are adipose MSCs? Are they used in Japan? How are they collected?"
    assert "liposuction" not in out and "[1]" not in out


def test_max_user_turns() -> None:
    out = contextualize("And in China?", HISTORY, max_user_turns=1)
    assert out == "Are they used in Japan? And in China?"


@pytest.mark.parametrize("question", STANDALONE)
def test_standalone_question_ignores_history(question: str) -> None:
    assert contextualize(question, HISTORY) == question


def test_no_usable_history() -> None:
    assert contextualize("And in China?", []) == "And in China?"
    only_assistant = [Turn("assistant", "Bone marrow collection is painful.")]
    assert contextualize("And in China?", only_assistant) == "And in China?"
    blank_user = [Turn("user", "   ")]
    assert contextualize("And in China?", blank_user) == "And in China?"


def test_with_conversation_reads_any_question_after_the_user_turns() -> None:
    history = [
        Turn("user", "What is GVHD?"),
        Turn("assistant", "GVDH is a serious inflammatory disease. [1]"),
        Turn("user", "Explain it simply."),
        Turn("user", "What causes it?"),
    ]
    # a question that reads as standing alone still gets the other reading, last two user turns
    assert with_conversation("Who approved Prochymal?", history) == (
        "Explain it simply. What causes it? Who approved Prochymal?"
    )
    assert with_conversation("Who approved Prochymal?", history[:2], max_user_turns=1) == (
        "What is GVHD? Who approved Prochymal?"
    )
    assert with_conversation("Who approved Prochymal?", [Turn("assistant", "Hi. [1]")]) == ""
