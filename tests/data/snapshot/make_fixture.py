"""Write the format-2 snapshot folder checked in next to this script (``v2/``).

    .venv/bin/python tests/data/snapshot/make_fixture.py

It was written by mscqa at commit cd81b45, before the manifest became a typed ``Manifest``;
``tests/test_store.py`` loads it with today's code and checks that a snapshot of the same
parts is written byte for byte the same. Do not regenerate it to make that test pass: a
difference means snapshots already on users' disks would no longer load (or not the same).
The manifest holds every key a real build writes (``indexing.build_index``), a
``query_model`` entry included.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from mscqa.index import save_snapshot
from mscqa.types import Chunk, Definition, Document, Page, Section, Unreadable

HERE = Path(__file__).resolve().parent
VERSION = "20261202T000000000000Z"
DIM = 8
MANIFEST = {
    "created_at": "2026-12-02T00:00:00+00:00",
    "model": {"name": "hashing-8", "sha256": "f" * 64, "dim": DIM},
    "chunking": {"splitter": "sentence-v3", "max_chars": 700},
    "corpus": {"d/one.md": "a" * 64},
    "skipped": [{"file": "notes.xyz", "reason": "unsupported file type"}],
    "query_model": {
        "path": "models/ffffffffffffffff",
        "sha256": "e" * 64,
        "quantized": False,
        "agreement": 0.999999,
    },
}


def parts() -> tuple[Document, list[Chunk], np.ndarray, np.ndarray, np.ndarray]:
    text = "Alpha cells grow. Beta cells divide.\n\nGamma tissue heals."
    doc = Document(
        "d/one.md",
        "d/one.md",
        "One",
        text,
        "a" * 64,
        "markdown",
        (Section("S", 0, len(text)),),
        (Page(1, 0, len(text)),),
        (("date", "2025"),),
    )
    chunks = [
        Chunk(
            "d/one.md#0", "d/one.md", 0, "One", "S", 0, 36, text[0:36], "h0", ((0, 17), (18, 36))
        ),
        Chunk("d/one.md#1", "d/one.md", 1, "One", None, 38, 57, text[38:57], "h1", ((38, 57),)),
    ]
    rng = np.random.default_rng(0)
    cv = rng.normal(size=(2, DIM)).astype(np.float32)
    cv /= np.linalg.norm(cv, axis=1, keepdims=True)
    sv = rng.normal(size=(3, DIM)).astype(np.float32)
    owner = np.array([0, 0, 1], dtype=np.int32)
    return doc, chunks, cv, sv, owner


DEFINED = [Definition("d/one.md", "GVHD", "graft-versus-host disease")]
GAPS = [Unreadable("d/one.md", "Table 1", 40, 41, "S", "d/one.md#0")]


def main() -> int:
    doc, chunks, cv, sv, owner = parts()
    work = HERE / "work"
    shutil.rmtree(work, ignore_errors=True)
    written = save_snapshot(work, VERSION, MANIFEST, [doc], chunks, cv, sv, owner, DEFINED, GAPS)
    shutil.rmtree(HERE / "v2", ignore_errors=True)
    shutil.move(written, HERE / "v2")
    shutil.rmtree(work)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
