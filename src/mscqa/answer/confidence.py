"""The answer's confidence: a logistic model over the retrieval's evidence and the chosen pieces.

``confidence(features(retrieval, chosen))`` is the probability that the quoted answer is right;
the answerer abstains below ``AnswerPolicy.min_confidence``. The weights are fitted offline
(``bench/quality/calibrate.py``), so nothing is trained at run time.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from mscqa.answer.ranker import Unit
from mscqa.types import Retrieval

# Logistic confidence model: the probability that the quoted answer is right. Fitted by
# bench/quality/calibrate.py with k-fold cross-validation on the dev questions (at 5d8740d).
# Refitted after the ranker's ``other_document`` cost, the out-of-fold dev figures moved by one
# question (in scope refused 0.015 -> 0.010, out of scope 0.792 both), while the test split
# (two more article questions refused, 22:55 in bench/quality/test_runs.md) and PubMedQA (first
# citation 0.975 -> 0.974) lost: not a gain, so these weights stay.
CONFIDENCE_WEIGHTS: dict[str, float] = {
    "bias": -4.695,
    "top_dense": 1.868,
    "best_sentence": 1.87,
    "known": 0.799,
    "best_lexical": 0.774,
    "coverage": 2.4,
    "best_unit": 0.454,
    "answer_lexical": 0.241,
    "answer_dense": 0.393,
    "type_ok": -0.252,
    "type_missing": -3.474,
    "unknown_name": -2.959,
}

Ranked = list[tuple[float, Unit, dict[str, float]]]


def features(retrieval: Retrieval, chosen: Ranked | None = None) -> dict[str, float]:
    """The evidence the confidence is computed from (all roughly in [0, 1]).

    With the ``chosen`` pieces: how probable the ranker finds the first, and the share of the
    question's terms the quoted text holds, so the confidence is about *this* answer.
    """
    best = max((max(s.dense, s.context) for s in retrieval.sentences), default=0.0)
    best_lex = max((s.lexical for s in retrieval.sentences), default=0.0)
    feats = {
        "best_lexical": best_lex,
        "top_dense": retrieval.top_dense,
        "best_sentence": best,
        "coverage": retrieval.coverage,
        "known": retrieval.known,
        # a capitalised name the corpus never uses ("European Medicines Agency", "iPSCs")
        "unknown_name": float(bool(retrieval.unknown_names)),
    }
    if chosen:
        found = frozenset().union(*(u.found for _, u, _ in chosen))
        total = sum(retrieval.terms)
        feats["best_unit"] = chosen[0][0]
        feats["answer_lexical"] = sum(retrieval.terms[i] for i in found) / total if total else 0.0
        feats["answer_dense"] = max(f["dense"] for _, _, f in chosen)
        feats["type_ok"] = chosen[0][2]["type_ok"]
        feats["type_missing"] = chosen[0][2]["type_missing"]
    return feats


def confidence(
    feats: Mapping[str, float], weights: Mapping[str, float] = CONFIDENCE_WEIGHTS
) -> float:
    """``sigmoid(bias + sum_i w_i * x_i)``: the probability that the answer is right."""
    z = weights["bias"] + sum(weights[k] * v for k, v in feats.items() if k in weights)
    return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))
