"""Build cost and dense-search choice at scale, on the 1000-abstract PubMedQA corpus.

    .venv/bin/python -m bench.perf.scale [--limit N] [--json] [--sizes 3000,30000,300000]

(a) a cold ``mscqa index --json`` in a subprocess (includes Python start-up and model load):
    wall time, the CLI's own ``seconds``, peak memory, index size on disk;
(b) the same command again with nothing changed (every embedding should be reused);
(c) one new document added, then rebuilt (only its passages and sentences embedded);
(d) ``faiss.IndexFlatIP`` (exact) against ``IndexHNSWFlat`` (M=32, efConstruction=80, as
    ``mscqa.index.dense.make_dense_index`` builds it) with efSearch 64 and 128, on random unit
    vectors and on the index's real passage and sentence vectors (real vectors plus small
    noise where more rows are needed than exist): build time, one-query latency (median),
    recall@10 against the exact search; plus the Retriever's brute-force sentence scan
    (``sentences @ q``) at the same row counts;
(e) the Retriever's per-query best-sentence step (every sentence scored, then
    ``np.maximum.at``) against scoring only the 50 candidate passages' sentences, at the same
    passage counts.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import (
    DEFAULT_DATA,
    REPO,
    abstract_markdown,
    du,
    finish,
    load_pubmedqa,
    machine,
    median,
    progress_logger,
    table,
    write_corpus,
)

DIM = 384
TOP = 10


# -- (a)-(c): the CLI ----------------------------------------------------------------------


def mscqa_command() -> list[str]:
    exe = Path(sys.executable).with_name("mscqa")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "mscqa.cli"]


def run_index(corpus: Path, index_dir: Path) -> dict[str, Any]:
    """``mscqa index --json`` in a fresh process: wall seconds, peak RSS, the CLI's summary."""
    env = {
        **os.environ,
        "MSCQA_CORPUS_DIR": str(corpus),
        "MSCQA_INDEX_DIR": str(index_dir),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
    }
    timer = shutil.which("time") or ("/usr/bin/time" if Path("/usr/bin/time").exists() else None)
    cmd = [*([timer, "-v"] if timer else []), *mscqa_command(), "index", "--json"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=corpus.parent)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"mscqa index failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    peak_kb = None
    if timer:
        found = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
        peak_kb = int(found.group(1)) if found else None
    if peak_kb is None:
        # RUSAGE_CHILDREN's ru_maxrss is the largest child so far: exact only if it grew.
        after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        peak_kb = after if after > before else None
    snapshot = index_dir / "snapshots" / summary["version"]
    return {
        "wall_s": wall,
        "cli_seconds": summary["seconds"],
        "startup_s": wall - summary["seconds"],
        "peak_rss_mb": peak_kb / 1024 if peak_kb else None,
        "peak_from": "/usr/bin/time -v" if timer else "getrusage(RUSAGE_CHILDREN)",
        "documents": summary["documents"],
        "chunks": summary["chunks"],
        "embedded": summary["embedded"],
        "reused": summary["reused"],
        "snapshot_mb": du(snapshot) / 2**20,
        "cache_mb": du(index_dir / "cache") / 2**20,
        "models_mb": du(index_dir / "models") / 2**20 if (index_dir / "models").is_dir() else 0.0,
        "index_dir_mb": du(index_dir) / 2**20,
        "version": summary["version"],
    }


def new_document(corpus: Path, entries: dict[str, dict[str, Any]]) -> str:
    """Add one document that is not in the corpus yet; returns its file name.

    The client's article (``corpus/*.md`` in the repository) when there is one, else an
    abstract built from the first entry's conclusion.
    """
    article = sorted((REPO / "corpus").glob("*.md"))
    if article:
        target = corpus / f"new-{article[0].name}"
        shutil.copyfile(article[0], target)
        return target.name
    pmid, entry = next(iter(entries.items()))
    extra = {"LABELS": ["CONCLUSIONS"], "CONTEXTS": [entry["LONG_ANSWER"]]}
    target = corpus / f"new-{pmid}.md"
    target.write_text(abstract_markdown(f"{pmid}-conclusion", extra), encoding="utf-8")
    return target.name


def serving_load(index_dir: Path) -> dict[str, float]:
    """Seconds to load the snapshot and to build a Retriever over it (``mscqa serve`` start-up)."""
    from mscqa.embedding.hashing import HashingEmbedder
    from mscqa.index import load_current
    from mscqa.retrieval.retriever import Retriever

    t0 = time.perf_counter()
    snapshot = load_current(index_dir)
    t1 = time.perf_counter()
    Retriever(snapshot, HashingEmbedder(DIM))  # the embedder is not touched by __init__
    t2 = time.perf_counter()
    return {"load_snapshot_s": t1 - t0, "retriever_init_s": t2 - t1}


# -- (d): FAISS index type by size ---------------------------------------------------------


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def real_rows(pool: np.ndarray, n: int, rng: np.random.Generator, noise: float) -> np.ndarray:
    """``n`` rows of real vectors; past the pool's size, random pool rows plus Gaussian noise.

    ``noise`` is the expected norm of the noise added to a unit vector (before renormalising).
    """
    if n <= len(pool):
        return pool[rng.permutation(len(pool))[:n]]
    extra = pool[rng.integers(len(pool), size=n - len(pool))]
    extra = extra + rng.normal(0, noise / np.sqrt(DIM), size=extra.shape).astype(np.float32)
    return np.vstack([pool, unit(extra)])


def one_query_ms(search: Any, queries: np.ndarray) -> list[float]:
    out = []
    for q in queries:
        q = q.reshape(1, -1)
        t0 = time.perf_counter()
        search(q)
        out.append((time.perf_counter() - t0) * 1000)
    return out


def compare_indexes(
    name: str, base: np.ndarray, queries: np.ndarray, efs: tuple[int, ...]
) -> list[dict[str, Any]]:
    import faiss

    rows: list[dict[str, Any]] = []
    t0 = time.perf_counter()
    flat = faiss.IndexFlatIP(DIM)
    flat.add(base)
    built = time.perf_counter() - t0
    _, exact = flat.search(queries, TOP)
    lat = one_query_ms(lambda q: flat.search(q, TOP), queries)
    common = {"data": name, "rows": len(base)}
    rows.append(
        {
            **common,
            "index": "IndexFlatIP (exact)",
            "build_s": built,
            "query_ms_p50": median(lat),
            "recall@10": 1.0,
        }
    )
    t0 = time.perf_counter()
    hnsw = faiss.IndexHNSWFlat(DIM, 32, faiss.METRIC_INNER_PRODUCT)
    hnsw.hnsw.efConstruction = 80
    hnsw.add(base)
    built = time.perf_counter() - t0
    for ef in efs:
        hnsw.hnsw.efSearch = ef
        _, found = hnsw.search(queries, TOP)
        recall = np.mean([len(set(f) & set(e)) / TOP for f, e in zip(found, exact, strict=True)])
        lat = one_query_ms(lambda q: hnsw.search(q, TOP), queries)
        rows.append(
            {
                **common,
                "index": f"HNSW M=32 ef={ef}",
                "build_s": built,
                "query_ms_p50": median(lat),
                "recall@10": float(recall),
            }
        )
    lat = one_query_ms(lambda q: base @ q.ravel(), queries)
    rows.append(
        {
            **common,
            "index": "numpy rows @ q (sentence scan)",
            "build_s": 0.0,
            "query_ms_p50": median(lat),
            "recall@10": 1.0,
        }
    )
    return rows


def faiss_study(
    index_dir: Path,
    questions: list[str],
    sizes: list[int],
    kinds: list[str],
    n_queries: int,
    noise: float,
) -> dict[str, Any]:
    """(d): random and real vectors at each size; real queries are the PubMedQA questions."""
    import faiss

    from mscqa.embedding.sentence_transformer import SentenceTransformerEmbedder
    from mscqa.index import load_current

    snapshot = load_current(index_dir)
    chunk_vecs = snapshot.dense.reconstruct_n(0, len(snapshot.chunks))
    pool = np.vstack([chunk_vecs, snapshot.sentences.vectors]).astype(np.float32)
    rng = np.random.default_rng(0)
    real_queries = SentenceTransformerEmbedder("").encode(questions[:n_queries])
    random_queries = unit(rng.normal(size=(n_queries, DIM)))
    rows: list[dict[str, Any]] = []
    for n in sizes:
        if "random" in kinds:
            log_progress(f"(d) FAISS, {n} random rows")
            base = unit(rng.normal(size=(n, DIM)))
            rows += compare_indexes("random unit", base, random_queries, (64, 128))
        if "real" in kinds:
            log_progress(f"(d) FAISS, {n} real rows")
            label = "real" if n <= len(pool) else f"real + noise {noise}"
            base = real_rows(pool, n, rng, noise)
            rows += compare_indexes(label, base, real_queries, (64, 128))
    return {
        "pool": {"chunks": len(chunk_vecs), "sentences": len(snapshot.sentences.vectors)},
        "queries": n_queries,
        "faiss_threads": faiss.omp_get_max_threads(),
        "rows": rows,
    }


def sentence_step(index_dir: Path, sizes: list[int], n_queries: int) -> dict[str, Any]:
    """(e): the Retriever's per-query best-sentence step at ``sizes`` passages.

    Today every sentence is scored (``sentences @ q`` then ``np.maximum.at`` by owner) although
    only the top-``candidates`` passages use the result; the alternative scores only the
    sentences of those 50 passages. Sentences per passage as in the real index.
    """
    from mscqa.index import load_current

    snapshot = load_current(index_dir)
    ratio = len(snapshot.sentences.owner) / max(1, len(snapshot.chunks))
    rng = np.random.default_rng(1)
    queries = unit(rng.normal(size=(n_queries, DIM)))
    rows = []
    for n in sizes:
        log_progress(f"(e) sentence step, {n} passages")
        n_sent = round(n * ratio)
        vectors = unit(rng.normal(size=(n_sent, DIM)))
        owner = np.minimum((np.arange(n_sent) / ratio).astype(np.int32), n - 1)
        start = np.searchsorted(owner, np.arange(n + 1))
        candidates = rng.choice(n, size=min(50, n), replace=False)

        def every(q: np.ndarray, vectors=vectors, owner=owner, n=n) -> np.ndarray:
            best = np.full(n, -1.0, dtype=np.float32)
            np.maximum.at(best, owner, vectors @ q)
            return best

        def only_candidates(
            q: np.ndarray, vectors=vectors, start=start, rows=candidates
        ) -> np.ndarray:
            lo, hi = start[rows], start[rows + 1]
            idx = np.concatenate([np.arange(a, b) for a, b in zip(lo, hi, strict=True)])
            offsets = np.concatenate([[0], np.cumsum(hi - lo)[:-1]])
            return np.maximum.reduceat(vectors[idx] @ q, offsets)

        full = one_query_ms(lambda q, f=every: f(q.ravel()), queries)
        cand = one_query_ms(lambda q, f=only_candidates: f(q.ravel()), queries)
        rows.append(
            {
                "passages": n,
                "sentences": n_sent,
                "sentence_mb": vectors.nbytes / 2**20,
                "all_sentences_ms_p50": median(full),
                "candidates_only_ms_p50": median(cand),
            }
        )
    return {"sentences_per_passage": ratio, "queries": n_queries, "rows": rows}


log_progress = progress_logger("scale")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="PubMedQA ori_pqal.json")
    ap.add_argument("--limit", type=int, default=None, help="only the first N abstracts")
    ap.add_argument("--json", action="store_true", help="print the results as JSON")
    ap.add_argument(
        "--parts", default="build,faiss,sentences", help="build (a-c), faiss (d), sentences (e)"
    )
    ap.add_argument(
        "--index-dir",
        type=Path,
        default=None,
        help="for --parts faiss alone: an index of this corpus to take the real vectors from "
        "(e.g. one kept by `bench/pubmedqa.py --index-dir`); else one is built",
    )
    ap.add_argument(
        "--sizes", default="3000,30000,300000", help="row counts for the FAISS comparison"
    )
    ap.add_argument("--kinds", default="random,real", help="vector sets for the FAISS comparison")
    ap.add_argument("--queries", type=int, default=200, help="queries per FAISS measurement")
    ap.add_argument(
        "--noise", type=float, default=0.3, help="norm of the noise on synthetic real rows"
    )
    args = ap.parse_args(argv)
    parts = {p.strip() for p in args.parts.split(",")}
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    entries = load_pubmedqa(args.data, args.limit)
    results: dict[str, Any] = {"machine": machine()}
    with tempfile.TemporaryDirectory(prefix="mscqa-scale-") as tmp:
        corpus, index_dir = Path(tmp) / "corpus", Path(tmp) / "index"
        results["paragraphs"] = write_corpus(entries, corpus)
        if "build" in parts:
            builds = {}
            log_progress("(a) cold build")
            builds["a cold build"] = run_index(corpus, index_dir)
            log_progress("(b) rebuild, nothing changed")
            builds["b rebuild, no change"] = run_index(corpus, index_dir)
            added = new_document(corpus, entries)
            log_progress(f"(c) rebuild after adding {added}")
            builds[f"c + {added}"] = run_index(corpus, index_dir)
            results["builds"] = builds
            results["serving_load"] = serving_load(index_dir)
        elif args.index_dir:
            index_dir = args.index_dir
        else:
            from mscqa.config import Settings
            from mscqa.indexing import build_index

            log_progress("building an index for the real vectors")
            build_index(Settings(corpus_dir=corpus, index_dir=index_dir))
        if "faiss" in parts:
            sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
            kinds = [k.strip() for k in args.kinds.split(",")]
            questions = [e["QUESTION"] for e in entries.values()]
            results["faiss"] = faiss_study(
                index_dir, questions, sizes, kinds, args.queries, args.noise
            )
        if "sentences" in parts:
            sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
            results["sentences"] = sentence_step(index_dir, sizes, args.queries)
    full = parts == {"build", "faiss", "sentences"}
    name = "scale" if full else "scale-" + "-".join(sorted(parts))
    return finish(name, results, render, as_json=args.json)


def render(r: dict[str, Any]) -> str:
    m, after = r["machine"], r["machine_after"]
    out = [
        f"mscqa scale — {m['date']}, {m['cores']} cores ({m['cpu']}), load {m['loadavg']} -> "
        f"{after['loadavg']}",
    ]
    if "builds" in r:
        out += builds_table(r)
    if "faiss" in r:
        out += faiss_table(r["faiss"])
    if "sentences" in r:
        e = r["sentences"]
        out += [
            "",
            f"(e) the Retriever's best-sentence step per query ({e['queries']} queries, "
            f"{e['sentences_per_passage']:.2f} sentences per passage as in the real index). "
            "Baseline: today's scan of every sentence; alternative: only the sentences of 50 "
            "candidate passages (the only ones whose score uses it).",
            table(
                ["passages", "sentences", "sentence MB", "all sentences ms", "50 candidates ms"],
                [
                    [
                        x["passages"],
                        x["sentences"],
                        f"{x['sentence_mb']:.0f}",
                        f"{x['all_sentences_ms_p50']:.3f}",
                        f"{x['candidates_only_ms_p50']:.3f}",
                    ]
                    for x in e["rows"]
                ],
            ),
        ]
    return "\n".join(out)


def builds_table(r: dict[str, Any]) -> list[str]:
    out = [
        "",
        "(a)-(c) `mscqa index --json` in a subprocess (wall includes Python start-up and model "
        "load; `cli s` is the CLI's own `seconds`). Baseline for (b) and (c): the cold build (a).",
    ]
    rows = []
    cold = next(iter(r["builds"].values()))
    for name, b in r["builds"].items():
        rows.append(
            [
                name,
                b["documents"],
                b["chunks"],
                b["embedded"],
                b["reused"],
                f"{b['wall_s']:.1f}",
                f"{b['cli_seconds']:.1f}",
                f"{b['wall_s'] / cold['wall_s']:.0%}",
                f"{b['peak_rss_mb']:.0f}" if b["peak_rss_mb"] else "?",
                f"{b['snapshot_mb']:.1f}",
                f"{b['cache_mb']:.1f}",
                f"{b.get('models_mb', 0):.1f}",
                f"{b.get('index_dir_mb', 0):.1f}",
            ]
        )
    out.append(
        table(
            [
                "build",
                "docs",
                "passages",
                "embedded",
                "reused",
                "wall s",
                "cli s",
                "vs cold",
                "peak RSS MB",
                "snapshot MB",
                "cache MB",
                "models MB",
                "index dir MB",
            ],
            rows,
        )
    )
    sl = r["serving_load"]
    out.append(
        f"serving start-up on this index: load_snapshot {sl['load_snapshot_s']:.2f}s, "
        f"Retriever() {sl['retriever_init_s']:.2f}s"
    )
    return out


def faiss_table(f: dict[str, Any]) -> list[str]:
    out: list[str] = []
    if f:
        out += [
            "",
            f"(d) dense search by size: {f['queries']} one-at-a-time queries per row, "
            f"{f['faiss_threads']} FAISS threads; recall@10 and the latency baseline are "
            "IndexFlatIP (exact) on the same rows. Real pool: "
            f"{f['pool']['chunks']} passage + {f['pool']['sentences']} sentence vectors; "
            "queries: PubMedQA questions (real) or random unit vectors (random).",
        ]
        exact = {
            (x["data"], x["rows"]): x["query_ms_p50"]
            for x in f["rows"]
            if x["index"].startswith("IndexFlatIP")
        }
        out.append(
            table(
                ["data", "rows", "index", "build s", "query ms p50", "vs exact", "recall@10"],
                [
                    [
                        x["data"],
                        x["rows"],
                        x["index"],
                        f"{x['build_s']:.2f}",
                        f"{x['query_ms_p50']:.3f}",
                        f"{x['query_ms_p50'] / exact[(x['data'], x['rows'])]:.3f}x",
                        f"{x['recall@10']:.3f}",
                    ]
                    for x in f["rows"]
                ],
            )
        )
    return out


if __name__ == "__main__":
    sys.exit(main())
