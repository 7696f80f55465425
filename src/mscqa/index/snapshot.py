"""The index directory: versioned snapshots with a manifest, written atomically, checked on load.

Layout::

    index_dir/
      CURRENT                 name of the serving snapshot (replaced atomically)
      snapshots/<version>/    manifest.json, documents.json, chunks.jsonl,
                              dense.faiss, sentences.npy, lexical/,
                              abbreviations.jsonl, unreadable.jsonl
      writer.lock             held by the one process building (see indexing.py)

Row i means chunk i in ``dense.faiss``, ``lexical/`` and ``chunks.jsonl``. The store never
embeds: it is handed vectors and only persists and reloads them.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import shutil
import threading
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from mscqa.errors import BuildInProgress, NoIndexError, SnapshotError
from mscqa.fileio import file_sha256, fsync_dir, write_durably
from mscqa.index.lexical import LexicalIndex, corpus_words, tokenize_all
from mscqa.types import Chunk, Definition, Document, Page, Section, Unreadable

log = logging.getLogger(__name__)

# 2: abbreviations.jsonl (the abbreviations each document defines) and unreadable.jsonl (the
# parts of documents with no text, e.g. image tables); sentence vectors embed the section heading
FORMAT_VERSION = 2
FIX = "run `mscqa index` to rebuild it"


@dataclass(frozen=True, slots=True)
class SentenceTable:
    """Every indexed sentence: its owning chunk row, its span, and its vector."""

    owner: np.ndarray  # int32, chunk row of sentence i
    vectors: np.ndarray  # float32 (n_sentences, dim), unit length


@dataclass(frozen=True, slots=True)
class TermStats:
    """What hybrid search needs to know about the whole corpus besides its passages."""

    passages: int
    df: dict[str, int]  # passages holding each indexed token
    words: frozenset[str]  # lower-cased corpus words, the spelling corrector's vocabulary


class Snapshot:
    """A loaded, read-only index snapshot. Safe to share between threads."""

    def __init__(
        self,
        path: Path,
        manifest: dict[str, Any],
        documents: dict[str, Document],
        chunks: list[Chunk],
        dense: Any,
        sentences: SentenceTable,
        lexical: LexicalIndex,
        abbreviations: Sequence[Definition] = (),
        unreadable: Sequence[Unreadable] = (),
    ) -> None:
        self.path = path
        self.manifest = manifest
        self.documents = documents
        self.chunks = chunks
        self.dense = dense
        self.sentences = sentences
        self.lexical = lexical
        # Start row of each chunk's sentences in the sentence table.
        self.sentence_start = np.searchsorted(sentences.owner, np.arange(len(chunks) + 1))
        self._tokens: list[set[str]] | None = None
        self._stats: TermStats | None = None
        self._abbreviations = list(abbreviations)
        self._unreadable = list(unreadable)

    @property
    def abbreviations(self) -> list[Definition]:
        """The abbreviations the documents define (mined at index time)."""
        return self._abbreviations

    @property
    def unreadable(self) -> list[Unreadable]:
        """The parts of the documents with no text (image or table placeholders)."""
        return self._unreadable

    @property
    def version(self) -> str:
        return str(self.manifest["version"])

    # -- the search surface the Retriever reads; a Postgres snapshot answers the same calls --

    def doc_of(self, row: int) -> str:
        return self.chunks[row].doc_id

    def chunks_at(self, rows: Sequence[int]) -> list[Chunk]:
        return [self.chunks[r] for r in rows]

    def chunk_counts(self) -> dict[str, int]:
        """Passages per document."""
        counts: dict[str, int] = {}
        for c in self.chunks:
            counts[c.doc_id] = counts.get(c.doc_id, 0) + 1
        return counts

    @property
    def sentence_count(self) -> int:
        return len(self.sentences.owner)

    def dense_candidates(self, vec: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Rows of the ``n`` passages nearest to ``vec`` and their inner products, best first."""
        scores, rows = self.dense.search(vec.reshape(1, -1).astype(np.float32), n)
        valid = rows[0] >= 0
        return rows[0][valid], scores[0][valid]

    def best_sentences(self, rows: np.ndarray, vec: np.ndarray) -> np.ndarray:
        """Best sentence cosine of each passage in ``rows`` (a passage with none scores -1)."""
        starts = self.sentence_start
        lo, hi = starts[rows], starts[rows + 1]
        counts = hi - lo
        best = np.full(len(rows), -1.0, dtype=np.float32)
        has = counts > 0
        if not has.any():
            return best
        idx = np.concatenate([np.arange(a, b) for a, b in zip(lo[has], hi[has], strict=True)])
        sims = self.sentences.vectors[idx] @ vec
        offsets = np.concatenate([[0], np.cumsum(counts[has])[:-1]])
        best[has] = np.maximum.reduceat(sims, offsets)
        return best

    def sentence_vectors(self, rows: Sequence[int]) -> list[np.ndarray]:
        """The sentence vectors of each passage in ``rows``, in sentence order."""
        starts = self.sentence_start
        return [self.sentences.vectors[starts[r] : starts[r + 1]] for r in rows]

    def lexical_scores(
        self, query: str, limit: int, rows: Sequence[int] = ()
    ) -> tuple[np.ndarray | None, np.ndarray]:
        """BM25 of ``query``: ``(None, score of every row)`` here (``limit`` and ``rows`` are for
        backends that return only their best ``(rows, scores)`` and those of ``rows``)."""
        return None, self.lexical.scores(query)

    def term_stats(self) -> TermStats:
        """Document frequencies of the indexed tokens and the speller's vocabulary (cached)."""
        if self._stats is None:
            tokens = self._chunk_tokens()
            df: Counter[str] = Counter()
            for t in tokens:
                df.update(t)
            words = corpus_words(chunk_words(c) for c in self.chunks)
            self._stats = TermStats(len(self.chunks), dict(df), frozenset(words))
        return self._stats

    def chunk_tokens(self, row: int) -> set[str]:
        """The words BM25 indexed for passage ``row``."""
        return self._chunk_tokens()[row]

    def _chunk_tokens(self) -> list[set[str]]:
        # shared with the build that just made this snapshot, if any (tokenize_all remembers)
        if self._tokens is None:
            self._tokens = [set(t) for t in tokenize_all([lexical_text(c) for c in self.chunks])]
        return self._tokens


HNSW_ABOVE = 50_000  # rows above which dense search is HNSW, not exact (both backends)


def make_dense_index(vectors: np.ndarray, hnsw_above: int = HNSW_ABOVE) -> Any:
    """Exact inner-product search below ``hnsw_above`` rows, HNSW above.

    Measured (bench/scale.py): exact search costs ~0.15 us per row (4.6 ms at 30k rows, 45 ms
    at 300k), while HNSW (M=32, efSearch 128) answered in ~0.25 ms with recall 1.000 at 30k
    and 0.989 at 300k on text-embedding-like vectors. Below 50k rows exact search stays under
    ~8 ms and is exact; above it HNSW wins.
    """
    import faiss

    dim = vectors.shape[1]
    index: Any
    if len(vectors) > hnsw_above:
        index = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 80
        index.hnsw.efSearch = 128
    else:
        index = faiss.IndexFlatIP(dim)
    index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return index


def save_snapshot(
    index_dir: Path,
    version: str,
    manifest: dict[str, Any],
    documents: list[Document],
    chunks: list[Chunk],
    chunk_vectors: np.ndarray,
    sentence_vectors: np.ndarray,
    sentence_owner: np.ndarray,
    abbreviations: Sequence[Definition] = (),
    unreadable: Sequence[Unreadable] = (),
) -> Path:
    """Write a complete snapshot under a temporary name, fsync it, then rename it into place.

    ``abbreviations`` and ``unreadable`` are plain records, one JSON object a line
    (``{"doc_id", "short", "long"}`` and ``{"doc_id", "section", "start", "end", "context",
    "after"}``).

    Does not switch ``CURRENT``; call ``publish`` once the snapshot has been checked. A full
    disk (or any other write failure) removes the partial snapshot and raises SnapshotError.
    """
    if len(chunks) != len(chunk_vectors):
        raise SnapshotError(f"{len(chunks)} chunks but {len(chunk_vectors)} vectors")
    if len(sentence_owner) != len(sentence_vectors):
        raise SnapshotError("sentence table and sentence vectors disagree")
    import faiss

    snapshots = index_dir / "snapshots"
    tmp, final = snapshots / f".tmp-{version}", snapshots / version
    with _removed_on_write_error(tmp, snapshots):
        snapshots.mkdir(parents=True, exist_ok=True)
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir()
        write_durably(
            tmp / "documents.json", json.dumps([_doc_record(d) for d in documents]).encode()
        )
        write_durably(
            tmp / "chunks.jsonl",
            "".join(
                json.dumps(_chunk_record(c), ensure_ascii=False) + "\n" for c in chunks
            ).encode(),
        )
        faiss.write_index(make_dense_index(chunk_vectors), str(tmp / "dense.faiss"))
        with (tmp / "sentences.npy").open("wb") as fh:
            np.save(fh, np.ascontiguousarray(sentence_vectors, dtype=np.float32))
            np.save(fh, np.asarray(sentence_owner, dtype=np.int32))
            fh.flush()
            os.fsync(fh.fileno())
        LexicalIndex.build([lexical_text(c) for c in chunks]).save(tmp / "lexical")
        write_durably(tmp / "abbreviations.jsonl", _jsonl(abbreviations))
        write_durably(tmp / "unreadable.jsonl", _jsonl(unreadable))
        manifest = {
            **manifest,
            "format_version": FORMAT_VERSION,
            "version": version,
            "counts": {
                "documents": len(documents),
                "chunks": len(chunks),
                "sentences": len(sentence_owner),
            },
            "files": {
                path.relative_to(tmp).as_posix(): file_sha256(path)
                for path in sorted(tmp.rglob("*"))
                if path.is_file() and path.name != "manifest.json"
            },
        }
        write_durably(tmp / "manifest.json", json.dumps(manifest, indent=2).encode())
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


def lexical_text(chunk: Chunk) -> str:
    """What BM25 indexes for a chunk: its section heading and its text."""
    return f"{chunk.section}\n{chunk.text}" if chunk.section else chunk.text


def chunk_words(chunk: Chunk) -> str:
    """What the spelling corrector learns words from: a chunk's heading and its text."""
    return f"{chunk.section or ''} {chunk.text}"


def sentence_text(chunk: Chunk, sentence: str) -> str:
    """What the embedder sees for a sentence: its section heading too, so "It has
    anti-inflammatory properties." under "Bone marrow mesenchymal stem cells (BM-MSCs)" is
    about BM-MSCs (the sentence vector scores the sentence for answers and its passage)."""
    return f"{chunk.section}: {sentence}" if chunk.section else sentence


def dense_text(chunk: Chunk) -> str:
    """What the embedder sees for a chunk: its section heading gives the passage its topic."""
    return f"{chunk.section}: {chunk.text}" if chunk.section else chunk.text


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
        try:
            manifests.append(
                json.loads((index_dir / "snapshots" / version / "manifest.json").read_text())
            )
        except (OSError, ValueError):
            return  # cannot tell what is in use: keep everything
    prune_models(index_dir / "models", manifests)


def prune_models(models: Path, manifests: list[dict[str, Any]]) -> None:
    """Remove ONNX exports (``models/<name>``) that no kept snapshot's model or query model
    names: each is ~87 MB, and a changed model or int8 setting would otherwise leave its old
    export behind for good. Runs under the writer lock, so no export is being written."""
    if not models.is_dir():
        return
    wanted: set[str] = set()
    for manifest in manifests:
        wanted.add(str(manifest.get("model", {}).get("sha256", ""))[:16])
        query_model = manifest.get("query_model") or {}
        wanted.add(Path(str(query_model.get("path", ""))).name)
    for folder in models.iterdir():
        if folder.is_dir() and folder.name not in wanted:
            shutil.rmtree(folder, ignore_errors=True)


def load_snapshot(path: Path, *, expect_model: str | None = None) -> Snapshot:
    """Load and check one snapshot folder. Raises ``SnapshotError`` naming the fix."""
    import faiss

    try:
        manifest = json.loads((path / "manifest.json").read_text())
    except FileNotFoundError:
        raise SnapshotError(f"index snapshot {path} has no manifest; {FIX}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SnapshotError(
            f"index manifest {path}/manifest.json is corrupt ({exc}); {FIX}"
        ) from None
    if manifest.get("format_version") != FORMAT_VERSION:
        raise SnapshotError(
            f"index snapshot {path.name} has format {manifest.get('format_version')}, this "
            f"version of mscqa reads format {FORMAT_VERSION}; {FIX}"
        )
    if expect_model is not None and manifest.get("model", {}).get("sha256") != expect_model:
        raise SnapshotError(
            f"index snapshot {path.name} was built with model "
            f"{manifest.get('model', {}).get('name')!r}, not the configured one; {FIX}"
        )
    for name, digest in manifest.get("files", {}).items():
        try:
            actual = file_sha256(path / name)
        except FileNotFoundError:
            raise SnapshotError(f"index snapshot {path.name} is missing {name}; {FIX}") from None
        if actual != digest:
            raise SnapshotError(f"index file {path.name}/{name} is corrupted; {FIX}")
    try:
        documents = {
            d["doc_id"]: _doc_from_record(d)
            for d in json.loads((path / "documents.json").read_text())
        }
        with (path / "chunks.jsonl").open(encoding="utf-8") as fh:
            chunks = [_chunk_from_record(json.loads(line)) for line in fh]
        dense = faiss.read_index(str(path / "dense.faiss"))
        with (path / "sentences.npy").open("rb") as fh:
            sentence_vectors = np.load(fh)
            owner = np.load(fh)
        lexical = LexicalIndex.load(path / "lexical")
        with (path / "abbreviations.jsonl").open(encoding="utf-8") as fh:
            abbreviations = [Definition(**json.loads(line)) for line in fh]
        with (path / "unreadable.jsonl").open(encoding="utf-8") as fh:
            unreadable = [Unreadable(**json.loads(line)) for line in fh]
    except Exception as exc:
        raise SnapshotError(f"index snapshot {path.name} could not be read ({exc}); {FIX}") from exc
    counts = manifest.get("counts", {})
    sizes = {
        "chunks": len(chunks),
        "dense vectors": dense.ntotal,
        "lexical rows": lexical.size,
    }
    if len(set(sizes.values())) != 1 or counts.get("chunks") != len(chunks):
        raise SnapshotError(f"index snapshot {path.name} is inconsistent {sizes}; {FIX}")
    if len(owner) != len(sentence_vectors) or counts.get("documents") != len(documents):
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


class IndexSnapshot(Protocol):
    """What the read path needs of a loaded snapshot, whichever backend holds it."""

    @property
    def manifest(self) -> dict[str, Any]: ...
    @property
    def documents(self) -> Mapping[str, Document]: ...
    @property
    def chunks(self) -> Sequence[Chunk]: ...
    @property
    def version(self) -> str: ...
    @property
    def sentence_count(self) -> int: ...
    def doc_of(self, row: int) -> str: ...
    def chunks_at(self, rows: Sequence[int]) -> list[Chunk]: ...
    def chunk_counts(self) -> dict[str, int]: ...
    def dense_candidates(self, vec: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]: ...
    def best_sentences(self, rows: np.ndarray, vec: np.ndarray) -> np.ndarray: ...
    def sentence_vectors(self, rows: Sequence[int]) -> list[np.ndarray]: ...
    def lexical_scores(
        self, query: str, limit: int, rows: Sequence[int] = ()
    ) -> tuple[np.ndarray | None, np.ndarray]: ...
    def term_stats(self) -> TermStats: ...
    def chunk_tokens(self, row: int) -> set[str]: ...
    @property
    def abbreviations(self) -> Sequence[Definition]: ...
    @property
    def unreadable(self) -> Sequence[Unreadable]: ...


class SnapshotWriter(Protocol):
    """The write path's handle, valid while the store's writer lock is held."""

    def write(
        self,
        version: str,
        manifest: dict[str, Any],
        documents: list[Document],
        chunks: list[Chunk],
        chunk_vectors: np.ndarray,
        sentence_vectors: np.ndarray,
        sentence_owner: np.ndarray,
        *,
        abbreviations: Sequence[Definition] = (),
        unreadable: Sequence[Unreadable] = (),
    ) -> None: ...
    def load(self, version: str) -> IndexSnapshot: ...
    def publish(self, version: str, keep: int) -> None: ...
    def rollback(self, keep: int) -> str: ...


class SnapshotStore(Protocol):
    """Where snapshots live: a folder (``FolderStore``) or PostgreSQL (``pgstore.PgStore``)."""

    models_dir: Path  # this machine's ONNX exports of the model (both backends)

    def where(self) -> str: ...
    def writer(self, wait: bool = False) -> contextlib.AbstractContextManager[SnapshotWriter]: ...
    def current_version(self) -> str | None: ...
    def current_manifest(self) -> dict[str, Any] | None: ...
    def list_versions(self) -> list[str]: ...
    def load_current(self) -> IndexSnapshot: ...
    def retire(self, snapshot: IndexSnapshot) -> None: ...
    def wait_for_change(self, timeout: float, stop: threading.Event) -> None: ...
    def check(self) -> None:
        """Raise ``DatabaseUnavailable`` when the store cannot be reached right now."""
        ...

    def close(self) -> None: ...


class FolderStore:
    """Snapshots in ``index_dir`` (the default): the functions above behind the store seam."""

    def __init__(self, index_dir: Path) -> None:
        self.index_dir = index_dir
        self.models_dir = index_dir / "models"

    def where(self) -> str:
        return str(self.index_dir)

    @contextlib.contextmanager
    def writer(self, wait: bool = False) -> Iterator[FolderWriter]:
        with folder_writer_lock(self.index_dir, wait=wait):
            yield FolderWriter(self.index_dir)

    def current_version(self) -> str | None:
        return current_version(self.index_dir)

    def current_manifest(self) -> dict[str, Any] | None:
        version = current_version(self.index_dir)
        try:
            manifest = json.loads(
                (self.index_dir / "snapshots" / str(version) / "manifest.json").read_text()
            )
        except (OSError, ValueError):
            return None
        return manifest if isinstance(manifest, dict) else None

    def list_versions(self) -> list[str]:
        return list_versions(self.index_dir)

    def load_current(self) -> Snapshot:
        return load_current(self.index_dir)

    def retire(self, snapshot: IndexSnapshot) -> None:
        pass  # a loaded folder snapshot is all in memory: nothing to release

    def wait_for_change(self, timeout: float, stop: threading.Event) -> None:
        stop.wait(timeout)

    def check(self) -> None:
        pass  # the loaded snapshot is in memory: nothing to reach

    def close(self) -> None:
        pass


class FolderWriter:
    def __init__(self, index_dir: Path) -> None:
        self.index_dir = index_dir

    def write(
        self,
        version: str,
        manifest: dict[str, Any],
        documents: list[Document],
        chunks: list[Chunk],
        chunk_vectors: np.ndarray,
        sentence_vectors: np.ndarray,
        sentence_owner: np.ndarray,
        *,
        abbreviations: Sequence[Definition] = (),
        unreadable: Sequence[Unreadable] = (),
    ) -> None:
        save_snapshot(
            self.index_dir,
            version,
            manifest,
            documents,
            chunks,
            chunk_vectors,
            sentence_vectors,
            sentence_owner,
            abbreviations,
            unreadable,
        )

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


_CHUNK_FIELDS = tuple(f.name for f in fields(Chunk))


# Explicit records rather than dataclasses.asdict, which deep-copies every field recursively
# and was a third of the time of adding one document to a 1000-document index.
def _doc_record(doc: Document) -> dict[str, Any]:
    return {
        "doc_id": doc.doc_id,
        "path": doc.path,
        "title": doc.title,
        "text": doc.text,
        "sha256": doc.sha256,
        "format": doc.format,
        "sections": [{"title": s.title, "start": s.start, "end": s.end} for s in doc.sections],
        "pages": [{"number": p.number, "start": p.start, "end": p.end} for p in doc.pages],
        "metadata": [list(kv) for kv in doc.metadata],
    }


def _chunk_record(chunk: Chunk) -> dict[str, Any]:
    record = {name: getattr(chunk, name) for name in _CHUNK_FIELDS}
    record["sentences"] = [list(span) for span in chunk.sentences]
    return record


def _jsonl(records: Sequence[Definition | Unreadable]) -> bytes:
    return "".join(
        json.dumps({f.name: getattr(r, f.name) for f in fields(r)}, ensure_ascii=False) + "\n"
        for r in records
    ).encode()


def _doc_from_record(rec: dict[str, Any]) -> Document:
    return Document(
        doc_id=rec["doc_id"],
        path=rec["path"],
        title=rec["title"],
        text=rec["text"],
        sha256=rec["sha256"],
        format=rec["format"],
        sections=tuple(Section(**s) for s in rec["sections"]),
        pages=tuple(Page(**p) for p in rec["pages"]),
        metadata=tuple((k, v) for k, v in rec["metadata"]),
    )


def _chunk_from_record(rec: dict[str, Any]) -> Chunk:
    rec["sentences"] = tuple((int(s), int(e)) for s, e in rec["sentences"])
    return Chunk(**rec)
