"""The baseline every performance figure is compared with, and helpers the benchmarks share.

    .venv/bin/python -m bench.perf.baseline [--questions N]

The baseline is the tutorial pipeline: sentence-transformers (torch backend, default settings,
so torch's default thread count) encodes the question, and a flat FAISS inner-product index
over fixed 800-character chunks of corpus/msc-article.md returns the top 5, in process, with
no cache. Every benchmark measures it again in the same run, so a ratio never compares figures
taken under different background load.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import DEFAULT_DATA, load_pubmedqa, write_corpus
from bench.common import machine as machine  # re-exported for the other benchmarks
from bench.common import percentile as percentile
from bench.common import save as save

ROOT = Path(__file__).resolve().parents[2]
ARTICLE = ROOT / "corpus" / "msc-article.md"
DEVSET = ROOT / "tests" / "data" / "devset.jsonl"
PUBMEDQA = DEFAULT_DATA
OUT = ROOT / "bench" / "out"
PYTHON = sys.executable
# Nothing may reach for the network, in this process or in the servers it starts.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


# -- the baseline ------------------------------------------------------------------------------


class Baseline:
    """sentence-transformers + flat FAISS inner product over fixed 800-character chunks."""

    def __init__(self, corpus: Path = ARTICLE, chunk_chars: int = 800) -> None:
        import faiss
        from sentence_transformers import SentenceTransformer

        from mscqa.embedding.sentence_transformer import resolve_model

        self.model = SentenceTransformer(str(resolve_model("")), device="cpu")
        text = corpus.read_text(encoding="utf-8")
        self.chunks = [text[i : i + chunk_chars] for i in range(0, len(text), chunk_chars)]
        vectors = self.model.encode(self.chunks, convert_to_numpy=True)
        self.index = faiss.IndexFlatIP(vectors.shape[1])
        self.index.add(np.ascontiguousarray(vectors, dtype=np.float32))

    def ask(self, question: str, k: int = 5) -> list[str]:
        vector = self.model.encode([question], convert_to_numpy=True)
        _, rows = self.index.search(np.ascontiguousarray(vector, dtype=np.float32), k)
        return [self.chunks[r] for r in rows[0] if r >= 0]

    def latencies(self, questions: Sequence[str]) -> list[float]:
        """Milliseconds per question, one at a time (a few warm-up questions first)."""
        for q in questions[:3]:
            self.ask(q)
        out = []
        for q in questions:
            started = time.perf_counter()
            self.ask(q)
            out.append((time.perf_counter() - started) * 1000)
        return out


def baseline_embed_seconds(texts: Sequence[str]) -> float:
    """Seconds the baseline (default sentence-transformers) takes to embed ``texts``."""
    from sentence_transformers import SentenceTransformer

    from mscqa.embedding.sentence_transformer import resolve_model

    model = SentenceTransformer(str(resolve_model("")), device="cpu")
    model.encode(["warm up"])
    started = time.perf_counter()
    model.encode(list(texts), convert_to_numpy=True)
    return time.perf_counter() - started


# -- data --------------------------------------------------------------------------------------


def dev_questions() -> list[str]:
    with DEVSET.open(encoding="utf-8") as fh:
        return [json.loads(line)["question"] for line in fh if line.strip()]


def varied_questions(n: int, seed: int = 0) -> list[str]:
    """``n`` distinct questions: the dev set, then PubMedQA questions (never seen by a cache).

    Distinct as the answer cache sees them (``normalise_question``): the dev set asks some
    follow-ups twice with different histories ("And in China?"), which would be cache hits.
    """
    questions = dev_questions()
    if PUBMEDQA.is_file() and len(questions) < n:
        data = json.loads(PUBMEDQA.read_text(encoding="utf-8"))
        extra = [v["QUESTION"] for v in data.values()]
        random.Random(seed).shuffle(extra)
        questions += extra
    from mscqa.service import normalise_question  # the answer cache's own key

    seen: set[str] = set()
    out = []
    for q in questions:
        key = normalise_question(q)
        if key not in seen:
            seen.add(key)
            out.append(q)
    return out[:n]


def pubmedqa_paragraphs(limit: int | None = None) -> list[str]:
    data = json.loads(PUBMEDQA.read_text(encoding="utf-8"))
    paragraphs = [p for v in data.values() for p in v["CONTEXTS"]]
    return paragraphs[:limit] if limit else paragraphs


def write_pubmedqa_corpus(folder: Path, limit: int | None = None) -> int:
    """Each PubMedQA abstract as ``<pmid>.md`` (bench/common.py's format); returns files."""
    entries = load_pubmedqa(PUBMEDQA, limit)
    write_corpus(entries, folder)
    return len(entries)


# -- figures -----------------------------------------------------------------------------------


def summary(values: Sequence[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "median": round(statistics.median(values), 3),
        "p90": round(percentile(values, 90), 3),
        "p99": round(percentile(values, 99), 3),
        "min": round(min(values), 3),
    }


def print_table(title: str, rows: Sequence[Sequence[Any]]) -> None:
    """rows: (metric, ours, baseline, ratio, target, verdict)."""
    headers = ("metric", "ours", "baseline", "ratio", "target", "ok")
    cells = [headers, *[[fmt(c) for c in r] for r in rows]]
    widths = [max(len(str(r[i])) for r in cells) for i in range(len(headers))]
    print(f"\n## {title}  (load average {' '.join(map(str, os.getloadavg()))})")
    for i, r in enumerate(cells):
        print("  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)))
        if i == 0:
            print("  ".join("-" * w for w in widths))


def fmt(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "NO"
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 100 else f"{value:.0f}"
    return "" if value is None else str(value)


def row(
    metric: str, ours: float, base: float | None, target: str, ok: bool | None
) -> dict[str, Any]:
    ratio = round(ours / base, 3) if base else None
    return {
        "metric": metric,
        "ours": round(ours, 3),
        "baseline": None if base is None else round(base, 3),
        "ratio": ratio,
        "target": target,
        "ok": ok,
    }


def as_rows(rows: Sequence[dict[str, Any]]) -> list[list[Any]]:
    return [[r["metric"], r["ours"], r["baseline"], r["ratio"], r["target"], r["ok"]] for r in rows]


# -- servers -----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_env(index_dir: Path, **extra: str) -> dict[str, str]:
    """``mscqa serve`` settings for benchmarks: loopback, no per-IP rate limit (one client IP
    sends all the load here), access log at WARNING so a log line per request is not measured.
    """
    env = dict(os.environ)
    env.update(
        MSCQA_INDEX_DIR=str(index_dir),
        MSCQA_CORPUS_DIR=str(ARTICLE.parent),
        MSCQA_HOST="127.0.0.1",
        MSCQA_RATE_LIMIT_PER_MINUTE="0",
        MSCQA_LOG_LEVEL="WARNING",
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
    )
    env.update(extra)
    return env


@contextlib.contextmanager
def server(
    index_dir: Path, timeout: float = 60.0, **extra: str
) -> Iterator[tuple[str, subprocess.Popen[bytes], float]]:
    """Start ``mscqa serve`` on a free loopback port; yield (url, process, seconds to ready).

    The server is terminated (then killed) on exit, whatever happened.
    """
    port = free_port()
    log = (OUT / f"server-{port}.log").open("wb") if OUT.is_dir() else subprocess.DEVNULL
    started = time.perf_counter()
    proc = subprocess.Popen(
        [PYTHON, "-m", "mscqa.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=server_env(index_dir, **extra),
        stdout=log,
        stderr=log,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        ready = wait_ready(url, proc, timeout)
        yield url, proc, ready - started
    finally:
        stop(proc)
        if log is not subprocess.DEVNULL:
            log.close()


class AskClient:
    """POST /ask over one keep-alive HTTP/1.1 connection with the standard library's client.

    What the latency benchmarks time: the server, the loopback socket and a lean client.
    httpx spends ~0.5 ms of its own per request here (bench/latency.py prints that row too),
    which is the caller's cost, not the server's.
    """

    def __init__(self, url: str, timeout: float = 60.0) -> None:
        host, port = url.split("//", 1)[1].rsplit(":", 1)
        self.conn = http.client.HTTPConnection(host, int(port), timeout=timeout)

    def ask(self, question: str) -> tuple[int, float, bytes]:
        """(status, milliseconds, body) for one question."""
        body = json.dumps({"question": question})
        for attempt in (1, 2):
            started = time.perf_counter()
            try:
                self.conn.request("POST", "/ask", body=body, headers=_JSON)
                response = self.conn.getresponse()
                data = response.read()
            except (http.client.RemoteDisconnected, ConnectionError):
                # the server closed the idle keep-alive connection (uvicorn: after 5 s); a
                # new one is opened and the question timed again, as httpx would
                self.conn.close()
                if attempt == 2:
                    raise
                continue
            return response.status, (time.perf_counter() - started) * 1000, data
        raise AssertionError("unreachable")

    def ask_ms(self, question: str) -> float:
        """Milliseconds for one answered question; anything but 200 is an error."""
        status, ms, data = self.ask(question)
        if status != 200:
            raise RuntimeError(f"/ask returned {status}: {data[:200]!r}")
        return ms

    def close(self) -> None:
        self.conn.close()


_JSON = {"Content-Type": "application/json"}


def wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float) -> float:
    """Poll /health until 200; returns the perf_counter time it answered 200."""
    import httpx

    deadline = time.perf_counter() + timeout
    with httpx.Client(timeout=1.0) as client:
        while time.perf_counter() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"mscqa serve exited with {proc.returncode}")
            with contextlib.suppress(httpx.HTTPError):
                if client.get(f"{url}/health").status_code == 200:
                    return time.perf_counter()
            time.sleep(0.01)
    raise RuntimeError(f"{url} was not ready within {timeout}s")


def stop(proc: subprocess.Popen[Any]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def build(index_dir: Path, corpus_dir: Path = ARTICLE.parent, **extra: str) -> None:
    """``mscqa index`` in a subprocess (as a user would run it)."""
    env = server_env(index_dir, MSCQA_CORPUS_DIR=str(corpus_dir), **extra)
    subprocess.run(
        [PYTHON, "-m", "mscqa.cli", "index", "--json"],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def article_index(index_dir: Path | None) -> Path:
    """``index_dir`` (``--index-dir``) if given, else a fresh temporary one; built if empty."""
    index_dir = index_dir or Path(tempfile.mkdtemp(prefix="mscqa-bench-")) / "index"
    if not (index_dir / "CURRENT").is_file():
        build(index_dir)
    return index_dir


def write_bodies(path: Path, questions: Sequence[str]) -> Path:
    """One ``/ask`` JSON body per line, for wrk's Lua scripts."""
    path.write_text("".join(json.dumps({"question": q}) + "\n" for q in questions))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--questions", type=int, default=100)
    args = parser.parse_args()
    questions = varied_questions(args.questions)
    started = time.perf_counter()
    baseline = Baseline()
    setup = time.perf_counter() - started
    s = summary(baseline.latencies(questions))
    print(f"baseline: {len(baseline.chunks)} chunks, set up in {setup:.1f}s")
    print(f"in-process /ask latency, ms: {s}")
    print(f"machine: {machine()}")


if __name__ == "__main__":
    main()
