"""Every performance benchmark in one run, one combined table, and the dev-set quality beside it.

    .venv/bin/python -m bench.run_all [--quick] [--skip rebuild,load]

Builds one index of the article, runs latency.py, load.py, startup.py, memory.py and
openai_overhead.py on it,
then build.py (article and PubMedQA builds); each measures its own baseline in the same run.
Then ``mscqa eval tests/data/devset.jsonl --json`` for the default query encoder (OpenVINO
bf16 where the CPU has native bf16, else ONNX Runtime fp32), ONNX Runtime fp32, torch and
ONNX int8, so a speed-up that costs quality shows. Writes
bench/out/results.json and, with matplotlib installed (``pip install -e '.[bench]'``),
bench/out/ask_latency.png.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import DEVSET, OUT, PYTHON, REPO, build, fmt, machine, server_env

QUALITY_KEYS = ("hit@1", "hit@5", "mrr", "answer_contains_gold", "abstention_recall")


def run(script: str, *args: str) -> dict[str, Any] | None:
    """Run one benchmark script (its table goes to our stdout); return its JSON result."""
    name = Path(script).stem
    started = time.perf_counter()
    proc = subprocess.run(
        [PYTHON, "-m", f"bench.perf.{name}", *args], cwd=REPO, text=True, capture_output=True
    )
    sys.stdout.write(proc.stdout)
    if proc.returncode != 0:
        sys.stdout.write(f"\n{script} FAILED ({proc.returncode}):\n{proc.stderr[-3000:]}\n")
        return None
    print(f"  ({script}: {time.perf_counter() - started:.0f}s)")
    data: dict[str, Any] = json.loads((OUT / f"{name}.json").read_text())
    return data


def evaluate(index_dir: Path, **env: str) -> dict[str, Any]:
    """The dev set's figures, from ``mscqa eval --json`` as a user runs it."""
    proc = subprocess.run(
        [PYTHON, "-m", "mscqa.cli", "eval", str(DEVSET), "--json"],
        env=server_env(index_dir, **env),
        text=True,
        capture_output=True,
        check=True,
    )
    return dev_metrics(json.loads(proc.stdout))


def dev_metrics(report: dict[str, Any]) -> dict[str, Any]:
    """The dev split's figures in ``mscqa eval --json``'s output (``{"splits": {"dev":
    {"metrics": ...}}}``; tests/test_bench_smoke.py feeds it the real output)."""
    metrics: dict[str, Any] = report["splits"]["dev"]["metrics"]
    missing = [k for k in QUALITY_KEYS if k not in metrics]
    if missing:
        raise KeyError(f"mscqa eval --json has no {', '.join(missing)} for the dev split")
    return metrics


def quality(index_dir: Path) -> dict[str, Any]:
    """Dev-set metrics for each query encoder on the same index vectors."""
    int8_dir = index_dir.parent / "index-int8"
    shutil.rmtree(int8_dir, ignore_errors=True)
    shutil.copytree(index_dir, int8_dir)  # reuses the embedding cache: only the export differs
    build(int8_dir, MSCQA_ONNX_QUANTIZE="true")
    return compared(
        {
            # the default: OpenVINO bf16 where the CPU has native bf16, else ONNX Runtime fp32
            "default": evaluate(index_dir),
            "onnx fp32": evaluate(index_dir, MSCQA_QUERY_PRECISION="fp32"),
            "torch": evaluate(index_dir, MSCQA_QUERY_BACKEND="torch"),
            "onnx int8": evaluate(int8_dir),
        }
    )


def compared(out: dict[str, Any]) -> dict[str, Any]:
    """Each encoder's dev figures, and whether int8, the default and ONNX fp32 match torch's."""
    ref = out["torch"]
    out["int8_within_0.005"] = all(
        abs(out["onnx int8"][k] - ref[k]) <= 0.005 for k in QUALITY_KEYS if k in ref
    )
    out["default_within_0.005"] = all(
        abs(out["default"][k] - ref[k]) <= 0.005 for k in QUALITY_KEYS if k in ref
    )
    out["torch_equals_onnx"] = all(out["onnx fp32"][k] == ref[k] for k in QUALITY_KEYS if k in ref)
    return out


def combined_rows(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Every benchmark's rows, then one row per dev-set figure (default, torch, int8)."""
    rows: list[dict[str, Any]] = []
    for name in ("latency", "load", "startup", "memory", "openai", "build"):
        data = results.get(name)
        if not data:
            continue
        for part in ("ask", "encoder", "rebuild"):
            rows += data.get(part, {}).get("rows", [])
        rows += data.get("rows", [])
    q = results["quality"]
    for key in QUALITY_KEYS:
        rows.append(
            {
                "metric": f"dev set {key}: default (torch / int8)",
                "ours": q["default"][key],
                "baseline": q["torch"][key],
                "ratio": q["onnx int8"][key],
                "target": "within 0.005 of torch",
                "ok": abs(q["default"][key] - q["torch"][key]) <= 0.005,
            }
        )
    return rows


def combined_table(results: dict[str, Any]) -> str:
    """The combined table of ``results["rows"]``, with the machine before and after."""
    headers = ("metric", "ours", "baseline", "ratio", "target", "ok")
    cells = [headers, *[[fmt(r[h]) for h in headers] for r in results["rows"]]]
    widths = [max(len(c[i]) for c in cells) for i in range(len(headers))]
    lines = [
        "\n# combined (for dev-set rows the columns are default, torch, int8)",
        f"machine before: {results['machine']}\nmachine after:  {results['machine_after']}",
    ]
    for i, cells_row in enumerate(cells):
        lines.append("  ".join(c.ljust(w) for c, w in zip(cells_row, widths, strict=True)))
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    q = results["quality"]
    lines.append(f"int8 within 0.005 of torch on the dev set: {q['int8_within_0.005']}")
    lines.append(f"ONNX Runtime fp32 equals torch on the dev set: {q['torch_equals_onnx']}")
    return "\n".join(lines)


def plot(latency: dict[str, Any], path: Path) -> Path | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed (pip install -e '.[bench]'); no plot")
        return None
    samples = latency["ask"]["samples"]
    series = [
        ("baseline, in process", samples["baseline"]),
        ("/ask new question (HTTP)", samples["ours_new"]),
        ("/ask new question (HTTP, httpx client)", samples["ours_new_httpx"]),
        ("/ask repeated (HTTP)", samples["ours_repeated"]),
    ]
    for label, data in latency.get("rebuild", {}).get("samples", {}).items():
        if "default" in label:
            series.append(("/ask during a rebuild (HTTP)", data["busy"]))
    fig, ax = plt.subplots(figsize=(8, 4.5))
    ax.boxplot([s for _, s in series], orientation="horizontal", showfliers=True)
    ax.set_yticks(range(1, len(series) + 1), [label for label, _ in series])
    ax.set_xscale("log")
    ax.set_xlabel("milliseconds (log scale)")
    ax.set_title(f"mscqa /ask latency vs baseline ({latency['machine']['date']})")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer questions, shorter load")
    parser.add_argument(
        "--skip", default="", help="comma list of: latency,load,startup,memory,openai,build"
    )
    args = parser.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    OUT.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    work = Path(tempfile.mkdtemp(prefix="mscqa-bench-"))
    index_dir = work / "index"
    started = time.perf_counter()
    build(index_dir)
    before = machine()
    idx = ["--index-dir", str(index_dir)]
    n = ["--questions", "40" if args.quick else "80"]
    results: dict[str, Any] = {"machine": before}
    if "latency" not in skip:
        results["latency"] = run("latency.py", *idx, *n)
    if "load" not in skip:
        results["load"] = run("load.py", *idx, "--duration", "5" if args.quick else "10")
    if "startup" not in skip:
        results["startup"] = run("startup.py", *idx, "--runs", "3" if args.quick else "5")
    if "memory" not in skip:
        results["memory"] = run("memory.py", *idx)
    if "openai" not in skip:
        r = ["--repeats", "100" if args.quick else "300"]
        results["openai"] = run("openai_overhead.py", *idx, *n, *r)
    if "build" not in skip:
        results["build"] = run("build.py", *(["--limit", "300"] if args.quick else []))
    results["quality"] = quality(index_dir)
    results["machine_after"] = machine()
    results["rows"] = combined_rows(results)
    print(combined_table(results))
    (OUT / "results.json").write_text(json.dumps(results, indent=2, default=str))
    if results.get("latency"):
        png = plot(results["latency"], OUT / "ask_latency.png")
        if png:
            print(f"wrote {png}")
    print(f"wrote {OUT / 'results.json'} in {time.perf_counter() - started:.0f}s")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
