"""A snapshot's manifest: what it was built from (model, chunking, corpus), its format, version
and counts, and where it is kept (the sha256 of every file of a folder snapshot, or the
PostgreSQL schema of a database one).

``Manifest`` reads and writes itself: ``Manifest.read(folder)`` / ``manifest.write(folder)``
for ``manifest.json`` (written last into a snapshot folder, checked before the snapshot is
used), ``Manifest.from_json`` / ``to_json`` for the ``mscqa.snapshots.manifest`` column. The
JSON is the one earlier versions wrote, key for key (``tests/data/snapshot/v2``).

>>> m = Manifest(ModelInfo("hashing-8", "f" * 64, 8), version="v1")
>>> Manifest.from_json(m.to_json(), "v1") == m
True
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mscqa.errors import SnapshotError
from mscqa.fileio import file_sha256, write_durably

# 2: abbreviations.jsonl (the abbreviations each document defines) and unreadable.jsonl (the
# parts of documents with no text, e.g. image tables); sentence vectors embed the section heading
FORMAT_VERSION = 2
FIX = "run `mscqa index` to rebuild it"
MANIFEST = "manifest.json"


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """The model the snapshot's vectors come from; ``sha256`` is its fingerprint."""

    name: str
    sha256: str
    dim: int


@dataclass(frozen=True, slots=True)
class QueryModel:
    """The ONNX export questions are encoded with (``embedding.choice``)."""

    path: str  # "models/<name>", relative to the index folder
    sha256: str  # of its model.onnx
    quantized: bool
    agreement: float  # lowest cosine to the build encoder's vectors on the check texts


@dataclass(frozen=True, slots=True)
class Counts:
    documents: int
    chunks: int
    sentences: int


@dataclass(frozen=True, slots=True)
class Storage:
    """Where a database snapshot keeps its parts (the PostgreSQL store only)."""

    dim: int
    hnsw: bool  # chunk vectors have an HNSW index
    lexical: str | None  # how BM25 is stored ("impacts"; None: by an older mscqa)
    schema: str | None = None  # set once the snapshot's row has its id


@dataclass(frozen=True, slots=True)
class Manifest:
    """A snapshot's manifest. A build makes one with what it knows (``model`` to
    ``query_model``, and ``version``); the store completes it (``sealed``: format, counts,
    then ``files`` or ``storage``) as it writes the snapshot."""

    model: ModelInfo
    created_at: str = ""
    chunking: Mapping[str, Any] = field(default_factory=dict)
    corpus: Mapping[str, str] = field(default_factory=dict)  # doc_id -> sha256
    skipped: tuple[tuple[str, str], ...] = ()  # (file, reason) the loaders could not read
    query_model: QueryModel | None = None
    version: str = ""
    format_version: int = FORMAT_VERSION
    counts: Counts | None = None
    files: Mapping[str, str] | None = None  # folder snapshot: file -> sha256
    storage: Storage | None = None  # database snapshot

    def sealed(
        self,
        counts: Counts,
        *,
        files: Mapping[str, str] | None = None,
        storage: Storage | None = None,
    ) -> Manifest:
        """This manifest in the current format with ``counts`` and where the store keeps the
        snapshot (``files`` in a folder, ``storage`` in the database), as a store writes it."""
        return dataclasses.replace(
            self, format_version=FORMAT_VERSION, counts=counts, files=files, storage=storage
        )

    # -- JSON ------------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        """The manifest as JSON, with the keys in the order they have always been written."""
        out: dict[str, Any] = {
            "created_at": self.created_at,
            "model": dataclasses.asdict(self.model),
            "chunking": dict(self.chunking),
            "corpus": dict(self.corpus),
            "skipped": [{"file": f, "reason": r} for f, r in self.skipped],
        }
        if self.query_model is not None:
            out["query_model"] = dataclasses.asdict(self.query_model)
        out["format_version"] = self.format_version
        out["version"] = self.version
        if self.counts is not None:
            out["counts"] = dataclasses.asdict(self.counts)
        if self.files is not None:
            out["files"] = dict(self.files)
        if self.storage is not None:
            storage = dataclasses.asdict(self.storage)
            if self.storage.schema is None:
                del storage["schema"]
            out["storage"] = storage
        return out

    @classmethod
    def from_json(cls, data: Any, name: str) -> Manifest:
        """The manifest of snapshot ``name`` from its JSON. ``SnapshotError`` naming the fix
        when it is in another format than this mscqa reads, or not a manifest."""
        if not isinstance(data, dict):
            raise SnapshotError(f"index manifest of {name} is not an object; {FIX}")
        if data.get("format_version") != FORMAT_VERSION:
            raise SnapshotError(
                f"index snapshot {name} has format {data.get('format_version')}, this "
                f"version of mscqa reads format {FORMAT_VERSION}; {FIX}"
            )
        try:
            query_model = data.get("query_model")
            counts = data.get("counts")
            files = data.get("files")
            storage = data.get("storage")
            return cls(
                model=ModelInfo(**data["model"]),
                created_at=str(data.get("created_at", "")),
                chunking=dict(data.get("chunking", {})),
                corpus={str(k): str(v) for k, v in data.get("corpus", {}).items()},
                skipped=tuple((str(s["file"]), str(s["reason"])) for s in data.get("skipped", ())),
                query_model=QueryModel(**query_model) if query_model else None,
                version=str(data.get("version", "")),
                counts=Counts(**counts) if counts is not None else None,
                files={str(k): str(v) for k, v in files.items()} if files is not None else None,
                storage=_storage(storage) if storage is not None else None,
            )
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            raise SnapshotError(
                f"index manifest of {name} is incomplete ({exc!r}); {FIX}"
            ) from None

    # -- manifest.json ---------------------------------------------------------------------

    def write(self, folder: Path, counts: Counts) -> Manifest:
        """Seal this manifest for the snapshot written in ``folder`` (format, ``counts``, the
        digest of every file there) and write it durably as the folder's last file."""
        files = {
            path.relative_to(folder).as_posix(): file_sha256(path)
            for path in sorted(folder.rglob("*"))
            if path.is_file() and path.name != MANIFEST
        }
        sealed = self.sealed(counts, files=files)
        write_durably(folder / MANIFEST, json.dumps(sealed.to_json(), indent=2).encode())
        return sealed

    @classmethod
    def read(cls, folder: Path) -> Manifest:
        """The manifest of the snapshot in ``folder``; ``SnapshotError`` naming the fix if it
        is missing, corrupt or in another format."""
        try:
            data = json.loads((folder / MANIFEST).read_text())
        except FileNotFoundError:
            raise SnapshotError(f"index snapshot {folder} has no manifest; {FIX}") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise SnapshotError(
                f"index manifest {folder}/{MANIFEST} is corrupt ({exc}); {FIX}"
            ) from None
        return cls.from_json(data, folder.name)

    @classmethod
    def read_or_none(cls, folder: Path) -> Manifest | None:
        """The manifest, or None when it cannot be read (for callers that only look)."""
        try:
            return cls.read(folder)
        except (SnapshotError, OSError):
            return None

    # -- checks ----------------------------------------------------------------------------

    def check_model(self, expect_model: str | None) -> None:
        """The snapshot was built with ``expect_model`` (a model sha256; None: any)."""
        if expect_model is not None and self.model.sha256 != expect_model:
            raise SnapshotError(
                f"index snapshot {self.version} was built with model {self.model.name!r}, "
                f"not the configured one; {FIX}"
            )

    def verify_files(self, folder: Path) -> None:
        """Every file the manifest lists is in ``folder`` with its digest."""
        for name, digest in (self.files or {}).items():
            try:
                actual = file_sha256(folder / name)
            except FileNotFoundError:
                raise SnapshotError(
                    f"index snapshot {folder.name} is missing {name}; {FIX}"
                ) from None
            if actual != digest:
                raise SnapshotError(f"index file {folder.name}/{name} is corrupted; {FIX}")


def _storage(data: Mapping[str, Any]) -> Storage:
    return Storage(
        dim=int(data["dim"]),
        hnsw=bool(data["hnsw"]),
        lexical=data.get("lexical"),
        schema=data.get("schema"),
    )


def model_exports(manifests: Iterable[Manifest]) -> set[str]:
    """Names of the ``models/`` exports these manifests use (the build model's, the query's)."""
    wanted: set[str] = set()
    for manifest in manifests:
        wanted.add(manifest.model.sha256[:16])
        if manifest.query_model is not None:
            wanted.add(Path(manifest.query_model.path).name)
    return wanted
