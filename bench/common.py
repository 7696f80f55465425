"""What every benchmark shares: the data sets, the machine, figures and tables, ``mscqa``
processes (an index build, a server on a free port, a lean /ask client), disk use, progress."""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import platform
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "bench" / "pubmedqa" / "ori_pqal.json"
ARTICLE = REPO / "corpus" / "msc-article.md"
DEVSET = REPO / "tests" / "data" / "devset.jsonl"
PUBMEDQA = DEFAULT_DATA
OUT = REPO / "bench" / "out"
PYTHON = sys.executable
# Nothing may reach for the network, in this process or in the servers it starts.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def load_pubmedqa(path: Path, limit: int | None = None) -> dict[str, dict[str, Any]]:
    """PubMedQA entries keyed by PubMed id, in file order; the first ``limit`` if given."""
    if not path.is_file():
        raise SystemExit(f"PubMedQA data not found at {path}; pass --data PATH/ori_pqal.json")
    data: dict[str, dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))
    items = list(data.items())
    return dict(items[:limit] if limit else items)


def abstract_markdown(pmid: str, entry: dict[str, Any]) -> str:
    """One abstract as Markdown: a neutral title, then each paragraph under its section label.

    The title is not the question (that would leak it into the document) and ``LONG_ANSWER``
    (the abstract's conclusion, i.e. the answer) is left out.
    """
    parts = ["---", f'title: "PubMed {pmid}"', "---", ""]
    for label, text in zip(entry["LABELS"], entry["CONTEXTS"], strict=True):
        heading = " ".join(label.split()) or "ABSTRACT"
        parts += [f"## {heading}", "", " ".join(text.split()), ""]
    return "\n".join(parts)


def write_corpus(entries: dict[str, dict[str, Any]], folder: Path) -> int:
    """Write ``<pmid>.md`` for every entry into ``folder``; returns the number of paragraphs."""
    folder.mkdir(parents=True, exist_ok=True)
    paragraphs = 0
    for pmid, entry in entries.items():
        (folder / f"{pmid}.md").write_text(abstract_markdown(pmid, entry), encoding="utf-8")
        paragraphs += len(entry["CONTEXTS"])
    return paragraphs


def machine() -> dict[str, Any]:
    """What the figures were measured on, including the load at the time."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "loadavg": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
    }


def save(name: str, results: dict[str, Any]) -> Path:
    """Write ``bench/out/<name>.json`` (git-ignored) so a run can be compared with the next."""
    out = REPO / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.json"
    path.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return path


def finish(
    name: str, results: dict[str, Any], render: Callable[[dict[str, Any]], str], *, as_json: bool
) -> int:
    """The end of a benchmark's ``main``: the load after the run (``machine_after``, if the
    run did not note it itself), ``bench/out/<name>.json``, then the JSON or the rendered
    tables on stdout. Returns the exit status."""
    results.setdefault("machine_after", machine())
    save(name, results)
    sys.stdout.write((json.dumps(results, indent=2) if as_json else render(results)) + "\n")
    return 0


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (the same definition as ``mscqa.evaluation``)."""
    ordered = sorted(values)
    idx = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[idx]


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain Markdown table (floats with 3 decimals), easy to paste into the README."""

    def cell(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:.3f}"
        return "" if v is None else str(v)

    body = [[cell(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in body)) for i, h in enumerate(headers)]
    lines = [
        "| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |",
        "|" + "|".join("-" * (w + 2) for w in widths) + "|",
    ]
    lines += [
        "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in body
    ]
    return "\n".join(lines)


def copy_to_database(index_dir: Path, url: str) -> str:
    """Write the folder index's served snapshot, unchanged, into the database at ``url`` and
    publish it there: both backends then hold the same vectors and records. Returns its
    version."""
    from mscqa.index import load_current
    from mscqa.index.pgstore import PgStore

    snap = load_current(index_dir)
    store = PgStore(url, index_dir / "models")
    try:
        with store.writer() as writer:
            writer.write(snap.manifest, snap.parts())  # the store seals it (counts, storage)
            writer.publish(snap.version, keep=3)
    finally:
        store.close()
    return snap.version


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
    from mscqa.answer.cache import normalise_question  # the answer cache's own key

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
        MSCQA_MAX_CLIENT_CONNECTIONS="0",  # wrk opens up to 192 connections from one address
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


# -- disk and progress -------------------------------------------------------------------------


def du(path: Path, *, apparent: bool = False) -> int:
    """Bytes under ``path``: allocated blocks as ``du`` counts them, or the files' sizes."""
    files = [p.stat() for p in path.rglob("*") if p.is_file()]
    return sum(s.st_size if apparent else s.st_blocks * 512 for s in files)


def progress_logger(tag: str) -> Callable[[str], None]:
    """``log("message")`` writes ``[tag HH:MM:SS] message`` to stderr, for long runs."""

    def log(message: str) -> None:
        sys.stderr.write(f"[{tag} {time.strftime('%H:%M:%S')}] {message}\n")
        sys.stderr.flush()

    return log


def same_run_args(doc: str, questions: int, repeats: int) -> argparse.Namespace:
    """The options of the benchmarks that time servers against each other over HTTP in one
    run: how many new questions, how many times the cached one, an index to reuse, --json."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--questions", type=int, default=questions, help="new questions")
    parser.add_argument(
        "--repeats", type=int, default=repeats, help="times the repeated (cached) question"
    )
    parser.add_argument("--index-dir", type=Path, help="an article index to reuse")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    return parser.parse_args()


def same_run(
    doc: str,
    defaults: tuple[int, int],
    over_http: Callable[[Path, int, int], dict[str, Any]],
    in_process: Callable[[Path, int], dict[str, float]],
    in_process_n: int,
) -> tuple[argparse.Namespace, dict[str, Any]]:
    """Parse ``same_run_args``, then on the article index (built if need be) run
    ``over_http(index, questions, repeats)`` and ``in_process(index, in_process_n)``; returns
    the options and the results, with the machine they ran on."""
    args = same_run_args(doc, *defaults)
    index_dir = article_index(args.index_dir)
    result = over_http(index_dir, args.questions, args.repeats)
    result["in_process_us"] = in_process(index_dir, in_process_n)
    result["machine"] = machine()
    return args, result
