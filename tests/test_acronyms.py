"""Undefined abbreviations of a run of the question's words (retrieval.acronyms)."""

from __future__ import annotations

from mscqa.index.lexical import tokenize
from mscqa.retrieval.acronyms import initials, with_initials
from mscqa.retrieval.vocabulary import Term, Vocabulary

QUESTION = "Should cavitation be reported in cone beam computed tomography examination?"
PASSAGE = "Cavitation was seen on CBCT scans of 40 teeth."


def _terms(text: str) -> list[Term]:
    return Vocabulary(tokenize, ()).terms(tokenize(text), lambda t: 1.0)


def test_a_passage_s_undefined_short_form_names_the_question_s_words() -> None:
    tokens = tokenize(QUESTION)
    found = initials(tokens, set(tokenize(PASSAGE)).__contains__, set(), {})
    assert [short for short, _ in found] == ["cbct"]
    passage = set(tokenize(PASSAGE))
    before = [t for t in _terms(QUESTION) if t.found_in(passage)]
    after = [t for t in with_initials(_terms(QUESTION), found) if t.found_in(passage)]
    assert len(before) == 1  # "cavitation" only
    assert len(after) == 5  # and cone, beam, computed, tomography


def test_no_guess_for_an_ordinary_word_a_question_word_or_another_definition() -> None:
    tokens = tokenize(QUESTION)
    present = set(tokenize(PASSAGE)).__contains__
    assert initials(tokens, present, {"cbct"}, {}) == []  # an ordinary word
    assert initials(tokens, present, set(), {"cbct": {("cone", "beam", "ct")}}) == []
    # defined as this very run: still found (the vocabulary also knows it)
    run = tuple(tokenize("cone beam computed tomography"))
    assert initials(tokens, present, set(), {"cbct": {run}})
    # two words are too few: "CT" is guessed from nothing
    assert initials(tokenize("computed tomography"), {"ct"}.__contains__, set(), {}) == []
    # the question's own short form is no guess
    assert initials(tokenize("CBCT cone beam computed tomography"), present, set(), {}) == []


def test_a_short_form_no_retrieved_passage_uses_is_not_looked_for() -> None:
    assert initials(tokenize(QUESTION), {"cavit"}.__contains__, set(), {}) == []
    terms = _terms(QUESTION)
    assert with_initials(terms, []) is terms


def test_a_short_form_ending_in_s_is_matched_as_the_passage_s_stemmed_token() -> None:
    # "ALS" and "ARDS" are the tokens "al" and "ard" once stemmed, as the passages' words are
    for question, passage, short in (
        ("How fast does amyotrophic lateral sclerosis progress?", "ALS patients declined.", "al"),
        (
            "Is neutrophil migration lower in acute respiratory distress syndrome?",
            "Migration was lower in ARDS.",
            "ard",
        ),
    ):
        found = initials(tokenize(question), set(tokenize(passage)).__contains__, set(), {})
        assert {s for s, _ in found} == {short}
        assert max(len(run) for _, run in found) == (4 if short == "ard" else 3)  # syndrome too
