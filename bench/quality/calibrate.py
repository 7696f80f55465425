"""Fit the answerer's confidence model on the dev questions, with k-fold cross-validation.

    .venv/bin/python -m bench.quality.calibrate [--folds 5] [--l2 0.3]

Data: every dev question (`bench.quality.learning.dev_cases`: in scope and out of scope, the
article's and our PubMed ones), answered with the shipped ranker and no abstention threshold;
the features are the answer's `meta` (`mscqa.answer.features`: retrieval evidence and how well
the chosen pieces match the question), the label whether the question is in scope (the
documents hold the answer: what the confidence means). Questions refused by a rule whatever the
confidence (none here by default: a missing figure is the `type_missing` feature) are left out
of the fit.

A logistic regression (L2, Newton) is fitted on four folds and scored on the fifth, so every
figure printed is out of fold: the reliability table (per confidence bin, how many questions,
their mean confidence and how many were in scope), the Brier score (also against "the quoted
answer is right"), and the trade-off at each threshold (in-scope questions refused against
out-of-scope questions refused), for the shipped weights too. The weights fitted on all dev
questions are printed last, to be copied into `mscqa.answer.confidence.CONFIDENCE_WEIGHTS`. The
test split is not read; `bench.quality.report` reports its calibration.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Mapping, Sequence

import numpy as np

from bench.quality.learning import Case, as_weights, cross_validate, dev_cases, fit_logistic, folds
from mscqa.answer import CONFIDENCE_WEIGHTS, answer, confidence
from mscqa.evaluation import answer_right, reliability
from mscqa.types import Answer

FEATURES = (
    "top_dense",
    "best_sentence",
    "known",
    "best_lexical",
    "coverage",
    "best_unit",
    "answer_lexical",
    "answer_dense",
    "type_ok",
    "type_missing",
    "unknown_name",
)
THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7)


def composed(case: Case) -> Answer:
    policy = dataclasses.replace(case.service.policy, min_confidence=0.0)
    return answer(case.item.question, case.retrieval, policy)


def fittable(a: Answer) -> bool:
    """Answered without a threshold: no rule refused it, so the confidence decides."""
    return a.answered


def fit(cases: Sequence[Case], answers: Mapping[int, Answer], l2: float) -> dict[str, float]:
    x = np.array([[answers[id(c)].meta[f] for f in FEATURES] for c in cases])
    y = np.array([0.0 if c.item.expect_abstain else 1.0 for c in cases])
    return as_weights(fit_logistic(x, y, l2=l2), FEATURES, digits=3)


def report(
    label: str, cases: Sequence[Case], conf: Sequence[float], answers: Mapping[int, Answer]
) -> str:
    inscope = np.array([not c.item.expect_abstain for c in cases])
    right = np.array([answer_right(c.item, answers[id(c)]) for c in cases], dtype=float)
    p = np.array(conf)
    lines = [
        f"\n{label}: Brier {np.mean((p - inscope) ** 2):.4f} (in scope), "
        f"{np.mean((p - right) ** 2):.4f} (quoted answer right); {len(cases)} questions",
        "| confidence | questions | mean confidence | in scope | answer right |",
        "|---|---|---|---|---|",
    ]
    table = reliability(list(p), list(inscope.astype(float)))
    right_by_bin = reliability(list(p), list(right))
    for row, r2 in zip(table, right_by_bin, strict=True):
        lines.append(
            f"| {row['bin']} | {row['n']} | {row['confidence']} | {row['observed']} | "
            f"{r2['observed']} |"
        )
    lines += ["| threshold | in scope refused | out of scope refused |", "|---|---|---|"]
    for t in THRESHOLDS:
        lines.append(
            f"| {t} | {np.mean(p[inscope] < t):.3f} | "
            f"{np.mean(p[~inscope] < t) if (~inscope).any() else float('nan'):.3f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--l2", type=float, default=0.3)
    args = ap.parse_args(argv)
    cases = dev_cases()
    answers = {id(c): composed(c) for c in cases}
    cases = [c for c in cases if fittable(answers[id(c)])]
    fold_of = folds(cases, args.folds)
    oof = cross_validate(
        cases,
        fold_of,
        lambda train: fit(train, answers, args.l2),
        lambda c, w: confidence(answers[id(c)].meta, w),
    )
    shipped = [confidence(answers[id(c)].meta, CONFIDENCE_WEIGHTS) for c in cases]
    out = [f"{len(cases)} dev questions answered without a threshold (the others a rule refused)"]
    for corpus in ("all", "article", "pubmed"):
        idx = [i for i, c in enumerate(cases) if corpus in ("all", c.corpus)]
        part = [cases[i] for i in idx]
        out.append(
            report(
                f"{args.folds}-fold out of fold [{corpus}]", part, [oof[i] for i in idx], answers
            )
        )
        out.append(report(f"shipped weights [{corpus}]", part, [shipped[i] for i in idx], answers))
    final = fit(cases, answers, args.l2)
    out.append("\nfitted on all dev questions (paste into CONFIDENCE_WEIGHTS):")
    out.append(json.dumps(final, indent=4))
    sys.stdout.write("\n".join(out) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
