"""A persistent cache of passage embeddings keyed by model fingerprint and text hash.

An unchanged passage is never embedded twice. The cache lives beside the snapshots and is
rewritten atomically after each successful build, holding the vectors that build used.

Memory: a build holds one copy of its vectors. The folder cache's file is memory-mapped, not
read; ``embed`` writes each text's vector into the matrix it returns and the cache keeps a view
of that row, not a copy; ``save`` streams the rows into the new file. (Before, a build held its
vectors three or four times over at its peak: 2.7 GB at 100k passages, 1.1 GB of it vectors.)
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mscqa.embedding.embedder import Embedder
from mscqa.errors import DatabaseUnavailable
from mscqa.index.layout import cache_dir
from mscqa.index.pgdb import reachable

log = logging.getLogger(__name__)


SAVE_BLOCK = 8192  # rows written at a time by ``save``


def text_key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


class EmbeddingCache:
    """The cache in a folder (``folder`` None: a subclass stores it elsewhere)."""

    def __init__(self, folder: Path | None, model_fingerprint: str) -> None:
        self.folder = folder / model_fingerprint[:16] if folder is not None else Path()
        self._vectors: dict[str, np.ndarray] = {}
        self._used: set[str] = set()  # keys of the texts this build asked for
        self.computed = 0
        self.reused = 0
        self._load()

    def _load(self) -> None:
        keys_file, vec_file = self.folder / "keys.json", self.folder / "vectors.npy"
        try:
            keys = json.loads(keys_file.read_text())
            # mapped, not read: only the rows a build reuses are paged in, and only once
            # (``save`` replaces the file by a rename, so the mapping stays valid)
            vectors = np.asarray(np.load(vec_file, mmap_mode="r"))
        except (FileNotFoundError, ValueError, OSError):
            return  # no cache or a damaged one: embeddings are recomputed, nothing is lost
        if len(keys) == len(vectors):
            self._vectors = dict(zip(keys, vectors, strict=True))

    def embed(
        self,
        embedder: Embedder,
        texts: Sequence[str],
        progress: Callable[[int], None] | None = None,
    ) -> np.ndarray:
        """Vectors for ``texts``, computing only the ones not cached.

        The cache keeps views of the returned matrix's rows (the vectors it computed): the
        caller must not write into it."""
        keys = [text_key(t) for t in texts]
        self._used.update(keys)
        unknown = [k for k in dict.fromkeys(keys) if k not in self._vectors]
        if unknown:
            self._fetch(unknown)
        missing = sorted({k: i for i, k in enumerate(keys) if k not in self._vectors}.items())
        out = np.empty((len(texts), embedder.dim), dtype=np.float32)
        computed: set[int] = set()
        if missing:
            rows = [i for _, i in missing]
            out[rows] = embedder.encode([texts[i] for i in rows], progress=progress)
            computed.update(rows)
            for key, i in missing:
                self._remember(key, out[i])
        self.computed += len(missing)
        self.reused += len(texts) - len(missing)
        if progress is not None and len(texts) > len(missing):
            progress(len(texts) - len(missing))
        for i, key in enumerate(keys):
            if i not in computed:  # cached, or a repeat of a text computed above
                out[i] = self._vectors[key]
        return out

    def _fetch(self, keys: list[str]) -> None:
        """Look up ``keys`` not in memory (the folder cache holds everything already)."""

    def _remember(self, key: str, vector: np.ndarray) -> None:
        self._vectors[key] = vector

    def save(self, keep: set[str] | None = None) -> None:
        """Persist the vectors whose text keys are in ``keep`` (default: those of every text
        ``embed`` was asked for); a failure only costs speed."""
        try:
            self._save(self._used if keep is None else keep)
        except OSError as exc:
            log.warning("Could not save the embedding cache in %s: %s", self.folder, exc)
            for tmp in (self.folder / ".vectors.npy.tmp", self.folder / ".keys.json.tmp"):
                tmp.unlink(missing_ok=True)

    def _save(self, keep: set[str]) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        keys = sorted(k for k in keep if k in self._vectors)
        dim = next(iter(self._vectors.values())).shape[0] if self._vectors else 0
        tmp_vec, tmp_keys = self.folder / ".vectors.npy.tmp", self.folder / ".keys.json.tmp"
        with tmp_vec.open("wb") as fh:
            # the header, then the rows a block at a time: no second copy of every vector
            header = {"descr": "<f4", "fortran_order": False, "shape": (len(keys), dim)}
            np.lib.format.write_array_header_1_0(fh, header)
            for start in range(0, len(keys), SAVE_BLOCK):
                block = [self._vectors[k] for k in keys[start : start + SAVE_BLOCK]]
                fh.write(np.asarray(block, dtype="<f4").data)
            fh.flush()
            os.fsync(fh.fileno())
        with tmp_keys.open("w") as fh:
            json.dump(keys, fh)
            fh.flush()
            os.fsync(fh.fileno())
        # vectors first, keys last: a crash between leaves a length mismatch, which _load ignores
        os.replace(tmp_vec, self.folder / "vectors.npy")
        os.replace(tmp_keys, self.folder / "keys.json")


def open_cache(writer: Any, model_fingerprint: str) -> EmbeddingCache:
    """The embedding cache a build uses, where its store keeps snapshots: the index folder's
    ``cache/``, or the database's ``mscqa.embeddings``."""
    from mscqa.index.pgstore import PgWriter

    if isinstance(writer, PgWriter):
        return PgEmbeddingCache(writer.conn, writer.store.url, model_fingerprint)
    return EmbeddingCache(cache_dir(writer.index_dir), model_fingerprint)


class PgEmbeddingCache(EmbeddingCache):
    """The embedding cache in ``mscqa.embeddings``: shared by every machine that builds."""

    def __init__(self, conn: Any, url: str, model_fingerprint: str) -> None:
        self._conn = conn
        self._url = url
        self._model = model_fingerprint
        self._fresh: set[str] = set()
        super().__init__(None, model_fingerprint)

    def _load(self) -> None:
        pass  # vectors are fetched for the texts a build asks for (``_fetch``)

    def _fetch(self, keys: list[str]) -> None:
        with reachable(self._url):
            for start in range(0, len(keys), 20_000):
                part = keys[start : start + 20_000]
                with self._conn.cursor(binary=True) as cur:
                    cur.execute(
                        "SELECT key, vector FROM mscqa.embeddings WHERE model = %s"
                        " AND key = ANY(%s)",
                        (self._model, part),
                    )
                    for key, vec in cur:
                        self._vectors[key] = vec
            self._conn.commit()

    def _remember(self, key: str, vector: np.ndarray) -> None:
        super()._remember(key, vector)
        self._fresh.add(key)

    def save(self, keep: set[str] | None = None) -> None:
        """As the folder cache: a failure only costs speed (the next build embeds again)."""
        try:
            self._save(self._used if keep is None else keep)
        except DatabaseUnavailable as exc:
            log.warning("Could not save the embedding cache: %s", exc)

    def _save(self, keep: set[str]) -> None:
        """Add this build's new vectors and drop this model's vectors it did not use."""
        with reachable(self._url), self._conn.transaction(), self._conn.cursor() as cur:
            cur.execute("CREATE TEMP TABLE keep_keys (key text PRIMARY KEY) ON COMMIT DROP")
            with cur.copy("COPY keep_keys (key) FROM STDIN") as copy:
                for key in keep:
                    copy.write_row((key,))
            cur.execute(
                "DELETE FROM mscqa.embeddings e WHERE e.model = %s AND NOT EXISTS"
                " (SELECT 1 FROM keep_keys k WHERE k.key = e.key)",
                (self._model,),
            )
            cur.execute("CREATE TEMP TABLE fresh_vectors (key text, vector vector) ON COMMIT DROP")
            with cur.copy("COPY fresh_vectors (key, vector) FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(["text", "vector"])
                for key in sorted(k for k in self._fresh if k in keep):
                    copy.write_row((key, self._vectors[key]))
            cur.execute(
                "INSERT INTO mscqa.embeddings (model, key, vector) SELECT %s, key, vector"
                " FROM fresh_vectors ON CONFLICT DO NOTHING",
                (self._model,),
            )
        self._fresh.clear()
