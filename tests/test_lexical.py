"""BM25 tokenisation and the lexical index."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mscqa.index.lexical import LexicalIndex, Tokens, corpus_words, tokenize, tokenize_all
from mscqa.memo import LastCall

TEXTS = [
    "Adipose stem cells are collected by liposuction.",
    "Bone marrow collection is painful.",
    "Umbilical cord stem cells come from cord tissue.",
]


def test_tokenize_lowercases_stems_and_drops_stop_words() -> None:
    assert tokenize("The Cells and the Tissues") == ["cell", "tissu"]
    assert tokenize("collected collecting collection") == ["collect", "collect", "collect"]
    assert tokenize("a I is") == []  # stop words and one-letter words vanish


def test_tokenize_same_stem_for_inflections() -> None:
    assert tokenize("differentiates") == tokenize("differentiated") == tokenize("differentiating")


def test_scores_rank_the_matching_row_first() -> None:
    index = LexicalIndex.build(TEXTS)
    assert index.size == 3
    scores = index.scores("How is fat collected by liposuction?")
    assert scores.shape == (3,)
    assert int(np.argmax(scores)) == 0
    assert scores[2] == 0.0
    # "collected" matches "collection" through the stemmer
    assert index.scores("collecting")[1] > 0.0


def test_unknown_words_score_zero() -> None:
    index = LexicalIndex.build(TEXTS)
    np.testing.assert_array_equal(index.scores("football quantum"), np.zeros(3))
    np.testing.assert_array_equal(index.scores("the and of"), np.zeros(3))
    assert index.known(["cell", "footbal"]) == ["cell"]


def test_save_load_round_trip(tmp_path: Path) -> None:
    index = LexicalIndex.build(TEXTS)
    index.save(tmp_path / "lex")
    loaded = LexicalIndex.load(tmp_path / "lex")
    assert loaded.size == 3
    for query in ["stem cells", "cord tissue", "painful marrow", "nothing here"]:
        np.testing.assert_allclose(loaded.scores(query), index.scores(query))


def test_texts_without_tokens_still_occupy_a_row() -> None:
    index = LexicalIndex.build(["the and", "stem cells", ""])
    assert index.size == 3
    scores = index.scores("stem")
    assert scores[1] > 0 and scores[0] == scores[2] == 0.0


def test_a_rebuild_reuses_tokens_and_scores_like_a_fresh_build() -> None:
    memo: Tokens = LastCall()
    texts = ["Bone marrow stem cells.", "Adipose tissue by liposuction.", "Cord blood."]
    first = LexicalIndex.build(texts, memo)
    kept = memo.kept
    assert set(kept) == set(texts)
    changed = [*texts[:2], "Umbilical cord tissue."]
    second = LexicalIndex.build(changed, memo)
    # unchanged texts keep their token tuples; the changed one is tokenised afresh
    now = memo.kept
    assert now[texts[0]] is kept[texts[0]]
    assert now["Umbilical cord tissue."] == tuple(tokenize("Umbilical cord tissue."))
    assert texts[2] not in now  # only the last build's texts are kept
    fresh = LexicalIndex.build(changed)  # no memo: tokenised afresh, nothing kept anywhere
    assert memo.kept == now
    for query in ("cord tissue", "liposuction", "marrow"):
        np.testing.assert_array_equal(second.scores(query), fresh.scores(query))
    assert first.scores("cord blood")[2] > 0


def test_document_frequencies_are_the_passages_holding_each_token() -> None:
    texts = [*TEXTS, "the of and", "Stem cells, stem cells."]  # one passage has no token
    expected: dict[str, int] = {}
    for tokens in (set(tokenize(t)) for t in texts):
        for token in tokens:
            expected[token] = expected.get(token, 0) + 1
    assert LexicalIndex.build(texts).document_frequencies() == expected


def test_equal_tokens_are_one_string_object() -> None:
    # a memo of a million passages' tokens holds each distinct token once, not per occurrence
    first, second = tokenize_all(["Stem cells grow", "cells divide"], LastCall())
    assert first[1] == second[0] == "cell" and first[1] is second[0]


def test_corpus_words_are_every_lower_cased_spelling_word() -> None:
    texts = ["Cells GROW; don't", "cells grow in Marrow", "a an MSC"]
    assert corpus_words(texts) == {"cells", "grow", "don't", "marrow"}


def test_a_mapped_index_scores_as_the_one_read(tmp_path: Path) -> None:
    LexicalIndex.build(TEXTS).save(tmp_path / "lexical")
    read, mapped = (
        LexicalIndex.load(tmp_path / "lexical"),
        LexicalIndex.load(tmp_path / "lexical", mmap=True),
    )
    for query in ("stem cells", "cord tissue", "painful marrow collection"):
        np.testing.assert_array_equal(read.scores(query), mapped.scores(query))
