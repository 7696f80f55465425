"""A snapshot's manifest (``manifest.json``): its format, version, model, counts and the sha256
of every file, written last into the snapshot and checked before the snapshot is used.

The one module that reads and writes it: the folder store and ``layout.prune`` through these
functions, the PostgreSQL store with the same format number and fix."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from mscqa.errors import SnapshotError
from mscqa.fileio import file_sha256, write_durably

# 2: abbreviations.jsonl (the abbreviations each document defines) and unreadable.jsonl (the
# parts of documents with no text, e.g. image tables); sentence vectors embed the section heading
FORMAT_VERSION = 2
FIX = "run `mscqa index` to rebuild it"
MANIFEST = "manifest.json"


def seal(
    folder: Path, manifest: Mapping[str, Any], version: str, counts: Mapping[str, int]
) -> dict[str, Any]:
    """Complete ``manifest`` for the snapshot written in ``folder`` (format, version, counts,
    the digest of every file there) and write it durably as the folder's last file."""
    sealed = {
        **manifest,
        "format_version": FORMAT_VERSION,
        "version": version,
        "counts": dict(counts),
        "files": {
            path.relative_to(folder).as_posix(): file_sha256(path)
            for path in sorted(folder.rglob("*"))
            if path.is_file() and path.name != MANIFEST
        },
    }
    write_durably(folder / MANIFEST, json.dumps(sealed, indent=2).encode())
    return sealed


def read(folder: Path) -> dict[str, Any]:
    """The manifest of the snapshot in ``folder``; ``SnapshotError`` naming the fix if it is
    missing or corrupt."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
    except FileNotFoundError:
        raise SnapshotError(f"index snapshot {folder} has no manifest; {FIX}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SnapshotError(
            f"index manifest {folder}/{MANIFEST} is corrupt ({exc}); {FIX}"
        ) from None
    if not isinstance(manifest, dict):
        raise SnapshotError(f"index manifest {folder}/{MANIFEST} is not an object; {FIX}")
    return manifest


def read_or_none(folder: Path) -> dict[str, Any] | None:
    """The manifest, or None when it cannot be read (for callers that only look)."""
    try:
        return read(folder)
    except (SnapshotError, OSError):
        return None


def check(manifest: Mapping[str, Any], name: str, *, expect_model: str | None = None) -> None:
    """The snapshot ``name`` is in the format this mscqa reads (and built with ``expect_model``)."""
    if manifest.get("format_version") != FORMAT_VERSION:
        raise SnapshotError(
            f"index snapshot {name} has format {manifest.get('format_version')}, this "
            f"version of mscqa reads format {FORMAT_VERSION}; {FIX}"
        )
    check_model(manifest, name, expect_model)


def check_model(manifest: Mapping[str, Any], name: str, expect_model: str | None) -> None:
    """The snapshot ``name`` was built with ``expect_model`` (a model sha256; None: any)."""
    if expect_model is not None and manifest.get("model", {}).get("sha256") != expect_model:
        raise SnapshotError(
            f"index snapshot {name} was built with model "
            f"{manifest.get('model', {}).get('name')!r}, not the configured one; {FIX}"
        )


def verify_files(folder: Path, manifest: Mapping[str, Any]) -> None:
    """Every file the manifest lists is there with its digest."""
    for name, digest in manifest.get("files", {}).items():
        try:
            actual = file_sha256(folder / name)
        except FileNotFoundError:
            raise SnapshotError(f"index snapshot {folder.name} is missing {name}; {FIX}") from None
        if actual != digest:
            raise SnapshotError(f"index file {folder.name}/{name} is corrupted; {FIX}")


def model_exports(manifests: Sequence[Mapping[str, Any]]) -> set[str]:
    """Names of the ``models/`` exports these manifests use (the build model's, the query's)."""
    wanted: set[str] = set()
    for manifest in manifests:
        wanted.add(str(manifest.get("model", {}).get("sha256", ""))[:16])
        query_model = manifest.get("query_model") or {}
        wanted.add(Path(str(query_model.get("path", ""))).name)
    return wanted
