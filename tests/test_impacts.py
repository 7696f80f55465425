"""The impact-ordered BM25 top k (index/impacts.py) against bm25s's exhaustive scores: the same
passages in the same order with the same float32 scores, however early it stops reading."""

from __future__ import annotations

import random

import numpy as np
import pytest

from mscqa.index.impacts import ENTRY, ImpactLists, InMemory, top_k
from mscqa.index.lexical import LexicalIndex, tokenize

VOCAB = [f"word{i}" for i in range(2000)]
ZIPF = [1 / (i + 1) ** 1.1 for i in range(len(VOCAB))]


def corpus(passages: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choices(VOCAB, ZIPF, k=rng.randint(3, 150))) for _ in range(passages)]


def indexed(texts: list[str]) -> tuple[LexicalIndex, ImpactLists, dict[int, int]]:
    lexical = LexicalIndex.build(texts)
    lists = lexical.impacts()
    df = {t: int(n) for t, n in enumerate(np.diff(lists.term_starts))}
    return lexical, lists, df


def exhaustive(lexical: LexicalIndex, query: str, limit: int) -> tuple[np.ndarray, np.ndarray]:
    """bm25s's scores of every row, the best ``limit`` matching ones by a stable sort."""
    scores = lexical.scores(query)
    order = np.argsort(-scores, kind="stable")
    order = order[scores[order] > 0][:limit]
    return order, scores[order]


def ids(lexical: LexicalIndex, query: str) -> list[int]:
    return [lexical.vocabulary[t] for t in lexical.known(tokenize(query))]


@pytest.fixture(scope="module")
def zipf():
    texts = corpus(6000, seed=1)
    return (texts, *indexed(texts))


def test_the_lists_hold_bm25s_scores_both_ways(zipf) -> None:
    _texts, lexical, lists, df = zipf
    term = lexical.vocabulary[tokenize("word3")[0]]
    run = lists.term(term)
    assert len(run) == df[term] > 100
    assert np.all(np.diff(run["impact"]) <= 0)  # highest impact first
    scores = lexical.scores("word3")
    np.testing.assert_array_equal(scores[run["id"]], run["impact"])
    row = int(run["id"][0])
    own = lists.passage(row)
    assert np.all(np.diff(own["id"]) > 0) and term in own["id"]
    assert own.dtype == ENTRY


@pytest.mark.parametrize("depth", [1, 16, 128, 1024])
def test_the_top_k_is_bm25s_exhaustive_top_k_bit_for_bit(zipf, depth: int) -> None:
    texts, lexical, lists, df = zipf
    rng = random.Random(depth)
    pruned = 0
    for n in range(120):
        # common words (Zipf draws), rare ones (uniform), repeats, 1 to 12 tokens
        words = rng.choices(VOCAB, ZIPF if n % 2 else None, k=rng.randint(1, 12))
        query = " ".join(words + words[:1] * (n % 3))
        dense = rng.sample(range(len(texts)), 50)
        source = InMemory(lists)
        rows, scores = top_k(ids(lexical, query), df, 50, source, dense, depth=depth)
        want_rows, want = exhaustive(lexical, query, 50)
        assert rows[: len(want_rows)].tolist() == want_rows.tolist(), query
        np.testing.assert_array_equal(scores[: len(want_rows)], want)
        # every dense candidate comes back with its exact score too
        every = lexical.scores(query)
        got = dict(zip(rows.tolist(), scores.tolist(), strict=True))
        assert all(got[r] == every[r] for r in dense)
        assert len(rows) == len(set(rows.tolist()))
        pruned += source.reads < sum(df[t] for t in set(ids(lexical, query)))
    if depth < 1024:
        assert pruned > 40  # most queries stop before the end of their lists


def test_ties_at_the_cut_are_broken_by_row_as_a_stable_sort_does() -> None:
    # 300 identical passages tie on every query; the top 50 are the first 50 rows
    texts = ["alpha beta gamma"] * 300 + corpus(500, seed=2)
    lexical, lists, df = indexed(texts)
    for depth in (1, 7, 64):
        rows, scores = top_k(ids(lexical, "alpha gamma"), df, 50, InMemory(lists), depth=depth)
        want_rows, want = exhaustive(lexical, "alpha gamma", 50)
        assert rows.tolist() == want_rows.tolist() == list(range(50))
        np.testing.assert_array_equal(scores, want)


def test_no_known_token_scores_the_dense_rows_zero(zipf) -> None:
    _texts, _lexical, lists, df = zipf
    rows, scores = top_k([], df, 50, InMemory(lists), [7, 3])
    assert rows.tolist() == [3, 7] and scores.tolist() == [0.0, 0.0]


def test_fewer_matches_than_asked_for(zipf) -> None:
    texts = ["alpha beta", "beta gamma", "delta", *corpus(200, seed=3)]
    lexical, lists, df = indexed(texts)
    rows, scores = top_k(ids(lexical, "alpha beta"), df, 50, InMemory(lists), depth=1)
    want_rows, want = exhaustive(lexical, "alpha beta", 50)
    assert rows.tolist() == want_rows.tolist() == [0, 1]
    np.testing.assert_array_equal(scores, want)
