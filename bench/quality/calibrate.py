"""Fit the answerer's confidence model on the dev questions, with k-fold cross-validation.

    .venv/bin/python -m bench.quality.calibrate [--folds 5] [--l2 0.3] [--seeds 5]
        [--holdout article.dev2 pubmed.dev2] [--features ...] [--collection]

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

Two checks against a fit that only looks good on the folds it was cut from: ``--seeds N``
repeats the k-fold split with N shuffles and prints the spread of the out-of-fold figures, and
``--holdout SET ...`` fits on every other dev set and scores those sets (say, question files
written later by someone else, as the test split was): the closest a dev run gets to "new
questions nobody tuned for". ``--features`` fits another feature list (default
``FEATURES``); ``--collection`` fits only what a collection of documents adds
(``COLLECTION``), the shipped weights held fixed, as the shipped ``documents``,
``doc_margin`` and ``unseen_share`` weights were (``--l2 1``); ``--on-top FEATURE ...`` fits
only those features' weights over every question, the shipped weights (bias too) held fixed, as
``unknown_subject``'s was.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from bench.quality.learning import (
    SEED,
    Case,
    as_weights,
    cross_validate,
    dev_cases,
    fit_logistic,
    folds,
)
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
    # fitted on top of the others until session 7, with them since (confidence.py)
    "unknown_subject",
)
# What a collection of documents adds (``mscqa.answer.confidence.document_margin``): fitted with
# ``--collection`` on top of the shipped weights of ``FEATURES``, on the questions whose passages
# come from several documents; ``documents`` takes the fit's bias.
COLLECTION = ("doc_margin", "unseen_share")
THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7)


def composed(case: Case) -> Answer:
    policy = dataclasses.replace(case.service.policy, min_confidence=0.0)
    return answer(case.item.question, case.retrieval, policy)


def fittable(a: Answer) -> bool:
    """Answered without a threshold: no rule refused it, so the confidence decides."""
    return a.answered


def fit(
    cases: Sequence[Case],
    answers: Mapping[int, Answer],
    l2: float,
    names: Sequence[str] = FEATURES,
) -> dict[str, float]:
    x = np.array([[answers[id(c)].meta[f] for f in names] for c in cases])
    y = np.array([0.0 if c.item.expect_abstain else 1.0 for c in cases])
    return as_weights(fit_logistic(x, y, l2=l2), names, digits=3)


def fit_collection(
    cases: Sequence[Case], answers: Mapping[int, Answer], l2: float
) -> dict[str, float]:
    """``COLLECTION``'s weights (and ``documents``) over the questions retrieved from several
    documents, the shipped model of ``FEATURES`` held fixed as an offset: questions over one
    document keep exactly the shipped confidence."""
    base = {k: w for k, w in CONFIDENCE_WEIGHTS.items() if k in ("bias", *FEATURES)}
    several = [c for c in cases if answers[id(c)].meta.get("documents")]
    if not several:
        return base
    metas = [answers[id(c)].meta for c in several]
    offset = np.array([_logit(m, base) for m in metas])
    x = np.array([[m[f] for f in COLLECTION] for m in metas])
    y = np.array([0.0 if c.item.expect_abstain else 1.0 for c in several])
    w = fit_logistic(x, y, l2=l2, offset=offset)
    added = {k: v for k, v in as_weights(w, COLLECTION, 3).items() if k != "bias"}
    return base | {"documents": round(float(w[0]), 3)} | added


def fit_on_top(
    cases: Sequence[Case], answers: Mapping[int, Answer], l2: float, names: Sequence[str]
) -> dict[str, float]:
    """The weights of ``names`` over every question, the shipped model held fixed as an
    offset and its bias kept: a new piece of evidence, weighed by what it adds (a shipped
    weight of one of ``names`` is left out of the offset: it is what is refitted)."""
    base = {k: w for k, w in CONFIDENCE_WEIGHTS.items() if k not in names}
    metas = [answers[id(c)].meta for c in cases]
    offset = np.array([_logit(m, base) for m in metas])
    x = np.array([[m.get(f, 0.0) for f in names] for m in metas])
    y = np.array([0.0 if c.item.expect_abstain else 1.0 for c in cases])
    w = fit_logistic(x, y, l2=l2, offset=offset, intercept=False)
    added = {k: v for k, v in as_weights(w, names, 3).items() if k != "bias"}
    return base | added


def _logit(meta: Mapping[str, float], weights: Mapping[str, float]) -> float:
    return weights["bias"] + sum(w * meta[k] for k, w in weights.items() if k != "bias")


def fitter(
    args: argparse.Namespace, answers: Mapping[int, Answer]
) -> Callable[[Sequence[Case]], dict[str, float]]:
    if args.collection:
        return lambda train: fit_collection(train, answers, args.l2)
    if args.on_top:
        return lambda train: fit_on_top(train, answers, args.l2, args.on_top)
    return lambda train: fit(train, answers, args.l2, args.features)


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


def decisions(
    cases: Sequence[Case], conf: Sequence[float], threshold: float = 0.5
) -> tuple[float, float]:
    """(share of in-scope questions refused, share of out-of-scope ones refused)."""
    inscope = np.array([not c.item.expect_abstain for c in cases])
    p = np.array(conf)
    oos = float(np.mean(p[~inscope] < threshold)) if (~inscope).any() else float("nan")
    return float(np.mean(p[inscope] < threshold)), oos


def spread(
    cases: Sequence[Case], answers: Mapping[int, Answer], args: argparse.Namespace
) -> list[str]:
    """Out-of-fold Brier and refusals at 0.5 over ``args.seeds`` shuffles of the folds."""
    runs: dict[str, list[tuple[float, float, float]]] = {}
    for seed in range(args.seeds):
        fold_of = folds(cases, args.folds, seed=SEED + seed)
        oof = cross_validate(
            cases,
            fold_of,
            fitter(args, answers),
            lambda c, w: confidence(answers[id(c)].meta, w),
        )
        for corpus in ("all", "article", "pubmed"):
            idx = [i for i, c in enumerate(cases) if corpus in ("all", c.corpus)]
            part, p = [cases[i] for i in idx], [oof[i] for i in idx]
            y = np.array([not c.item.expect_abstain for c in part], dtype=float)
            runs.setdefault(corpus, []).append(
                (float(np.mean((np.array(p) - y) ** 2)), *decisions(part, p))
            )
    out = [f"\nout of fold over {args.seeds} shuffles of the {args.folds} folds (mean ± sd):"]
    for corpus, values in runs.items():
        a = np.array(values)
        m, sd = a.mean(axis=0), a.std(axis=0)
        out.append(
            f"  {corpus}: Brier {m[0]:.4f} ± {sd[0]:.4f}, in scope refused {m[1]:.3f} ± "
            f"{sd[1]:.3f}, out of scope refused {m[2]:.3f} ± {sd[2]:.3f}"
        )
    return out


def holdout(
    cases: Sequence[Case], answers: Mapping[int, Answer], args: argparse.Namespace
) -> list[str]:
    """Fit on the dev sets not in ``args.holdout``; score the held-out sets, and the shipped
    weights on them beside."""
    train = [c for c in cases if c.item.source not in args.holdout]
    held = [c for c in cases if c.item.source in args.holdout]
    if not train or not held:
        return [f"\nholdout {args.holdout}: no such dev set (or nothing left to fit on)"]
    weights = fitter(args, answers)(train)
    out = [f"\nfitted on the other dev sets ({len(train)} questions), scored on {args.holdout}:"]
    for label, w in (("fitted", weights), ("shipped", CONFIDENCE_WEIGHTS)):
        for source in args.holdout:
            part = [c for c in held if c.item.source == source]
            p = [confidence(answers[id(c)].meta, w) for c in part]
            y = np.array([not c.item.expect_abstain for c in part], dtype=float)
            ins, oos = decisions(part, p)
            out.append(
                f"  {label} weights on {source}: Brier {np.mean((np.array(p) - y) ** 2):.4f}, "
                f"in scope refused {ins:.3f}, out of scope refused {oos:.3f} ({len(part)} q)"
            )
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--l2", type=float, default=0.3)
    ap.add_argument("--seeds", type=int, default=1, help="shuffles of the folds")
    ap.add_argument("--holdout", nargs="*", default=[], help="dev sets to fit without")
    ap.add_argument("--features", nargs="*", default=list(FEATURES))
    ap.add_argument(
        "--collection",
        action="store_true",
        help="fit only what a collection of documents adds, on top of the shipped weights",
    )
    ap.add_argument(
        "--on-top",
        nargs="*",
        default=[],
        metavar="FEATURE",
        help="fit only these features' weights, on top of the shipped weights (kept)",
    )
    args = ap.parse_args(argv)
    cases = dev_cases()
    answers = {id(c): composed(c) for c in cases}
    cases = [c for c in cases if fittable(answers[id(c)])]
    fold_of = folds(cases, args.folds)
    oof = cross_validate(
        cases, fold_of, fitter(args, answers), lambda c, w: confidence(answers[id(c)].meta, w)
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
    if args.seeds > 1:
        out += spread(cases, answers, args)
    if args.holdout:
        out += holdout(cases, answers, args)
    final = fitter(args, answers)(cases)
    out.append("\nfitted on all dev questions (paste into CONFIDENCE_WEIGHTS):")
    out.append(json.dumps(final, indent=4))
    sys.stdout.write("\n".join(out) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
