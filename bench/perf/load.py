"""Throughput and tail latency of ``mscqa serve`` under 16 concurrent clients, with wrk.

    .venv/bin/python -m bench.perf.load [--connections 16] [--duration 10] [--backend onnx,torch]

wrk (Debian package ``wrk``; ``apt-get install -y wrk``) posts /ask with questions drawn in
turn from every dev-set and PubMedQA question (~1100 distinct, each connection starting at a
different offset), so most requests of a 10 s run are new questions and the rest repeats that
the answer cache serves. The baseline figure is the tutorial pipeline's single-stream rate
(1000 / its in-process median ms), measured in the same run: it has no server to load.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

from bench.common import (
    OUT,
    article_index,
    as_rows,
    machine,
    print_table,
    row,
    save,
    server,
    summary,
    varied_questions,
    write_bodies,
)
from bench.perf.baseline import Baseline

LUA = r"""
-- Each wrk thread reads the request bodies (one JSON object a line) and cycles through them,
-- starting at its own offset so threads do not send the same question at the same time.
local bodies = {}
local counter = 0
local threads = {}

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function init(args)
  for line in io.lines(args[1]) do
    table.insert(bodies, line)
  end
  counter = (tid or 0) * math.floor(#bodies / 4)
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  counter = counter + 1
  return wrk.format(nil, "/ask", nil, bodies[(counter % #bodies) + 1])
end
"""

_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def to_ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    if not m:
        raise ValueError(f"cannot read a wrk duration from {text!r}")
    return float(m.group(1)) * _UNITS[m.group(2)]


def parse_wrk(out: str) -> dict[str, Any]:
    """Requests/sec, latency percentiles (``--latency``), errors and non-2xx from wrk's output."""
    result: dict[str, Any] = {"raw": out}
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    result["rps"] = float(m.group(1)) if m else 0.0
    m = re.search(r"(\d+) requests in ([\d.]+\w+)", out)
    result["requests"] = int(m.group(1)) if m else 0
    for pct in ("50", "75", "90", "99"):
        m = re.search(rf"^\s+{pct}(?:\.000)?%\s+([\d.]+\w+)", out, re.M)
        result[f"p{pct}_ms"] = to_ms(m.group(1)) if m else None
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    result["socket_errors"] = sum(int(x) for x in m.groups()) if m else 0
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    result["non_2xx"] = int(m.group(1)) if m else 0
    result["errors"] = result["socket_errors"] + result["non_2xx"]
    return result


def run_wrk(
    url: str, bodies: Path, connections: int, duration: int, lua: str = LUA
) -> dict[str, Any]:
    """wrk against ``url`` with the Lua script ``lua`` (given the bodies file); parsed output."""
    wrk = shutil.which("wrk")
    if wrk is None:
        raise SystemExit("wrk is not installed: apt-get install -y wrk")
    script = bodies.with_suffix(".lua")
    script.write_text(lua)
    cmd = [
        wrk,
        f"-t{min(4, connections)}",
        f"-c{connections}",
        f"-d{duration}s",
        "--timeout",
        "5s",
        "--latency",
        "-s",
        str(script),
        url,
        "--",
        str(bodies),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 60, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"wrk failed ({proc.returncode}): {proc.stderr}")
    return parse_wrk(proc.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument(
        "--backend",
        default="onnx,onnx-nocache,torch",
        help="query backends to load-test; onnx-nocache = onnx with the answer cache off "
        "(every question computed, none served from the cache)",
    )
    parser.add_argument("--index-dir", type=Path, default=None, help="reuse an article index")
    args = parser.parse_args()
    index_dir = article_index(args.index_dir)
    OUT.mkdir(parents=True, exist_ok=True)
    questions = varied_questions(100_000)
    bodies = write_bodies(OUT / "load-bodies.jsonl", questions)
    baseline = Baseline()
    base = summary(baseline.latencies(questions[:60]))
    base_rps = 1000.0 / base["median"]
    del baseline
    result: dict[str, Any] = {"machine": machine(), "distinct_questions": len(questions)}
    rows = []
    for backend in args.backend.split(","):
        env = {"MSCQA_QUERY_BACKEND": backend.removesuffix("-nocache")}
        if backend.endswith("-nocache"):
            env["MSCQA_CACHE_SIZE"] = "0"
        with server(index_dir, **env) as (url, _, _):
            got = run_wrk(url, bodies, args.connections, args.duration)
        cached = not backend.endswith("-nocache")
        got["repeats"] = max(0, got["requests"] - len(questions)) if cached else 0
        result[backend] = got
        label = f"[{backend}, {args.connections} clients, {args.duration}s]"
        r = row(f"req/s {label}", got["rps"], base_rps, ">= 100 req/s", got["rps"] >= 100)
        rows.append(r)
        p99 = got["p99_ms"] or float("inf")
        rows.append(row(f"p99 ms {label}", p99, None, "<= 250 ms", p99 <= 250))
        rows.append(row(f"errors {label}", got["errors"], None, "0", got["errors"] == 0))
    result["baseline"] = {"in_process_ms": base, "single_stream_rps": base_rps}
    result["rows"] = rows
    result["machine_after"] = machine()
    print_table("16 concurrent clients (baseline: tutorial pipeline, 1 stream)", as_rows(rows))
    for backend in args.backend.split(","):
        r = result[backend]
        print(
            f"  {backend}: {r['requests']} requests, p50 {r['p50_ms']} ms, p90 {r['p90_ms']} ms, "
            f"{r['repeats']} of them repeats served from the cache"
        )
    print(f"\nwrote {save('load', result)}")


if __name__ == "__main__":
    main()
