"""Domain synonym expansion."""

from __future__ import annotations

import re

import pytest

from mscqa.index.lexical import tokenize
from mscqa.retrieval.vocabulary import SYNONYM_GROUPS, expand, token_equivalents


def added(question: str) -> str:
    out = expand(question)
    assert out.startswith(question)
    return out[len(question) :]


def test_gvhd_finds_the_articles_gvdh_spelling() -> None:
    extra = added("Can MSCs treat GVHD?")
    assert "gvdh" in extra
    assert "graft-versus-host" in extra
    assert "graft versus host" in extra


def test_equivalents_work_both_ways() -> None:
    assert "gvhd" in added("What is GVDH?")
    assert "adipose" in added("How are fat stem cells collected?")
    assert re.search(r"\bfat\b", added("How are adipose stem cells collected?"))
    assert "bone marrow" in added("Are BM-MSCs useful?")
    assert "bm-msc" in added("What about bone marrow?")


def test_case_insensitive_and_word_bounded() -> None:
    assert "gvdh" in added("gvhd")
    assert "gvdh" in added("Gvhd")
    # "fat" inside "fatigue" or "ra" inside "ratio" is not a term
    assert expand("Does fatigue change the ratio?") == "Does fatigue change the ratio?"


def test_no_duplicates() -> None:
    question = "GVHD or gvdh or graft-versus-host, and GVHD again, fat and adipose"
    extra = added(question)
    groups = [g for g in SYNONYM_GROUPS if "gvhd" in g or "adipose" in g]
    assert len(groups) == 2
    for group in groups:
        for form in group:
            pattern = rf"(?<![\w-]){re.escape(form)}(?![\w-])"
            count = len(re.findall(pattern, extra, re.IGNORECASE))
            in_question = re.search(pattern, question, re.IGNORECASE) is not None
            assert count == (0 if in_question else 1), form


@pytest.mark.parametrize(
    "question",
    ["What is the weather today?", "Who won the football match?", "Define iPSCs."],
)
def test_unrelated_questions_are_unchanged(question: str) -> None:
    assert expand(question) == question


@pytest.mark.parametrize(
    ("question", "missing"),
    [("Is fatty tissue useful?", "fat"), ("Is osteoarthritis treatable?", "oa")],
)
def test_equivalent_contained_in_a_longer_word_is_still_added(question: str, missing: str) -> None:
    # "fat" is a substring of "fatty" and "oa" of "osteoarthritis", but neither word is in the
    # question, so a document that only says "fat" / "OA" must still be searched for.
    assert missing in added(question).split()


def test_token_equivalents() -> None:
    eq = token_equivalents(tokenize)
    assert "gvdh" in eq["gvhd"] and "gvhd" in eq["gvdh"]
    assert tokenize("adipose")[0] in eq["fat"]
    assert "fat" in eq[tokenize("adipose")[0]]
    for token, others in eq.items():
        assert token not in others
        for other in others:
            assert token in eq[other], (token, other)  # symmetric


def test_groups_are_lower_case_and_disjoint() -> None:
    seen: set[str] = set()
    for group in SYNONYM_GROUPS:
        for form in group:
            assert form == form.lower()
            assert form not in seen, form
            seen.add(form)
