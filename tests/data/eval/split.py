"""Split the question pools into dev and test (seeded, stratified, reproducible).

    python3 tests/data/eval/split.py          # (re)write the four split files from the pools
    python3 tests/data/eval/split.py --check  # exit 1 if the files differ from what this makes

Article: within each ``kind`` (in pool order), ``random.Random(f"{SEED}:article:{kind}")``
shuffles the questions and the first ``round(n * DEV_FRACTION)`` go to dev, so both splits hold
every style. PubMedQA: a question goes where its abstract went in ``pubmed.draw.json`` (see
``draw.py``), so every question about one abstract is in one split; the out-of-scope questions
(no abstract) are split like an article kind. Each file keeps the pool order and numbers its
records ``ad-``/``at-``/``pd-``/``pt-`` from 001.

The test files are frozen once they land: nobody edits them, tunes on them or reads their
per-question results (see README.md beside this script).
"""

from __future__ import annotations

import json
import random
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
POOL = HERE / "pool"
SEED = 20261201
DEV_FRACTION = 0.28

Record = dict[str, Any]


def read_jsonl(path: Path) -> list[Record]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def dev_by_kind(pool: list[Record], corpus: str) -> set[str]:
    """Pool ids that go to dev: a seeded share of every kind."""
    by_kind: dict[str, list[str]] = defaultdict(list)
    for rec in pool:
        by_kind[rec["kind"]].append(rec["id"])
    dev: set[str] = set()
    for kind, ids in sorted(by_kind.items()):
        order = list(ids)
        random.Random(f"{SEED}:{corpus}:{kind}").shuffle(order)
        dev.update(order[: round(len(order) * DEV_FRACTION)])
    return dev


def _renumber(records: list[Record], prefix: str) -> list[Record]:
    return [{**rec, "id": f"{prefix}-{n:03d}"} for n, rec in enumerate(records, 1)]


def split_article(pool: list[Record]) -> dict[str, list[Record]]:
    dev = dev_by_kind(pool, "article")
    return {
        "article.dev.jsonl": _renumber([r for r in pool if r["id"] in dev], "ad"),
        "article.test.jsonl": _renumber([r for r in pool if r["id"] not in dev], "at"),
    }


def split_pubmed(pool: list[Record], draw: dict[str, Any]) -> dict[str, list[Record]]:
    dev_docs = {f"{pmid}.md" for pmid in draw["dev"]}
    oos_dev = dev_by_kind([r for r in pool if not r.get("gold_doc")], "pubmed")

    def is_dev(rec: Record) -> bool:
        if rec.get("gold_doc"):
            return rec["gold_doc"][0] in dev_docs
        return rec["id"] in oos_dev

    return {
        "pubmed.dev.jsonl": _renumber([r for r in pool if is_dev(r)], "pd"),
        "pubmed.test.jsonl": _renumber([r for r in pool if not is_dev(r)], "pt"),
    }


def render(records: list[Record]) -> str:
    return "".join(json.dumps(rec, ensure_ascii=False) + "\n" for rec in records)


def build() -> dict[str, str]:
    """File name -> the text this script writes for it."""
    draw = json.loads((HERE / "pubmed.draw.json").read_text(encoding="utf-8"))
    files = {
        **split_article(read_jsonl(POOL / "article.pool.jsonl")),
        **split_pubmed(read_jsonl(POOL / "pubmed.pool.jsonl"), draw),
    }
    return {name: render(records) for name, records in files.items()}


def main(argv: list[str]) -> int:
    built = build()
    if "--check" in argv:
        stale = [n for n, text in built.items() if _read(HERE / n) != text]
        for name in stale:
            sys.stderr.write(f"{name} differs from what split.py makes from the pools\n")
        return 1 if stale else 0
    for name, text in built.items():
        (HERE / name).write_text(text, encoding="utf-8")
        sys.stdout.write(f"{name}: {text.count(chr(10))} questions\n")
    return 0


def _read(path: Path) -> str | None:
    return path.read_text(encoding="utf-8") if path.is_file() else None


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
