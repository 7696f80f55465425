"""Building, incremental re-embedding, locking and rollback of the index."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pytest

from conftest import IndexView
from mscqa.config import Settings
from mscqa.embedding.hashing import HashingEmbedder
from mscqa.errors import BuildInProgress, CorpusError, SnapshotError
from mscqa.index import dense_text, sentence_text
from mscqa.indexing import BuildCache, build_index, rollback
from mscqa.ingest.chunker import Chunker
from mscqa.ingest.loaders import load_file

pytestmark = pytest.mark.both_backends


class RecordingEmbedder(HashingEmbedder):
    """The fake embedder, remembering every text it was asked to embed."""

    def __init__(self, dim: int = 256) -> None:
        super().__init__(dim)
        self.seen: list[str] = []

    def embedded(self, index: IndexView) -> list[str]:
        """Texts embedded for the index, i.e. without the build's one canary query."""
        canary = index.load().chunks[0].text[:300]
        seen = list(self.seen)
        seen.remove(canary)
        return seen

    def encode(
        self,
        texts: Sequence[str],
        *,
        batch_size: int = 64,
        progress: Callable[[int], None] | None = None,
    ) -> np.ndarray:
        self.seen.extend(texts)
        return super().encode(texts, batch_size=batch_size, progress=progress)


def corpus_hashes(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def texts_of(settings: Settings, rel: str) -> set[str]:
    """Every text the build embeds for one corpus file: chunk texts and sentence texts."""
    doc = load_file(settings.corpus_dir / rel, Path(rel))
    chunks = Chunker(settings.chunk_chars).chunk(doc)
    return {dense_text(c) for c in chunks} | {
        sentence_text(c, doc.text[s:e]) for c in chunks for s, e in c.sentences
    }


def test_build_report_counts(
    index: IndexView, tiny_settings: Settings, fake_embedder: HashingEmbedder
) -> None:
    progress: list[tuple[str, int, int]] = []
    report = build_index(tiny_settings, fake_embedder, lambda *a: progress.append(a))
    snap = index.load()
    assert report.version == snap.version == index.current()
    assert report.documents == 3 == len(snap.documents)
    assert report.chunks == len(snap.chunks) > 0
    assert report.sentences == snap.sentence_count == sum(len(c.sentences) for c in snap.chunks)
    # a first build embeds every distinct text once; it reuses only texts it has already
    # embedded itself (a one-sentence passage without a heading is also its sentence)
    distinct = set().union(*(texts_of(tiny_settings, d) for d in snap.documents))
    assert report.embedded == len(distinct) > 0
    assert report.reused == report.chunks + report.sentences - len(distinct)
    assert report.skipped == []
    assert {s for s, *_ in progress} == {"load", "embed", "write"}
    embed = [(d, t) for s, d, t in progress if s == "embed"]
    assert embed[-1][0] == embed[-1][1] == report.chunks + report.sentences
    assert snap.manifest.model.sha256 == fake_embedder.fingerprint()


def test_build_reports_skipped_files(
    index: IndexView, tiny_settings: Settings, fake_embedder
) -> None:
    (tiny_settings.corpus_dir / "notes.xyz").write_text("x", "utf-8")
    report = build_index(tiny_settings, fake_embedder)
    assert [s.file for s in report.skipped] == ["notes.xyz"]
    assert report.documents == 3
    manifest = index.load().manifest
    assert manifest.skipped[0][0] == "notes.xyz"


def test_rebuild_without_changes_embeds_nothing(index: IndexView, tiny_settings: Settings) -> None:
    first = build_index(tiny_settings, RecordingEmbedder())
    embedder = RecordingEmbedder()
    second = build_index(tiny_settings, embedder)
    assert second.embedded == 0
    assert embedder.embedded(index) == []
    assert second.reused == first.chunks + first.sentences > 0
    assert second.version != first.version
    assert index.current() == second.version


def test_a_build_cache_carries_unchanged_documents_to_the_next_build(
    tiny_settings: Settings, fake_embedder: HashingEmbedder
) -> None:
    cache = BuildCache()
    build_index(tiny_settings, fake_embedder, cache=cache)
    first = cache.chunks.kept
    mined = cache.abbreviations.kept
    tokens = cache.tokens.kept
    assert first and len(first) == len(mined)  # one entry a document
    assert tokens  # the passages' BM25 tokens, from writing and checking the snapshot
    (tiny_settings.corpus_dir / "added.md").write_text("# Added\n\nCord blood banking (CBB).\n")
    build_index(tiny_settings, fake_embedder, cache=cache)
    now = cache.chunks.kept
    assert len(now) == len(first) + 1
    assert all(now[key] is value for key, value in first.items())  # not chunked again
    assert all(cache.abbreviations.kept[doc] is found for doc, found in mined.items())
    kept_tokens = cache.tokens.kept
    assert len(kept_tokens) > len(tokens)  # the added document's passages
    assert all(kept_tokens[text] is t for text, t in tokens.items())  # not tokenised again
    # without a cache nothing is kept between builds: a new one starts empty
    assert BuildCache().chunks.kept == {}
    assert BuildCache().tokens.kept == {}


def test_editing_one_file_reembeds_only_its_texts(
    index: IndexView, tiny_settings: Settings
) -> None:
    build_index(tiny_settings, RecordingEmbedder())
    old = "Umbilical cord stem cells come from allogeneic cord tissue."
    path = tiny_settings.corpus_dir / "nested" / "cord.md"
    path.write_text(
        "# Umbilical cord\n\nWharton jelly yields many cells. China uses them more often.\n",
        "utf-8",
    )
    embedder = RecordingEmbedder()
    report = build_index(tiny_settings, embedder)
    new_texts = texts_of(tiny_settings, "nested/cord.md")
    seen = embedder.embedded(index)
    assert seen, "the edited file was not re-embedded"
    assert set(seen) <= new_texts
    assert report.embedded == len(seen)
    assert report.reused > 0
    # an unchanged sentence of the edited file is reused from the cache
    assert "Umbilical cord: China uses them more often." not in seen
    assert "Umbilical cord: Wharton jelly yields many cells." in seen
    snap = index.load()
    assert not any(old in c.text for c in snap.chunks)
    assert "Wharton jelly" in snap.documents["nested/cord.md"].text
    assert any("Wharton jelly" in c.text for c in snap.chunks)


def test_deleting_a_file_removes_its_document(
    index: IndexView, tiny_settings: Settings, fake_embedder
) -> None:
    build_index(tiny_settings, fake_embedder)
    (tiny_settings.corpus_dir / "marrow.txt").unlink()
    report = build_index(tiny_settings, fake_embedder)
    snap = index.load()
    assert report.documents == 2
    assert set(snap.documents) == {"adipose.md", "nested/cord.md"}
    assert all(c.doc_id != "marrow.txt" for c in snap.chunks)
    assert not any("Prochymal" in c.text for c in snap.chunks)
    assert snap.lexical_scores("Prochymal hematopoiesis", 10)[1].max(initial=0.0) == 0.0


def test_builds_never_modify_the_corpus(
    index: IndexView, tiny_settings: Settings, fake_embedder
) -> None:
    (tiny_settings.corpus_dir / "crlf.md").write_bytes(b"# T\r\n\r\nSome\x00 text.\r\n")
    (tiny_settings.corpus_dir / "junk.xyz").write_bytes(b"\xff\x00")
    before = corpus_hashes(tiny_settings.corpus_dir)
    build_index(tiny_settings, fake_embedder)
    build_index(tiny_settings, fake_embedder)
    assert corpus_hashes(tiny_settings.corpus_dir) == before
    snap = index.load()
    assert snap.manifest.corpus == {k: v for k, v in before.items() if k != "junk.xyz"}


def test_empty_corpus_is_a_corpus_error(
    tmp_path: Path, fake_embedder, database_url: str | None
) -> None:
    corpus = tmp_path / "empty"
    corpus.mkdir()
    settings = Settings(
        corpus_dir=corpus,
        index_dir=tmp_path / "index",
        database_url=database_url,
        _env_file=None,
    )
    with pytest.raises(CorpusError, match="empty"):
        build_index(settings, fake_embedder)
    (corpus / "bad.xyz").write_text("x", "utf-8")
    with pytest.raises(CorpusError, match=r"bad\.xyz"):
        build_index(settings, fake_embedder)
    view = IndexView(settings)
    assert view.current() is None
    view.close()


def test_missing_corpus_is_a_corpus_error(tmp_path: Path, fake_embedder) -> None:
    settings = Settings(corpus_dir=tmp_path / "no", index_dir=tmp_path / "index", _env_file=None)
    with pytest.raises(CorpusError):
        build_index(settings, fake_embedder)


def test_writer_lock_held_elsewhere_is_build_in_progress(
    index: IndexView, tiny_settings: Settings, fake_embedder: HashingEmbedder
) -> None:
    with index.store.writer():
        with pytest.raises(BuildInProgress, match=r"writer\.lock|writer lock"):
            build_index(tiny_settings, fake_embedder)
        with pytest.raises(BuildInProgress), index.store.writer():
            pass
    assert index.current() is None
    # released on exit: the next build goes ahead
    assert build_index(tiny_settings, fake_embedder).documents == 3


def test_rollback_returns_to_the_previous_version(
    index: IndexView, tiny_settings: Settings, fake_embedder
) -> None:
    first = build_index(tiny_settings, fake_embedder).version
    (tiny_settings.corpus_dir / "adipose.md").unlink()
    second = build_index(tiny_settings, fake_embedder).version
    assert rollback(tiny_settings) == first
    assert index.current() == first
    snap = index.load()
    assert snap.version == first
    assert "adipose.md" in snap.documents
    assert index.versions() == [first, second]  # nothing deleted
    with pytest.raises(SnapshotError, match="no earlier"):
        rollback(tiny_settings)


def test_rollback_without_an_earlier_snapshot(
    index: IndexView, tiny_settings: Settings, fake_embedder
) -> None:
    with pytest.raises(SnapshotError):
        rollback(tiny_settings)
    version = build_index(tiny_settings, fake_embedder).version
    with pytest.raises(SnapshotError, match="no earlier"):
        rollback(tiny_settings)
    assert index.current() == version


def test_rollback_respects_the_writer_lock(
    index: IndexView, tiny_settings: Settings, fake_embedder
) -> None:
    build_index(tiny_settings, fake_embedder)
    build_index(tiny_settings, fake_embedder)
    current = index.current()
    with index.store.writer(), pytest.raises(BuildInProgress):
        rollback(tiny_settings)
    assert index.current() == current


def test_the_embedding_cache_returns_each_texts_vector_and_keeps_one_copy(
    tmp_path: Path, fake_embedder: HashingEmbedder
) -> None:
    from mscqa.embedding.cache import EmbeddingCache

    def expected(texts: list[str]) -> np.ndarray:
        return np.vstack([fake_embedder.encode([t]) for t in texts])

    cache = EmbeddingCache(tmp_path, "f" * 64)
    first = ["stem cells", "bone marrow", "stem cells", "cord blood"]  # a text twice
    got = cache.embed(fake_embedder, first)
    np.testing.assert_array_equal(got, expected(first))
    assert (cache.computed, cache.reused) == (3, 1)
    # the cache holds views of the rows it returned, not copies of them
    assert all(np.shares_memory(v, got) for v in cache._vectors.values())
    second = ["cord blood", "adipose tissue", "adipose tissue"]
    np.testing.assert_array_equal(cache.embed(fake_embedder, second), expected(second))
    assert (cache.computed, cache.reused) == (4, 3)
    cache.save()  # every text asked for, streamed into the file
    again = EmbeddingCache(tmp_path, "f" * 64)
    everything = sorted(set(first + second))
    np.testing.assert_array_equal(again.embed(fake_embedder, everything), expected(everything))
    assert (again.computed, again.reused) == (0, 4)
    saved = np.load(next(tmp_path.glob("*/vectors.npy")))
    assert saved.dtype == np.float32 and saved.shape == (4, fake_embedder.dim)
    # only what a build asked for is kept: a text dropped from the corpus leaves the cache
    again.save()
    smaller = EmbeddingCache(tmp_path, "f" * 64)
    smaller.embed(fake_embedder, ["stem cells"])
    smaller.save()
    assert len(EmbeddingCache(tmp_path, "f" * 64)._vectors) == 1
