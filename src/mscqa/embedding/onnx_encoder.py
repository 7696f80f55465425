"""Sentence embeddings from an ONNX export, without torch: tokenise, run, mean-pool, normalise.

``OnnxEmbedder`` does what sentence-transformers does for all-MiniLM-L6-v2 (truncate to
``max_seq_length``, pad to the longest text in the batch, run the transformer, mean-pool the
token vectors over the attention mask, L2-normalise) on ONNX Runtime or OpenVINO
(``runtimes.py``), for the questions of a server or the passages of a build (``role``).

>>> OnnxEmbedder(folder).encode(["What are MSCs?"]).shape          # doctest: +SKIP
(1, 384)
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from mscqa.embedding.onnx_export import META_FILE, MODEL_FILE, TOKENIZER_FILE, read_meta
from mscqa.embedding.precision import PRECISIONS
from mscqa.embedding.runtimes import OpenVinoRunner, Run, SoloDispatch, onnxruntime_session
from mscqa.errors import ModelError

RUNTIMES = ("onnxruntime", "openvino")
ROLES = ("questions", "builds")
Role = Literal["questions", "builds"]


class OnnxEmbedder:
    """Sentence embeddings from an ``export_onnx`` folder; satisfies ``Embedder``.

    ``runtime`` runs the export: ``onnxruntime`` (questions: ~4 ms for one short text) or
    ``openvino`` (builds: batches of passages ~2.3x faster than torch in fp32, and with
    ``precision="bf16"`` on a CPU with native bf16 another ~2.5x; see bench/perf/build.py).
    ``threads`` is the thread count of one call. With OpenVINO, ``role="questions"`` compiles
    one stream of ``threads`` threads per ``threads`` cores, so overlapping questions run side
    by side, plus a model on ``solo_threads`` threads for a question alone on the server;
    ``role="builds"`` compiles one stream on all ``threads``.
    """

    def __init__(
        self,
        folder: Path,
        *,
        threads: int = 1,
        name: str = "",
        runtime: str = "onnxruntime",
        precision: str = "fp32",
        role: Role = "questions",
        solo_threads: int = 1,
    ) -> None:
        if threads < 1:
            raise ValueError(f"threads must be >= 1, got {threads}")
        if solo_threads < 1:
            raise ValueError(f"solo_threads must be >= 1, got {solo_threads}")
        if runtime not in RUNTIMES:
            raise ValueError(f"runtime must be one of {RUNTIMES}, got {runtime!r}")
        if role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}, got {role!r}")
        if precision not in PRECISIONS or (precision == "bf16" and runtime != "openvino"):
            raise ValueError(f"precision {precision!r} is not available with {runtime}")
        self.folder = Path(folder)
        self.threads = threads
        self.role: Role = role
        # a question alone on the server may use more threads (OpenVINO only)
        use_solo = runtime == "openvino" and role == "questions" and solo_threads > threads
        self.solo_threads = solo_threads if use_solo else 1
        self.backend = runtime
        self.precision = precision
        meta = read_meta(self.folder)
        if meta is None:
            raise ModelError(
                f"No exported ONNX model in {self.folder} (it needs {MODEL_FILE}, "
                f"{TOKENIZER_FILE} and {META_FILE}); run `mscqa index` to export it, or set "
                "MSCQA_QUERY_BACKEND=torch."
            )
        self.meta = meta
        self._name = name or f"onnx:{self.folder.name}"
        self._session: Run | None = None
        self._tokenizer: Any = None
        self._pad_id = 0
        self._lock = threading.Lock()
        self.dispatch = SoloDispatch()

    @property
    def name(self) -> str:
        return self._name

    @property
    def dim(self) -> int:
        return int(self.meta["dim"])

    def fingerprint(self) -> str:
        """The source model's hash for an fp32 export (same vectors), else the ONNX file's."""
        if self.meta.get("source_sha256") and not self.meta.get("quantized"):
            return str(self.meta["source_sha256"])
        return str(self.meta["sha256"])

    def warm_up(self) -> None:
        self._load()
        self.encode(["warm up"])  # the first run allocates the runtime's buffers

    def _load(self) -> tuple[Run, Any]:
        if self._session is None:
            with self._lock:
                if self._session is None:
                    from tokenizers import Tokenizer

                    try:
                        tokenizer = Tokenizer.from_file(str(self.folder / TOKENIZER_FILE))
                        if self.backend == "openvino":
                            run = self._openvino()
                        else:
                            run = self._onnxruntime()
                    except Exception as exc:
                        raise ModelError(
                            f"Could not load the ONNX model in {self.folder} with "
                            f"{self.backend}: {exc}. Run `mscqa index` to export it again, or "
                            "set MSCQA_QUERY_BACKEND=torch (questions) or "
                            "MSCQA_BUILD_BACKEND=torch (builds)."
                        ) from exc
                    tokenizer.enable_truncation(max_length=int(self.meta["max_seq_length"]))
                    tokenizer.no_padding()  # encode() pads each batch itself
                    self._pad_id = tokenizer.token_to_id("[PAD]") or 0
                    self._tokenizer = tokenizer
                    self._session = run
        return self._session, self._tokenizer

    def _onnxruntime(self) -> Run:
        return onnxruntime_session(self.folder / MODEL_FILE, self.threads)

    def _openvino(self) -> Run:
        # questions: a stream per `threads` cores, side by side; a build: one stream on them all
        cores = os.cpu_count() or 1
        streams = 1 if self.role == "builds" else max(1, cores // self.threads)
        return OpenVinoRunner(
            self.folder / MODEL_FILE,
            precision=self.precision,
            streams=streams,
            threads=self.threads,
            solo_threads=self.solo_threads,
            dispatch=self.dispatch,
        )

    def encode(
        self,
        texts: Sequence[str],
        *,
        batch_size: int = 32,  # measured best for MiniLM passages (bench/perf/build.py)
        progress: Callable[[int], None] | None = None,
    ) -> np.ndarray:
        run, tokenizer = self._load()
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        # Batches of texts of similar token length keep padding small; rows are put back in
        # order. OpenVINO gets lengths rounded up to a multiple of 16: its bf16 kernels run such
        # shapes faster (one query: 2.4 ms vs 2.8 ms unpadded; bench/README.md).
        ids = [e.ids for e in tokenizer.encode_batch(list(texts))]
        order = sorted(range(len(texts)), key=lambda i: len(ids[i]), reverse=True)
        step = 16 if self.backend == "openvino" else 1
        for lo in range(0, len(order), batch_size):
            idx = order[lo : lo + batch_size]
            width = -(-len(ids[idx[0]]) // step) * step
            input_ids = np.full((len(idx), width), self._pad_id, dtype=np.int64)
            attention = np.zeros_like(input_ids)
            for row, i in enumerate(idx):
                input_ids[row, : len(ids[i])] = ids[i]
                attention[row, : len(ids[i])] = 1
            feeds = {
                "input_ids": input_ids,
                "attention_mask": attention,
                "token_type_ids": np.zeros_like(input_ids),
            }
            out[idx] = mean_pool(run(feeds), attention)
            if progress is not None:
                progress(len(idx))
        return out


def mean_pool(hidden: np.ndarray, attention: np.ndarray) -> np.ndarray:
    """Token vectors averaged over the attention mask, then L2-normalised (sentence-transformers'
    mean pooling + Normalize)."""
    mask = attention[:, :, None].astype(np.float32)
    pooled = (hidden * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1e-9)
    return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
