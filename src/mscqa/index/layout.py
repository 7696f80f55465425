"""The index folder's layout, and the only code that changes it::

    index_dir/
      CURRENT                 name of the serving snapshot (replaced atomically)
      snapshots/<version>/    one complete snapshot (see folder.py)
      models/<name>/          this machine's ONNX exports of the model
      cache/                  the embedding cache (embedding/cache.py; not with a database)
      writer.lock             held by the one process building (see indexing.py)

``publish`` switches ``CURRENT``, ``prune`` removes old snapshots and unused exports."""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from mscqa.errors import BuildInProgress, SnapshotError
from mscqa.fileio import fsync_dir, write_durably
from mscqa.index.manifest import FIX, Manifest, model_exports


def cache_dir(index_dir: Path) -> Path:
    """Where the folder store's builds keep the embedding cache."""
    return index_dir / "cache"


def models_dir(index_dir: Path) -> Path:
    """Where this machine's ONNX exports of the model live (``models/<name>/``): the folder
    store's and, beside a database store, the index folder's."""
    return index_dir / "models"


def publish(index_dir: Path, version: str, keep: int = 3) -> None:
    """Point ``CURRENT`` at ``version`` atomically (temp file, fsync, rename), then prune."""
    if not (index_dir / "snapshots" / version / "manifest.json").is_file():
        raise SnapshotError(f"snapshot {version} does not exist; {FIX}")
    tmp = index_dir / ".CURRENT.tmp"
    try:
        write_durably(tmp, version.encode())
        os.replace(tmp, index_dir / "CURRENT")
        fsync_dir(index_dir)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise SnapshotError(
            f"Could not switch the index to {version} ({exc.strerror or exc}); the previous "
            "snapshot is still served. Free some space and run `mscqa index` again."
        ) from exc
    prune(index_dir, keep=keep, protect={version})


def current_version(index_dir: Path) -> str | None:
    try:
        return (index_dir / "CURRENT").read_text().strip() or None
    except FileNotFoundError:
        return None


def list_versions(index_dir: Path) -> list[str]:
    """Complete snapshots, oldest first (versions sort by build time)."""
    root = index_dir / "snapshots"
    if not root.is_dir():
        return []
    return sorted(
        p.name
        for p in root.iterdir()
        if not p.name.startswith(".") and (p / "manifest.json").is_file()
    )


def prune(index_dir: Path, keep: int, protect: set[str]) -> None:
    """Remove leftovers of interrupted builds and all but the newest ``keep`` snapshots."""
    root = index_dir / "snapshots"
    for leftover in root.glob(".tmp-*"):
        shutil.rmtree(leftover, ignore_errors=True)
    versions = list_versions(index_dir)
    for version in versions[: max(0, len(versions) - keep)]:
        if version not in protect:
            shutil.rmtree(root / version, ignore_errors=True)
    _prune_models(index_dir)


def _prune_models(index_dir: Path) -> None:
    manifests = []
    for version in list_versions(index_dir):
        manifest = Manifest.read_or_none(index_dir / "snapshots" / version)
        if manifest is None:
            return  # cannot tell what is in use: keep everything
        manifests.append(manifest)
    prune_models(models_dir(index_dir), manifests)


def prune_models(models: Path, manifests: list[Manifest]) -> None:
    """Remove ONNX exports (``models/<name>``) that no kept snapshot's model or query model
    names: each is ~87 MB, and a changed model or int8 setting would otherwise leave its old
    export behind for good. Runs under the writer lock, so no export is being written."""
    if not models.is_dir():
        return
    wanted = model_exports(manifests)
    for folder in models.iterdir():
        if folder.is_dir() and folder.name not in wanted:
            shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def folder_writer_lock(index_dir: Path, wait: bool = False) -> Iterator[None]:
    """One index writer at a time, across processes (an advisory ``flock``)."""
    index_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(index_dir / "writer.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            raise BuildInProgress(
                f"Another build holds {index_dir}/writer.lock; wait for it to finish."
            ) from None
        yield
    finally:
        os.close(fd)
