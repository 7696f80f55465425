"""The logistic fit the confidence weights come from (bench.quality.learning.fit_logistic)."""

from __future__ import annotations

import numpy as np
from bench.quality.learning import fit_logistic


def test_weights_added_on_top_keep_the_models_bias() -> None:
    # a feature that is 1 only on questions out of scope, over a model (the offset) that
    # already separates the rest: fitted on top without an intercept, its weight is negative
    # and the bias stays 0, so every question without the feature keeps its log-odds
    x = np.array([[0.0], [0.0], [0.0], [1.0], [1.0], [0.0]])
    y = np.array([1.0, 1.0, 1.0, 0.0, 0.0, 0.0])
    offset = np.array([2.0, 2.0, 2.0, 2.0, 2.0, -2.0])
    w = fit_logistic(x, y, l2=0.3, offset=offset, intercept=False)
    assert w[0] == 0.0
    assert w[1] < -2.0
    # with an intercept the bias moves as well
    assert fit_logistic(x, y, l2=0.3, offset=offset)[0] != 0.0
