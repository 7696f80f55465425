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

import numpy as np

from mscqa.embedding.embedder import Embedder

log = logging.getLogger(__name__)


def text_key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


class EmbeddingCache:
    def __init__(self, folder: Path, model_fingerprint: str) -> None:
        self.folder = folder / model_fingerprint[:16]
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
        missing = sorted({k: i for i, k in enumerate(keys) if k not in self._vectors}.items())
        if missing:
            fresh = embedder.encode([texts[i] for _, i in missing], progress=progress)
            for (key, _), vec in zip(missing, fresh, strict=True):
                self._vectors[key] = vec
        self.computed += len(missing)
        self.reused += len(texts) - len(missing)
        if progress is not None and len(texts) > len(missing):
            progress(len(texts) - len(missing))
        if not texts:
            return np.zeros((0, embedder.dim), dtype=np.float32)
        return np.stack([self._vectors[k] for k in keys]).astype(np.float32)

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
