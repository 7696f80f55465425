"""What the learned models are fitted on: dev questions, their retrievals, folds, a logistic fit.

Shared by ``bench.quality.ranker`` (which answer unit answers) and ``bench.quality.calibrate``
(the confidence). Only **dev** files are read here (`tests/data/devset.jsonl`, `heldout.jsonl`,
`tests/data/eval/*.dev.jsonl` and `*.dev2.jsonl`: every file but `*.test.jsonl` and the later
`*.test2.jsonl`, `*.test3.jsonl`, ..., as `mscqa.evaluation.is_test_file` decides); no test split is
ever an input to a fit.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.quality import report
from mscqa.evaluation import Item, load_questions, question_files
from mscqa.types import Retrieval

SEED = 20261201


@dataclass
class Case:
    """One dev question and what retrieval gave the answerer for it."""

    item: Item
    corpus: str  # "article" or "pubmed"
    retrieval: Retrieval
    service: Any  # the QAService that retrieved it (for compose)


def dev_cases(index_root: Path = report.OUT / "quality-index", **options: Any) -> list[Case]:
    """Every dev question of every corpus through ``QAService.explain`` (retrieval once)."""
    report.quiet()
    out: list[Case] = []
    for corpus, files in report.question_sets().items():
        dev = question_files(files, "dev") if files else []
        if not dev:
            continue
        service = report.open_service(corpus, index_root, **options)
        for path in dev:
            for item in load_questions(path):
                retrieval, _ = service.explain(item.question, 5, item.history)
                out.append(Case(item, corpus, retrieval, service))
    report.log(f"{len(out)} dev questions retrieved")
    return out


def folds(cases: Sequence[Case], k: int = 5, seed: int = SEED) -> list[int]:
    """A fold number per case: questions shuffled with ``seed`` and dealt round-robin, per
    corpus and kind, so every fold holds every style."""
    groups: dict[tuple[str, str], list[int]] = {}
    for i, c in enumerate(cases):
        groups.setdefault((c.corpus, c.item.kind), []).append(i)
    out = [0] * len(cases)
    rng = random.Random(seed)
    offset = 0
    for key in sorted(groups):
        members = groups[key]
        rng.shuffle(members)
        for j, i in enumerate(members):
            out[i] = (offset + j) % k
        offset += len(members)
    return out


def fit_logistic(
    x: np.ndarray,
    y: np.ndarray,
    l2: float = 1.0,
    iters: int = 60,
    sample_weight: np.ndarray | None = None,
    offset: np.ndarray | None = None,
    intercept: bool = True,
) -> np.ndarray:
    """L2-regularised logistic regression by Newton's method: ``[bias, w_1, ..., w_n]``.
    The bias is not regularised. ``offset``: a fixed log-odds per row added to ``x @ w`` (the
    logit of a model the new weights sit on top of); ``intercept=False`` keeps the bias at 0
    (weights added to a model whose bias stays)."""
    xb = np.hstack([np.ones((len(x), 1)) if intercept else np.zeros((len(x), 1)), x])
    sw = np.ones(len(x)) if sample_weight is None else sample_weight
    base = np.zeros(len(x)) if offset is None else offset
    w = np.zeros(xb.shape[1])
    reg = l2 * np.eye(len(w))
    reg[0, 0] = 0.0 if intercept else 1.0
    for _ in range(iters):
        p = 1 / (1 + np.exp(-np.clip(xb @ w + base, -50, 50)))
        grad = xb.T @ (sw * (p - y)) + reg @ w
        hess = xb.T @ (xb * (sw * p * (1 - p))[:, None]) + reg
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return w


def fit_listwise(groups: Sequence[tuple[np.ndarray, np.ndarray]], l2: float = 1.0) -> np.ndarray:
    """A linear ranking score ``w . x`` fitted listwise (a conditional logit): per question,
    the softmax of the scores over its candidates should put its mass on the candidates
    labelled 1. ``groups`` is ``(features, labels)`` per question; questions without a positive
    are skipped. Maximises ``sum_q log(sum_{i in pos_q} softmax_i) - l2/2 |w|^2`` (L-BFGS).
    Returns ``w`` (no bias: it cancels in a softmax)."""
    from scipy.optimize import minimize

    data = [(x, y.astype(bool)) for x, y in groups if y.any() and len(y) > 1]
    dim = data[0][0].shape[1]

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        total, grad = 0.5 * l2 * float(w @ w), l2 * w
        for x, pos in data:
            s = x @ w
            s = s - s.max()
            e = np.exp(s)
            p = e / e.sum()
            mass = p[pos].sum()
            total -= float(np.log(mass))
            target = np.where(pos, p / mass, 0.0)
            grad = grad + x.T @ (p - target)
        return total, grad

    result = minimize(loss, np.zeros(dim), jac=True, method="L-BFGS-B")
    return np.asarray(result.x)


def as_weights(w: np.ndarray, names: Sequence[str], digits: int = 2) -> dict[str, float]:
    return {"bias": round(float(w[0]), digits)} | {
        n: round(float(v), digits) for n, v in zip(names, w[1:], strict=True)
    }


def cross_validate(
    cases: Sequence[Case],
    fold_of: Sequence[int],
    fit: Callable[[list[Case]], dict[str, float]],
    apply: Callable[[Case, dict[str, float]], Any],
) -> list[Any]:
    """``apply(case, fit(other folds' cases))`` for every case, fold by fold (out of fold)."""
    out: list[Any] = [None] * len(cases)
    for k in sorted(set(fold_of)):
        train = [c for c, f in zip(cases, fold_of, strict=True) if f != k]
        weights = fit(train)
        for i, (c, f) in enumerate(zip(cases, fold_of, strict=True)):
            if f == k:
                out[i] = apply(c, weights)
    return out
