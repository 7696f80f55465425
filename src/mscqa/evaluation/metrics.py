"""Retrieval and answer metrics of a service over question files, per split and per kind."""

from __future__ import annotations

import dataclasses
import re
import statistics
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from mscqa.evaluation.questions import SPLITS, Item, load_questions
from mscqa.service import QAService
from mscqa.types import Answer, Chunk

_MARKED = re.compile(r" ?(.+?) \[(\d+)\](?= |$)", re.S)  # a sentence may hold a line break
CITED = 3  # the answer's first citations that "cited passages hold the gold fact" looks at
RELIABILITY_BINS = 10


def _phrases_in(item: Item, text: str) -> bool:
    found = [g.lower() in text.lower() for g in item.gold]
    return all(found) if item.gold_all else any(found)


def _matches(item: Item, chunks: Iterable[Chunk]) -> bool:
    """Whether ``chunks`` hold the gold fact: a gold document (if named) and the gold phrases
    (if given) in the passages of those documents."""
    chunks = list(chunks)
    if item.gold_doc:
        chunks = [c for c in chunks if c.doc_id in item.gold_doc]
        if not chunks:
            return False
    if not item.gold:
        return bool(item.gold_doc)
    return _phrases_in(item, " ".join(c.text for c in chunks))


def answer_right(item: Item, answer: Answer) -> bool:
    """An answer is right when it is given, quotes the gold phrases (if any) and cites a gold
    document (if any) first."""
    if not answer.answered or item.expect_abstain:
        return False
    if item.gold_doc and not (
        answer.citations and answer.citations[0].chunk.doc_id in item.gold_doc
    ):
        return False
    return _phrases_in(item, answer.text) if item.gold else bool(item.gold_doc)


def grounded(answer: Answer) -> bool:
    """Every quoted sentence is verbatim in the passage its marker cites."""
    if not answer.answered:
        return not answer.citations
    by_n = {c.n: c.chunk.text for c in answer.citations}
    parts = _MARKED.findall(answer.text)
    rebuilt = " ".join(f"{s} [{n}]" for s, n in parts)
    return (
        bool(parts)
        and rebuilt == answer.text
        and all(int(n) in by_n and s.strip() in by_n[int(n)] for s, n in parts)
    )


def evaluate(service: QAService, items: list[Item], k_max: int = 5) -> dict[str, Any]:
    """Every item through ``QAService.explain``: per-question rows and their summary.

    Each question is also answered with no abstention threshold (the same retrieval), so the
    confidence can be scored against whether the answer it stands for is right.
    """
    rows: list[dict[str, Any]] = []
    unthresholded = dataclasses.replace(service.policy, min_confidence=0.0)
    for item in items:
        started = time.perf_counter()
        retrieval, answer = service.explain(item.question, k_max, item.history)
        ms = (time.perf_counter() - started) * 1000
        composed = service.compose(item.question, retrieval, unthresholded)
        hits = [h.chunk for h in retrieval.hits]
        rank = next((i + 1 for i in range(len(hits)) if _matches(item, hits[: i + 1])), None)
        cited = [c.chunk for c in answer.citations[:CITED]]
        rows.append(
            {
                "id": item.id,
                "set": item.source,
                "split": item.split,
                "kind": item.kind,
                "question": item.question,
                "expect_abstain": item.expect_abstain,
                "expect_unreadable": item.expect_unreadable,
                "has_gold": bool(item.gold),
                "answered": answer.answered,
                "confidence": answer.confidence,
                "rank": rank,
                "cited_hit": _matches(item, cited),
                "first_cited_hit": _matches(item, cited[:1]),
                "contains_gold": answer.answered
                and bool(item.gold)
                and _phrases_in(item, answer.text),
                "right": answer_right(item, answer),
                "would_be_right": answer_right(item, composed),
                "flagged_unreadable": bool(getattr(answer, "unreadable", ())),
                "grounded": grounded(answer),
                "answer": answer.text,
                "features": answer.meta,
                "ms": round(ms, 3),
            }
        )
    return {"metrics": summarize(rows), "rows": rows}


def _rate(xs: Sequence[Any]) -> float | None:
    return round(sum(xs) / len(xs), 4) if xs else None


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The figures of one group of questions (``None`` where the group has no such question).

    ``citation_hit@3``: in-scope questions whose answer cites, among its first three
    citations, a passage holding the gold fact (a refusal cites nothing: a miss).
    ``false_abstention``: in-scope questions refused; ``abstention_recall``: out-of-scope
    questions refused. ``brier``: mean squared gap between the confidence and whether the
    documents hold the answer (the question is in scope); ``brier_right``: the same against
    whether the answer it scores (composed without the threshold) quotes the gold fact.
    """
    inscope = [r for r in rows if not r["expect_abstain"]]
    oos = [r for r in rows if r["expect_abstain"]]
    abstained = [r for r in rows if not r["answered"]]
    answered = [r for r in rows if r["answered"]]
    gold_phrase = [r for r in inscope if r["has_gold"]]
    latencies = [r["ms"] for r in rows if "ms" in r]
    unreadable = [r for r in rows if r.get("expect_unreadable")]
    readable = [r for r in rows if not r.get("expect_unreadable")]
    return {
        "questions": len(rows),
        "in_scope": len(inscope),
        "out_of_scope": len(oos),
        "hit@1": _rate([r["rank"] is not None and r["rank"] <= 1 for r in inscope]),
        "hit@3": _rate([r["rank"] is not None and r["rank"] <= 3 for r in inscope]),
        "hit@5": _rate([r["rank"] is not None and r["rank"] <= 5 for r in inscope]),
        "mrr": _rate([1 / r["rank"] if r["rank"] else 0.0 for r in inscope]),
        "citation_hit@3": _rate([r.get("cited_hit", False) for r in inscope]),
        "first_citation_hit": _rate([r.get("first_cited_hit", False) for r in inscope]),
        "answer_contains_gold": _rate([r["contains_gold"] for r in gold_phrase]),
        "answer_right": _rate([r.get("right", False) for r in inscope]),
        "grounding": _rate([r["grounded"] for r in answered]),
        "abstention_recall": _rate([not r["answered"] for r in oos]),
        "abstention_precision": _rate([r["expect_abstain"] for r in abstained]),
        "false_abstention": _rate([not r["answered"] for r in inscope]),
        "unreadable_flagged": _rate([r.get("flagged_unreadable", False) for r in unreadable]),
        "unreadable_false_flags": _rate([r.get("flagged_unreadable", False) for r in readable]),
        "brier": brier(rows),
        "brier_right": brier(rows, "would_be_right"),
        "latency_ms_p50": round(statistics.median(latencies), 2) if latencies else None,
        "latency_ms_p95": round(_percentile(latencies, 95), 2) if latencies else None,
    }


def brier(rows: Sequence[dict[str, Any]], outcome: str = "in_scope") -> float | None:
    """Mean of ``(confidence - outcome)^2`` (0 is perfect; always saying 0.5 scores 0.25).

    ``in_scope``: the documents hold the answer (what the confidence means); ``would_be_right``:
    the answer it scores, composed without the threshold, quotes the gold fact."""
    pairs = [(r["confidence"], _outcome(r, outcome)) for r in rows]
    return round(sum((c - y) ** 2 for c, y in pairs) / len(pairs), 4) if pairs else None


def _outcome(row: dict[str, Any], outcome: str) -> float:
    if outcome == "in_scope":
        return float(not row["expect_abstain"])
    return float(row.get(outcome, False))


def reliability(
    confidences: Sequence[float], outcomes: Sequence[float], bins: int = RELIABILITY_BINS
) -> list[dict[str, Any]]:
    """The reliability table: per confidence bin, how many questions, their mean confidence and
    how often the outcome held (``observed``). A calibrated model has ``observed`` close to
    ``confidence``."""
    out = []
    for b in range(bins):
        lo, hi = b / bins, (b + 1) / bins
        inside = [
            (c, y)
            for c, y in zip(confidences, outcomes, strict=True)
            if lo <= c < hi or (b == bins - 1 and c == 1.0)
        ]
        if inside:
            out.append(
                {
                    "bin": f"{lo:.1f}-{hi:.1f}",
                    "n": len(inside),
                    "confidence": round(sum(c for c, _ in inside) / len(inside), 3),
                    "observed": round(sum(y for _, y in inside) / len(inside), 3),
                }
            )
    return out


def by_kind(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """``summarize`` of each question kind."""
    kinds = sorted({r["kind"] for r in rows})
    return {k: summarize([r for r in rows if r["kind"] == k]) for k in kinds}


def evaluate_files(service: QAService, paths: Sequence[Path], k_max: int = 5) -> dict[str, Any]:
    """Evaluate question files and report each split, each file and each kind on its own.

    Returns ``{"splits": {split: {"metrics", "by_kind", "reliability", "files"}}, "rows"}``.
    """
    rows: list[dict[str, Any]] = []
    for path in paths:
        for row in evaluate(service, load_questions(path), k_max)["rows"]:
            rows.append(row | {"file": path.name})
    return {"splits": split_report(rows), "rows": rows}


def split_report(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Per split: its metrics, per kind, its reliability table and per file."""
    splits: dict[str, Any] = {}
    for split in SPLITS:
        part = [r for r in rows if r["split"] == split]
        if not part:
            continue
        names = dict.fromkeys(r.get("file", r["set"]) for r in part)
        splits[split] = {
            "metrics": summarize(part),
            "by_kind": by_kind(part),
            "reliability": reliability(
                [r["confidence"] for r in part], [_outcome(r, "in_scope") for r in part]
            ),
            "files": {
                name: summarize([r for r in part if r.get("file", r["set"]) == name])
                for name in names
            },
        }
    return splits


def _percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    idx = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[idx]
