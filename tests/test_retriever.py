"""Hybrid retrieval over a tiny corpus with the fake embedder."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import write_corpus
from mscqa.config import Settings
from mscqa.embedding.hashing import HashingEmbedder
from mscqa.index.snapshot import load_current
from mscqa.indexing import build_index
from mscqa.retrieval.retriever import Retriever


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
    weights = retriever._weights(first.corrected)
    assert retriever._sentence_tokens  # filled for the hits
    for s in first.sentences:
        words = set(tokenize(snapshot.documents[s.chunk.doc_id].text[s.start : s.end]))
        assert s.lexical == pytest.approx(retriever._share(weights, words))
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
    assert retriever.unknown_names("Did the FDA approve Prochymal?") == ()
    assert retriever.unknown_names("What is GVHD?") == ()  # GVHD is a synonym of the corpus's term


def test_invalid_parameters(snapshot, fake_embedder) -> None:
    with pytest.raises(ValueError, match="fusion"):
        Retriever(snapshot, fake_embedder, fusion="magic")
    with pytest.raises(ValueError, match="alpha"):
        Retriever(snapshot, fake_embedder, alpha=2.0)


def test_chunk_tokens_are_the_words_bm25_indexed(snapshot, fake_embedder) -> None:
    # the Retriever takes its chunk tokens from the build's tokenisation (shared in process)
    from mscqa.index.lexical import tokenize
    from mscqa.index.snapshot import chunk_words

    rows = range(len(snapshot.chunks))
    assert [snapshot.chunk_tokens(r) for r in rows] == [
        set(tokenize(chunk_words(c))) for c in snapshot.chunks
    ]
