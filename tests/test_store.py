"""Index snapshots: atomic writes, integrity checks on load, fallback, pruning."""

from __future__ import annotations

import dataclasses
import json
import mmap
import shutil
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mscqa.config import Settings
from mscqa.embedding.hashing import HashingEmbedder
from mscqa.errors import NoIndexError, SnapshotError
from mscqa.index import (
    Counts,
    Manifest,
    ModelInfo,
    QueryModel,
    SnapshotParts,
    current_version,
    list_versions,
    load_current,
    load_snapshot,
    prune,
    publish,
    save_snapshot,
)
from mscqa.index.lexical import corpus_words, tokenize
from mscqa.index.records import chunk_record, doc_record
from mscqa.index.store import chunk_words, lexical_text
from mscqa.indexing import build_index
from mscqa.types import Chunk, Definition, Document, Page, Section, Unreadable

DIM = 8


def tiny_snapshot_inputs() -> tuple[
    list[Document], list[Chunk], np.ndarray, np.ndarray, np.ndarray
]:
    text = "Alpha cells grow. Beta cells divide.\n\nGamma tissue heals."
    doc = Document(
        "d/one.md",
        "d/one.md",
        "One",
        text,
        "a" * 64,
        "markdown",
        (Section("S", 0, len(text)),),
        (Page(1, 0, len(text)),),
        (("date", "2025"),),
    )
    chunks = [
        Chunk(
            "d/one.md#0", "d/one.md", 0, "One", "S", 0, 36, text[0:36], "h0", ((0, 17), (18, 36))
        ),
        Chunk("d/one.md#1", "d/one.md", 1, "One", None, 38, 57, text[38:57], "h1", ((38, 57),)),
    ]
    rng = np.random.default_rng(0)
    cv = rng.normal(size=(2, DIM)).astype(np.float32)
    cv /= np.linalg.norm(cv, axis=1, keepdims=True)
    sv = rng.normal(size=(3, DIM)).astype(np.float32)
    owner = np.array([0, 0, 1], dtype=np.int32)
    return [doc], chunks, cv, sv, owner


def tiny_parts(**records: Any) -> SnapshotParts:
    docs, chunks, cv, sv, owner = tiny_snapshot_inputs()
    return SnapshotParts(docs, chunks, cv, sv, owner, **records)


def built(version: str, model_sha: str = "m", **fields: Any) -> Manifest:
    """A build's manifest for ``version`` (the store seals it)."""
    return Manifest(ModelInfo(f"model-{model_sha[:4]}", model_sha, DIM), version=version, **fields)


def save(index_dir: Path, version: str) -> Path:
    return save_snapshot(index_dir, built(version), tiny_parts())


def test_save_publish_load_round_trip(tmp_path: Path) -> None:
    docs, chunks, cv, sv, owner = tiny_snapshot_inputs()
    path = save_snapshot(tmp_path, built("v1"), SnapshotParts(docs, chunks, cv, sv, owner))
    assert path == tmp_path / "snapshots" / "v1"
    assert current_version(tmp_path) is None
    publish(tmp_path, "v1")
    snap = load_current(tmp_path, expect_model="m")
    assert snap.version == "v1"
    assert snap.manifest.counts == Counts(documents=1, chunks=2, sentences=3)
    assert snap.chunks == chunks
    assert snap.documents == {"d/one.md": docs[0]}
    np.testing.assert_array_equal(snap.dense.reconstruct_n(0, 2), cv)
    np.testing.assert_array_equal(snap.sentences.vectors, sv)
    np.testing.assert_array_equal(snap.sentences.owner, owner)
    assert snap.sentence_start.tolist() == [0, 2, 3]
    assert snap.lexical.size == 2
    scores = snap.lexical.scores("gamma tissue")
    assert scores[0] == 0.0
    assert scores[1] > 0.0


def _mapped(array: np.ndarray) -> bool:
    """Whether ``array``'s memory is a mapping of a file (not the heap)."""
    base: Any = array
    while base is not None:
        if isinstance(base, (mmap.mmap, np.memmap)):
            return True
        base = getattr(base, "base", None)
    return False


def test_a_loaded_snapshot_maps_its_vectors_and_scores_from_the_files(tmp_path: Path) -> None:
    _, _, cv, sv, _ = tiny_snapshot_inputs()
    path = save(tmp_path, "v1")
    snap = load_snapshot(path)
    # mapped, not copied: a build checking what it wrote, or servers on one machine, share them
    assert _mapped(snap.sentences.vectors) and not snap.sentences.vectors.flags.writeable
    scores = snap.lexical._bm25.scores
    assert all(_mapped(scores[name]) for name in ("data", "indices", "indptr"))
    np.testing.assert_array_equal(snap.sentences.vectors, sv)
    np.testing.assert_array_equal(snap.dense.reconstruct_n(0, 2), cv)
    rows, _ = snap.dense_candidates(cv[1], 1)
    assert rows.tolist() == [1]
    assert snap.best_sentences(np.array([0, 1]), sv[2]).tolist() == pytest.approx(
        [float(max(sv[0] @ sv[2], sv[1] @ sv[2])), float(sv[2] @ sv[2])]
    )


def test_term_statistics_and_chunk_tokens_are_what_tokenising_every_passage_gives(
    tmp_path: Path,
) -> None:
    docs, chunks, cv, sv, owner = tiny_snapshot_inputs()
    empty = Chunk("d/one.md#2", "d/one.md", 2, "One", None, 0, 7, "and the", "h2", ())
    parts = SnapshotParts(docs, [*chunks, empty], np.vstack([cv, cv[:1]]), sv, owner)
    manifest = Manifest(ModelInfo("m", "m", DIM), version="v1")
    snap = load_snapshot(save_snapshot(tmp_path, manifest, parts))
    tokens = [set(tokenize(lexical_text(c))) for c in parts.chunks]
    df: dict[str, int] = {}
    for held in tokens:
        for token in held:
            df[token] = df.get(token, 0) + 1
    stats = snap.term_stats()
    assert stats.passages == 3 and stats.df == df  # the empty passage's placeholder is no word
    assert stats.words == frozenset(corpus_words(chunk_words(c) for c in parts.chunks))
    assert [snap.chunk_tokens(r) for r in (2, 0, 1, 0)] == [
        tokens[2],
        tokens[0],
        *tokens[1:2],
        tokens[0],
    ]


def test_a_snapshot_without_sentences_loads(tmp_path: Path) -> None:
    docs, chunks, cv, _, _ = tiny_snapshot_inputs()
    bare = [dataclasses.replace(c, sentences=()) for c in chunks]
    empty = np.zeros((0, DIM), dtype=np.float32)
    parts = SnapshotParts(docs, bare, cv, empty, np.zeros(0, dtype=np.int32))
    snap = load_snapshot(save_snapshot(tmp_path, built("v1"), parts))
    assert snap.sentences.vectors.shape == (0, DIM) and snap.sentence_count == 0
    assert snap.best_sentences(np.array([0, 1]), cv[0]).tolist() == [-1.0, -1.0]


DEFINED = [Definition("d/one.md", "GVHD", "graft-versus-host disease")]
GAPS = [Unreadable("d/one.md", "Table 1", 40, 41, "S", "d/one.md#0")]


def test_abbreviations_and_unreadable_parts_round_trip(tmp_path: Path) -> None:
    save_snapshot(tmp_path, built("v1"), tiny_parts(abbreviations=DEFINED, unreadable=GAPS))
    publish(tmp_path, "v1")
    snap = load_current(tmp_path)
    assert snap.abbreviations == DEFINED
    assert snap.unreadable == GAPS
    assert snap.manifest.format_version == 2
    assert (
        (tmp_path / "snapshots" / "v1" / "unreadable.jsonl")
        .read_text()
        .startswith('{"doc_id": "d/one.md", "section": "Table 1"')
    )


FIXTURE = Path(__file__).parent / "data" / "snapshot" / "v2"
# bm25s writes its vocabulary in no fixed order: these files differ from run to run
UNORDERED = {
    "lexical/data.csc.index.npy",
    "lexical/indices.csc.index.npy",
    "lexical/vocab.index.json",
}


def test_a_snapshot_written_before_the_typed_manifest_still_loads(tmp_path: Path) -> None:
    folder = shutil.copytree(FIXTURE, tmp_path / "snapshots" / "20261202T000000000000Z")
    snap = load_snapshot(folder, expect_model="f" * 64)
    m = snap.manifest
    assert m.version == snap.version == "20261202T000000000000Z"
    assert m.model == ModelInfo("hashing-8", "f" * 64, 8)
    assert m.query_model == QueryModel("models/" + "f" * 16, "e" * 64, False, 0.999999)
    assert m.chunking == {"splitter": "sentence-v3", "max_chars": 700}
    assert m.corpus == {"d/one.md": "a" * 64}
    assert m.skipped == (("notes.xyz", "unsupported file type"),)
    assert m.counts == Counts(documents=1, chunks=2, sentences=3)
    assert m.files is not None and "chunks.jsonl" in m.files and m.storage is None
    assert snap.abbreviations == DEFINED and snap.unreadable == GAPS
    assert snap.lexical.scores("gamma tissue")[1] > 0
    # read and written back, it is the same JSON, key for key and in the same order
    assert json.dumps(m.to_json(), indent=2) == (folder / "manifest.json").read_text()


def test_the_same_parts_are_written_as_before_the_typed_manifest(tmp_path: Path) -> None:
    old = load_snapshot(FIXTURE)
    new = save_snapshot(tmp_path, old.manifest, old.parts())
    files = sorted(p.relative_to(FIXTURE).as_posix() for p in FIXTURE.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(new).as_posix() for p in new.rglob("*") if p.is_file())
    for name in files:
        if name not in UNORDERED and name != "manifest.json":
            assert (new / name).read_bytes() == (FIXTURE / name).read_bytes(), name
    before = json.loads((FIXTURE / "manifest.json").read_text())
    after = json.loads((new / "manifest.json").read_text())
    for manifest in (before, after):
        manifest["files"] = {k: v for k, v in manifest["files"].items() if k not in UNORDERED}
    assert list(after) == list(before) and after == before
    assert load_snapshot(new).lexical.size == old.lexical.size


def test_a_manifest_that_is_not_one_is_refused_with_the_fix(tmp_path: Path) -> None:
    path = save(tmp_path, "v1")
    manifest = json.loads((path / "manifest.json").read_text())
    for broken in ([1, 2], {**manifest, "model": {"name": "x"}}, {**manifest, "counts": 3}):
        (path / "manifest.json").write_text(json.dumps(broken))
        with pytest.raises(SnapshotError, match="mscqa index"):
            load_snapshot(path)
    assert Manifest.read_or_none(path) is None


def test_an_older_format_is_refused_with_the_fix(tmp_path: Path) -> None:
    path = save(tmp_path, "v1")
    manifest = json.loads((path / "manifest.json").read_text())
    (path / "manifest.json").write_text(json.dumps(manifest | {"format_version": 1}))
    with pytest.raises(SnapshotError, match="mscqa index"):
        load_snapshot(path)


def test_records_are_the_dataclasses_fields_so_the_file_format_is_unchanged() -> None:
    # the explicit records replaced dataclasses.asdict (for speed); they must write the same JSON
    docs, chunks, *_ = tiny_snapshot_inputs()
    # but a document's loader hints (``chrome``): the build uses them, snapshots do not keep them
    stored = {k: v for k, v in asdict(docs[0]).items() if k != "chrome"}
    assert json.dumps(doc_record(docs[0])) == json.dumps(stored)
    for chunk in chunks:
        assert json.dumps(chunk_record(chunk)) == json.dumps(asdict(chunk))


def test_save_rejects_mismatched_lengths(tmp_path: Path) -> None:
    docs, chunks, cv, sv, owner = tiny_snapshot_inputs()
    with pytest.raises(SnapshotError):
        save_snapshot(tmp_path, built("v1"), SnapshotParts(docs, chunks, cv[:1], sv, owner))
    with pytest.raises(SnapshotError):
        save_snapshot(tmp_path, built("v1"), SnapshotParts(docs, chunks, cv, sv, owner[:2]))
    assert not (tmp_path / "snapshots").exists()  # refused before anything was written


def test_publish_switches_current_atomically(tmp_path: Path) -> None:
    save(tmp_path, "v1")
    save(tmp_path, "v2")
    publish(tmp_path, "v1")
    assert (tmp_path / "CURRENT").read_text() == "v1"
    publish(tmp_path, "v2")
    assert (tmp_path / "CURRENT").read_text() == "v2"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["CURRENT", "snapshots"]
    assert not list((tmp_path / "snapshots").glob(".tmp-*"))


def test_publish_refuses_a_missing_snapshot(tmp_path: Path) -> None:
    save(tmp_path, "v1")
    publish(tmp_path, "v1")
    with pytest.raises(SnapshotError, match="mscqa index"):
        publish(tmp_path, "v9")
    assert current_version(tmp_path) == "v1"


def test_no_current_is_no_index_error(tmp_path: Path) -> None:
    with pytest.raises(NoIndexError, match="mscqa index"):
        load_current(tmp_path)
    save(tmp_path, "v1")  # a snapshot that was never published is not served
    with pytest.raises(NoIndexError):
        load_current(tmp_path)


def _truncate_dense(path: Path) -> None:
    f = path / "dense.faiss"
    f.write_bytes(f.read_bytes()[:40])


def _edit_manifest_counts(path: Path) -> None:
    m = json.loads((path / "manifest.json").read_text())
    m["counts"]["chunks"] += 1
    (path / "manifest.json").write_text(json.dumps(m))


def _edit_manifest_hash(path: Path) -> None:
    m = json.loads((path / "manifest.json").read_text())
    m["files"]["chunks.jsonl"] = "0" * 64
    (path / "manifest.json").write_text(json.dumps(m))


def _garble_manifest(path: Path) -> None:
    (path / "manifest.json").write_text("{not json")


def _delete_chunks(path: Path) -> None:
    (path / "chunks.jsonl").unlink()


def _edit_chunks(path: Path) -> None:
    f = path / "chunks.jsonl"
    f.write_text(f.read_text().replace("Alpha", "Omega"))


def _flip_lexical_byte(path: Path) -> None:
    # Same size, still a valid .npy: only a checksum can notice.
    f = path / "lexical" / "data.csc.index.npy"
    data = bytearray(f.read_bytes())
    data[-1] ^= 0x40
    f.write_bytes(bytes(data))


def _old_format(path: Path) -> None:
    m = json.loads((path / "manifest.json").read_text())
    m["format_version"] = 0
    (path / "manifest.json").write_text(json.dumps(m))


DAMAGE = [
    _truncate_dense,
    _edit_manifest_counts,
    _edit_manifest_hash,
    _garble_manifest,
    _delete_chunks,
    _edit_chunks,
    _old_format,
]


@pytest.mark.parametrize("damage", DAMAGE, ids=lambda f: f.__name__.strip("_"))
def test_damaged_snapshot_is_a_snapshot_error_naming_the_fix(tmp_path: Path, damage) -> None:
    path = save(tmp_path, "v1")
    load_snapshot(path)  # fine before the damage
    damage(path)
    with pytest.raises(SnapshotError, match="mscqa index"):
        load_snapshot(path)


def test_silently_altered_lexical_file_is_detected(tmp_path: Path) -> None:
    # The manifest checksums documents.json, chunks.jsonl, dense.faiss and sentences.npy but not
    # the files under lexical/, so a changed BM25 matrix loads and serves wrong scores.
    path = save(tmp_path, "v1")
    _flip_lexical_byte(path)
    with pytest.raises(SnapshotError, match="mscqa index"):
        load_snapshot(path)


def test_wrong_model_is_a_snapshot_error(tmp_path: Path) -> None:
    path = save(tmp_path, "v1")
    with pytest.raises(SnapshotError, match="mscqa index"):
        load_snapshot(path, expect_model="another-model")


@pytest.mark.parametrize("damage", [_truncate_dense, _delete_chunks, _garble_manifest])
def test_load_current_falls_back_to_an_older_good_snapshot(
    tiny_settings: Settings, fake_embedder: HashingEmbedder, damage
) -> None:
    first = build_index(tiny_settings, fake_embedder).version
    (tiny_settings.corpus_dir / "extra.md").write_text("# Extra\n\nExtra text.\n", "utf-8")
    second = build_index(tiny_settings, fake_embedder).version
    index_dir = tiny_settings.index_dir
    assert current_version(index_dir) == second
    assert "extra.md" in load_current(index_dir).documents
    damage(index_dir / "snapshots" / second)
    snap = load_current(index_dir)
    assert snap.version == first
    assert "extra.md" not in snap.documents


def test_load_current_raises_when_no_snapshot_is_good(
    tiny_settings: Settings, fake_embedder
) -> None:
    version = build_index(tiny_settings, fake_embedder).version
    _delete_chunks(tiny_settings.index_dir / "snapshots" / version)
    with pytest.raises(SnapshotError, match="mscqa index"):
        load_current(tiny_settings.index_dir)


def test_prune_keeps_newest_and_removes_leftovers(tmp_path: Path) -> None:
    for v in ["v1", "v2", "v3", "v4", "v5"]:
        save(tmp_path, v)
    leftover = tmp_path / "snapshots" / ".tmp-v6"
    leftover.mkdir()
    (leftover / "chunks.jsonl").write_text("partial")
    prune(tmp_path, keep=2, protect={"v1"})
    assert list_versions(tmp_path) == ["v1", "v4", "v5"]
    assert not leftover.exists()
    prune(tmp_path, keep=1, protect=set())
    assert list_versions(tmp_path) == ["v5"]


def test_list_versions_ignores_incomplete_folders(tmp_path: Path) -> None:
    save(tmp_path, "v2")
    (tmp_path / "snapshots" / "v3").mkdir()  # no manifest: not a complete snapshot
    shutil.copytree(tmp_path / "snapshots" / "v2", tmp_path / "snapshots" / ".tmp-v4")
    assert list_versions(tmp_path) == ["v2"]


def test_publish_prunes_to_keep(tiny_settings: Settings, fake_embedder: HashingEmbedder) -> None:
    settings = tiny_settings.model_copy(update={"keep_snapshots": 2})
    versions = [build_index(settings, fake_embedder).version for _ in range(3)]
    assert list_versions(settings.index_dir) == versions[1:]
    assert current_version(settings.index_dir) == versions[-1]


def test_publish_removes_model_exports_no_kept_snapshot_uses(tmp_path: Path) -> None:
    query_model = QueryModel("models/bbbb-int8", "b" * 64, quantized=True, agreement=0.95)
    save_snapshot(tmp_path, built("v1", "a" * 64, query_model=query_model), tiny_parts())
    models = tmp_path / "models"
    for name in ("a" * 16, "bbbb-int8", "cccccccccccccccc", ".tmp-dddd"):
        (models / name).mkdir(parents=True)
        (models / name / "model.onnx").write_bytes(b"x")
    publish(tmp_path, "v1")
    # the build's export and the query model stay; an old model's export and a crashed
    # export's leftovers go
    assert sorted(p.name for p in models.iterdir()) == ["a" * 16, "bbbb-int8"]
    # an export still named by an older kept snapshot stays until that snapshot is pruned
    (models / "cccccccccccccccc").mkdir()
    save_snapshot(tmp_path, built("v2", "c" * 64), tiny_parts())
    publish(tmp_path, "v2", keep=2)
    assert sorted(p.name for p in models.iterdir()) == ["a" * 16, "bbbb-int8", "c" * 16]
    save_snapshot(tmp_path, built("v3", "c" * 64), tiny_parts())
    publish(tmp_path, "v3", keep=2)  # v1 pruned: its exports go with it
    assert sorted(p.name for p in models.iterdir()) == ["c" * 16]
