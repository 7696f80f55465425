"""Time from ``mscqa serve`` to ``/health`` 200 on an existing index, and what it imports.

    .venv/bin/python -m bench.perf.startup [--runs 5]

Ours: the default query backend (the index's ONNX export; torch never imported). Also shown:
the torch query backend (``MSCQA_QUERY_BACKEND=torch``). Baseline: a fresh process that sets
up the tutorial pipeline (import sentence-transformers, load the model, embed the article's
800-character chunks, build the flat FAISS index), measured in the same run, interleaved.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import time
from pathlib import Path
from typing import Any

from bench.common import (
    PYTHON,
    REPO,
    article_index,
    as_rows,
    machine,
    print_table,
    row,
    save,
    server,
)

BASELINE_SETUP = (
    "import sys; sys.path.insert(0, {root!r}); from bench.perf.baseline import Baseline; "
    "Baseline().ask('What are mesenchymal stem cells?')"
)
IMPORT_CHECK = (
    "import json, sys, time; t = time.perf_counter(); import mscqa.server.app, mscqa.cli; "
    "took = time.perf_counter() - t; "
    "print(json.dumps({'seconds': took, 'heavy': sorted(m for m in ('torch', "
    "'sentence_transformers', 'transformers') if m in sys.modules)}))"
)


def serve_ready(index_dir: Path, **env: str) -> tuple[float, bool]:
    """Seconds to /health 200, and whether libtorch got loaded into the server."""
    with server(index_dir, **env) as (_, proc, seconds):
        maps = Path(f"/proc/{proc.pid}/maps").read_text()
    return seconds, "libtorch" in maps


def baseline_ready() -> float:
    started = time.perf_counter()
    subprocess.run(
        [PYTHON, "-c", BASELINE_SETUP.format(root=str(REPO))],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--index-dir", type=Path, default=None, help="reuse an article index")
    args = parser.parse_args()
    index_dir = article_index(args.index_dir)
    ours: list[float] = []
    torch_backend: list[float] = []
    base: list[float] = []
    torch_loaded = []
    for _ in range(args.runs):  # interleaved, so all three see the same background load
        seconds, loaded = serve_ready(index_dir)
        ours.append(seconds)
        torch_loaded.append(loaded)
        torch_backend.append(serve_ready(index_dir, MSCQA_QUERY_BACKEND="torch")[0])
        base.append(baseline_ready())
    check = subprocess.run([PYTHON, "-c", IMPORT_CHECK], check=True, capture_output=True, text=True)
    imports = json.loads(check.stdout)
    o, t, b = (statistics.median(x) for x in (ours, torch_backend, base))
    rows = [
        row("serve ready (ONNX query encoder), median s", o, b, "<= 3 s", o <= 3.0),
        row("serve ready (torch query encoder), median s", t, b, "", None),
        row(
            "libtorch loaded by the ONNX server",
            float(any(torch_loaded)),
            None,
            "0 (no)",
            not any(torch_loaded),
        ),
        row(
            "import mscqa.server.app + cli, s (torch/ST not imported)",
            imports["seconds"],
            None,
            "no torch",
            not imports["heavy"],
        ),
    ]
    result: dict[str, Any] = {
        "machine": machine(),
        "rows": rows,
        "samples": {"onnx": ours, "torch": torch_backend, "baseline": base},
        "imports": imports,
    }
    print_table("startup (baseline: tutorial pipeline set-up in a fresh process)", as_rows(rows))
    print(f"\nwrote {save('startup', result)}")


if __name__ == "__main__":
    main()
