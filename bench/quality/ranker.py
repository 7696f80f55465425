"""Fit the answer-unit ranker on the dev questions, with k-fold cross-validation.

    .venv/bin/python -m bench.quality.ranker [--folds 5] [--l2 1.0]

Data: every in-scope dev question with gold phrases (`bench.quality.learning.dev_cases`: the
article's devset, heldout and article.dev, and pubmed.dev over the 1000 abstracts), retrieved
once through `QAService.explain`. Each candidate unit (`mscqa.answer.ranker.rank`) is one row:
its `FEATURES`, label 1 when the unit's text holds a gold phrase (and, for PubMed questions, it
comes from the gold abstract). A listwise linear ranker (a softmax over each question's
candidates, L2) is fitted on four
folds and
scored on the fifth, per question: does the top unit hold the gold fact (top-1), and, through
the real answerer with those weights and no abstention threshold, does the answer's text hold it
and do its citations. The same figures are printed for the weights shipped in
`RANKER_WEIGHTS` (hand-set: the old sentence score, 0.45 cosine + 0.25 shared words + 0.3
passage score) and for `LEARNED_WEIGHTS` (in sample). Finally the weights fitted on all dev
questions are printed (`LEARNED_WEIGHTS` is such a fit). The test split is not read here;
`bench.quality.ablation` compares the two on dev and test ("selection only" rows). The learned
weights tied the hand-set ones on dev and lost on test, so the hand-set ones ship.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import sys
from collections.abc import Mapping

import numpy as np

from bench.quality.learning import Case, cross_validate, dev_cases, fit_listwise, folds
from mscqa.answer import Question, answer, rank
from mscqa.answer.ranker import FEATURES, RANKER_WEIGHTS, vector

# The old answerer's sentence score (0.45 cosine + 0.25 shared words + 0.3 passage score), ten
# times: what mscqa.answer.ranker.RANKER_WEIGHTS ships.
HAND_WEIGHTS = {"dense": 4.5, "lexical": 2.5, "passage": 3.0}
# What `python -m bench.quality.ranker --l2 0.3` fitted on all dev questions (2026-12-01, the
# index of commit 4413388); the ablation compares it with the hand-set weights on dev and test.
LEARNED_WEIGHTS: dict[str, float] = {
    "dense": 2.316,
    "dense_mean": 2.216,
    "context": 3.148,
    "lexical": 5.963,
    "section": 2.05,
    "passage": 3.982,
    "top_passage": 0.069,
    "same_document": 2.404,
    "neighbour": -0.619,
    "pointer_only": -0.34,
    "type_ok": 2.135,
    "type_missing": -2.135,
    "list_fit": 1.074,
    "length": -0.391,
    "size": -0.805,
    "first": -0.101,
    "novel": -2.042,
}


def labelled(case: Case) -> bool:
    return not case.item.expect_abstain and bool(case.item.gold)


def holds_gold(case: Case, text: str, doc_id: str) -> bool:
    item = case.item
    if item.gold_doc and doc_id not in item.gold_doc:
        return False
    return any(g.lower() in text.lower() for g in item.gold)


def rows(case: Case) -> tuple[list[list[float]], list[float]]:
    question = Question.of(case.item.question, case.retrieval)
    x, y = [], []
    for _, unit, feats in rank(case.retrieval, question):
        x.append(vector(feats))
        y.append(float(holds_gold(case, unit.text, unit.chunk.doc_id)))
    return x, y


def fit(cases: list[Case], l2: float) -> dict[str, float]:
    groups = []
    for case in cases:
        x, y = rows(case)
        groups.append((np.array(x), np.array(y)))
    w = fit_listwise(groups, l2=l2)
    return {n: round(float(v), 3) for n, v in zip(FEATURES, w, strict=True)}


def outcome(case: Case, weights: Mapping[str, float]) -> dict[str, float]:
    """What the answerer does with ``weights`` on this question (no abstention threshold)."""
    item = case.item
    question = Question.of(item.question, case.retrieval)
    ranked = rank(case.retrieval, question, weights)
    top = ranked[0][1] if ranked else None
    policy = dataclasses.replace(case.service.policy, ranker=weights, min_confidence=0.0)
    a = answer(item.question, case.retrieval, policy)
    found = [g.lower() in a.text.lower() for g in item.gold]
    right_doc = not item.gold_doc or (a.citations and a.citations[0].chunk.doc_id in item.gold_doc)
    return {
        "top1": top is not None and holds_gold(case, top.text, top.chunk.doc_id),
        "answer": a.answered and bool(right_doc) and (all(found) if item.gold_all else any(found)),
        "cited": any(holds_gold(case, c.chunk.text, c.chunk.doc_id) for c in a.citations[:3]),
        "pieces": len(_MARKER.findall(a.text)) if a.answered else 0,
    }


_MARKER = re.compile(r" \[\d+\]")


def summary(results: list[dict[str, float]]) -> dict[str, float]:
    n = max(1, len(results))
    return {k: round(sum(r[k] for r in results) / n, 4) for k in ("top1", "answer", "cited")} | {
        "pieces": round(sum(r["pieces"] for r in results) / n, 2)
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--l2", type=float, default=1.0)
    args = ap.parse_args(argv)
    cases = [c for c in dev_cases() if labelled(c)]
    fold_of = folds(cases, args.folds)
    learned = cross_validate(
        cases, fold_of, lambda train: fit(train, args.l2), lambda c, w: outcome(c, w)
    )
    table = {
        f"learned ({args.folds}-fold, out of fold)": learned,
        "LEARNED_WEIGHTS (fitted on all dev: in-sample)": [
            outcome(c, LEARNED_WEIGHTS) for c in cases
        ],
        "shipped RANKER_WEIGHTS (hand-set)": [outcome(c, RANKER_WEIGHTS) for c in cases],
    }
    sys.stdout.write(
        f"{len(cases)} in-scope dev questions with gold phrases\n\n"
        "| weights | top unit holds gold | answer holds gold | a citation holds gold "
        "| pieces quoted |\n|---|---|---|---|---|\n"
    )
    for corpus in ("all", "article", "pubmed"):
        for label, results in table.items():
            part = [r for r, c in zip(results, cases, strict=True) if corpus in ("all", c.corpus)]
            s = summary(part)
            sys.stdout.write(
                f"| {label} [{corpus}, {len(part)}] | {s['top1']} | {s['answer']} | "
                f"{s['cited']} | {s['pieces']} |\n"
            )
    final = fit(cases, args.l2)
    sys.stdout.write("\nfitted on all dev questions (paste into RANKER_WEIGHTS):\n")
    sys.stdout.write(json.dumps(final, indent=4) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
