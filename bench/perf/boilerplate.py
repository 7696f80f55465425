"""What finding site boilerplate costs a build: chunking the 1000 PubMedQA abstracts, and then
the same abstracts plus one new document (what an incremental rebuild chunks), with and
without ``ingest.boilerplate``, in the same run.

    .venv/bin/python -m bench.perf.boilerplate [--limit N] [--repeats N] [--json]

"without" is the chunker with ``find_boilerplate`` replaced by one that finds nothing (main's
chunker before the boilerplate hook). Each figure is the median of ``--repeats`` runs; "cold"
is a new chunker (nothing kept), "rebuild" is a chunker given the previous build's memos
(``indexing.BuildCache`` keeps them) with one document added. The rebuild target: within 0.05 s
of "without" (a one-document rebuild of this index takes ~0.8 s, bench.perf.build).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.common import finish, machine, median, table, write_pubmedqa_corpus
from mscqa.ingest import boilerplate
from mscqa.ingest.chunker import Chunker
from mscqa.ingest.loaders import load_corpus
from mscqa.memo import LastCall
from mscqa.types import Document

NEW = Document(
    "new.txt",
    "new.txt",
    "New",
    "Cord blood is frozen at birth.\n\nPrev: An older story\nNext: A newer story\n",
    "0" * 64,
    "text",
)


@contextmanager
def without_boilerplate() -> Iterator[None]:
    real = boilerplate.find_boilerplate
    boilerplate.find_boilerplate = lambda documents, memo=None: {}
    try:
        yield
    finally:
        boilerplate.find_boilerplate = real


def timed(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return median(times)


def measure(docs: list[Document], repeats: int) -> dict[str, float]:
    def cold() -> None:
        Chunker(700).chunk_all(docs)

    def rebuild() -> None:
        chunks: Any = LastCall()
        chrome: boilerplate.Analysed = LastCall()
        Chunker(700, memo=chunks, chrome=chrome).chunk_all(docs)  # the previous build
        started = time.perf_counter()
        Chunker(700, memo=chunks, chrome=chrome).chunk_all([*docs, NEW])
        rebuilds.append(time.perf_counter() - started)

    rebuilds: list[float] = []
    for _ in range(repeats):
        rebuild()
    return {"cold_s": timed(cold, repeats), "rebuild_s": median(rebuilds)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--limit", type=int, default=None, help="abstracts (default: all 1000)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        write_pubmedqa_corpus(Path(tmp), args.limit)
        docs = load_corpus(Path(tmp)).documents
    results: dict[str, Any] = {"machine": machine(), "documents": len(docs)}
    with without_boilerplate():
        results["without"] = measure(docs, args.repeats)
    results["with"] = measure(docs, args.repeats)
    started = time.perf_counter()
    found = boilerplate.find_boilerplate(docs)
    results["find_s"] = time.perf_counter() - started
    results["documents_with_boilerplate"] = len(found)
    results["machine_after"] = machine()
    return finish("boilerplate", results, render, as_json=args.json)


def render(r: dict[str, Any]) -> str:
    rows = [
        [what, r["without"][key], r["with"][key], r["with"][key] - r["without"][key]]
        for what, key in (("cold chunking (s)", "cold_s"), ("rebuild +1 doc (s)", "rebuild_s"))
    ]
    before, after = r["machine"]["loadavg"], r["machine_after"]["loadavg"]
    return (
        f"{r['documents']} documents, {r['documents_with_boilerplate']} with boilerplate; "
        f"find_boilerplate alone {r['find_s']:.3f} s; load {before} -> {after}\n\n"
        + table(["", "without", "with", "difference"], rows)
    )


if __name__ == "__main__":
    raise SystemExit(main())
