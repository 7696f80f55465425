"""A deterministic, dependency-free fake ``Embedder`` for fast unit tests."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence

import numpy as np

_TOKEN = re.compile(r"[a-z0-9]+")


class HashingEmbedder:
    """Deterministic fake: hashed word and character-trigram counts, L2-normalised.

    Shares words -> similar vectors, which is enough for unit tests of everything downstream.
    """

    def __init__(self, dim: int = 256) -> None:
        if dim < 8:
            raise ValueError(f"dim must be >= 8, got {dim}")
        self._dim = dim

    @property
    def name(self) -> str:
        return f"hashing-{self._dim}"

    @property
    def dim(self) -> int:
        return self._dim

    @property
    def precision(self) -> str:
        return "fp32"

    @property
    def backend(self) -> str:
        return "hashing"

    def fingerprint(self) -> str:
        return hashlib.sha256(self.name.encode()).hexdigest()

    def warm_up(self) -> None:
        """Nothing to load."""

    def encode(
        self,
        texts: Sequence[str],
        *,
        batch_size: int = 64,
        progress: Callable[[int], None] | None = None,
    ) -> np.ndarray:
        out = np.zeros((len(texts), self._dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in _TOKEN.findall(text.lower()):
                out[row, self._bucket(word)] += 1.0
                padded = f"#{word}#"
                for i in range(len(padded) - 2):
                    out[row, self._bucket(padded[i : i + 3])] += 0.3
            norm = float(np.linalg.norm(out[row]))
            if norm:
                out[row] /= norm
        if progress is not None:
            progress(len(texts))
        return out

    def _bucket(self, token: str) -> int:
        return int.from_bytes(hashlib.blake2b(token.encode(), digest_size=4).digest()) % self._dim
