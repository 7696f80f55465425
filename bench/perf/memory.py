"""Resident memory of ``mscqa serve`` on the article index, after answering questions.

    .venv/bin/python -m bench.perf.memory [--questions 100]

Ours: the default (ONNX query encoder); also the torch query backend. Baseline: a process
running the tutorial pipeline that answered the same questions. Figures are VmRSS (now) and
VmHWM (peak) from /proc, in MB, measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import subprocess
from pathlib import Path
from typing import Any

import httpx

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
    varied_questions,
)

BASELINE_RUN = (
    "import json, sys; sys.path.insert(0, {root!r}); from bench.perf.baseline import Baseline; "
    "from bench.common import varied_questions; b = Baseline(); "
    "[b.ask(q) for q in varied_questions({n})]; "
    "s = open('/proc/self/status').read(); "
    "print(json.dumps({{k: int(s.split(k + ':')[1].split()[0]) / 1024 for k in "
    "('VmRSS', 'VmHWM')}}))"
)


def status_mb(pid: int) -> dict[str, float]:
    text = Path(f"/proc/{pid}/status").read_text()
    return {k: int(text.split(k + ":")[1].split()[0]) / 1024 for k in ("VmRSS", "VmHWM")}


def serve_memory(index_dir: Path, questions: list[str], **env: str) -> dict[str, float]:
    with server(index_dir, **env) as (url, proc, _), httpx.Client(timeout=60) as client:
        for q in questions:
            client.post(f"{url}/ask", json={"question": q}).raise_for_status()
        return status_mb(proc.pid)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--questions", type=int, default=100)
    parser.add_argument("--index-dir", type=Path, default=None, help="reuse an article index")
    args = parser.parse_args()
    index_dir = article_index(args.index_dir)
    questions = varied_questions(args.questions)
    ours = serve_memory(index_dir, questions)
    torch_backend = serve_memory(index_dir, questions, MSCQA_QUERY_BACKEND="torch")
    out = subprocess.run(
        [PYTHON, "-c", BASELINE_RUN.format(root=str(REPO), n=args.questions)],
        check=True,
        capture_output=True,
        text=True,
    )
    base = json.loads(out.stdout.strip().splitlines()[-1])
    rows = [
        row(
            "serve RSS (ONNX), MB", ours["VmRSS"], base["VmRSS"], "<= 500 MB", ours["VmRSS"] <= 500
        ),
        row("serve peak RSS (ONNX), MB", ours["VmHWM"], base["VmHWM"], "", None),
        row("serve RSS (torch backend), MB", torch_backend["VmRSS"], base["VmRSS"], "", None),
    ]
    result: dict[str, Any] = {
        "machine": machine(),
        "rows": rows,
        "onnx": ours,
        "torch": torch_backend,
        "baseline": base,
    }
    print_table("memory (baseline: tutorial pipeline process)", as_rows(rows))
    print(f"\nwrote {save('memory', result)}")


if __name__ == "__main__":
    main()
