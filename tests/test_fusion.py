"""Rank fusion: reciprocal rank fusion and the weighted convex combination."""

from __future__ import annotations

import numpy as np
import pytest

from mscqa.retrieval.fusion import FUSION_MODES, fuse, rrf, weighted


def test_rrf_matches_the_formula_on_a_hand_computed_example() -> None:
    dense = np.array([0.9, 0.5, 0.7])  # ranks 1, 3, 2
    lexical = np.array([1.0, 3.0, 2.0])  # ranks 3, 1, 2
    k = 10
    expected = np.array(
        [1 / (k + 1) + 1 / (k + 3), 1 / (k + 3) + 1 / (k + 1), 1 / (k + 2) + 1 / (k + 2)]
    )
    np.testing.assert_allclose(rrf(dense, lexical, k=k), expected)


def test_rrf_default_k_is_60() -> None:
    dense = np.array([0.2, 0.8])
    lexical = np.array([0.0, 0.0])
    np.testing.assert_allclose(rrf(dense, lexical), [1 / 62, 1 / 61])


def test_rrf_zero_scores_get_no_share() -> None:
    dense = np.array([0.5, 0.0, -0.2, 0.4])
    lexical = np.array([0.0, 2.0, 0.0, 0.0])
    out = rrf(dense, lexical, k=1)
    # row 1: no dense share (0), lexical rank 1; row 2: nothing positive anywhere
    np.testing.assert_allclose(out, [1 / 2, 1 / 2, 0.0, 1 / 3])


def test_weighted_is_alpha_cosine_plus_normalised_bm25() -> None:
    dense = np.array([0.8, 0.1, 0.4], dtype=np.float32)
    lexical = np.array([2.0, 8.0, 0.0], dtype=np.float32)
    alpha = 0.3
    expected = [0.3 * 0.8 + 0.7 * 0.25, 0.3 * 0.1 + 0.7 * 1.0, 0.3 * 0.4 + 0.0]
    np.testing.assert_allclose(weighted(dense, lexical, alpha), expected, rtol=1e-6)


def test_weighted_all_zero_lexical_is_just_scaled_cosine() -> None:
    dense = np.array([0.5, 0.25])
    out = weighted(dense, np.zeros(2), 0.6)
    np.testing.assert_allclose(out, [0.3, 0.15])
    assert np.all(np.isfinite(out))


@pytest.mark.parametrize("alpha", [0.0, 1.0])
def test_weighted_extremes(alpha: float) -> None:
    dense = np.array([0.9, 0.1])
    lexical = np.array([1.0, 4.0])
    out = weighted(dense, lexical, alpha)
    np.testing.assert_allclose(out, dense if alpha == 1.0 else lexical / 4.0)


@pytest.mark.parametrize("alpha", [-0.01, 1.01, 2.0])
def test_weighted_rejects_alpha_outside_unit_interval(alpha: float) -> None:
    with pytest.raises(ValueError, match="alpha"):
        weighted(np.zeros(2), np.zeros(2), alpha)


def test_fuse_dispatches() -> None:
    dense = np.array([0.3, 0.6])
    lexical = np.array([5.0, 1.0])
    np.testing.assert_allclose(fuse("dense", dense, lexical), dense)
    np.testing.assert_allclose(fuse("lexical", dense, lexical), lexical)
    np.testing.assert_allclose(fuse("rrf", dense, lexical), rrf(dense, lexical))
    np.testing.assert_allclose(fuse("weighted", dense, lexical, 0.2), weighted(dense, lexical, 0.2))


def test_fuse_unknown_mode_lists_the_valid_ones() -> None:
    with pytest.raises(ValueError) as info:
        fuse("max", np.zeros(1), np.zeros(1))
    message = str(info.value)
    assert "'max'" in message
    for mode in FUSION_MODES:
        assert mode in message
