"""Snapshots in a folder (the default store): written atomically, checked on load.

A snapshot folder holds manifest.json, documents.json, chunks.jsonl, dense.faiss,
sentences.npy and lexical/ (and the records later formats add). Row i means chunk i in
``dense.faiss``, ``lexical/`` and ``chunks.jsonl``. The store never embeds: it is handed
vectors and only persists and reloads them.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import threading
from collections.abc import Iterator, Sequence
from dataclasses import fields
from pathlib import Path

import numpy as np

from mscqa.errors import NoIndexError, SnapshotError
from mscqa.fileio import fsync_dir, write_durably
from mscqa.index.dense import SentenceTable, make_dense_index
from mscqa.index.layout import (
    current_version,
    folder_writer_lock,
    list_versions,
    models_dir,
    publish,
)
from mscqa.index.lexical import LexicalIndex, Tokens
from mscqa.index.manifest import FIX, Manifest
from mscqa.index.records import chunk_from_record, chunk_record, doc_from_record, doc_record
from mscqa.index.snapshot import Snapshot
from mscqa.index.store import IndexSnapshot, SnapshotParts, lexical_text
from mscqa.memo import LastCall
from mscqa.types import Definition, Unreadable

log = logging.getLogger(__name__)


def save_snapshot(
    index_dir: Path, manifest: Manifest, parts: SnapshotParts, tokens: Tokens | None = None
) -> Path:
    """Write snapshot ``manifest.version`` under a temporary name, fsync it, then rename it
    into place. ``tokens`` is the store's token memo (``lexical.Tokens``).

    Does not switch ``CURRENT``; call ``publish`` once the snapshot has been checked. A full
    disk (or any other write failure) removes the partial snapshot and raises SnapshotError.
    """
    import faiss

    version = manifest.version
    snapshots = index_dir / "snapshots"
    tmp, final = snapshots / f".tmp-{version}", snapshots / version
    with _removed_on_write_error(tmp, snapshots):
        snapshots.mkdir(parents=True, exist_ok=True)
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir()
        write_durably(
            tmp / "documents.json", json.dumps([doc_record(d) for d in parts.documents]).encode()
        )
        write_durably(
            tmp / "chunks.jsonl",
            "".join(
                json.dumps(chunk_record(c), ensure_ascii=False) + "\n" for c in parts.chunks
            ).encode(),
        )
        faiss.write_index(make_dense_index(parts.chunk_vectors), str(tmp / "dense.faiss"))
        with (tmp / "sentences.npy").open("wb") as fh:
            np.save(fh, np.ascontiguousarray(parts.sentence_vectors, dtype=np.float32))
            np.save(fh, np.asarray(parts.sentence_owner, dtype=np.int32))
            fh.flush()
            os.fsync(fh.fileno())
        texts = [lexical_text(c) for c in parts.chunks]
        LexicalIndex.build(texts, tokens).save(tmp / "lexical")
        write_durably(tmp / "abbreviations.jsonl", _jsonl(parts.abbreviations))
        write_durably(tmp / "unreadable.jsonl", _jsonl(parts.unreadable))
        manifest.write(tmp, parts.counts())
        fsync_dir(tmp)
        os.rename(tmp, final)
        fsync_dir(snapshots)
    return final


@contextlib.contextmanager
def _removed_on_write_error(tmp: Path, snapshots: Path) -> Iterator[None]:
    """A write failure (a full disk, say) removes the partial snapshot and says what to do."""
    try:
        yield
    except (OSError, RuntimeError) as exc:  # faiss reports write failures as RuntimeError
        shutil.rmtree(tmp, ignore_errors=True)
        reason = getattr(exc, "strerror", None) or str(exc).strip().splitlines()[-1]
        raise SnapshotError(
            f"Could not write the new index snapshot in {snapshots} ({reason}); "
            "free some space or fix the folder's permissions and run `mscqa index` again. "
            "The previous index is still the one served."
        ) from exc


def load_snapshot(path: Path, *, expect_model: str | None = None) -> Snapshot:
    """Load and check one snapshot folder. Raises ``SnapshotError`` naming the fix.

    The records (documents, chunks) are parsed into memory; the vectors (FAISS's and the
    sentence table's) and BM25's score arrays are memory-mapped from the files, which the
    check of every file's digest has just read into the page cache: a load copies nothing,
    processes serving the same snapshot share one copy, and a build's check of the snapshot it
    wrote does not hold a second copy of its vectors."""
    import faiss

    manifest = Manifest.read(path)
    manifest.check_model(expect_model)
    manifest.verify_files(path)
    try:
        documents = {
            d["doc_id"]: doc_from_record(d)
            for d in json.loads((path / "documents.json").read_text())
        }
        with (path / "chunks.jsonl").open(encoding="utf-8") as fh:
            chunks = [chunk_from_record(json.loads(line)) for line in fh]
        dense = faiss.read_index(str(path / "dense.faiss"), faiss.IO_FLAG_MMAP_IFC)
        sentence_vectors, owner = _mapped_arrays(path / "sentences.npy", 2)
        owner = np.array(owner)  # small, and searched on every question
        lexical = LexicalIndex.load(path / "lexical", mmap=True)
        with (path / "abbreviations.jsonl").open(encoding="utf-8") as fh:
            abbreviations = [Definition(**json.loads(line)) for line in fh]
        with (path / "unreadable.jsonl").open(encoding="utf-8") as fh:
            unreadable = [Unreadable(**json.loads(line)) for line in fh]
    except Exception as exc:
        raise SnapshotError(f"index snapshot {path.name} could not be read ({exc}); {FIX}") from exc
    counts = manifest.counts
    sizes = {
        "chunks": len(chunks),
        "dense vectors": dense.ntotal,
        "lexical rows": lexical.size,
    }
    if len(set(sizes.values())) != 1 or counts is None or counts.chunks != len(chunks):
        raise SnapshotError(f"index snapshot {path.name} is inconsistent {sizes}; {FIX}")
    if len(owner) != len(sentence_vectors) or counts.documents != len(documents):
        raise SnapshotError(f"index snapshot {path.name} is inconsistent (sentences); {FIX}")
    return Snapshot(
        path,
        manifest,
        documents,
        chunks,
        dense,
        SentenceTable(owner, sentence_vectors),
        lexical,
        abbreviations,
        unreadable,
    )


def _mapped_arrays(path: Path, count: int) -> list[np.ndarray]:
    """The first ``count`` arrays ``np.save`` wrote one after another into ``path``, each
    memory-mapped read-only (``np.load(mmap_mode=...)`` maps only a file's first array)."""
    arrays: list[np.ndarray] = []
    with path.open("rb") as fh:
        for _ in range(count):
            version = np.lib.format.read_magic(fh)
            read_header = (
                np.lib.format.read_array_header_1_0
                if version == (1, 0)
                else np.lib.format.read_array_header_2_0
            )
            shape, fortran, dtype = read_header(fh)
            offset = fh.tell()
            if dtype.hasobject:
                raise ValueError(f"{path.name} holds Python objects, not numbers")
            size = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
            if size == 0:
                array = np.empty(shape, dtype=dtype)
            else:
                mapped = np.memmap(
                    path,
                    dtype=dtype,
                    mode="r",
                    offset=offset,
                    shape=shape,
                    order="F" if fortran else "C",
                )
                array = np.asarray(mapped)
            arrays.append(array)
            fh.seek(offset + size)
    return arrays


def load_current(index_dir: Path, *, expect_model: str | None = None) -> Snapshot:
    """Load the snapshot ``CURRENT`` names; if it is damaged, fall back to the newest good one."""
    version = current_version(index_dir)
    if version is None:
        raise NoIndexError(
            f"No index yet in {index_dir}; run `mscqa index` (or `mscqa serve`, which builds one)."
        )
    try:
        return load_snapshot(index_dir / "snapshots" / version, expect_model=expect_model)
    except SnapshotError as first:
        for other in reversed(list_versions(index_dir)):
            if other == version:
                continue
            try:
                snap = load_snapshot(index_dir / "snapshots" / other, expect_model=expect_model)
            except SnapshotError:
                continue
            log.error("%s; serving the previous snapshot %s instead", first, other)
            return snap
        raise


class FolderStore:
    """Snapshots in ``index_dir`` (the default): the functions above behind the store seam.

    ``tokens`` (default: its own) is the token memo every snapshot it writes
    tokenises its passages through: a build passes the one its ``BuildCache`` keeps."""

    def __init__(self, index_dir: Path, tokens: Tokens | None = None) -> None:
        self.index_dir = index_dir
        self.models_dir = models_dir(index_dir)
        self.tokens: Tokens = tokens if tokens is not None else LastCall()

    def where(self) -> str:
        return str(self.index_dir)

    @contextlib.contextmanager
    def writer(self, wait: bool = False) -> Iterator[FolderWriter]:
        with folder_writer_lock(self.index_dir, wait=wait):
            yield FolderWriter(self.index_dir, self.tokens)

    def current_version(self) -> str | None:
        return current_version(self.index_dir)

    def current_manifest(self) -> Manifest | None:
        version = current_version(self.index_dir)
        if version is None:
            return None
        return Manifest.read_or_none(self.index_dir / "snapshots" / version)

    def list_versions(self) -> list[str]:
        return list_versions(self.index_dir)

    def load_current(self) -> Snapshot:
        return load_current(self.index_dir)

    def retire(self, snapshot: IndexSnapshot) -> None:
        pass  # its mapped files are unmapped when the last reference to it goes

    def wait_for_change(self, timeout: float, stop: threading.Event) -> None:
        stop.wait(timeout)

    def check(self) -> None:
        pass  # the loaded snapshot is in memory or mapped from local files: nothing to reach

    def close(self) -> None:
        pass


class FolderWriter:
    def __init__(self, index_dir: Path, tokens: Tokens | None = None) -> None:
        self.index_dir = index_dir
        self.tokens = tokens

    def write(self, manifest: Manifest, parts: SnapshotParts) -> None:
        save_snapshot(self.index_dir, manifest, parts, self.tokens)

    def load(self, version: str) -> Snapshot:
        return load_snapshot(self.index_dir / "snapshots" / version)

    def publish(self, version: str, keep: int) -> None:
        publish(self.index_dir, version, keep=keep)

    def rollback(self, keep: int) -> str:
        versions = list_versions(self.index_dir)
        current = current_version(self.index_dir)
        older = [v for v in versions if current is None or v < current]
        if not older:
            raise SnapshotError(
                "There is no earlier index snapshot to roll back to "
                f"(kept: {', '.join(versions) or 'none'})."
            )
        publish(self.index_dir, older[-1], keep=max(keep, len(versions)))
        return older[-1]


def _jsonl(records: Sequence[Definition | Unreadable]) -> bytes:
    return "".join(
        json.dumps({f.name: getattr(r, f.name) for f in fields(r)}, ensure_ascii=False) + "\n"
        for r in records
    ).encode()
