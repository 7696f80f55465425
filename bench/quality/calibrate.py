"""Fit the answerer's confidence model on the dev set and report the abstention trade-off.

    python -m bench.quality.calibrate [--dev tests/data/devset.jsonl] \
        [--heldout tests/data/heldout.jsonl]

Features per question come from the real pipeline (``QAService.explain``); the label is whether
the question is in scope. A logistic regression (L2, Newton's method) gives the weights printed
here, which are copied into ``mscqa.answer.answerer.CONFIDENCE_WEIGHTS``; the threshold table shows
false abstention (in-scope questions refused) against abstention recall (out-of-scope refused).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path

import numpy as np

from mscqa.answer.answerer import CONFIDENCE_WEIGHTS, confidence
from mscqa.config import Settings
from mscqa.evaluation import load_questions
from mscqa.indexing import build_index
from mscqa.service import QAService

FEATURES = [k for k in CONFIDENCE_WEIGHTS if k != "bias"]


def collect(service: QAService, path: Path) -> tuple[np.ndarray, np.ndarray]:
    xs, ys = [], []
    for item in load_questions(path):
        _, ans = service.explain(item.question, 5, item.history)
        xs.append([ans.meta[f] for f in FEATURES])
        ys.append(0.0 if item.expect_abstain else 1.0)
    return np.array(xs), np.array(ys)


def fit(x: np.ndarray, y: np.ndarray, l2: float = 0.1, iters: int = 50) -> np.ndarray:
    xb = np.hstack([np.ones((len(x), 1)), x])
    w = np.zeros(xb.shape[1])
    reg = l2 * np.eye(len(w))
    reg[0, 0] = 0.0
    for _ in range(iters):
        p = 1 / (1 + np.exp(-xb @ w))
        grad = xb.T @ (p - y) + reg @ w
        hess = xb.T @ (xb * (p * (1 - p))[:, None]) + reg
        w -= np.linalg.solve(hess, grad)
    return w


def table(weights: dict[str, float], x: np.ndarray, y: np.ndarray, label: str) -> None:
    conf = np.array([confidence(dict(zip(FEATURES, row, strict=True)), weights) for row in x])
    print(f"\n{label}: threshold  false_abstention  abstention_recall")
    for t in (0.2, 0.3, 0.4, 0.5, 0.6, 0.7):
        fa = float(np.mean(conf[y == 1] < t))
        rec = float(np.mean(conf[y == 0] < t))
        print(f"  {t:.1f}        {fa:.3f}             {rec:.3f}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dev", type=Path, default=Path("tests/data/devset.jsonl"))
    ap.add_argument("--heldout", type=Path, default=Path("tests/data/heldout.jsonl"))
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(index_dir=Path(tmp))
        build_index(settings)
        service = QAService(settings)
        service.load()
        x, y = collect(service, args.dev)
        w = fit(x, y)
        weights = {"bias": round(float(w[0]), 2)} | {
            f: round(float(v), 2) for f, v in zip(FEATURES, w[1:], strict=True)
        }
        print("fitted weights:", json.dumps(weights))
        print("current weights:", json.dumps(CONFIDENCE_WEIGHTS))
        table(weights, x, y, "dev (fitted)")
        table(CONFIDENCE_WEIGHTS, x, y, "dev (current)")
        if args.heldout.exists():
            hx, hy = collect(service, args.heldout)
            table(weights, hx, hy, "held-out (fitted)")
            table(CONFIDENCE_WEIGHTS, hx, hy, "held-out (current)")


if __name__ == "__main__":
    main()
