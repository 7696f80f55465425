"""Write the format-2 snapshot folder checked in next to this script (``v2/``).

    .venv/bin/python tests/data/snapshot/make_fixture.py

The checked-in files were written by this script's first version (commit 2c91a27, mscqa as of
cd81b45), before the manifest became a typed ``Manifest``; ``tests/test_store.py`` loads them
with today's code and checks that the same parts are written the same way. Do not regenerate
them to make that test pass: a difference means snapshots already on users' disks would no
longer load, or would not load the same.
The manifest holds every key a real build writes (``indexing.build_index``), a
``query_model`` entry included.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from mscqa.index import Manifest, SnapshotParts, save_snapshot

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))  # tests/: the store tests' tiny snapshot

from test_store import DEFINED, DIM, GAPS, tiny_snapshot_inputs  # noqa: E402

VERSION = "20261202T000000000000Z"
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


def main() -> int:
    docs, chunks, cv, sv, owner = tiny_snapshot_inputs()
    work = HERE / "work"
    shutil.rmtree(work, ignore_errors=True)
    manifest = Manifest.from_json({**MANIFEST, "format_version": 2, "version": VERSION}, VERSION)
    written = save_snapshot(
        work, manifest, SnapshotParts(docs, chunks, cv, sv, owner, DEFINED, GAPS)
    )
    shutil.rmtree(HERE / "v2", ignore_errors=True)
    shutil.move(written, HERE / "v2")
    shutil.rmtree(work)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
