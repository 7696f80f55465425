"""The ``Embedder`` seam: text -> unit-length float32 rows, and what identifies those rows.

Every encoder (``SentenceTransformerEmbedder``, ``OnnxEmbedder``, the ``HashingEmbedder`` fake)
states its ``precision`` and ``backend`` and can ``warm_up``, so callers never have to guess.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np


class Embedder(Protocol):
    """Turns texts into L2-normalised float32 rows (one per text)."""

    @property
    def name(self) -> str: ...

    @property
    def dim(self) -> int: ...

    @property
    def precision(self) -> str:
        """``fp32`` or ``bf16``: the number format the vectors are computed in."""
        ...

    @property
    def backend(self) -> str:
        """What computes them: ``torch``, ``onnxruntime``, ``openvino`` (or a fake's name)."""
        ...

    def fingerprint(self) -> str:
        """A hash that changes whenever the vectors would change (weights, model files)."""
        ...

    def warm_up(self) -> None:
        """Load what encoding needs (the model, its runtime) now rather than on first use."""
        ...

    def encode(
        self,
        texts: Sequence[str],
        *,
        batch_size: int = 64,
        progress: Callable[[int], None] | None = None,
    ) -> np.ndarray: ...


def vectors_key(embedder: Embedder) -> str:
    """Identifies the vectors an embedder produces, for the embedding cache.

    fp32 vectors agree across torch, ONNX Runtime and OpenVINO (cosine > 0.99999), so they
    share the model's fingerprint; bf16 vectors differ slightly by backend, so the key names
    the precision and the backend too.
    """
    fingerprint = embedder.fingerprint()
    if embedder.precision == "fp32":
        return fingerprint
    key = f"{fingerprint}:{embedder.precision}:{embedder.backend}"
    return hashlib.sha256(key.encode()).hexdigest()
