"""Spelling correction towards corpus words."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mscqa.retrieval.spelling import Speller, english_words, model_words

CORPUS = [
    "Graft versus host disease is treated with bone marrow mesenchymal stem cells.",
    "Umbilical cord cells come from allogeneic tissue. Adipose cells need liposuction.",
]


@pytest.fixture
def speller() -> Speller:
    return Speller.from_texts(CORPUS)


@pytest.mark.parametrize(
    ("wrong", "right"),
    [("diseese", "disease"), ("umbilcal", "umbilical"), ("mesenchimal", "mesenchymal")],
)
def test_corrects_close_misspellings(speller: Speller, wrong: str, right: str) -> None:
    assert speller.suggest(wrong) == right
    assert speller.correct(f"Is {wrong} common?") == f"Is {right} common?"


def test_corrects_every_word_in_a_question(speller: Speller) -> None:
    assert speller.correct("umbilcal cord for diseese") == "umbilical cord for disease"


@pytest.mark.parametrize("word", ["disease", "Disease", "umbilical", "allogeneic"])
def test_known_words_are_unchanged(speller: Speller, word: str) -> None:
    assert speller.suggest(word) is None
    assert speller.correct(word) == word


@pytest.mark.parametrize("word", ["iPSCs", "football", "quantum", "Prochymal"])
def test_far_words_are_unchanged(speller: Speller, word: str) -> None:
    assert speller.correct(f"What about {word}?") == f"What about {word}?"


def test_short_words_are_unchanged(speller: Speller) -> None:
    # "cel" is one letter from "cell" but too short to correct safely
    assert speller.correct("cel bon") == "cel bon"
    assert speller.suggest("cel") is None


def test_only_words_with_the_same_initial_are_candidates(speller: Speller) -> None:
    assert speller.suggest("tisue") == "tissue"
    assert speller.suggest("kisue") is None


def test_cutoff_is_validated() -> None:
    for bad in (0.0, -0.1, 1.5):
        with pytest.raises(ValueError, match="cutoff"):
            Speller(["word"], cutoff=bad)
    assert Speller(["disease"], cutoff=1.0).suggest("diseese") is None


def test_suggestions_are_remembered_and_unchanged() -> None:
    speller = Speller(["adipose", "umbilical", "marrow"])
    assert speller.suggest("adipsoe") == "adipose"
    assert speller.suggest("adipsoe") == "adipose"  # from the cache
    info = speller._closest.cache_info()
    assert (info.hits, info.misses) == (1, 1)
    assert speller.correct("umbilcal marow") == "umbilical marrow"


DEFINED = ["BM-MSCs", "AD-MSCs", "UC-MSCs", "FDA", "PDA", "CRT", "TNF-α"]


@pytest.mark.parametrize(
    ("question", "rewritten"),
    [
        ("How do BMSCs affect neurons?", "How do BM-MSCs affect neurons?"),  # one letter less
        ("Are ADMSC approved?", "Are AD-MSCs approved?"),  # same letters, no hyphen
        ("UCMSCs or bone marrow?", "UC-MSCs or bone marrow?"),
    ],
)
def test_abbreviations_written_another_way_become_the_defined_one(
    question: str, rewritten: str
) -> None:
    assert Speller(["stem"], abbreviations=DEFINED).correct(question) == rewritten


@pytest.mark.parametrize(
    "question",
    [
        "What about BM-MSCs?",  # the defined form itself
        "Is PD treated?",  # too short to tell from PDA
        "Is CAR-T used?",  # not the defined three-letter "CRT": too short a form to match
        "Are iPSCs used?",  # no defined abbreviation within one letter
        "Bmscs in lower case?",  # fewer than two capitals: not written as an abbreviation
    ],
)
def test_other_words_are_not_taken_for_a_defined_abbreviation(question: str) -> None:
    assert Speller(["stem"], abbreviations=DEFINED).correct(question) == question


def test_two_defined_abbreviations_as_close_leave_the_word_alone() -> None:
    assert Speller(["stem"], abbreviations=["ABCE"]).correct("Is ABCDE here?") == "Is ABCE here?"
    speller = Speller(["stem"], abbreviations=["ABCE", "ABCDDE"])  # one letter less, one more
    assert speller.correct("Is ABCDE here?") == "Is ABCDE here?"


def test_a_word_the_model_knows_is_no_typo() -> None:
    corpus = ["heralding", "trees", "wasting", "disease"]
    plain = Speller(corpus)
    assert plain.correct("healing teens watching diseese") == "heralding trees wasting disease"
    knowing = Speller(corpus, known=frozenset({"healing", "teens", "watching"}))
    assert knowing.correct("healing teens watching diseese") == "healing teens watching disease"


def test_model_words_are_the_tokenizers_whole_words(tmp_path: Path) -> None:
    vocab = {"[PAD]": 0, "healing": 1, "##ing": 2, "Teens": 3, "3d": 4}
    (tmp_path / "tokenizer.json").write_text(json.dumps({"model": {"vocab": vocab}}))

    class Folder:
        folder = tmp_path

    class Named:
        source = "sentence-transformers/all-MiniLM-L6-v2"  # no local folder

    assert model_words(Folder()) == frozenset({"healing", "teens"})
    assert model_words(Named()) == frozenset()
    assert model_words(object()) == frozenset()


def test_a_dictionary_word_is_no_typo_though_the_corpus_never_uses_it() -> None:
    corpus = ["A myoma was removed laparoscopically."]
    assert Speller.from_texts(corpus).suggest("myeloma") == "myoma"  # without the dictionary
    speller = Speller(Speller.from_texts(corpus).vocabulary, dictionary={"myeloma"})
    assert speller.suggest("myeloma") is None
    assert speller.correct("CAR-T in multiple myeloma") == "CAR-T in multiple myeloma"
    assert speller.suggest("myomaa") == "myoma"  # a word of no dictionary is still corrected


def test_the_english_dictionary_holds_medical_words_and_no_common_misspellings() -> None:
    words = english_words()
    assert all(w in words for w in ("myeloma", "anaesthetic", "rescuers", "pricey", "arthritic"))
    assert not any(w in words for w in ("diseese", "umbilcal", "mesenchimal", "recieve"))


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("bonemarrow", "bone marrow"),
        ("stemcells", "stem cells"),
        ("umbilicalcord", "umbilical cord"),
    ],
)
def test_two_corpus_words_typed_as_one_are_split(speller: Speller, typed: str, meant: str) -> None:
    assert speller.correct(f"Where do {typed} come from?") == f"Where do {meant} come from?"


def test_a_capitalised_word_is_a_name_not_two_words_run_together(speller: Speller) -> None:
    # "Cellgram" (a product no document names) must stay an unknown name, not "cell gram"
    assert speller.correct("What is Stemcells approved for?") == "What is Stemcells approved for?"
    assert speller.suggest("Stemcells") is None


def test_a_run_together_word_splits_only_into_corpus_words(speller: Speller) -> None:
    # "footballcells": "football" is no word of the corpus, so nothing to split it into
    assert speller.suggest("footballcells") is None
    assert speller.suggest("hostdisease") == "host disease"
