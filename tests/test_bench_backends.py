"""The backends benchmark's own parts (bench/perf/backends.py) keep working as the product changes.

The benchmark builds its large corpora with a synthetic embedder in a child process, so a change
to the ``Embedder`` seam that the synthetic embedder does not follow breaks it only when someone
runs it (it once did: ``precision`` was added to the seam). These tests build a tiny index with
it on both backends, and check the synthetic corpus it writes.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from mscqa.config import Settings
from mscqa.index.backends import open_store
from mscqa.indexing import build_index

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.perf.backends import (
    DIM,
    MemoryGuard,
    SyntheticEmbedder,
    render_rows,
    run_build,
    synthetic_corpus,
)

pytestmark = pytest.mark.both_backends


def pool(n: int = 64) -> np.ndarray:
    rows = np.random.default_rng(1).normal(size=(n, DIM)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_synthetic_embedder_builds_an_index(tiny_settings: Settings) -> None:
    embedder = SyntheticEmbedder(pool())
    report = build_index(tiny_settings, embedder)
    assert report.chunks > 0 and report.embedded > 0
    again = build_index(tiny_settings, SyntheticEmbedder(pool()))
    assert again.embedded == 0 and again.reused == report.embedded  # the cache knows them all
    store = open_store(tiny_settings)
    try:
        snapshot = store.load_current()
        assert len(snapshot.chunks) == report.chunks
    finally:
        store.close()


def test_synthetic_vectors_are_unit_length_and_deterministic() -> None:
    embedder = SyntheticEmbedder(pool())
    texts = ["alpha beta", "gamma delta", "alpha beta"]
    a, b = embedder.encode(texts), SyntheticEmbedder(pool()).encode(texts)
    assert a.dtype == np.float32 and a.shape == (3, DIM)
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a[0], a[2])
    assert not np.allclose(a[0], a[1])


def test_synthetic_corpus_perturbs_every_copy(tmp_path: Path) -> None:
    entries = {
        "1": {
            "QUESTION": "Does it work?",
            "CONTEXTS": ["Patients improved markedly after treatment with cells in trials."],
            "LABELS": ["RESULTS"],
            "YEAR": "2001",
        },
        "2": {
            "QUESTION": "Is it safe?",
            "CONTEXTS": ["Adverse events were rare among recipients of stromal cells here."],
            "LABELS": ["RESULTS"],
            "YEAR": "2002",
        },
    }
    documents = synthetic_corpus(entries, tmp_path, passages=10, per_abstract=1.0)
    files = sorted(tmp_path.rglob("*.md"))
    assert documents == len(files) == 10
    assert len({f.read_text() for f in files}) == 10  # no two copies equal


@pytest.mark.parametrize("index_backend", ["folder"], indirect=True)
def test_a_build_past_the_memory_limit_is_killed_alone_and_its_row_says_where(
    tmp_path: Path, tiny_settings: Settings
) -> None:
    np.save(tmp_path / "pool.npy", pool())
    index_dir = tmp_path / "index"
    died = run_build(tiny_settings.corpus_dir, index_dir, None, tmp_path / "pool.npy", 1.0)
    assert died["failed"].startswith("killed by the memory guard at ")
    assert died["peak_rss_mb"] > 1.0 and died["seconds"] > 0
    assert not (index_dir / "CURRENT").exists()  # nothing published
    run = {"size": 10, "backend": "folder", "cold": died, "one_more": None, "load": (1, 2, 3)}
    table = render_rows([run])
    assert "(killed)" in table.splitlines()[-1]
    built = run_build(tiny_settings.corpus_dir, index_dir, None, tmp_path / "pool.npy", 4096.0)
    assert "failed" not in built and built["chunks"] > 0 and built["peak_rss_mb"] > 0


def test_the_memory_guard_kills_only_the_process_past_its_limit() -> None:
    grow = (
        "import time\nx = bytearray(300 * 2**20)\nx[::4096] = b'x' * len(x[::4096])\ntime.sleep(60)"
    )
    proc = subprocess.Popen([sys.executable, "-c", grow])
    with MemoryGuard(proc.pid, 100.0) as guard:
        proc.wait(timeout=30)
    assert guard.killed == "memory" and proc.returncode == -signal.SIGKILL
    assert guard.peak_own_mb > 100.0


def test_the_guard_stops_a_process_at_the_deadline() -> None:
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    with MemoryGuard(lambda: proc.pid, 10_000.0, deadline=time.time() + 0.5) as guard:
        proc.wait(timeout=30)
    assert guard.killed == "deadline" and guard.why().startswith("stopped at the --stop-at")
