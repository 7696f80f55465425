"""Hybrid retrieval over a tiny corpus with the fake embedder."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import write_corpus
from mscqa.config import Settings
from mscqa.embedding.hashing import HashingEmbedder
from mscqa.index import load_current
from mscqa.indexing import build_index
from mscqa.retrieval.retriever import Retriever


def _snapshot(tmp_path, embedder: HashingEmbedder, docs: dict[str, str]):
    """The snapshot ``build_index`` makes of a corpus of ``docs`` (name -> text)."""
    settings = Settings(
        corpus_dir=write_corpus(tmp_path / "c", docs), index_dir=tmp_path / "i", _env_file=None
    )
    build_index(settings, embedder)
    return load_current(settings.index_dir)


@pytest.fixture
def snapshot(tiny_settings: Settings, fake_embedder: HashingEmbedder):
    build_index(tiny_settings, fake_embedder)
    return load_current(tiny_settings.index_dir)


def test_finds_the_passage_and_scores_its_sentences(snapshot, fake_embedder) -> None:
    result = Retriever(snapshot, fake_embedder).search("liposuction incision", 3)
    assert "liposuction" in result.hits[0].chunk.text
    assert len({h.chunk.chunk_id for h in result.hits}) == len(result.hits)
    scored = {(s.start, s.end) for s in result.sentences}
    for hit in result.hits:
        assert set(hit.chunk.sentences) <= scored


def test_sentence_word_scores_match_the_sentence_text(snapshot, fake_embedder) -> None:
    # sentence token sets are made once per chunk and reused; the score must be the one the
    # sentence's own text gives, on the first search and on a repeat
    from mscqa.index.lexical import tokenize

    retriever = Retriever(snapshot, fake_embedder)
    question = "How is liposuction used to collect adipose cells?"
    first = retriever.search(question, 3)
    terms = retriever.terms(first.corrected)
    assert retriever.sentences.sentence_tokens  # filled for the hits
    for s in first.sentences:
        words = set(tokenize(snapshot.documents[s.chunk.doc_id].text[s.start : s.end]))
        row = retriever._row_of(s.chunk.chunk_id)
        assert row is not None
        # and the words of the sentence it continues, if any (test_sentence_scorer)
        words |= retriever.sentences.inherited(row)[s.chunk.sentences.index((s.start, s.end))]
        assert s.lexical == pytest.approx(retriever._share(terms, words))
        assert s.found == {i for i, t in enumerate(terms) if t.found_in(words)}
    again = retriever.search(question, 3)
    assert [s.lexical for s in again.sentences] == [s.lexical for s in first.sentences]


def test_best_sentence_of_candidates_matches_brute_force(snapshot, fake_embedder) -> None:
    retriever = Retriever(snapshot, fake_embedder)
    vec = fake_embedder.encode(["bone marrow collection is painful"])[0]
    rows = np.arange(len(snapshot.chunks))
    expected = np.full(len(rows), -1.0, dtype=np.float32)
    np.maximum.at(expected, snapshot.sentences.owner, snapshot.sentences.vectors @ vec)
    assert np.allclose(retriever._best_sentence(rows, vec), expected)


def test_at_most_one_passage_per_document_first(tmp_path, fake_embedder) -> None:
    many = "\n\n".join(f"Adipose liposuction adipose liposuction note {i}." for i in range(6))
    corpus = write_corpus(
        tmp_path / "c",
        {
            "a.md": f"# A\n\n{many}\n",
            "b.md": "# B\n\nMarrow cells, cord tissue and once adipose liposuction too.\n",
        },
    )
    settings = Settings(
        corpus_dir=corpus, index_dir=tmp_path / "i", chunk_chars=100, _env_file=None
    )
    build_index(settings, fake_embedder)
    snap = load_current(settings.index_dir)
    plain = Retriever(snap, fake_embedder, per_document=0).search("adipose liposuction", 4)
    assert [h.chunk.doc_id for h in plain.hits] == ["a.md"] * 4  # one document crowds out
    capped = Retriever(snap, fake_embedder).search("adipose liposuction", 4)
    docs = [h.chunk.doc_id for h in capped.hits]
    assert set(docs[:2]) == {"a.md", "b.md"}
    assert docs.count("a.md") == 3  # filled up in score order


def test_misspelt_question_is_corrected(snapshot, fake_embedder) -> None:
    result = Retriever(snapshot, fake_embedder).search("liposuktion incison", 2)
    assert result.corrected == "liposuction incision"
    assert "liposuction" in result.hits[0].chunk.text


def test_unknown_names(snapshot, fake_embedder) -> None:
    retriever = Retriever(snapshot, fake_embedder)
    assert retriever.unknown_names("Has the European Medicines Agency approved it?") == (
        "European",
        "Medicines",
        "Agency",
    )
    # the corpus writes "Food and Drug Administration" out: the retrieved passages spell FDA
    assert retriever.search("Did the FDA approve Prochymal?", 3).unknown_names == ()
    assert retriever.unknown_names("What is GVHD?") == ()  # GVHD is a synonym of the corpus's term


def test_sentence_openers_and_the_pronoun_i_are_no_names(snapshot, fake_embedder) -> None:
    # a capital that opens a later sentence, or the pronoun "I", marks no name: a patient's
    # two-sentence question is not about something called "Do"
    retriever = Retriever(snapshot, fake_embedder)
    assert retriever.unknown_names("My sister has lupus. Do they use stem cells for it?") == ()
    assert retriever.unknown_names("I've read about liposuction; is it painful?") == ()
    assert retriever.unknown_names("Is it painful, I'm asking?") == ()
    # a name that opens a later sentence is still a name
    assert retriever.unknown_names("I read about it. Is it sold by Mesoblast?") == ("Mesoblast",)


def test_a_name_is_known_in_the_corpus_s_other_spelling(tmp_path, fake_embedder) -> None:
    snap = _snapshot(
        tmp_path,
        fake_embedder,
        {
            "a.md": "# Cytokines\n\nThe cells lower interleukin-1 (IL-1) in the joint.\n",
            "b.md": "# Approvals\n\nThe United States approved one product after TUR.\n",
        },
    )
    retriever = Retriever(snap, fake_embedder)
    # one short form spelt without its hyphen: the corpus defines "IL-1", never "IL-6"
    assert retriever.unknown_names("Do the cells lower IL1?") == ()
    assert retriever.unknown_names("Do the cells lower IL6?") == ("IL6",)
    # a country the corpus names in another form, whichever passages the question retrieves
    assert retriever.unknown_names("Which product did the US approve?") == ()
    assert retriever.unknown_names("Which product did the USA approve?") == ()
    assert retriever.unknown_names("Which product did India approve?") == ("India",)
    # a country's code is no form of its name: a corpus's "TUR" (a resection) names no Turkey
    assert retriever.unknown_names("Which product did the TR approve?") == ("TR",)


def test_a_subject_the_corpus_never_names_reaches_the_answerer(snapshot, fake_embedder) -> None:
    retriever = Retriever(snapshot, fake_embedder)
    assert retriever.search("Is tirzepatide better than Prochymal?", 3).unknown_subject == (
        "tirzepatide"
    )
    assert retriever.search("Is Prochymal approved?", 3).unknown_subject == ""
    # a form the vocabulary equates with the corpus's term is no unknown subject
    assert retriever.search("What is the main cause of GVHD?", 3).unknown_subject == ""


def test_words_pointing_at_the_documents_are_no_terms(snapshot, fake_embedder) -> None:
    # "according to the article", "in the text": every passage is in the article, so those
    # words are no content to match; the question's own terms are those of its content
    retriever = Retriever(snapshot, fake_embedder)
    plain = retriever.search("How is liposuction done?", 3)
    padded = retriever.search("According to the article, how is liposuction done in the text?", 3)
    assert padded.terms == plain.terms
    assert padded.corrected == "how is liposuction done?"
    assert padded.known == plain.known and padded.coverage == plain.coverage
    said = retriever.search("What does the document say about liposuction?", 3)
    assert said.terms == retriever.search("What about liposuction?", 3).terms
    # a named part of the document is content ("according to the closing note")
    assert "note" in retriever.search("According to the closing note, what is it?", 3).corrected
    # nothing else left: the question as asked
    assert retriever.search("According to the text?", 3).corrected == "According to the text?"


def test_the_subject_s_terms_reach_the_answerer(snapshot, fake_embedder) -> None:
    found = Retriever(snapshot, fake_embedder).search("What are the side effects of Prochymal?", 3)
    # the terms in the question's order: "side", "effects", "prochymal"
    assert len(found.terms) == 3 and found.subject_terms == {2}
    assert Retriever(snapshot, fake_embedder).search("Is it safe?", 3).subject_terms == set()


def test_a_title_capitalises_words_not_names(snapshot, fake_embedder) -> None:
    # a question written as a title (PubMedQA's often are) capitalises every word: "Thing" is
    # no name there; a word capitalised otherwise than a title would ("XYZQ") still is one
    retriever = Retriever(snapshot, fake_embedder)
    title = "Adipose Cells Collected Through Liposuction: Are We Measuring the Same Thing?"
    assert retriever.unknown_names(title) == ()
    assert retriever.unknown_names(title.replace("Same", "Same XYZQ")) == ("XYZQ",)
    assert retriever.unknown_names("Are adipose cells collected the same Thing?") == ("Thing",)
    # a few capitalised words do not make a title
    assert retriever.unknown_names("Do Norwegian Clinics use liposuction?") == (
        "Norwegian",
        "Clinics",
    )


def test_invalid_parameters(snapshot, fake_embedder) -> None:
    with pytest.raises(ValueError, match="fusion"):
        Retriever(snapshot, fake_embedder, fusion="magic")
    with pytest.raises(ValueError, match="alpha"):
        Retriever(snapshot, fake_embedder, alpha=2.0)


def test_chunk_tokens_are_the_words_bm25_indexed(snapshot, fake_embedder) -> None:
    # the Retriever takes its chunk tokens from the build's tokenisation (shared in process)
    from mscqa.index import chunk_words
    from mscqa.index.lexical import tokenize

    rows = range(len(snapshot.chunks))
    assert [snapshot.chunk_tokens(r) for r in rows] == [
        set(tokenize(chunk_words(c))) for c in snapshot.chunks
    ]


# --- corpus-mined abbreviations, the best document's passages, unreadable parts, subjects ------

DEFINING = {
    "gvhd.md": """# Graft disease

Patients with graft-versus-host disease are treated with marrow cells.

## Later

After transplant GVHD may return. Donor T cells attack the host.

## Table of products

## Outlook

The outlook is good when treatment starts early. Liposuction is not used.
""",
    "other.md": "# Other\n\nAdipose tissue is collected by liposuction.\n",
    "define.md": "# Define\n\nGraft-versus-host disease (GVHD) is common after transplants.\n",
}


@pytest.fixture
def defining(tmp_path, fake_embedder):
    corpus = write_corpus(tmp_path / "c", DEFINING)
    settings = Settings(
        corpus_dir=corpus, index_dir=tmp_path / "i", chunk_chars=100, _env_file=None
    )
    build_index(settings, fake_embedder)
    return load_current(settings.index_dir)


def test_abbreviations_defined_in_a_document_expand_questions(defining, fake_embedder) -> None:
    assert [(a.short, a.long) for a in defining.abbreviations] == [
        ("GVHD", "Graft-versus-host disease")
    ]
    retriever = Retriever(defining, fake_embedder, vocabulary=False)
    assert "graft-versus-host disease" in retriever.vocabulary.expand("GVHD treatment")
    assert "gvhd" in retriever.vocabulary.expand("graft-versus-host disease treatment")
    off = Retriever(defining, fake_embedder, vocabulary=False, abbreviations=False)
    assert off.vocabulary.expand("GVHD treatment") == "GVHD treatment"
    # the question's "GVHD" is found in a sentence that only says the long form
    result = retriever.search("GVHD patients marrow cells", 3)
    long_form = next(s for s in result.sentences if "graft-versus-host" in s.chunk.text[:80])
    terms = retriever.terms("GVHD patients marrow cells")
    gvhd = next(i for i, t in enumerate(terms) if len(t.forms) > 1)
    assert gvhd in long_form.found


def test_the_defined_abbreviations_a_question_uses_reach_the_answerer(
    defining, fake_embedder
) -> None:
    retriever = Retriever(defining, fake_embedder)
    pair = ("GVHD", "Graft-versus-host disease")
    assert retriever.search("What causes GVHD?", 3).defined == (pair,)
    assert retriever.search("What causes graft-versus-host disease?", 3).defined == (pair,)
    assert retriever.search("How is fat collected?", 3).defined == ()


def test_the_best_documents_other_passages_are_scored_too(defining, fake_embedder) -> None:
    result = Retriever(defining, fake_embedder, per_document=1).search("graft disease", 1)
    (hit,) = result.hits
    scored = {s.chunk.chunk_id for s in result.sentences}
    same_doc = {c.chunk_id for c in defining.chunks if c.doc_id == hit.chunk.doc_id}
    assert scored == same_doc and len(same_doc) > 1
    alone = Retriever(defining, fake_embedder, document_passages=0).search("graft disease", 1)
    assert {s.chunk.chunk_id for s in alone.sentences} == {hit.chunk.chunk_id}


def test_unreadable_parts_of_the_hits_documents_reach_the_answerer(defining, fake_embedder) -> None:
    (part,) = defining.unreadable
    assert (part.doc_id, part.section, part.context) == ("gvhd.md", "Table of products", "Later")
    result = Retriever(defining, fake_embedder).search("table of products for GVHD", 3)
    shares = {u.section: share for u, share in result.unreadable}
    assert shares["Table of products"] > 0.5


def test_a_question_names_a_subject_or_leans_on_the_conversation(defining, fake_embedder) -> None:
    retriever = Retriever(defining, fake_embedder)
    assert retriever.names_subject("What about GVHD?")  # an abbreviation a document defines
    assert retriever.names_subject("Is the outlook good?")  # a word of a heading
    assert retriever.names_subject("Does Prochymal work?")  # a name
    assert not retriever.names_subject("Was there a study?")
    assert not retriever.names_subject("Why is that?")


def test_a_follow_up_is_also_scored_by_its_conversation_words(snapshot, fake_embedder) -> None:
    # "Which products are approved?" after a question about adipose cells: the sentence about
    # adipose products holds the conversation's "adipose" too, at half its weight
    from mscqa.retrieval.retriever import CONTEXT_WEIGHT

    question = "Which products are approved?"
    query = f"How are adipose cells collected? {question}"
    retriever = Retriever(snapshot, fake_embedder)
    result = retriever.search(query, 3, question=question)
    own = retriever.terms(question)
    assert len(result.terms) > len(own)
    assert result.terms[: len(own)] == tuple(t.weight for t in own)
    adipose = next(i for i, t in enumerate(retriever.terms(query)) if "adipos" in t.forms[0])
    weights = {t.forms: t.weight for t in retriever.terms(query)}
    extra = list(result.terms[len(own) :])
    assert pytest.approx(CONTEXT_WEIGHT * list(weights.values())[adipose]) in extra
    japan = next(
        s
        for s in result.sentences
        if s.chunk.text[s.start - s.chunk.start :].startswith("Japan has approved")
    )
    assert any(i >= len(own) for i in japan.found)  # "adipose", from the conversation
    off = Retriever(snapshot, fake_embedder, context_terms=False)
    assert off.search(query, 3, question=question).terms == tuple(t.weight for t in own)
    # a question that stands alone is scored by its own words only
    assert retriever.search(question, 3).terms == tuple(t.weight for t in own)


def test_a_passage_s_undefined_abbreviation_holds_the_question_s_words(
    tmp_path, fake_embedder
) -> None:
    snap = _snapshot(
        tmp_path,
        fake_embedder,
        {"scan.md": "# Scan\n\nCavitation was seen on CBCT scans of 40 teeth.\n"},
    )
    question = "Is cavitation seen in cone beam computed tomography?"

    def held(retriever: Retriever) -> float:
        result = retriever.search(question, 1)
        return max(s.lexical for s in result.sentences if "CBCT" in s.chunk.text)

    assert held(Retriever(snap, fake_embedder)) == pytest.approx(1.0)
    assert held(Retriever(snap, fake_embedder, acronyms=False)) < 0.5


def test_a_sentence_using_a_defined_abbreviation_holds_its_long_forms_words(
    tmp_path, fake_embedder
) -> None:
    snap = _snapshot(
        tmp_path,
        fake_embedder,
        {
            "bm.md": "# Marrow\n\nBone marrow mesenchymal stem cells (BM-MSCs) repair tissue. "
            "Collecting BM-MSCs is painful.\n",
            # another document uses the short form without defining it: nothing to spell out
            "other.md": "# Other\n\nCollecting BM-MSCs is painful, they say.\n",
        },
    )
    question = "Is collecting marrow painful?"

    def holds_marrow(retriever: Retriever) -> dict[str, bool]:
        marrow = next(i for i, t in enumerate(retriever.terms(question)) if "marrow" in t.forms[0])
        return {
            s.chunk.text[s.start - s.chunk.start : s.end - s.chunk.start]: marrow in s.found
            for s in retriever.search(question, 2).sentences
        }

    on = holds_marrow(Retriever(snap, fake_embedder, vocabulary=False))
    assert on["Collecting BM-MSCs is painful."] is True
    assert on["Collecting BM-MSCs is painful, they say."] is False
    off = holds_marrow(Retriever(snap, fake_embedder, vocabulary=False, abbreviations=False))
    assert off["Collecting BM-MSCs is painful."] is False


def test_an_acronym_nobody_defines_is_found_by_the_phrase_it_abbreviates(
    tmp_path, fake_embedder
) -> None:
    snap = _snapshot(
        tmp_path,
        fake_embedder,
        {"gv.md": "# Transplants\n\nDonor T cells cause graft-versus-host disease in patients.\n"},
    )
    question = "What causes GVHD?"
    on = Retriever(snap, fake_embedder, vocabulary=False).search(question, 1)
    off = Retriever(snap, fake_embedder, vocabulary=False, initials=False).search(question, 1)
    assert off.unknown_names == ("GVHD",) and on.unknown_names == ()
    assert max(s.lexical for s in on.sentences) > max(s.lexical for s in off.sentences)
