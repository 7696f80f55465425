"""Writing one index snapshot into PostgreSQL: its own schema ``mscqa_snap_<id>``, filled by
COPY and keyed in **one transaction** with its ``mscqa.snapshots`` row, so a build killed at any
point leaves nothing behind (``PgWriter`` publishes it; ``pgsnapshot`` reads it)::

    documents, chunks     the records, row ``pos`` = chunk ``pos`` everywhere
    chunk_vectors         passage vectors; HNSW (cosine) above ``hnsw_above`` rows
    sentences             sentence vectors with their owning passage
    terms, passage_terms  BM25's impact lists both ways, and its parameters (``pglexical``)
    bm25
    words                 the spelling corrector's vocabulary
    abbreviations         the abbreviations mined from the documents
    unreadable            the sections with no text body (an image or a table)
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from mscqa.errors import SnapshotError
from mscqa.index import pgcopy, pgdb, pglexical, pgrecords
from mscqa.index.dense import HNSW_ABOVE
from mscqa.index.layout import prune_models
from mscqa.index.lexical import Tokens, corpus_words
from mscqa.index.manifest import FIX, FORMAT_VERSION, Manifest, Storage
from mscqa.index.store import SnapshotParts, chunk_words, lexical_text

log = logging.getLogger(__name__)

# pgvector's HNSW with FAISS's graph settings (store.make_dense_index: M=32, efConstruction 80,
# efSearch 128), so both backends trade recall for speed alike above the same size.
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 128
BUILD_MEMORY_MB = 4096  # MSCQA_DATABASE_BUILD_MEMORY_MB's default


def hnsw_graph_kb(rows: int, dim: int) -> int:
    """maintenance_work_mem (kB) in which pgvector builds the HNSW graph of ``rows`` vectors.

    Per vector: its value (8 + 4 * dim bytes), its layer-0 neighbours (2 * M candidates of
    16 bytes), the element and the few upper-layer lists (~200 bytes); plus a tenth and 64 MB.
    Measured: with 16 MB the graph of dim 384, M 32 stopped fitting after 6069 vectors
    (2764 bytes each; this formula: 2768).
    """
    per_vector = 8 + 4 * dim + 2 * HNSW_M * 16 + 200
    return rows * per_vector * 11 // 10 // 1024 + 65536


def log_notice(diagnostic: Any) -> None:
    """A build connection's server notices, in the log: pgvector's "graph no longer fits
    into maintenance_work_mem" (the build then takes far longer) as a warning."""
    message = diagnostic.message_primary or ""
    if "no longer fits" in message:
        log.warning("PostgreSQL: %s; raise MSCQA_DATABASE_BUILD_MEMORY_MB", message)
    else:
        log.debug("PostgreSQL: %s", message)


# One snapshot's tables but the lexical ones (pglexical's); format 2 added abbreviations and
# unreadable. Created without keys, filled by COPY, then keyed (faster).
SNAPSHOT_TABLES = """
CREATE SCHEMA {s};
CREATE TABLE {s}.documents (
    ord integer NOT NULL, doc_id text NOT NULL, path text NOT NULL, title text NOT NULL,
    text text NOT NULL, sha256 text NOT NULL, format text NOT NULL, sections jsonb NOT NULL,
    pages jsonb NOT NULL, metadata jsonb NOT NULL, chunks integer NOT NULL
);
CREATE TABLE {s}.chunks (
    pos integer NOT NULL, doc integer NOT NULL, chunk_id text NOT NULL, n integer NOT NULL,
    title text NOT NULL, section text, start_char integer NOT NULL, end_char integer NOT NULL,
    text text NOT NULL, sha256 text NOT NULL, sentences integer[] NOT NULL, page integer
);
CREATE TABLE {s}.chunk_vectors (pos integer NOT NULL, embedding vector({dim}) NOT NULL);
CREATE TABLE {s}.sentences (
    pos integer NOT NULL, owner integer NOT NULL, embedding vector({dim}) NOT NULL
);
CREATE TABLE {s}.words (word text NOT NULL);
CREATE TABLE {s}.abbreviations (doc_id text NOT NULL, short text NOT NULL, long text NOT NULL);
CREATE TABLE {s}.unreadable (
    doc_id text NOT NULL, section text NOT NULL, start_char integer NOT NULL,
    end_char integer NOT NULL, context text, after text
);
"""
SNAPSHOT_KEYS = """
ALTER TABLE {s}.documents ADD PRIMARY KEY (ord), ADD UNIQUE (doc_id);
ALTER TABLE {s}.chunks ADD PRIMARY KEY (pos);
ALTER TABLE {s}.chunk_vectors ADD PRIMARY KEY (pos);
ALTER TABLE {s}.sentences ADD PRIMARY KEY (pos);
CREATE INDEX ON {s}.sentences (owner);
"""
HNSW_INDEX = (
    "CREATE INDEX ON {s}.chunk_vectors USING hnsw (embedding vector_cosine_ops) "
    f"WITH (m = {HNSW_M}, ef_construction = {HNSW_EF_CONSTRUCTION})"
)


def schema_of(snapshot_id: int) -> str:
    return f"mscqa_snap_{snapshot_id}"


def write_snapshot(
    conn: Any,
    manifest: Manifest,
    parts: SnapshotParts,
    *,
    hnsw_above: int = HNSW_ABOVE,
    tokens: Tokens | None = None,
    build_memory_mb: int = BUILD_MEMORY_MB,
) -> int:
    """Write snapshot ``manifest.version`` in one transaction; returns its id. Does not
    publish it. ``tokens`` is the store's token memo (``lexical.Tokens``); ``build_memory_mb``
    the most ``maintenance_work_mem`` its HNSW index may be given."""
    version = manifest.version
    chunks, chunk_vectors = parts.chunks, parts.chunk_vectors
    dim = int(chunk_vectors.shape[1]) if chunk_vectors.ndim == 2 else 0
    storage = Storage(dim=dim, hnsw=len(chunks) > hnsw_above, lexical=pglexical.LEXICAL)
    manifest = manifest.sealed(parts.counts(), storage=storage)
    with conn.transaction(), conn.cursor() as cur:
        # the HNSW graph is built fastest when it fits (pgvector warns and slows down if not):
        # raise this transaction's budget to the graph's size, never lower it, at most
        # ``build_memory_mb`` (MSCQA_DATABASE_BUILD_MEMORY_MB)
        current_kb = cur.execute(
            "SELECT setting::bigint FROM pg_settings WHERE name = 'maintenance_work_mem'"
        ).fetchone()[0]
        graph_kb = hnsw_graph_kb(len(chunks), dim) if storage.hnsw else 0
        if graph_kb > build_memory_mb * 1024:
            log.warning(
                "pgvector's HNSW graph of %d passages needs about %d MB, more than "
                "MSCQA_DATABASE_BUILD_MEMORY_MB=%d: the index will build far slower",
                len(chunks),
                graph_kb // 1024,
                build_memory_mb,
            )
        budget_kb = max(int(current_kb), min(graph_kb, build_memory_mb * 1024))
        cur.execute(f"SET LOCAL maintenance_work_mem = '{budget_kb}kB'")
        snapshot_id = cur.execute(
            "INSERT INTO mscqa.snapshots (version, format, manifest) VALUES (%s, %s, %s) "
            "RETURNING id",
            (version, FORMAT_VERSION, json.dumps(manifest.to_json())),
        ).fetchone()[0]
        schema = schema_of(snapshot_id)
        manifest = dataclasses.replace(
            manifest, storage=dataclasses.replace(storage, schema=schema)
        )
        from psycopg import sql

        cur.execute(pgdb.in_schema(SNAPSHOT_TABLES, schema, dim=sql.Literal(max(dim, 1))))
        pgrecords.copy_records(
            cur, schema, parts.documents, chunks, parts.abbreviations, parts.unreadable
        )
        pgcopy.copy_vectors(
            cur, pgdb.in_schema("{s}.chunk_vectors", schema), ("pos", "embedding"), chunk_vectors
        )
        pgcopy.copy_vectors(
            cur,
            pgdb.in_schema("{s}.sentences", schema),
            ("pos", "owner", "embedding"),
            parts.sentence_vectors,
            extra=np.asarray(parts.sentence_owner, dtype=np.int32),
        )
        pglexical.write(cur, schema, [lexical_text(c) for c in chunks], tokens)
        with cur.copy(pgdb.in_schema("COPY {s}.words (word) FROM STDIN", schema)) as copy:
            for word in sorted(corpus_words(chunk_words(c) for c in chunks)):
                copy.write_row((word,))
        cur.execute(pgdb.in_schema(SNAPSHOT_KEYS, schema))
        if storage.hnsw:
            cur.execute(pgdb.in_schema(HNSW_INDEX, schema))
        cur.execute(
            "UPDATE mscqa.snapshots SET manifest = %s WHERE id = %s",
            (json.dumps(manifest.to_json()), snapshot_id),
        )
    for table in ("chunks", "chunk_vectors", "sentences", *pglexical.ANALYZE):
        with contextlib.suppress(Exception):  # statistics only help the planner
            conn.execute(pgdb.in_schema("ANALYZE {s}." + table, schema))
            conn.commit()
    return int(snapshot_id)


class Store(Protocol):
    """What a build's writer needs of its store (``pgstore.PgStore``)."""

    url: str
    models_dir: Path
    tokens: Tokens
    build_memory_mb: int

    def load(self, version: str) -> Any: ...
    def list_versions(self) -> list[str]: ...
    def current_version(self) -> str | None: ...


class PgWriter:
    """A build's handle on the database, holding the writer lock on its own connection."""

    def __init__(self, store: Store, conn: Any) -> None:
        self.store = store
        self.conn = conn

    def write(self, manifest: Manifest, parts: SnapshotParts) -> None:
        with pgdb.reachable(self.store.url):
            write_snapshot(
                self.conn,
                manifest,
                parts,
                tokens=self.store.tokens,
                build_memory_mb=self.store.build_memory_mb,
            )

    def load(self, version: str) -> Any:
        return self.store.load(version)

    def publish(self, version: str, keep: int = 3) -> None:
        """Serve ``version``: one transaction moves the pointer row and notifies the servers."""
        conn = self.conn
        with pgdb.reachable(self.store.url), conn.transaction():
            row = conn.execute(
                "SELECT id FROM mscqa.snapshots WHERE version = %s", (version,)
            ).fetchone()
            if row is None:
                raise SnapshotError(f"snapshot {version} does not exist; {FIX}")
            conn.execute("UPDATE mscqa.serving SET snapshot_id = %s, changed_at = now()", (row[0],))
            conn.execute("SELECT pg_notify(%s, %s)", (pgdb.CHANNEL, version))
        self.prune(keep=keep, protect={version})

    def prune(self, keep: int, protect: set[str]) -> list[str]:
        """Drop all but the newest ``keep`` snapshots, except the served one, ``protect`` and
        any a server still leases (a later build drops those). Returns the versions dropped."""
        conn = self.conn
        dropped = []
        with pgdb.reachable(self.store.url):
            rows = conn.execute(
                "SELECT s.id, s.version, s.id = p.snapshot_id IS TRUE FROM mscqa.snapshots s"
                " CROSS JOIN mscqa.serving p ORDER BY s.version"
            ).fetchall()
            conn.commit()
            for snapshot_id, version, serving in rows[: max(0, len(rows) - keep)]:
                if serving or version in protect:
                    continue
                with conn.transaction():
                    free = conn.execute(
                        "SELECT pg_try_advisory_xact_lock(%s, %s)", (pgdb.NAMESPACE, snapshot_id)
                    ).fetchone()[0]
                    if not free:
                        log.info("Snapshot %s is still served somewhere; kept for now", version)
                        continue
                    conn.execute(
                        pgdb.in_schema("DROP SCHEMA IF EXISTS {s} CASCADE", schema_of(snapshot_id))
                    )
                    conn.execute("DELETE FROM mscqa.snapshots WHERE id = %s", (snapshot_id,))
                dropped.append(str(version))
            rows = conn.execute("SELECT version, manifest FROM mscqa.snapshots").fetchall()
            conn.commit()
        try:
            manifests = [Manifest.from_json(m, str(v)) for v, m in rows]
        except SnapshotError:
            return dropped  # cannot tell which exports are in use: keep them all
        prune_models(self.store.models_dir, manifests)
        return dropped

    def rollback(self, keep: int) -> str:
        versions = self.store.list_versions()
        current = self.store.current_version()
        older = [v for v in versions if current is None or v < current]
        if not older:
            raise SnapshotError(
                "There is no earlier index snapshot to roll back to "
                f"(kept: {', '.join(versions) or 'none'})."
            )
        self.publish(older[-1], keep=max(keep, len(versions)))
        return older[-1]
