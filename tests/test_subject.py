"""The subject of a question, and whether the corpus never names it (retrieval.subject)."""

from __future__ import annotations

import pytest

from mscqa.index.lexical import tokenize
from mscqa.retrieval.subject import prefixes, subject, unknown_subject


@pytest.mark.parametrize(
    ("question", "word"),
    [
        ("Is tirzepatide better than insulin for type 2 diabetes?", "tirzepatide"),
        ("Does lecanemab slow memory decline?", "lecanemab"),
        ("How much does nirmatrelvir cut hospital admissions?", "nirmatrelvir"),
        ("What response rates does CAR-T cell therapy achieve?", "CAR-T"),
        ("Does the new vaccine work?", "new"),
        ("Thoracic aneurysm repair: is reimplantation of arteries useful?", "reimplantation"),
        # a property of something: the something
        ("What are the common side effects of the mpox vaccine?", "mpox"),
        ("What is the usual dose of semaglutide for weight loss?", "semaglutide"),
        # "there" and "it" stand for what follows
        ("Is there evidence that lecanemab slows decline?", "lecanemab"),
        ("Are there any studies of nirmatrelvir in COVID-19?", "nirmatrelvir"),
        ("Is it safe to take semaglutide during pregnancy?", "semaglutide"),
    ],
)
def test_the_subject_follows_the_auxiliary_of_the_question_clause(question: str, word: str) -> None:
    assert subject(question) == word


@pytest.mark.parametrize(
    "question",
    [
        # a title's topic part is no question clause: the one after the colon is
        "Telemedicine and type 1 diabetes: is it sufficient to improve glycaemic control?",
        "Actinobaculum schaalii, a cause of urinary tract infections in children?",
        "Can we ease the financial burden of colonoscopy?",  # a pronoun
        "Adjuvant radiation of stage III thymoma: is it necessary?",
        "Is there a favorable subset of patients with prostate cancer?",
    ],
)
def test_no_subject_in_a_topic_part_or_a_pronoun(question: str) -> None:
    assert subject(question) is None


CORPUS = tokenize("Insulin lowers glucose in type 2 diabetes. The method was simplified.")


def unknown(question: str, model_words: frozenset[str] = frozenset()) -> str:
    have = set(CORPUS)
    return unknown_subject(question, have.__contains__, lambda: prefixes(have), model_words)


def test_a_subject_the_corpus_never_names_is_unknown() -> None:
    assert unknown("Is tirzepatide better than insulin for type 2 diabetes?") == "tirzepatide"
    # the rest of the question matching the corpus changes nothing; a known subject is known
    assert unknown("Is insulin better than tirzepatide for type 2 diabetes?") == ""
    # a form of a corpus word ("simplified") is no new name, nor a whole word of the model's
    assert unknown("Is simplification of the method safe?") == ""
    assert unknown("Does rugby cause concussion?", frozenset({"rugby"})) == ""
    assert unknown("Does rugby cause concussion?") == "rugby"
    # two corpus words typed as one are no name
    assert unknown("Is insulinglucose lower in type 2 diabetes?") == ""
    # each part of a hyphenated subject; a short part alone is no name
    assert unknown("Does psilocybin-assisted therapy help?") == "psilocybin"
    assert unknown("Is a CAR-T better?") == ""
    # a word the corpus lacks elsewhere than in the subject is not the subject
    assert unknown("Is insulin safe in tirzepatide users?") == ""


def test_the_prefixes_are_asked_for_only_when_a_subject_is_unseen() -> None:
    asked = []

    def corpus_prefixes() -> frozenset[str]:
        asked.append(1)
        return prefixes(CORPUS)

    have = set(CORPUS)
    assert unknown_subject("Is insulin safe?", have.__contains__, corpus_prefixes) == ""
    assert not asked


def test_the_subject_s_terms_are_those_holding_its_word() -> None:
    from mscqa.retrieval.questions import subject_terms
    from mscqa.retrieval.vocabulary import Term

    def term(*forms: str) -> Term:
        return Term(1.0, tuple(frozenset(tokenize(f)) for f in forms))

    terms = [term("side"), term("effects"), term("Prochymal")]
    assert subject_terms("What are the side effects of Prochymal?", terms) == {2}
    phrase = [term("MSC", "mesenchymal stem cells"), term("safe")]
    assert subject_terms("Are mesenchymal stem cells safe?", phrase) == {0}
    assert subject_terms("Is it safe?", phrase) == frozenset()  # a pronoun names no subject
