"""Embedders: the hashing fake used by unit tests, the bundled model, and the real one."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mscqa.embedding.embedder import vectors_key
from mscqa.embedding.hashing import HashingEmbedder
from mscqa.embedding.precision import cpu_flags, resolve_precision
from mscqa.embedding.sentence_transformer import (
    SentenceTransformerEmbedder,
    model_fingerprint,
    resolve_model,
)

BUNDLED_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"


def cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b)


def test_hashing_embedder_shape_dtype_and_unit_norm(fake_embedder: HashingEmbedder) -> None:
    texts = ["Adipose stem cells", "Bone marrow", "x y z", "Umbilical cord tissue"]
    vecs = fake_embedder.encode(texts)
    assert vecs.shape == (4, 256)
    assert vecs.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, rtol=1e-5)
    assert fake_embedder.dim == 256
    assert HashingEmbedder(32).encode(["a b"]).shape == (1, 32)


def test_hashing_embedder_is_deterministic_across_instances() -> None:
    texts = ["Graft-versus-host disease", "Prochymal"]
    a = HashingEmbedder(64).encode(texts)
    b = HashingEmbedder(64).encode(list(reversed(texts)))[::-1]
    np.testing.assert_array_equal(a, b)
    assert HashingEmbedder(64).fingerprint() == HashingEmbedder(64).fingerprint()
    assert HashingEmbedder(64).fingerprint() != HashingEmbedder(128).fingerprint()


def test_hashing_embedder_shared_words_mean_higher_cosine(fake_embedder) -> None:
    q, near, far = fake_embedder.encode(
        ["adipose stem cells", "stem cells from adipose tissue", "football match tonight"]
    )
    assert cos(q, near) > cos(q, far)
    assert cos(q, near) > 0.5
    assert cos(q, q) == pytest.approx(1.0, abs=1e-6)


def test_hashing_embedder_empty_inputs(fake_embedder: HashingEmbedder) -> None:
    assert fake_embedder.encode([]).shape == (0, 256)
    blank = fake_embedder.encode(["", "!!!"])
    assert np.all(blank == 0.0)  # no words: a zero row, not NaN


def test_hashing_embedder_reports_progress(fake_embedder: HashingEmbedder) -> None:
    done: list[int] = []
    fake_embedder.encode(["a b", "c d", "e f"], progress=done.append)
    assert sum(done) == 3


@pytest.mark.parametrize("dim", [0, 7, -1])
def test_hashing_embedder_rejects_tiny_dim(dim: int) -> None:
    with pytest.raises(ValueError, match="dim"):
        HashingEmbedder(dim)


def test_real_embedder_rejects_bad_threads() -> None:
    with pytest.raises(ValueError, match="threads"):
        SentenceTransformerEmbedder("", threads=0)


def test_bundled_model_is_resolved_and_fingerprinted() -> None:
    folder = resolve_model("")
    assert isinstance(folder, Path)
    assert (folder / "model.safetensors").is_file()
    assert model_fingerprint(folder) == BUNDLED_SHA256
    # the fingerprint is cheap to ask for and does not load the model
    assert SentenceTransformerEmbedder("").fingerprint() == BUNDLED_SHA256


def test_resolve_model_paths_and_names(tmp_path: Path) -> None:
    assert resolve_model(str(tmp_path)) == tmp_path
    assert resolve_model("org/some-model") == "org/some-model"
    (tmp_path / "model.safetensors").write_bytes(b"weights")
    import hashlib

    assert model_fingerprint(tmp_path) == hashlib.sha256(b"weights").hexdigest()
    assert model_fingerprint("org/some-model") == hashlib.sha256(b"org/some-model").hexdigest()


@pytest.mark.slow
def test_real_embedder_meaning(real_embedder: SentenceTransformerEmbedder) -> None:
    vecs = real_embedder.encode(["adipose stem cells", "fat-derived stem cells"])
    assert vecs.shape == (2, 384)
    assert vecs.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, rtol=1e-4)
    (football,) = real_embedder.encode(["football"])
    assert cos(vecs[0], vecs[1]) > cos(vecs[0], football) + 0.2
    # batching and length-sorting put rows back in input order
    batched = real_embedder.encode(["football", "adipose stem cells"], batch_size=1)
    np.testing.assert_allclose(batched[0], football, atol=1e-5)
    np.testing.assert_allclose(batched[1], vecs[0], atol=1e-5)


def test_precision_auto_means_bf16_only_with_native_bf16(tmp_path: Path) -> None:
    assert resolve_precision("auto", frozenset({"avx2", "amx_bf16"})) == "bf16"
    assert resolve_precision("auto", frozenset({"avx512_bf16"})) == "bf16"
    assert resolve_precision("auto", frozenset({"avx2", "avx512f"})) == "fp32"
    assert resolve_precision("auto", frozenset()) == "fp32"
    assert resolve_precision("fp32", frozenset({"amx_bf16"})) == "fp32"
    assert resolve_precision("bf16", frozenset()) == "bf16"
    with pytest.raises(ValueError, match="precision"):
        resolve_precision("int4")
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu sse avx512_bf16 amx_tile\n\n")
    assert cpu_flags(cpuinfo) == {"fpu", "sse", "avx512_bf16", "amx_tile"}
    assert cpu_flags(tmp_path / "missing") == frozenset()


def test_vectors_key_separates_bf16_from_fp32() -> None:
    fp32 = SentenceTransformerEmbedder("", precision="fp32")
    bf16 = SentenceTransformerEmbedder("", precision="bf16")
    assert vectors_key(fp32) == fp32.fingerprint()  # fp32 caches from earlier builds still hit
    assert vectors_key(bf16) != fp32.fingerprint()
    assert bf16.fingerprint() == fp32.fingerprint()  # same model: the manifest names it
    assert vectors_key(HashingEmbedder(16)) == HashingEmbedder(16).fingerprint()


@pytest.mark.slow
def test_bf16_torch_vectors_are_unit_length_and_close_to_fp32(
    real_embedder: SentenceTransformerEmbedder,
) -> None:
    texts = ["What are mesenchymal stem cells?", "Japan approved adipose MSC products. " * 5]
    bf16 = SentenceTransformerEmbedder("", threads=2, precision="bf16").encode(texts)
    assert bf16.dtype == np.float32
    assert np.allclose(np.linalg.norm(bf16, axis=1), 1.0, atol=1e-6)
    assert float((bf16 * real_embedder.encode(texts)).sum(1).min()) > 0.999


def test_fingerprint_follows_the_weights_file(tmp_path: Path) -> None:
    weights = tmp_path / "model.safetensors"
    weights.write_bytes(b"first weights")
    first = model_fingerprint(tmp_path)
    assert first == model_fingerprint(tmp_path)  # remembered while the file is unchanged
    weights.write_bytes(b"other weights, longer")
    assert model_fingerprint(tmp_path) != first  # a changed file is hashed again


def test_every_encoder_states_precision_and_backend_and_warms_up(fake_embedder) -> None:
    """The Embedder Protocol's precision/backend/warm_up: nobody needs getattr to ask."""
    real = SentenceTransformerEmbedder("", precision="fp32")  # not loaded by asking
    assert (real.precision, real.backend) == ("fp32", "torch")
    assert (fake_embedder.precision, fake_embedder.backend) == ("fp32", "hashing")
    fake_embedder.warm_up()
    assert vectors_key(fake_embedder) == fake_embedder.fingerprint()
