"""Which encoder embeds a build's passages, and which one encodes a server's questions.

``build_embedder`` picks the passage encoder (OpenVINO on the model's ONNX export, in bf16
where the CPU has it natively, else torch); ``export_query_model`` exports and checks the ONNX
encoder questions use and returns the manifest's ``query_model`` entry (both write only below
``index/models/``: call them holding the index's writer lock); ``QueryEncoders`` picks, for a
snapshot, the encoder ``QAService`` answers with and keeps the loaded ones.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import numpy as np

from mscqa.config import Settings
from mscqa.embedding.embedder import Embedder
from mscqa.embedding.onnx_encoder import OnnxEmbedder
from mscqa.embedding.onnx_export import MODEL_FILE, export_onnx, read_meta
from mscqa.embedding.precision import resolve_precision
from mscqa.embedding.sentence_transformer import SentenceTransformerEmbedder, resolve_model
from mscqa.errors import ModelError
from mscqa.fileio import file_sha256
from mscqa.index import IndexSnapshot
from mscqa.index.layout import models_dir
from mscqa.index.manifest import Manifest, QueryModel

log = logging.getLogger(__name__)

# Backends that compute the model's own vectors (a fake computes something else).
MODEL_BACKENDS = frozenset({"torch", "onnxruntime", "openvino"})


def build_embedder(
    settings: Settings, threads: int, *, loaded: dict[tuple[Any, ...], Embedder] | None = None
) -> Embedder:
    """The passage encoder a build uses (call it holding the writer lock: it may export).

    ``loaded`` holds the encoders already loaded, keyed by everything that shapes them (a
    build cache's, ``indexing.BuildCache``): compiling the model again costs ~0.5 s a build.

    ``MSCQA_BUILD_BACKEND=auto`` (default) runs the model's ONNX export with OpenVINO when the
    model is a local folder and the export and OpenVINO load, and falls back to torch
    otherwise; ``openvino`` requires it; ``torch`` never uses it. ``MSCQA_BUILD_PRECISION``
    picks fp32 or bf16 (auto: bf16 where the CPU computes it natively) for either backend.
    """
    loaded = {} if loaded is None else loaded
    precision = resolve_precision(settings.build_precision)
    reference = SentenceTransformerEmbedder(settings.model, threads=threads, precision=precision)
    source = reference.source
    if settings.build_backend == "torch" or not isinstance(source, Path):
        if settings.build_backend == "openvino":
            raise ModelError(
                f"MSCQA_BUILD_BACKEND=openvino needs a local model folder, not {source}"
            )
        return loaded.setdefault(("torch", settings.model, threads, precision), reference)
    sha = reference.fingerprint()
    try:
        folder = _ensure_export(settings, source, sha, quantize=False)
        key = ("openvino", str(folder), (read_meta(folder) or {}).get("sha256"), threads, precision)
        if key not in loaded:
            encoder = OnnxEmbedder(
                folder,
                threads=threads,
                name=reference.name,
                runtime="openvino",
                precision=precision,
                role="builds",
            )
            encoder.warm_up()
            loaded[key] = encoder
        return loaded[key]
    except Exception as exc:
        if settings.build_backend == "openvino":
            raise ModelError(f"Could not run the build encoder with OpenVINO: {exc}") from exc
        log.warning("Building with torch: the OpenVINO encoder is not available (%s)", exc)
        return loaded.setdefault(("torch", settings.model, threads, precision), reference)


def _ensure_export(settings: Settings, source: Path, sha: str, *, quantize: bool) -> Path:
    """The model's ONNX export in the index's model cache, exported once per model."""
    name = f"{sha[:16]}-int8" if quantize else sha[:16]
    folder = models_dir(settings.index_dir) / name
    meta = read_meta(folder)
    if meta is None or meta.get("source_sha256") != sha:
        log.info("Exporting the model to ONNX in %s", folder)
        export_onnx(source, folder, source_sha256=sha, quantize=quantize)
    return folder


def export_query_model(
    settings: Settings,
    embedder: Embedder,
    texts: list[str],
    vectors: np.ndarray,
    serving: Manifest | None = None,
) -> QueryModel | None:
    """Export the model to ONNX for queries (once per model), checked against ``vectors``.

    Returns the manifest's ``query_model`` entry, or None when there is nothing to export (a
    fake or remote model, ``MSCQA_QUERY_BACKEND=torch``) or the export failed or disagreed; the
    service then encodes queries with torch, so the build itself never fails here.
    ``serving`` is the served snapshot's manifest (an export it names was checked already).
    """
    if settings.query_backend == "torch" or embedder.backend not in MODEL_BACKENDS:
        return None
    source = resolve_model(settings.model)
    if not isinstance(source, Path):
        return None
    sha = embedder.fingerprint()
    try:
        folder = _ensure_export(settings, source, sha, quantize=settings.onnx_quantize)
        meta = read_meta(folder)
        checked = _serving_query_model(serving, sha)
        if meta is not None and checked and checked.sha256 == meta["sha256"]:
            return checked  # this export was checked against this model by an earlier build
        got = OnnxEmbedder(folder).encode(texts)
        agreement = float((got * vectors).sum(axis=1).min()) if len(texts) else 1.0
    except Exception as exc:  # the build goes on; queries use torch
        log.warning("Could not export the query encoder to ONNX (%s); queries will use torch", exc)
        return None
    floor = 0.9 if settings.onnx_quantize else 0.999
    if meta is None or agreement < floor:
        log.warning(
            "The ONNX query encoder in %s disagrees with torch (cosine %.4f < %.3f); "
            "queries will use torch",
            folder,
            agreement,
            floor,
        )
        return None
    return QueryModel(
        path=folder.relative_to(settings.index_dir).as_posix(),  # as the manifest keeps it
        sha256=meta["sha256"],
        quantized=bool(meta.get("quantized")),
        agreement=round(agreement, 6),
    )


def _serving_query_model(manifest: Manifest | None, model_sha: str) -> QueryModel | None:
    """The serving snapshot's ``query_model`` entry when it was built with ``model_sha``."""
    if manifest is None or manifest.model.sha256 != model_sha:
        return None
    return manifest.query_model


class QueryEncoders:
    """The question encoder for each snapshot: its ONNX export (no torch needed) or torch.

    ``MSCQA_QUERY_BACKEND``: ``auto`` uses the export when it is there and intact, else torch
    (``reference``); ``onnx`` requires it; ``torch`` never uses it. An injected encoder (a
    test's fake) always wins. Loaded exports are kept by their sha256, so a new snapshot of the
    same model reuses the compiled encoder.
    """

    def __init__(self, settings: Settings, reference: Embedder, *, injected: bool = False) -> None:
        self.settings = settings
        self.reference = reference
        self.injected = injected
        self._onnx: dict[str, Embedder] = {}

    def for_snapshot(self, snapshot: IndexSnapshot) -> Embedder:
        backend = self.settings.query_backend
        entry = snapshot.manifest.query_model
        if self.injected or backend == "torch":
            return self.reference
        if not entry:
            if backend == "onnx":
                raise ModelError(
                    f"Index snapshot {snapshot.version} has no ONNX query encoder; run "
                    "`mscqa index` to export it, or set MSCQA_QUERY_BACKEND=auto."
                )
            return self.reference
        sha = entry.sha256
        if sha not in self._onnx:
            folder = self.settings.index_dir / entry.path
            try:
                if file_sha256(folder / MODEL_FILE) != sha:
                    raise ModelError(f"{folder / MODEL_FILE} does not match the index manifest")
                self._onnx[sha] = self._load(folder, quantized=entry.quantized)
            except (ModelError, OSError) as exc:
                if backend == "onnx":
                    raise ModelError(f"{exc}; run `mscqa index` to export it again.") from exc
                log.warning("Not using the ONNX query encoder (%s); using torch", exc)
                return self.reference
        return self._onnx[sha]

    def _load(self, folder: Path, *, quantized: bool) -> Embedder:
        """ONNX Runtime in fp32, or OpenVINO in bf16 where the CPU computes bf16 natively
        (``MSCQA_QUERY_PRECISION``): one question in ~2.2 ms instead of ~3.5 ms, with the same
        dev-set and PubMedQA figures (bench/perf/latency.py). A question alone on the server
        runs on every core (``MSCQA_QUERY_SOLO_THREADS``), overlapping ones on
        ``MSCQA_QUERY_THREADS`` each. OpenVINO failing to load is not fatal.
        """
        threads, name = self.settings.query_threads, self.reference.name
        if not quantized and resolve_precision(self.settings.query_precision) == "bf16":
            solo = self.settings.query_solo_threads or os.cpu_count() or 1
            encoder = OnnxEmbedder(
                folder,
                threads=threads,
                name=name,
                runtime="openvino",
                precision="bf16",
                role="questions",
                solo_threads=solo,
            )
            try:
                encoder.warm_up()
                return encoder
            except ModelError as exc:
                if self.settings.query_precision == "bf16":
                    raise
                log.warning("Questions use ONNX Runtime fp32: %s", exc)
        return OnnxEmbedder(folder, threads=threads, name=name)
