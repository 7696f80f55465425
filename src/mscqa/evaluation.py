"""``mscqa eval``: run a question file against a service and measure retrieval and answers.

Question file: JSON Lines, one object per line with ``question``, optional ``history`` (list of
``{"role", "content"}``), and one of ``gold`` (phrases, any of which counts; all of them with
``"gold_all": true``), ``gold_doc`` (doc ids), or ``"expect_abstain": true``.
"""

from __future__ import annotations

import json
import re
import statistics
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mscqa.errors import MscqaError
from mscqa.service import QAService
from mscqa.types import Answer, Chunk, Turn

_MARKED = re.compile(r" ?(.+?) \[(\d+)\](?= |$)")


@dataclass
class Item:
    id: str
    question: str
    history: list[Turn] = field(default_factory=list)
    gold: list[str] = field(default_factory=list)
    gold_all: bool = False
    gold_doc: list[str] = field(default_factory=list)
    expect_abstain: bool = False
    kind: str = ""


def load_questions(path: Path) -> list[Item]:
    items = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
            items.append(
                Item(
                    id=str(rec.get("id", n)),
                    question=rec["question"],
                    history=[Turn(t["role"], t["content"]) for t in rec.get("history", [])],
                    gold=list(rec.get("gold", [])),
                    gold_all=bool(rec.get("gold_all", False)),
                    gold_doc=list(rec.get("gold_doc", [])),
                    expect_abstain=bool(rec.get("expect_abstain", False)),
                    kind=rec.get("kind", ""),
                )
            )
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise MscqaError(f"{path}:{n}: not a valid question record ({exc})") from None
    return items


def _matches(item: Item, chunks: Iterable[Chunk]) -> bool:
    chunks = list(chunks)
    if item.gold_doc:
        return any(c.doc_id in item.gold_doc for c in chunks)
    text = " ".join(c.text.lower() for c in chunks)
    found = [g.lower() in text for g in item.gold]
    return all(found) if item.gold_all else any(found)


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
    rows: list[dict[str, Any]] = []
    latencies: list[float] = []
    for item in items:
        started = time.perf_counter()
        retrieval, answer = service.explain(item.question, k_max, item.history)
        latencies.append((time.perf_counter() - started) * 1000)
        hits = [h.chunk for h in retrieval.hits]
        rank = next((i + 1 for i in range(len(hits)) if _matches(item, hits[: i + 1])), None)
        rows.append(
            {
                "id": item.id,
                "kind": item.kind,
                "question": item.question,
                "expect_abstain": item.expect_abstain,
                "answered": answer.answered,
                "confidence": answer.confidence,
                "rank": rank,
                "contains_gold": answer.answered
                and bool(item.gold)
                and _answer_has_gold(item, answer.text),
                "grounded": grounded(answer),
                "answer": answer.text,
                "features": answer.meta,
            }
        )
    return {"metrics": summarize(rows, latencies), "rows": rows}


def _answer_has_gold(item: Item, text: str) -> bool:
    found = [g.lower() in text.lower() for g in item.gold]
    return all(found) if item.gold_all else any(found)


def summarize(rows: list[dict[str, Any]], latencies: list[float]) -> dict[str, Any]:
    inscope = [r for r in rows if not r["expect_abstain"]]
    oos = [r for r in rows if r["expect_abstain"]]
    abstained = [r for r in rows if not r["answered"]]
    answered = [r for r in rows if r["answered"]]

    def rate(xs: list[Any]) -> float | None:
        return round(sum(xs) / len(xs), 4) if xs else None

    ranked = [r for r in inscope]
    return {
        "questions": len(rows),
        "in_scope": len(inscope),
        "out_of_scope": len(oos),
        "hit@1": rate([r["rank"] is not None and r["rank"] <= 1 for r in ranked]),
        "hit@3": rate([r["rank"] is not None and r["rank"] <= 3 for r in ranked]),
        "hit@5": rate([r["rank"] is not None and r["rank"] <= 5 for r in ranked]),
        "mrr": rate([1 / r["rank"] if r["rank"] else 0.0 for r in ranked]),
        "answer_contains_gold": rate(
            [r["contains_gold"] for r in inscope if r["rank"] is not None or True]
        ),
        "grounding": rate([r["grounded"] for r in answered]),
        "abstention_recall": rate([not r["answered"] for r in oos]),
        "abstention_precision": rate([r["expect_abstain"] for r in abstained]),
        "false_abstention": rate([not r["answered"] for r in inscope]),
        "latency_ms_p50": round(statistics.median(latencies), 2) if latencies else None,
        "latency_ms_p95": round(_percentile(latencies, 95), 2) if latencies else None,
    }


def _percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    idx = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[idx]
