"""A persistent cache of passage embeddings keyed by model fingerprint and text hash.

An unchanged passage is never embedded twice. The cache lives beside the snapshots and is
rewritten atomically after each successful build, holding the vectors that build used.
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


def text_key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


class EmbeddingCache:
    """The cache in a folder (``folder`` None: a subclass stores it elsewhere)."""

    def __init__(self, folder: Path | None, model_fingerprint: str) -> None:
        self.folder = folder / model_fingerprint[:16] if folder is not None else Path()
        self._vectors: dict[str, np.ndarray] = {}
        self.computed = 0
        self.reused = 0
        self._load()

    def _load(self) -> None:
        keys_file, vec_file = self.folder / "keys.json", self.folder / "vectors.npy"
        try:
            keys = json.loads(keys_file.read_text())
            vectors = np.load(vec_file)
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
        """Vectors for ``texts``, computing only the ones not cached."""
        keys = [text_key(t) for t in texts]
        unknown = [k for k in dict.fromkeys(keys) if k not in self._vectors]
        if unknown:
            self._fetch(unknown)
        missing = sorted({k: i for i, k in enumerate(keys) if k not in self._vectors}.items())
        if missing:
            fresh = embedder.encode([texts[i] for _, i in missing], progress=progress)
            for (key, _), vec in zip(missing, fresh, strict=True):
                self._remember(key, vec)
        self.computed += len(missing)
        self.reused += len(texts) - len(missing)
        if progress is not None and len(texts) > len(missing):
            progress(len(texts) - len(missing))
        if not texts:
            return np.zeros((0, embedder.dim), dtype=np.float32)
        return np.stack([self._vectors[k] for k in keys]).astype(np.float32)

    def _fetch(self, keys: list[str]) -> None:
        """Look up ``keys`` not in memory (the folder cache holds everything already)."""

    def _remember(self, key: str, vector: np.ndarray) -> None:
        self._vectors[key] = vector

    def save(self, keep: set[str]) -> None:
        """Persist the vectors whose text keys are in ``keep``; a failure only costs speed."""
        try:
            self._save(keep)
        except OSError as exc:
            log.warning("Could not save the embedding cache in %s: %s", self.folder, exc)
            for tmp in (self.folder / ".vectors.npy.tmp", self.folder / ".keys.json.tmp"):
                tmp.unlink(missing_ok=True)

    def _save(self, keep: set[str]) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        keys = sorted(k for k in keep if k in self._vectors)
        dim = next(iter(self._vectors.values())).shape[0] if self._vectors else 0
        matrix = np.stack([self._vectors[k] for k in keys]) if keys else np.zeros((0, dim))
        tmp_vec, tmp_keys = self.folder / ".vectors.npy.tmp", self.folder / ".keys.json.tmp"
        with tmp_vec.open("wb") as fh:
            np.save(fh, matrix.astype(np.float32))
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

    def save(self, keep: set[str]) -> None:
        """As the folder cache: a failure only costs speed (the next build embeds again)."""
        try:
            self._save(keep)
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
