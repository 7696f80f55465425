"""The PostgreSQL store on a real server: migrations, records, BM25 from the impact lists equal
to bm25s, pgvector dense search against FAISS, leases and pruning."""

from __future__ import annotations

import dataclasses
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import CORPUS
from mscqa.errors import BuildInProgress, MscqaError, NoIndexError, SnapshotError
from mscqa.index import (
    Counts,
    SnapshotParts,
    lexical_text,
    load_snapshot,
    make_dense_index,
    pgdb,
    save_snapshot,
)
from mscqa.index.impacts import top_k
from mscqa.index.lexical import LexicalIndex, tokenize
from mscqa.index.pgstore import PgStore, schema_of
from mscqa.ingest.chunker import Chunker
from mscqa.ingest.loaders import load_corpus
from mscqa.types import Definition, Unreadable
from test_store import DEFINED, GAPS, built, tiny_snapshot_inputs


@pytest.fixture
def store(pg_url: str, tmp_path: Path):
    store = PgStore(pg_url, tmp_path / "models")
    yield store
    store.close()


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def write(store: PgStore, version: str, *, publish: bool = True, keep: int = 3, **parts) -> None:
    docs, chunks, cv, sv, owner = tiny_snapshot_inputs()
    args = {"docs": docs, "chunks": chunks, "cv": cv, "sv": sv, "owner": owner, **parts}
    with store.writer() as writer:
        writer.write(
            built(version),
            SnapshotParts(args["docs"], args["chunks"], args["cv"], args["sv"], args["owner"]),
        )
        if publish:
            writer.publish(version, keep=keep)


# -- migrations -------------------------------------------------------------------------------


def test_migrations_apply_once_in_order_and_readers_never_migrate(pg_url: str) -> None:
    conn = pgdb.connect(pg_url)
    try:
        with pytest.raises(NoIndexError, match="mscqa index"):
            pgdb.check_schema(conn)  # a reader refuses an unmigrated database
        conn.rollback()
        assert pgdb.migrate(conn) == [number for number, *_ in pgdb.MIGRATIONS]
        assert pgdb.migrate(conn) == []
        assert pgdb.schema_version(conn) == pgdb.LATEST
        pgdb.check_schema(conn)
        rows = conn.execute("SELECT version, name FROM mscqa.schema_version ORDER BY 1").fetchall()
        assert [r[0] for r in rows] == [n for n, *_ in pgdb.MIGRATIONS]
        conn.commit()
    finally:
        conn.close()


def test_a_database_newer_than_the_code_is_refused(pg_url: str) -> None:
    conn = pgdb.connect(pg_url)
    try:
        pgdb.migrate(conn)
        conn.execute(
            "INSERT INTO mscqa.schema_version (version, name) VALUES (%s, 'future')",
            (pgdb.LATEST + 1,),
        )
        conn.commit()
        with pytest.raises(MscqaError, match="upgrade mscqa"):
            pgdb.migrate(conn)
        conn.rollback()
        with pytest.raises(MscqaError, match="upgrade mscqa"):
            pgdb.check_schema(conn)
    finally:
        conn.close()


def test_a_failed_migration_leaves_nothing_half_done(pg_url: str, monkeypatch) -> None:
    broken = [*pgdb.MIGRATIONS, (pgdb.LATEST + 1, "broken", "CREATE TABLE mscqa.x (); SELECT 1/0")]
    monkeypatch.setattr(pgdb, "MIGRATIONS", broken)
    monkeypatch.setattr(pgdb, "LATEST", pgdb.LATEST + 1)
    conn = pgdb.connect(pg_url)
    try:
        with pytest.raises(Exception, match="division by zero"):
            pgdb.migrate(conn)
        conn.rollback()
        assert pgdb.schema_version(conn) == 0  # migration 1 rolled back with the broken one
        assert conn.execute("SELECT to_regclass('mscqa.snapshots')").fetchone()[0] is None
    finally:
        conn.close()


# -- snapshots ----------------------------------------------------------------------------------


def test_round_trip_of_records_and_vectors(store: PgStore) -> None:
    docs, chunks, cv, sv, _ = tiny_snapshot_inputs()
    write(store, "v1")
    snap = store.load_current()
    assert snap.version == "v1" == store.current_version()
    assert snap.manifest.counts == Counts(documents=1, chunks=2, sentences=3)
    assert snap.manifest.files is None and snap.manifest.storage is not None
    assert snap.manifest.storage.schema == snap.schema
    # the row holds the JSON the manifest writes: every key, and the store's own
    with store.pool.connection() as conn:
        (row,) = conn.execute("SELECT manifest FROM mscqa.snapshots").fetchone()
    assert row == snap.manifest.to_json()
    assert set(row) == {
        *("created_at", "model", "chunking", "corpus", "skipped"),
        *("format_version", "version", "counts", "storage"),
    }
    assert row["storage"] == {"dim": 8, "hnsw": False, "lexical": "impacts", "schema": snap.schema}
    assert list(snap.chunks) == chunks
    assert dict(snap.documents) == {"d/one.md": docs[0]}
    assert snap.chunk_counts() == {"d/one.md": 2}
    vectors = snap.sentence_vectors([0, 1])
    np.testing.assert_allclose(np.vstack(vectors), sv, rtol=1e-6)
    assert [len(v) for v in vectors] == [2, 1]
    rows, scores = snap.dense_candidates(cv[1], 2)
    assert rows.tolist() == [1, 0]
    assert scores[0] == pytest.approx(1.0, abs=1e-6)
    lex_rows, lex = snap.lexical_scores("gamma tissue", 10)
    assert lex_rows.tolist() == [1] and lex[0] > 0
    assert snap.lexical_scores("nothing matches", 10)[0].tolist() == []


def test_abbreviations_and_unreadable_parts_round_trip(store: PgStore) -> None:
    defined = [Definition("d/one.md", "GVHD", "graft-versus-host disease")]
    gaps = [Unreadable("d/one.md", "Table 1", 40, 41, "S", "d/one.md#0")]
    docs, chunks, cv, sv, owner = tiny_snapshot_inputs()
    with store.writer() as writer:
        parts = SnapshotParts(docs, chunks, cv, sv, owner, defined, gaps)
        writer.write(built("v1"), parts)
        writer.publish("v1", keep=3)
    snap = store.load_current()
    assert snap.abbreviations == defined
    assert snap.unreadable == gaps


def test_a_written_snapshot_is_served_only_once_published(store: PgStore) -> None:
    write(store, "v1", publish=False)
    assert store.list_versions() == ["v1"]
    assert store.current_version() is None
    with pytest.raises(NoIndexError, match="mscqa index"):
        store.load_current()


def test_publish_refuses_a_missing_snapshot(store: PgStore) -> None:
    write(store, "v1")
    with store.writer() as writer, pytest.raises(SnapshotError, match="mscqa index"):
        writer.publish("v9")
    assert store.current_version() == "v1"


def test_mismatched_inputs_are_refused_and_leave_nothing(store: PgStore) -> None:
    _, _, cv, _, owner = tiny_snapshot_inputs()
    with pytest.raises(SnapshotError):
        write(store, "v1", cv=cv[:1])
    with pytest.raises(SnapshotError):
        write(store, "v1", owner=owner[:2])
    assert store.list_versions() == []


def test_a_snapshot_with_a_missing_table_is_refused(store: PgStore) -> None:
    write(store, "v1")
    with store.pool.connection() as conn:
        conn.execute(f"DROP TABLE {schema_of(1)}.words")
    with pytest.raises(SnapshotError, match="mscqa index"):
        store.load_current()


def test_a_damaged_served_snapshot_falls_back_to_the_newest_good_one(store: PgStore) -> None:
    for version in ("v1", "v2", "v3"):
        write(store, version)
    with store.pool.connection() as conn:
        conn.execute(f"DROP TABLE {schema_of(3)}.chunks")  # v3, the served one
        conn.execute(f"DROP TABLE {schema_of(2)}.terms")
    assert store.current_version() == "v3"
    assert store.load_current().version == "v1"
    with store.pool.connection() as conn:
        conn.execute(f"DROP TABLE {schema_of(1)}.words")
    with pytest.raises(SnapshotError, match="mscqa index"):
        store.load_current()


def test_a_snapshot_whose_counts_disagree_is_refused(store: PgStore) -> None:
    write(store, "v1")
    with store.pool.connection() as conn:
        conn.execute(f"DELETE FROM {schema_of(1)}.sentences WHERE pos = 2")
    with pytest.raises(SnapshotError, match="inconsistent"):
        store.load_current()


def test_one_writer_at_a_time(store: PgStore) -> None:
    with store.writer(), pytest.raises(BuildInProgress, match="writer lock"), store.writer():
        pass
    with store.writer():  # released when the first build ended
        pass


def test_prune_keeps_the_newest_the_served_and_the_leased(store: PgStore) -> None:
    write(store, "v1")
    leased = store.load_current()  # this process serves v1 and holds its lease
    for version in ("v2", "v3", "v4"):
        write(store, version, keep=2)
    assert store.list_versions() == ["v1", "v3", "v4"]  # v2 pruned, v1 still leased
    assert leased.chunks_at([0])[0].text.startswith("Alpha")  # still answers
    store.retire(leased, grace=0)
    write(store, "v5", keep=2)
    assert store.list_versions() == ["v4", "v5"]
    with store.pool.connection() as conn:
        schemas = conn.execute(
            "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'mscqa_snap_%' ORDER BY 1"
        ).fetchall()
    assert [s for (s,) in schemas] == sorted(schema_of(i) for i in (4, 5))


def test_a_lease_held_by_another_process_blocks_pruning(store: PgStore, pg_url: str) -> None:
    write(store, "v1")
    other = PgStore(pg_url, store.models_dir)
    try:
        other.load_current()
        for version in ("v2", "v3"):
            write(store, version, keep=1)
        assert store.list_versions() == ["v1", "v3"]
    finally:
        other.close()  # its connection ends: the lease goes with it
    write(store, "v4", keep=1)
    assert store.list_versions() == ["v4"]


def test_wait_for_change_returns_on_notify(store: PgStore, pg_url: str) -> None:
    write(store, "v1")
    stop = threading.Event()
    other = PgStore(pg_url, store.models_dir)
    try:
        other.wait_for_change(0.1, stop)  # starts listening
        timer = threading.Timer(0.3, lambda: write(store, "v2"))
        timer.start()
        started = time.monotonic()
        other.wait_for_change(20.0, stop)
        assert time.monotonic() - started < 10
        timer.join()
        assert other.current_version() == "v2"
    finally:
        other.close()


# -- search equals the in-memory backend --------------------------------------------------------


@pytest.fixture(scope="module")
def article_chunks():
    documents = load_corpus(CORPUS).documents
    return documents, Chunker(700).chunk_all(documents)


def test_bm25_from_the_database_equals_bm25s(store: PgStore, article_chunks) -> None:
    documents, chunks = article_chunks
    texts = [lexical_text(c) for c in chunks]
    rng = np.random.default_rng(0)
    cv = unit(rng.normal(size=(len(chunks), 8)))
    with store.writer() as writer:
        no_sentences = (np.zeros((0, 8), np.float32), np.zeros(0))
        writer.write(built("v1"), SnapshotParts(documents, chunks, cv, *no_sentences))
        writer.publish("v1")
    snap = store.load_current()
    reference = LexicalIndex.build(texts)
    queries = [
        "How are adipose mesenchymal stem cells collected?",
        "Which MSC products are approved in Japan, Korea and India?",
        "graft versus host disease graft versus host",  # repeated tokens count twice
        "bone marrow bone marrow bone marrow",
        "umbilical cord Wharton jelly",
        "zzzz unknownword",
        *[c.text[:120] for c in chunks[::7]],
    ]
    compared = 0
    for query in queries:
        expected = reference.scores(query)
        rows, scores = snap.lexical_scores(query, len(chunks))
        got = np.zeros(len(chunks), dtype=np.float32)
        got[rows] = scores
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
        if expected.max() > 0:
            # the same order, ties broken by row as a stable sort of bm25s's scores does
            order = np.argsort(-expected, kind="stable")[: len(rows)]
            top = np.flatnonzero(expected > 0)
            assert set(rows.tolist()) == set(top.tolist())
            assert np.allclose(expected[rows], expected[order], rtol=1e-5)
            compared += 1
        assert tokenize(query) or not len(rows)
    assert compared >= len(queries) - 1


def test_bm25s_top_k_from_a_prefix_of_the_impact_lists(store: PgStore, article_chunks) -> None:
    """A small ``limit`` reads only the lists' prefixes (impacts.top_k) and still returns
    bm25s's best passages, in its stable order, with its float32 scores bit for bit, and the
    exact scores of the rows asked for (the dense candidates)."""
    documents, chunks = article_chunks
    reference = LexicalIndex.build([lexical_text(c) for c in chunks])
    cv = unit(np.random.default_rng(0).normal(size=(len(chunks), 8)))
    with store.writer() as writer:
        no_sentences = (np.zeros((0, 8), np.float32), np.zeros(0))
        writer.write(built("v1"), SnapshotParts(documents, chunks, cv, *no_sentences))
        writer.publish("v1")
    snap = store.load_current()
    asked = [3, 0, len(chunks) - 1, len(chunks) // 2]
    for query in [
        "How are adipose mesenchymal stem cells collected?",
        "cells cells stem therapy",  # common tokens, repeated
        "Which MSC products are approved in Japan?",
        *[c.text[:80] for c in chunks[::11]],
    ]:
        expected = reference.scores(query)
        order = np.argsort(-expected, kind="stable")
        want = order[expected[order] > 0][:5]
        ids = [snap._term_ids[t] for t in tokenize(query) if t in snap._term_ids]
        for rows, scores in [
            snap.lexical_scores(query, 5, rows=asked),
            # one entry per list and round: prefixes read from the middle of the lists
            top_k(ids, snap._df, 5, snap._postings, asked, depth=1),
        ]:
            assert rows[: len(want)].tolist() == want.tolist(), query
            np.testing.assert_array_equal(scores[: len(want)], expected[want])
            got = dict(zip(rows.tolist(), scores.tolist(), strict=True))
            assert all(got[r] == expected[r] for r in asked), query


def test_a_snapshot_without_impact_lists_asks_for_a_rebuild(store: PgStore) -> None:
    write(store, "v1")
    conn = pgdb.connect(store.url, autocommit=True)
    try:
        conn.execute("UPDATE mscqa.snapshots SET manifest = manifest #- '{storage,lexical}'")
    finally:
        conn.close()
    with pytest.raises(SnapshotError, match=r"older mscqa.*mscqa index"):
        store.load("v1")


def test_dense_search_matches_faiss_exactly_below_the_hnsw_size(store: PgStore) -> None:
    docs, chunks, *_ = tiny_snapshot_inputs()
    rng = np.random.default_rng(1)
    n = 300
    many = [chunks[0]] * n
    cv = unit(rng.normal(size=(n, 16)))
    with store.writer() as writer:
        no_sentences = (np.zeros((0, 16), np.float32), np.zeros(0))
        writer.write(built("v1"), SnapshotParts(docs, many, cv, *no_sentences))
        writer.publish("v1")
    snap = store.load_current()
    faiss_index = make_dense_index(cv)
    for q in unit(rng.normal(size=(20, 16))):
        rows, scores = snap.dense_candidates(q, 10)
        exact_scores, exact_rows = faiss_index.search(q.reshape(1, -1), 10)
        assert rows.tolist() == exact_rows[0].tolist()
        np.testing.assert_allclose(scores, exact_scores[0], atol=1e-5)


def test_hnsw_above_the_threshold_finds_the_neighbours(store: PgStore) -> None:
    from mscqa.index import pgstore

    docs, chunks, *_ = tiny_snapshot_inputs()
    rng = np.random.default_rng(2)
    n = 2000
    cv = unit(rng.normal(size=(n, 16)))
    with store.writer() as writer:
        no_sentences = (np.zeros((0, 16), np.float32), np.zeros(0))
        pgstore.write_snapshot(
            writer.conn,
            built("v1"),
            SnapshotParts(docs, [chunks[0]] * n, cv, *no_sentences),
            hnsw_above=1000,
        )
        writer.publish("v1")
    snap = store.load_current()
    assert snap.manifest.storage is not None and snap.manifest.storage.hnsw is True
    with store.pool.connection() as conn, conn.transaction():
        conn.execute("SET LOCAL enable_seqscan = off")  # as the snapshot's dense query does
        plan = conn.execute(
            f"EXPLAIN SELECT pos FROM {snap.schema}.chunk_vectors "
            "ORDER BY embedding <=> %s LIMIT 10",
            (cv[0],),
        ).fetchall()
    assert "chunk_vectors_embedding_idx" in " ".join(r[0] for r in plan)
    recall = []
    for q in unit(rng.normal(size=(30, 16))):
        rows, _ = snap.dense_candidates(q, 10)
        exact = np.argsort(-(cv @ q))[:10]
        recall.append(len(set(rows.tolist()) & set(exact.tolist())) / 10)
    assert np.mean(recall) >= 0.95


def test_without_listen_a_server_still_learns_of_a_new_snapshot_by_polling(
    store: PgStore, pg_url: str
) -> None:
    write(store, "v1")
    other = PgStore(pg_url, store.models_dir)
    try:
        other._listen_retry = float("inf")  # as on a standby, where LISTEN is refused
        write(store, "v2")
        started = time.monotonic()
        other.wait_for_change(0.3, threading.Event())  # returns after the poll interval
        assert 0.25 < time.monotonic() - started < 5
        assert other.current_version() == "v2"
    finally:
        other.close()


def test_a_folder_snapshot_copied_into_the_database_is_the_same_snapshot(
    store: PgStore, tmp_path: Path
) -> None:
    """What bench.common.copy_to_database does: a folder snapshot's manifest and parts
    (``Snapshot.parts``) written through the database's writer."""
    folder = save_snapshot(
        tmp_path / "folder", built("v1"), SnapshotParts(*tiny_snapshot_inputs(), DEFINED, GAPS)
    )
    source = load_snapshot(folder)
    with store.writer() as writer:
        writer.write(source.manifest, source.parts())
        writer.publish(source.version, keep=3)
    copy = store.load_current()
    assert copy.version == source.version and list(copy.chunks) == source.chunks
    assert dict(copy.documents) == source.documents
    assert copy.abbreviations == DEFINED and copy.unreadable == GAPS
    # the same manifest, but where the database keeps it instead of the folder's file digests
    assert copy.manifest.files is None and copy.manifest.storage is not None
    assert dataclasses.replace(copy.manifest, storage=None) == dataclasses.replace(
        source.manifest, files=None
    )
    np.testing.assert_allclose(
        np.vstack(copy.sentence_vectors(range(len(source.chunks)))), source.sentences.vectors
    )


def test_the_hnsw_budget_holds_pgvectors_graph_as_measured() -> None:
    from mscqa.index.pgwrite import BUILD_MEMORY_MB, hnsw_graph_kb

    # measured on pgvector 0.8: with maintenance_work_mem = 16MB the graph of 384-dimensional
    # vectors (M 32) stopped fitting after 6069 of them, 2764 bytes each
    assert hnsw_graph_kb(6069, 384) - 65536 >= 16 * 1024
    # the 1M-passage benchmark corpus: more than the old 2 GB cap, within the default
    assert 2 * 1024 * 1024 < hnsw_graph_kb(971_907, 384) < BUILD_MEMORY_MB * 1024


def test_the_build_gives_the_hnsw_graph_the_memory_it_needs(
    store: PgStore, pg_url: str, caplog
) -> None:
    """pgvector builds far slower once its graph outgrows maintenance_work_mem: the build's
    transaction raises it to the graph's size (here above a server default of 1 MB), and the
    log says so when MSCQA_DATABASE_BUILD_MEMORY_MB holds it below (pgvector's notice too)."""
    import logging

    from mscqa.index import pgstore
    from mscqa.index.pgwrite import BUILD_MEMORY_MB

    conn = pgdb.connect(pg_url, autocommit=True)
    try:
        name = conn.execute("SELECT current_database()").fetchone()[0]
        conn.execute(f"ALTER DATABASE \"{name}\" SET maintenance_work_mem = '1MB'")
    finally:
        conn.close()
    docs, chunks, *_ = tiny_snapshot_inputs()
    n = 2000  # ~1.2 kB each in pgvector's graph at dimension 16: more than 1 MB holds
    cv = unit(np.random.default_rng(3).normal(size=(n, 16)))
    parts = SnapshotParts(docs, [chunks[0]] * n, cv, np.zeros((0, 16), np.float32), np.zeros(0))

    def build(version: str, memory_mb: int) -> list[str]:
        caplog.clear()
        with caplog.at_level(logging.DEBUG, logger="mscqa.index.pgwrite"), store.writer() as w:
            pgstore.write_snapshot(
                w.conn, built(version), parts, hnsw_above=1000, build_memory_mb=memory_mb
            )
        return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]

    assert build("v1", BUILD_MEMORY_MB) == []
    warned = build("v2", 1)
    assert any("needs about" in m and "MSCQA_DATABASE_BUILD_MEMORY_MB=1" in m for m in warned)
    assert any("no longer fits" in m and "MSCQA_DATABASE_BUILD_MEMORY_MB" in m for m in warned)
