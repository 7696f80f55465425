"""The backends benchmark's own parts (bench/perf/backends.py) keep working as the product changes.

The benchmark builds its large corpora with a synthetic embedder in a child process, so a change
to the ``Embedder`` seam that the synthetic embedder does not follow breaks it only when someone
runs it (it once did: ``precision`` was added to the seam). These tests build a tiny index with
it on both backends, and check the synthetic corpus it writes.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from mscqa.config import Settings
from mscqa.index.backends import open_store
from mscqa.indexing import build_index

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.perf.backends import DIM, SyntheticEmbedder, synthetic_corpus

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
