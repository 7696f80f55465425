"""OnnxEmbedder: the torch-free query encoder agrees with sentence-transformers, and the service
uses it when the index carries an export (torch otherwise)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from conftest import write_corpus
from mscqa.config import Settings
from mscqa.embedding.choice import build_embedder
from mscqa.embedding.onnx_encoder import OnnxEmbedder
from mscqa.embedding.onnx_export import META_FILE, MODEL_FILE, export_onnx, read_meta
from mscqa.embedding.precision import resolve_precision
from mscqa.embedding.runtimes import SoloDispatch, weights_to_fp16
from mscqa.embedding.sentence_transformer import (
    SentenceTransformerEmbedder,
    model_fingerprint,
    resolve_model,
)
from mscqa.errors import ModelError
from mscqa.index import current_version, load_current
from mscqa.indexing import build_index
from mscqa.service import QAService

TEXTS = [
    "What are mesenchymal stem cells?",
    "How are adipose MSCs collected?",
    "MSC?",
    "",
    "üñíçødé ✓ 中文 テスト",
    "Bone marrow stem cells support hematopoiesis. " * 40,  # longer than 256 tokens
    "Umbilical cord stem cells come from allogeneic cord tissue.",
    "Japan has approved adipose stem cell products; China has fewer applications.",
]


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    source = resolve_model("")
    assert isinstance(source, Path)
    out = tmp_path_factory.mktemp("onnx") / "model"
    return export_onnx(source, out, source_sha256=model_fingerprint(source))


@pytest.fixture
def real_tiny_settings(tmp_path: Path) -> Settings:
    return Settings(
        corpus_dir=write_corpus(tmp_path / "corpus"),
        index_dir=tmp_path / "index",
        chunk_chars=200,
        _env_file=None,
    )


def seed_export(settings: Settings, exported: Path) -> Path:
    """Put the module's export where a build looks for it, so the build need not export."""
    sha = model_fingerprint(resolve_model(""))
    target = settings.index_dir / "models" / sha[:16]
    shutil.copytree(exported, target)
    return target


# -- the encoder ----------------------------------------------------------------------------


@pytest.mark.slow
def test_vectors_agree_with_sentence_transformers(
    exported: Path, real_embedder: SentenceTransformerEmbedder
) -> None:
    ours = OnnxEmbedder(exported).encode(TEXTS)
    reference = real_embedder.encode(TEXTS)
    assert ours.dtype == np.float32 and ours.shape == reference.shape
    assert float((ours * reference).sum(axis=1).min()) > 0.9999


@pytest.mark.slow
def test_vectors_have_unit_norm(exported: Path) -> None:
    vectors = OnnxEmbedder(exported).encode(TEXTS)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


@pytest.mark.slow
def test_a_mixed_batch_equals_one_by_one(exported: Path) -> None:
    embedder = OnnxEmbedder(exported, threads=2)
    batch = embedder.encode(TEXTS, batch_size=3)
    single = np.vstack([embedder.encode([t]) for t in TEXTS])
    assert np.abs(batch - single).max() < 1e-5


@pytest.mark.slow
def test_export_records_its_hashes(exported: Path) -> None:
    meta = read_meta(exported)
    assert meta is not None
    assert meta["max_seq_length"] == 256 and meta["dim"] == 384 and not meta["quantized"]
    embedder = OnnxEmbedder(exported)
    assert embedder.dim == 384
    assert embedder.fingerprint() == model_fingerprint(resolve_model(""))
    assert embedder.encode([]).shape == (0, 384)


@pytest.mark.slow
@pytest.mark.parametrize("precision, floor", [("fp32", 0.9999), ("bf16", 0.999)])
def test_openvino_agrees_with_sentence_transformers(
    exported: Path, real_embedder: SentenceTransformerEmbedder, precision: str, floor: float
) -> None:
    embedder = OnnxEmbedder(exported, threads=2, runtime="openvino", precision=precision)
    assert embedder.backend == "openvino" and embedder.precision == precision
    ours = embedder.encode(TEXTS, batch_size=3)  # batches of different lengths, padded to 8
    reference = real_embedder.encode(TEXTS)
    assert ours.dtype == np.float32 and ours.shape == reference.shape
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    assert float((ours * reference).sum(axis=1).min()) > floor
    # the row order is the input order whatever the batching
    assert float((embedder.encode(TEXTS[::-1], batch_size=5)[::-1] * ours).sum(1).min()) > floor


@pytest.mark.slow
def test_openvino_questions_from_many_threads_get_their_own_vectors(exported: Path) -> None:
    # one infer request per core, handed out per call: concurrent callers never share one
    embedder = OnnxEmbedder(exported, threads=1, runtime="openvino", precision="bf16")
    expected = {t: embedder.encode([t]) for t in TEXTS}
    with ThreadPoolExecutor(max_workers=4) as pool:
        got = list(pool.map(lambda t: (t, embedder.encode([t])), TEXTS * 6))
    for text, vector in got:
        np.testing.assert_array_equal(vector, expected[text])


def test_solo_dispatch_gives_the_solo_model_to_one_call_at_a_time() -> None:
    dispatch = SoloDispatch()
    with dispatch.enter(True) as first, dispatch.enter(True) as second:
        assert (first, second) == (True, False)
    with dispatch.enter(True) as again:  # the first call has left: alone again
        assert again
    with dispatch.enter(False) as without:  # no solo model: always shared
        assert not without
    assert dispatch.calls == {"solo": 2, "shared": 2}

    # many threads entering at once: never two solo calls at the same time
    solo_now = []
    lock = threading.Lock()
    active = [0]
    barrier = threading.Barrier(8)

    def call() -> None:
        barrier.wait()
        for _ in range(200):
            with dispatch.enter(True) as alone:
                if alone:
                    with lock:
                        active[0] += 1
                        solo_now.append(active[0])
                    time.sleep(0)
                    with lock:
                        active[0] -= 1

    threads = [threading.Thread(target=call) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert solo_now and max(solo_now) == 1
    assert sum(dispatch.calls.values()) == 4 + 8 * 200


@pytest.mark.slow
def test_openvino_solo_and_shared_questions_agree(exported: Path) -> None:
    # a question alone gets the solo model (every core); overlapping ones one thread each
    solo = OnnxEmbedder(exported, threads=1, runtime="openvino", precision="bf16", solo_threads=2)
    shared = OnnxEmbedder(exported, threads=1, runtime="openvino", precision="bf16")
    alone = np.vstack([solo.encode([t]) for t in TEXTS])
    assert solo.dispatch.calls == {"solo": len(TEXTS), "shared": 0}
    one_thread = np.vstack([shared.encode([t]) for t in TEXTS])
    assert shared.dispatch.calls == {"solo": 0, "shared": len(TEXTS)}
    assert float((alone * one_thread).sum(axis=1).min()) > 0.9999
    with ThreadPoolExecutor(max_workers=4) as pool:
        got = list(pool.map(lambda i: (i, solo.encode([TEXTS[i]])), list(range(len(TEXTS))) * 6))
    for i, vector in got:
        assert float((vector[0] * alone[i]).sum()) > 0.9999
    assert sum(solo.dispatch.calls.values()) == len(TEXTS) * 7


@pytest.mark.slow
def test_bf16_encoders_keep_their_weights_as_fp16(exported: Path) -> None:
    import openvino

    model = openvino.Core().read_model(str(exported / MODEL_FILE))

    def weight_types() -> set[str]:
        return {
            op.get_output_element_type(0).get_type_name()
            for op in model.get_ops()
            if op.get_type_name() == "Constant"
            and op.get_output_size() == 1
            and len(op.get_output_shape(0)) == 2
            and op.get_output_shape(0)[0] * op.get_output_shape(0)[1] > 100_000
        }

    assert weight_types() == {"f32"}
    weights_to_fp16(model)
    assert weight_types() == {"f16"}


def test_runtime_and_precision_are_checked(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="runtime"):
        OnnxEmbedder(tmp_path, runtime="tensorrt")
    with pytest.raises(ValueError, match="bf16"):
        OnnxEmbedder(tmp_path, runtime="onnxruntime", precision="bf16")
    with pytest.raises(ValueError, match="role"):
        OnnxEmbedder(tmp_path, runtime="openvino", role="servers")  # type: ignore[arg-type]


def test_the_role_decides_the_openvino_layout(exported: Path) -> None:
    """Questions: a solo model beside one stream per core; builds: one stream, never solo
    (the role used to be guessed from the thread count)."""
    questions = OnnxEmbedder(exported, runtime="openvino", role="questions", solo_threads=2)
    builds = OnnxEmbedder(exported, runtime="openvino", role="builds", threads=1, solo_threads=2)
    assert (questions.solo_threads, builds.solo_threads) == (2, 1)
    np.testing.assert_allclose(
        questions.encode(TEXTS[:3]), builds.encode(TEXTS[:3]), rtol=0, atol=1e-5
    )
    assert builds.dispatch.calls["solo"] == 0


def test_a_folder_without_an_export_is_a_model_error(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="No exported ONNX model"):
        OnnxEmbedder(tmp_path)


def test_missing_model_file_is_a_clear_model_error(tmp_path: Path) -> None:
    (tmp_path / META_FILE).write_text(json.dumps({"sha256": "x", "dim": 384}))
    (tmp_path / "tokenizer.json").write_text("{}")
    with pytest.raises(ModelError, match=r"model\.onnx.*mscqa index"):
        OnnxEmbedder(tmp_path)


def test_a_damaged_model_file_is_a_model_error_on_first_use(tmp_path: Path) -> None:
    (tmp_path / META_FILE).write_text(json.dumps({"sha256": "x", "dim": 384}))
    (tmp_path / "tokenizer.json").write_text("{}")
    (tmp_path / MODEL_FILE).write_bytes(b"not an onnx model")
    with pytest.raises(ModelError, match="Could not load the ONNX model"):
        OnnxEmbedder(tmp_path).encode(["hello"])
    with pytest.raises(ModelError, match="with openvino"):
        OnnxEmbedder(tmp_path, runtime="openvino").encode(["hello"])


def test_threads_are_checked(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="threads"):
        OnnxEmbedder(tmp_path, threads=0)


def test_export_refuses_a_folder_that_is_not_a_model(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="not a local transformers model"):
        export_onnx(tmp_path, tmp_path / "out")


# -- the build and the service ------------------------------------------------------------------


@pytest.mark.slow
def test_build_records_the_export_and_does_not_export_twice(
    real_tiny_settings: Settings, exported: Path, real_embedder: SentenceTransformerEmbedder
) -> None:
    folder = seed_export(real_tiny_settings, exported)
    before = (folder / MODEL_FILE).stat().st_mtime_ns
    build_index(real_tiny_settings, real_embedder)
    build_index(real_tiny_settings, real_embedder)
    assert (folder / MODEL_FILE).stat().st_mtime_ns == before
    entry = load_current(real_tiny_settings.index_dir).manifest.query_model
    assert entry is not None and entry.path == f"models/{folder.name}"
    assert entry.sha256 == json.loads((folder / META_FILE).read_text())["sha256"]
    assert entry.agreement > 0.9999


@pytest.mark.slow
def test_default_build_encodes_with_openvino_on_the_export(
    real_tiny_settings: Settings, exported: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = seed_export(real_tiny_settings, exported)
    loaded: dict[Any, Any] = {}
    encoder = build_embedder(real_tiny_settings, threads=1, loaded=loaded)
    assert isinstance(encoder, OnnxEmbedder) and encoder.backend == "openvino"
    assert encoder.folder == folder
    assert encoder.precision == resolve_precision(real_tiny_settings.build_precision)
    # compiled once per cache: the same encoder from the same build cache, a new one without
    assert build_embedder(real_tiny_settings, threads=1, loaded=loaded) is encoder
    assert build_embedder(real_tiny_settings, threads=1) is not encoder
    report = build_index(real_tiny_settings)
    assert report.embedded > 0
    # a second build re-uses the export's earlier check instead of loading ONNX Runtime again
    calls: list[str] = []
    monkeypatch.setattr(OnnxEmbedder, "encode", _counting(OnnxEmbedder.encode, calls))
    (real_tiny_settings.corpus_dir / "new.md").write_text("# New\n\nCord blood banking.\n")
    build_index(real_tiny_settings)
    query_model = load_current(real_tiny_settings.index_dir).manifest.query_model
    assert query_model is not None and query_model.agreement > 0.999
    assert calls and set(calls) == {"openvino"}  # no ONNX Runtime session for the check


def _counting(encode: Any, calls: list[str]) -> Any:
    def wrapped(self: OnnxEmbedder, texts: Any, **kwargs: Any) -> np.ndarray:
        calls.append(self.backend)
        return encode(self, texts, **kwargs)

    return wrapped


def test_build_falls_back_to_torch_when_openvino_cannot_load(
    real_tiny_settings: Settings, exported: Path, monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    seed_export(real_tiny_settings, exported)

    def broken(self: OnnxEmbedder) -> Any:
        raise RuntimeError("no CPU plugin")

    monkeypatch.setattr(OnnxEmbedder, "_openvino", broken)
    encoder = build_embedder(real_tiny_settings, threads=1)
    assert isinstance(encoder, SentenceTransformerEmbedder)
    assert "Building with torch" in caplog.text
    strict = real_tiny_settings.model_copy(update={"build_backend": "openvino"})
    with pytest.raises(ModelError, match="OpenVINO"):
        build_embedder(strict, threads=1)
    torch_only = real_tiny_settings.model_copy(update={"build_backend": "torch"})
    assert isinstance(build_embedder(torch_only, threads=1), SentenceTransformerEmbedder)


@pytest.mark.slow
def test_service_uses_onnx_when_the_index_has_an_export(
    real_tiny_settings: Settings, exported: Path, real_embedder: SentenceTransformerEmbedder
) -> None:
    seed_export(real_tiny_settings, exported)
    build_index(real_tiny_settings, real_embedder)
    service = QAService(real_tiny_settings)
    service.load()
    encoder = service.serving().encoder
    assert isinstance(encoder, OnnxEmbedder)
    # bf16 on OpenVINO where the CPU has native bf16, else fp32 on ONNX Runtime
    native = resolve_precision("auto") == "bf16"
    assert (encoder.backend, encoder.precision) == (
        ("openvino", "bf16") if native else ("onnxruntime", "fp32")
    )
    # a question alone on the server may use every core (MSCQA_QUERY_SOLO_THREADS=0)
    assert encoder.solo_threads == ((os.cpu_count() or 1) if native else 1)
    answer = service.ask("How are adipose stem cells collected?")
    assert answer.answered and "liposuction" in answer.text

    for precision, backend in (("fp32", "onnxruntime"), ("bf16", "openvino")):
        pinned = QAService(real_tiny_settings.model_copy(update={"query_precision": precision}))
        pinned.load()
        assert pinned.serving().encoder.backend == backend  # type: ignore[attr-defined]
        assert pinned.ask("How are adipose stem cells collected?").text == answer.text
    one = QAService(
        real_tiny_settings.model_copy(update={"query_precision": "bf16", "query_solo_threads": 1})
    )
    one.load()
    assert one.serving().encoder.solo_threads == 1  # type: ignore[attr-defined]
    assert one.ask("How are adipose stem cells collected?").text == answer.text

    torch_settings = real_tiny_settings.model_copy(update={"query_backend": "torch"})
    torch_service = QAService(torch_settings)
    torch_service.load()
    assert isinstance(torch_service.serving().encoder, SentenceTransformerEmbedder)
    assert torch_service.ask("How are adipose stem cells collected?").text == answer.text


@pytest.mark.slow
def test_service_uses_onnx_runtime_when_openvino_cannot_load(
    real_tiny_settings: Settings,
    exported: Path,
    real_embedder: SentenceTransformerEmbedder,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seed_export(real_tiny_settings, exported)
    build_index(real_tiny_settings, real_embedder)

    def broken(self: OnnxEmbedder) -> Any:
        raise RuntimeError("no CPU plugin")

    monkeypatch.setattr(OnnxEmbedder, "_openvino", broken)
    service = QAService(real_tiny_settings.model_copy(update={"query_precision": "auto"}))
    service.load()
    assert service.serving().encoder.backend == "onnxruntime"  # type: ignore[attr-defined]
    # bf16 asked for explicitly is not silently swapped for fp32: with the ONNX backend
    # required, loading fails and says why
    strict = QAService(
        real_tiny_settings.model_copy(update={"query_precision": "bf16", "query_backend": "onnx"})
    )
    with pytest.raises(ModelError, match="openvino"):
        strict.load()


@pytest.mark.slow
def test_service_falls_back_to_torch_without_an_export(
    real_tiny_settings: Settings, exported: Path, real_embedder: SentenceTransformerEmbedder
) -> None:
    folder = seed_export(real_tiny_settings, exported)
    build_index(real_tiny_settings, real_embedder)
    shutil.rmtree(folder)  # the export is gone: auto falls back, onnx refuses
    service = QAService(real_tiny_settings)
    service.load()
    assert isinstance(service.serving().encoder, SentenceTransformerEmbedder)
    strict = QAService(real_tiny_settings.model_copy(update={"query_backend": "onnx"}))
    with pytest.raises(ModelError, match="mscqa index"):
        strict.load()


@pytest.mark.slow
def test_serving_from_an_export_never_imports_torch(
    real_tiny_settings: Settings, exported: Path, real_embedder: SentenceTransformerEmbedder
) -> None:
    seed_export(real_tiny_settings, exported)
    build_index(real_tiny_settings, real_embedder)
    assert current_version(real_tiny_settings.index_dir)
    script = (
        "import sys\n"
        "from mscqa.server.app import create_app\n"
        "from mscqa.config import Settings\n"
        "from mscqa.service import QAService\n"
        "settings = Settings(_env_file=None)\n"
        "service = QAService(settings)\n"
        "create_app(settings, service)\n"
        "service.load()\n"
        "assert service.ask('How are adipose stem cells collected?').answered\n"
        "heavy = [m for m in ('torch', 'sentence_transformers', 'transformers') "
        "if m in sys.modules]\n"
        "print(','.join(heavy) or 'none')\n"
    )
    env = dict(
        os.environ,
        MSCQA_INDEX_DIR=str(real_tiny_settings.index_dir),
        MSCQA_CORPUS_DIR=str(real_tiny_settings.corpus_dir),
        MSCQA_CHUNK_CHARS="200",
        HF_HUB_OFFLINE="1",
    )
    out = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "none"


@pytest.mark.slow
def test_only_bf16_encoders_compress_their_weights(
    exported: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mscqa.embedding import runtimes

    compressed: list[object] = []
    real = runtimes.weights_to_fp16
    monkeypatch.setattr(runtimes, "weights_to_fp16", lambda m: (compressed.append(m), real(m)))
    OnnxEmbedder(exported, runtime="openvino", precision="fp32").encode(["a"])
    assert not compressed  # fp32 results stay exact
    OnnxEmbedder(exported, runtime="openvino", precision="bf16").encode(["a"])
    assert len(compressed) == 1
