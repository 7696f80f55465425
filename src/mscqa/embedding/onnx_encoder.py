"""A query encoder that needs neither torch nor sentence-transformers: ONNX Runtime + tokenizers.

``export_onnx`` (build time, imports torch) writes the model's transformer as ONNX beside its
tokenizer; ``OnnxEmbedder`` (serve time, imports only onnxruntime and tokenizers) then does what
sentence-transformers does for all-MiniLM-L6-v2: tokenize (truncate to ``max_seq_length``, pad
to the longest text in the batch), run the transformer, mean-pool the token vectors over the
attention mask and L2-normalise.

>>> out = export_onnx(model_dir, index_dir / "models" / sha[:16])   # doctest: +SKIP
>>> OnnxEmbedder(out).encode(["What are MSCs?"]).shape              # doctest: +SKIP
(1, 384)

An export folder holds ``model.onnx``, ``tokenizer.json`` and ``onnx.json`` (its own sha256,
the source model's sha256, max_seq_length, dim).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import queue
import shutil
import threading
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mscqa.errors import ModelError
from mscqa.fileio import file_sha256

log = logging.getLogger(__name__)

MODEL_FILE = "model.onnx"
TOKENIZER_FILE = "tokenizer.json"
META_FILE = "onnx.json"
OPSET = 17
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def read_meta(folder: Path) -> dict[str, Any] | None:
    """The export's ``onnx.json``, or None when the folder holds no complete export."""
    try:
        meta: dict[str, Any] = json.loads((folder / META_FILE).read_text())
    except (FileNotFoundError, NotADirectoryError, ValueError):
        return None
    if not (folder / MODEL_FILE).is_file() or not (folder / TOKENIZER_FILE).is_file():
        return None
    return meta


def export_onnx(
    model_dir: Path,
    out_dir: Path,
    *,
    source_sha256: str = "",
    quantize: bool = False,
) -> Path:
    """Export the sentence-transformers model in ``model_dir`` to ``out_dir``; return ``out_dir``.

    Written to a temporary sibling folder and renamed into place, so a reader never sees half
    an export. ``quantize`` adds int8 dynamic quantisation (smaller, faster, slightly different
    vectors: see bench/README.md). Imports torch and transformers: call it at build time only.
    """
    model_dir = Path(model_dir)
    if not (model_dir / "config.json").is_file() or not (model_dir / TOKENIZER_FILE).is_file():
        raise ModelError(
            f"{model_dir} is not a local transformers model folder (config.json and "
            "tokenizer.json are needed to export it to ONNX)."
        )
    import torch
    from transformers import AutoModel

    tmp = out_dir.with_name(f".tmp-{out_dir.name}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        model = AutoModel.from_pretrained(str(model_dir), attn_implementation="eager").eval()

        class _Transformer(torch.nn.Module):
            def __init__(self, inner: Any) -> None:
                super().__init__()
                self.inner = inner

            def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
                return self.inner(
                    input_ids=input_ids,
                    attention_mask=attention_mask,
                    token_type_ids=token_type_ids,
                ).last_hidden_state

        dummy = tuple(torch.ones(2, 8, dtype=torch.long) for _ in _INPUTS)
        axes = {name: {0: "batch", 1: "sequence"} for name in (*_INPUTS, "last_hidden_state")}
        with warnings.catch_warnings(), torch.no_grad():
            # The tracer warns about Python branches on shapes that do not depend on the input.
            warnings.simplefilter("ignore")
            torch.onnx.export(
                _Transformer(model),
                dummy,
                str(tmp / MODEL_FILE),
                input_names=list(_INPUTS),
                output_names=["last_hidden_state"],
                dynamic_axes=axes,
                opset_version=OPSET,
                dynamo=False,
            )
        if quantize:
            from onnxruntime.quantization import QuantType, quantize_dynamic

            fp32 = tmp / "model.fp32.onnx"
            (tmp / MODEL_FILE).rename(fp32)
            # Per-channel scales keep int8 much closer to fp32 (median cosine 0.993 vs 0.956).
            quantize_dynamic(
                str(fp32), str(tmp / MODEL_FILE), weight_type=QuantType.QInt8, per_channel=True
            )
            fp32.unlink()
        shutil.copy2(model_dir / TOKENIZER_FILE, tmp / TOKENIZER_FILE)
        st_config = model_dir / "sentence_bert_config.json"
        max_len = 256
        if st_config.is_file():
            max_len = int(json.loads(st_config.read_text()).get("max_seq_length", max_len))
        meta = {
            "sha256": file_sha256(tmp / MODEL_FILE),
            "source_sha256": source_sha256,
            "max_seq_length": max_len,
            "dim": int(model.config.hidden_size),
            "opset": OPSET,
            "quantized": quantize,
            "torch": torch.__version__,
        }
        (tmp / META_FILE).write_text(json.dumps(meta, indent=2))
        shutil.rmtree(out_dir, ignore_errors=True)
        tmp.rename(out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir


RUNTIMES = ("onnxruntime", "openvino")


class OnnxEmbedder:
    """Sentence embeddings from an ``export_onnx`` folder; satisfies ``Embedder``.

    ``runtime`` runs the export: ``onnxruntime`` (questions: ~4 ms for one short text) or
    ``openvino`` (builds: batches of passages ~2.3x faster than torch in fp32, and with
    ``precision="bf16"`` on a CPU with native bf16 another ~2.5x; see bench/build.py).
    ``threads`` is the runtime's thread count: 1 keeps a query on one core, so a build running
    on the other core (or a busy neighbour) does not stall it at a thread barrier.
    """

    def __init__(
        self,
        folder: Path,
        *,
        threads: int = 1,
        name: str = "",
        runtime: str = "onnxruntime",
        precision: str = "fp32",
        solo_threads: int = 1,
    ) -> None:
        if threads < 1:
            raise ValueError(f"threads must be >= 1, got {threads}")
        if solo_threads < 1:
            raise ValueError(f"solo_threads must be >= 1, got {solo_threads}")
        if runtime not in RUNTIMES:
            raise ValueError(f"runtime must be one of {RUNTIMES}, got {runtime!r}")
        if precision not in ("fp32", "bf16") or (precision == "bf16" and runtime != "openvino"):
            raise ValueError(f"precision {precision!r} is not available with {runtime}")
        self.folder = Path(folder)
        self.threads = threads
        # OpenVINO with threads=1: a call that is the only one in progress runs on this many
        # threads (a second compiled model); calls that overlap run on one thread each.
        self.solo_threads = solo_threads if runtime == "openvino" and threads == 1 else 1
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
        self._session: Callable[[dict[str, np.ndarray]], np.ndarray] | None = None
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
        self.encode(["warm up"])  # the first run allocates ONNX Runtime's buffers

    def _load(self) -> tuple[Callable[[dict[str, np.ndarray]], np.ndarray], Any]:
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

    def _onnxruntime(self) -> Callable[[dict[str, np.ndarray]], np.ndarray]:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        session = ort.InferenceSession(
            str(self.folder / MODEL_FILE), sess_options=options, providers=["CPUExecutionProvider"]
        )
        wanted = {i.name for i in session.get_inputs()}

        def run(feeds: dict[str, np.ndarray]) -> np.ndarray:
            (hidden,) = session.run(None, {k: v for k, v in feeds.items() if k in wanted})
            return np.asarray(hidden)

        return run

    def _openvino(self) -> Callable[[dict[str, np.ndarray]], np.ndarray]:
        import openvino

        core = openvino.Core()
        model = core.read_model(str(self.folder / MODEL_FILE))
        if self.precision == "bf16":
            _weights_to_fp16(model)

        def compile_for(streams: int, threads: int) -> Any:
            return core.compile_model(
                model,
                "CPU",
                {
                    "INFERENCE_PRECISION_HINT": "bf16" if self.precision == "bf16" else "f32",
                    "INFERENCE_NUM_THREADS": threads * streams,
                    "NUM_STREAMS": streams,
                    "ENABLE_CPU_PINNING": False,  # pinned streams cannot move off a busy core
                },
            )

        # One thread a call (questions): one stream and one infer request per core, so
        # concurrent questions run side by side, each on one thread; and, with solo_threads,
        # a question alone on the server gets all of them (bench/latency.py measures both).
        # More threads a call (builds): one stream using them all.
        streams = max(1, os.cpu_count() or 1) if self.threads == 1 else 1
        compiled = compile_for(streams, self.threads)
        solo = compile_for(1, self.solo_threads) if self.solo_threads > 1 else None
        wanted = {i.get_any_name() for i in compiled.inputs}
        tiny = {name: np.ones((1, 16), dtype=np.int64) for name in wanted}

        def slot(model: Any) -> tuple[Any, Any]:
            request = model.create_infer_request()
            request.infer(tiny)  # the first run allocates its buffers: here, not in a question
            return request, model.output(0)

        idle: queue.SimpleQueue[tuple[Any, Any]] = queue.SimpleQueue()
        for _ in range(streams):
            idle.put(slot(compiled))
        solo_slot = slot(solo) if solo is not None else None
        dispatch = self.dispatch

        def infer(chosen: tuple[Any, Any], inputs: dict[str, np.ndarray]) -> np.ndarray:
            request, output = chosen
            return np.array(request.infer(inputs)[output], dtype=np.float32)

        def run(feeds: dict[str, np.ndarray]) -> np.ndarray:
            inputs = {k: v for k, v in feeds.items() if k in wanted}
            with dispatch.enter(solo_slot is not None) as alone:
                if alone and solo_slot is not None:
                    return infer(solo_slot, inputs)
                chosen = idle.get()
                try:
                    return infer(chosen, inputs)
                finally:
                    idle.put(chosen)

        return run

    def encode(
        self,
        texts: Sequence[str],
        *,
        batch_size: int = 32,  # measured best for MiniLM passages (bench/build.py)
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
            hidden = run(feeds)
            mask = attention[:, :, None].astype(np.float32)
            pooled = (hidden * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1e-9)
            norms = np.linalg.norm(pooled, axis=1, keepdims=True)
            out[idx] = pooled / np.maximum(norms, 1e-12)
            if progress is not None:
                progress(len(idx))
        return out


class SoloDispatch:
    """Decides per call whether it runs alone (on the solo model, every core) or beside others
    (one thread each); counts both, for tests and benchmarks.

    >>> d = SoloDispatch()
    >>> with d.enter(True) as first, d.enter(True) as second:
    ...     (first, second)
    (True, False)
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._inflight = 0
        self.calls = {"solo": 0, "shared": 0}

    @contextlib.contextmanager
    def enter(self, solo_available: bool) -> Iterator[bool]:
        with self._lock:
            self._inflight += 1
            # decided with the count under the lock, so at most one call at a time is solo
            alone = solo_available and self._inflight == 1
            self.calls["solo" if alone else "shared"] += 1
        try:
            yield alone
        finally:
            with self._lock:
                self._inflight -= 1


def _weights_to_fp16(model: Any) -> None:
    """Store an OpenVINO model's fp32 weights as fp16, in memory, before a bf16 compile.

    bf16 inference rounds the weights to bf16 anyway (8 bits of mantissa; fp16 keeps 11), so
    the vectors do not change measurably (tests/test_onnx_embedder.py), and each compiled model
    holds ~85 MB less: the solo/shared pair of question encoders takes less memory than one
    fp32-weighted model did. Same transformation as ``openvino.save_model(compress_to_fp16=True)``.
    """
    try:
        from openvino._offline_transformations import compress_model_transformation
    except ImportError:  # a private module: without it the weights stay fp32, nothing breaks
        log.info("OpenVINO weight compression unavailable; weights stay fp32")
        return
    compress_model_transformation(model)
