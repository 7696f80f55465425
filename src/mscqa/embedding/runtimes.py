"""The two runtimes that run an ONNX export: ONNX Runtime, and OpenVINO with a pool of infer
requests (and, for questions, a second "solo" model that one call at a time may use alone).

A runtime is a callable ``feeds -> last hidden state``; ``OnnxEmbedder`` tokenises and pools.

>>> d = SoloDispatch()
>>> with d.enter(True) as first, d.enter(True) as second:
...     (first, second)
(True, False)
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

Run = Callable[[dict[str, np.ndarray]], np.ndarray]


def onnxruntime_session(model: Path, threads: int) -> Run:
    """ONNX Runtime on ``threads`` threads, one call after another inside a call."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = ort.InferenceSession(
        str(model), sess_options=options, providers=["CPUExecutionProvider"]
    )
    wanted = {i.name for i in session.get_inputs()}

    def run(feeds: dict[str, np.ndarray]) -> np.ndarray:
        (hidden,) = session.run(None, {k: v for k, v in feeds.items() if k in wanted})
        return np.asarray(hidden)

    return run


class SoloDispatch:
    """Decides per call whether it runs alone (on the solo model, every core) or beside others
    (one thread each); counts both, for tests and benchmarks."""

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


class RequestPool:
    """OpenVINO infer requests of one compiled model, one per stream, lent to one call each.

    A call takes an idle request (waiting when all are busy) and gives it back when done, so
    ``streams`` calls run side by side and no request is ever used by two at once.
    """

    def __init__(self, compiled: Any, streams: int, warm: dict[str, np.ndarray]) -> None:
        if streams < 1:
            raise ValueError(f"streams must be >= 1, got {streams}")
        self.streams = streams
        self._output = compiled.output(0)
        self._idle: queue.SimpleQueue[Any] = queue.SimpleQueue()
        for _ in range(streams):
            request = compiled.create_infer_request()
            request.infer(warm)  # the first run allocates its buffers: here, not in a question
            self._idle.put(request)

    def infer(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        request = self._idle.get()
        try:
            return np.array(request.infer(inputs)[self._output], dtype=np.float32)
        finally:
            self._idle.put(request)


class OpenVinoRunner:
    """The export compiled by OpenVINO as ``streams`` streams of ``threads`` threads each, plus,
    with ``solo_threads`` > ``threads``, one more compiled model on ``solo_threads`` threads
    that ``dispatch`` hands to a call only while no other call is in progress.

    Questions use one single-thread stream per core (overlapping questions run side by side) and
    the solo model (a question alone gets every core); builds use one stream on all their
    threads. ``bf16`` keeps the weights as fp16 in memory (``weights_to_fp16``).
    """

    def __init__(
        self,
        model_file: Path,
        *,
        precision: str,
        streams: int,
        threads: int,
        solo_threads: int = 0,
        dispatch: SoloDispatch | None = None,
    ) -> None:
        import openvino

        core = openvino.Core()
        model = core.read_model(str(model_file))
        if precision == "bf16":
            weights_to_fp16(model)

        def compile_for(streams: int, threads: int) -> Any:
            return core.compile_model(
                model,
                "CPU",
                {
                    "INFERENCE_PRECISION_HINT": "bf16" if precision == "bf16" else "f32",
                    "INFERENCE_NUM_THREADS": threads * streams,
                    "NUM_STREAMS": streams,
                    "ENABLE_CPU_PINNING": False,  # pinned streams cannot move off a busy core
                },
            )

        compiled = compile_for(streams, threads)
        self.inputs = frozenset(i.get_any_name() for i in compiled.inputs)
        warm = {name: np.ones((1, 16), dtype=np.int64) for name in self.inputs}
        self.pool = RequestPool(compiled, streams, warm)
        self.solo = (
            RequestPool(compile_for(1, solo_threads), 1, warm) if solo_threads > threads else None
        )
        self.dispatch = dispatch or SoloDispatch()

    def __call__(self, feeds: dict[str, np.ndarray]) -> np.ndarray:
        inputs = {k: v for k, v in feeds.items() if k in self.inputs}
        with self.dispatch.enter(self.solo is not None) as alone:
            if alone and self.solo is not None:
                return self.solo.infer(inputs)
            return self.pool.infer(inputs)


def weights_to_fp16(model: Any) -> None:
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
