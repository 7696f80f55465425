"""Domain synonym expansion."""

from __future__ import annotations

import re

import pytest

from mscqa.index.lexical import tokenize
from mscqa.retrieval.vocabulary import SYNONYM_GROUPS, Term, Vocabulary, expand


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
            # a form counts as in the question when its words are (as BM25 sees them)
            words, asked = tokenize(form), tokenize(question)
            in_question = any(asked[i : i + len(words)] == words for i in range(len(asked)))
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


def test_equivalents_are_symmetric() -> None:
    vocabulary = Vocabulary(tokenize)
    fat, adipose = tuple(tokenize("fat")), tuple(tokenize("adipose"))
    assert adipose in vocabulary.equivalents(fat) and fat in vocabulary.equivalents(adipose)
    for group in SYNONYM_GROUPS:
        # a phrase that tokenises to one word ("used for" -> "use") is not a form
        forms = {tuple(tokenize(f)) for f in group if len(tokenize(f)) == len(f.split())} - {()}
        for form in forms:
            assert forms - {form} <= vocabulary.equivalents(form), form


ABBREVIATIONS = [
    ("BM-MSCs", "Bone marrow mesenchymal stem cells"),
    ("PD", "Parkinson's disease"),
    ("PD", "peritoneal dialysis"),
]


def test_a_phrase_that_tokenises_to_one_common_word_is_not_matched() -> None:
    assert "indications" not in expand("How has their clinical use been limited?")
    assert "indications" in expand("What are they used for? Which diseases?")


def test_a_documents_abbreviation_works_both_ways_as_one_term() -> None:
    vocabulary = Vocabulary(tokenize, groups=(), pairs=ABBREVIATIONS)
    assert "bone marrow mesenchymal stem cells" in vocabulary.expand("BM-MSC disadvantages")
    assert "bm-mscs" in vocabulary.expand("bone marrow mesenchymal stem cells, drawbacks")
    terms = vocabulary.terms(tokenize("BM-MSCs: disadvantages?"), lambda t: 1.0)
    assert len(terms) == 2  # "BM-MSCs" is one term of two tokens, "disadvantages" another
    bm = next(t for t in terms if len(t.forms) > 1)
    assert bm.weight == 2.0
    sentence = set(tokenize("Bone marrow mesenchymal stem cells are limited."))
    assert bm.found_in(sentence)
    assert not bm.found_in(set(tokenize("Bone marrow is limited.")))


def test_an_ambiguous_short_form_does_not_join_its_long_forms() -> None:
    vocabulary = Vocabulary(tokenize, groups=(), pairs=ABBREVIATIONS)
    expanded = vocabulary.expand("PD")
    assert "parkinson's disease" in expanded and "peritoneal dialysis" in expanded
    assert "peritoneal" not in vocabulary.expand("Parkinson's disease")


def test_words_the_vocabulary_does_not_know_are_terms_of_their_own() -> None:
    weights = {"dopamin": 3.0}
    terms = Vocabulary(tokenize).terms(
        tokenize("dopamine of fat, dopamine"), lambda t: weights.get(t, 1.0)
    )
    assert Term(3.0, (frozenset(["dopamin"]),)) in terms
    assert len(terms) == 2  # repeated words count once


def test_groups_are_lower_case_and_disjoint() -> None:
    seen: set[str] = set()
    for group in SYNONYM_GROUPS:
        for form in group:
            assert form == form.lower()
            assert form not in seen, form
            seen.add(form)


def test_a_command_coordinated_with_another_is_a_part_of_its_own() -> None:
    from mscqa.retrieval.questions import question_parts

    def parts(question: str) -> list[set[str]]:
        terms = Vocabulary(tokenize, ()).terms(tokenize(question), lambda t: 1.0)
        return [{t for i in p for t in terms[i].forms[0]} for p in question_parts(question, terms)]

    # "Explain X and name Y" asks two things; "name" itself is no subject of either
    assert parts("Explain graft rejection and name the product cleared for it.") == [
        set(tokenize("graft rejection")),
        set(tokenize("product cleared")),
    ]
    assert parts("Which product is cleared for graft rejection?") == []


def test_a_repeated_part_is_one_part_and_a_question_has_at_most_max_parts() -> None:
    from mscqa.retrieval.questions import MAX_PARTS, question_parts

    def parts(question: str) -> tuple[frozenset[int], ...]:
        terms = Vocabulary(tokenize, ()).terms(tokenize(question), lambda t: 1.0)
        return question_parts(question, terms)

    # the answerer weighs every part's candidates together (a product over the parts): a
    # hostile "What are MSCs? " * 30 must not make that product 4 ** 30
    assert parts("What are MSCs? " * 30) == ()
    assert len(parts("What are MSCs? What is GVHD? " * 30)) == 2
    many = " ".join(f"What is word{i}?" for i in range(30))
    assert len(parts(many)) == MAX_PARTS


def test_a_compound_question_is_judged_on_the_parts_the_documents_hold() -> None:
    from mscqa.retrieval.questions import answerable_terms, question_parts

    corpus = set(tokenize("Prochymal treats graft versus host disease"))
    question = "What does Prochymal treat, and what does Zqvex cost?"
    terms = Vocabulary(tokenize, ()).terms(tokenize(question), lambda t: 1.0)
    parts = question_parts(question, terms)
    assert len(parts) == 2

    def known(t: Term) -> bool:
        return t.found_in(corpus)

    # the second part ("Zqvex", "cost") is in no document: judged on the first part only
    kept = answerable_terms(terms, parts, known)
    assert {w for t in kept for w in t.forms[0]} == set(tokenize("Prochymal treat"))
    # a question of one part, or one none of whose parts the documents hold, stays whole
    assert answerable_terms(terms, (), known) == terms
    assert answerable_terms(terms, parts, lambda t: False) == terms


def test_an_acronym_is_spelt_out_by_the_one_phrase_whose_initials_spell_it() -> None:
    from mscqa.retrieval.questions import spelt_out

    texts = [
        "It treats graft-versus-host disease and systemic lupus erythematosus.",
        "The Food and Drug Administration approved it. It was observed after surgery.",
    ]
    assert spelt_out("GVHD", texts) == "graft-versus-host disease"
    assert spelt_out("SLE", texts) == "systemic lupus erythematosus"
    assert spelt_out("FDA", texts) == "Food and Drug Administration"  # small words passed over
    assert spelt_out("XYZ", texts) is None
    assert spelt_out("OA", texts) is None  # two letters spell too much ("observed after")
    # two different phrases: which one is meant is not known
    assert spelt_out("SLE", [*texts, "Some long example."]) is None


def test_an_acronym_is_a_word_of_capitals_not_a_piece_of_a_hyphenated_name() -> None:
    from mscqa.retrieval.questions import ACRONYM

    assert ACRONYM.findall("Is GVHD or SLEs treated by CAR-T, IL-1 or anti-TNF drugs?") == [
        "GVHD",
        "SLE",
    ]
