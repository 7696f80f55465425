"""Index snapshots in PostgreSQL + pgvector: the shared index several servers read.

The same semantics as the folder snapshots (``store.py``), in database terms::

    mscqa.snapshots           one row per complete snapshot (version, format, manifest)
    mscqa.serving             the pointer row: which snapshot is served
    mscqa.embeddings          the embedding cache, keyed by model fingerprint and text hash
    mscqa_snap_<id>.*         one schema per snapshot (the folder's counterpart):
        documents, chunks     the records, row ``pos`` = chunk ``pos`` everywhere
        chunk_vectors         passage vectors; HNSW (cosine) above ``hnsw_above`` rows
        sentences             sentence vectors with their owning passage
        terms, postings, bm25 BM25's term statistics (df, tf, lengths, N, avgdl, k1, b)
        words                 the spelling corrector's vocabulary

A build writes a whole snapshot, schema and ``snapshots`` row, in **one transaction**: a build
killed at any point leaves nothing behind. Publishing is one more transaction that moves the
pointer row and sends ``NOTIFY mscqa_index``. A server holds a shared advisory lock (a lease)
on each snapshot it serves; pruning drops only snapshots nobody leases, so a request always
finishes on the snapshot it started with.

Search happens in the database: nearest passages by ``<=>`` (HNSW), each candidate's best
sentence, and BM25 computed in SQL from the term statistics, with the tokenizer, stemmer and
formula of bm25s (``lexical.py``), so scores equal bm25s's.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Hashable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Generic, TypeVar

import numpy as np

from mscqa.errors import DatabaseUnavailable, NoIndexError, SnapshotError
from mscqa.index import pgdb
from mscqa.index.dense import HNSW_ABOVE
from mscqa.index.layout import prune_models
from mscqa.index.lexical import BM25_B, BM25_K1, EMPTY_TOKEN, corpus_words, tokenize, tokenize_all
from mscqa.index.manifest import FIX, FORMAT_VERSION
from mscqa.index.store import TermStats, chunk_words, lexical_text
from mscqa.types import Chunk, Definition, Document, Page, Section, Unreadable

log = logging.getLogger(__name__)

# pgvector's HNSW with FAISS's graph settings (store.make_dense_index: M=32, efConstruction 80,
# efSearch 128), so both backends trade recall for speed alike above the same size.
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 128
LEASE_GRACE = 10.0  # seconds a replaced snapshot stays leased for requests still on it
LISTEN_RETRY = 5.0  # seconds of polling before LISTEN is tried again after it failed

# One snapshot's tables (format 2 added abbreviations and unreadable). Created without keys,
# filled by COPY, then keyed (faster).
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
CREATE TABLE {s}.terms (id integer NOT NULL, term text NOT NULL, df integer NOT NULL);
CREATE TABLE {s}.postings (
    term integer NOT NULL, pos integer NOT NULL, tf integer NOT NULL, length integer NOT NULL
);
CREATE TABLE {s}.bm25 (
    documents integer NOT NULL, avgdl double precision NOT NULL,
    k1 double precision NOT NULL, b double precision NOT NULL
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
ALTER TABLE {s}.terms ADD PRIMARY KEY (id), ADD UNIQUE (term);
ALTER TABLE {s}.postings ADD PRIMARY KEY (term, pos);
"""
HNSW_INDEX = (
    "CREATE INDEX ON {s}.chunk_vectors USING hnsw (embedding vector_cosine_ops) "
    f"WITH (m = {HNSW_M}, ef_construction = {HNSW_EF_CONSTRUCTION})"
)


def schema_of(snapshot_id: int) -> str:
    return f"mscqa_snap_{snapshot_id}"


def _sql(template: str, schema: str, **more: Any) -> Any:
    from psycopg import sql

    return sql.SQL(template).format(s=sql.Identifier(schema), **more)


@contextlib.contextmanager
def reachable(url: str) -> Iterator[None]:
    """Database outages become ``DatabaseUnavailable`` (503, "try again"), never a 500."""
    import psycopg
    import psycopg_pool

    try:
        yield
    except (psycopg.OperationalError, psycopg_pool.PoolTimeout) as exc:
        raise pgdb.unavailable(url, exc) from exc


# -- writing a snapshot ----------------------------------------------------------------------------


def write_snapshot(
    conn: Any,
    version: str,
    manifest: dict[str, Any],
    documents: list[Document],
    chunks: list[Chunk],
    chunk_vectors: np.ndarray,
    sentence_vectors: np.ndarray,
    sentence_owner: np.ndarray,
    *,
    abbreviations: Sequence[Definition] = (),
    unreadable: Sequence[Unreadable] = (),
    hnsw_above: int = HNSW_ABOVE,
) -> int:
    """Write a complete snapshot in one transaction; returns its id. Does not publish it.

    ``abbreviations`` and ``unreadable`` are the plain records the folder store writes as
    ``abbreviations.jsonl`` and ``unreadable.jsonl``, here one table each."""
    if len(chunks) != len(chunk_vectors):
        raise SnapshotError(f"{len(chunks)} chunks but {len(chunk_vectors)} vectors")
    if len(sentence_owner) != len(sentence_vectors):
        raise SnapshotError("sentence table and sentence vectors disagree")
    dim = int(chunk_vectors.shape[1]) if chunk_vectors.ndim == 2 else 0
    tokens = [list(t) or [EMPTY_TOKEN] for t in tokenize_all([lexical_text(c) for c in chunks])]
    manifest = {
        **manifest,
        "format_version": FORMAT_VERSION,
        "version": version,
        "counts": {
            "documents": len(documents),
            "chunks": len(chunks),
            "sentences": len(sentence_owner),
        },
        "storage": {"dim": dim, "hnsw": len(chunks) > hnsw_above},
    }
    with conn.transaction(), conn.cursor() as cur:
        # the HNSW graph is built fastest when it fits (pgvector warns and slows down if not):
        # raise the session's budget to the graph's size, never lower it, at most 2 GB
        current_kb = cur.execute(
            "SELECT setting::bigint FROM pg_settings WHERE name = 'maintenance_work_mem'"
        ).fetchone()[0]
        graph_kb = len(chunks) * (4 * dim + 16 * HNSW_M) * 5 // 4 // 1024 + 65536
        budget_kb = max(int(current_kb), min(graph_kb, 2 * 1024 * 1024))
        cur.execute(f"SET LOCAL maintenance_work_mem = '{budget_kb}kB'")
        snapshot_id = cur.execute(
            "INSERT INTO mscqa.snapshots (version, format, manifest) VALUES (%s, %s, %s) "
            "RETURNING id",
            (version, FORMAT_VERSION, json.dumps(manifest)),
        ).fetchone()[0]
        schema = schema_of(snapshot_id)
        manifest["storage"]["schema"] = schema
        from psycopg import sql

        cur.execute(_sql(SNAPSHOT_TABLES, schema, dim=sql.Literal(max(dim, 1))))
        _copy_records(cur, schema, documents, chunks)
        pgdb.copy_vectors(
            cur, _sql("{s}.chunk_vectors", schema), ("pos", "embedding"), chunk_vectors
        )
        pgdb.copy_vectors(
            cur,
            _sql("{s}.sentences", schema),
            ("pos", "owner", "embedding"),
            sentence_vectors,
            extra=np.asarray(sentence_owner, dtype=np.int32),
        )
        _copy_terms(cur, schema, tokens)
        with cur.copy(_sql("COPY {s}.words (word) FROM STDIN", schema)) as copy:
            for word in sorted(corpus_words(chunk_words(c) for c in chunks)):
                copy.write_row((word,))
        with cur.copy(
            _sql("COPY {s}.abbreviations (doc_id, short, long) FROM STDIN", schema)
        ) as copy:
            for a in abbreviations:
                copy.write_row((a.doc_id, a.short, a.long))
        with cur.copy(
            _sql(
                "COPY {s}.unreadable (doc_id, section, start_char, end_char, context, after)"
                " FROM STDIN",
                schema,
            )
        ) as copy:
            for u in unreadable:
                copy.write_row((u.doc_id, u.section, u.start, u.end, u.context, u.after))
        cur.execute(_sql(SNAPSHOT_KEYS, schema))
        if manifest["storage"]["hnsw"]:
            cur.execute(_sql(HNSW_INDEX, schema))
        cur.execute(
            "UPDATE mscqa.snapshots SET manifest = %s WHERE id = %s",
            (json.dumps(manifest), snapshot_id),
        )
    for table in ("chunks", "chunk_vectors", "sentences", "terms", "postings"):
        with contextlib.suppress(Exception):  # statistics only help the planner
            conn.execute(_sql("ANALYZE {s}." + table, schema))
            conn.commit()
    return int(snapshot_id)


def _copy_records(cur: Any, schema: str, documents: list[Document], chunks: list[Chunk]) -> None:
    counts = Counter(c.doc_id for c in chunks)
    ords = {d.doc_id: i for i, d in enumerate(documents)}
    with cur.copy(
        _sql(
            "COPY {s}.documents (ord, doc_id, path, title, text, sha256, format, sections,"
            " pages, metadata, chunks) FROM STDIN",
            schema,
        )
    ) as copy:
        for i, d in enumerate(documents):
            copy.write_row(
                (
                    i,
                    d.doc_id,
                    d.path,
                    d.title,
                    d.text,
                    d.sha256,
                    d.format,
                    json.dumps([[s.title, s.start, s.end] for s in d.sections]),
                    json.dumps([[p.number, p.start, p.end] for p in d.pages]),
                    json.dumps([list(kv) for kv in d.metadata]),
                    counts.get(d.doc_id, 0),
                )
            )
    with cur.copy(
        _sql(
            "COPY {s}.chunks (pos, doc, chunk_id, n, title, section, start_char, end_char,"
            " text, sha256, sentences, page) FROM STDIN",
            schema,
        )
    ) as copy:
        for pos, c in enumerate(chunks):
            copy.write_row(
                (
                    pos,
                    ords[c.doc_id],
                    c.chunk_id,
                    c.n,
                    c.title,
                    c.section,
                    c.start,
                    c.end,
                    c.text,
                    c.sha256,
                    [x for span in c.sentences for x in span],
                    c.page,
                )
            )


def _copy_terms(cur: Any, schema: str, tokens: list[list[str]]) -> None:
    """BM25's statistics exactly as bm25s counts them: per passage the term frequencies and its
    length in tokens (an empty passage is one placeholder token), df, N and the mean length."""
    ids: dict[str, int] = {}
    term_col: list[int] = []
    pos_col: list[int] = []
    tf_col: list[int] = []
    len_col: list[int] = []
    for pos, doc in enumerate(tokens):
        for term, tf in Counter(doc).items():
            term_col.append(ids.setdefault(term, len(ids)))
            pos_col.append(pos)
            tf_col.append(tf)
            len_col.append(len(doc))
    terms = np.asarray(term_col, dtype=np.int32)
    df = np.bincount(terms, minlength=len(ids)) if len(ids) else np.zeros(0, dtype=np.int64)
    with cur.copy(_sql("COPY {s}.terms (id, term, df) FROM STDIN", schema)) as copy:
        for term, i in ids.items():
            copy.write_row((i, term, int(df[i])))
    columns = [terms, np.asarray(pos_col), np.asarray(tf_col), np.asarray(len_col)]
    for start in range(0, len(terms), 200_000):
        with cur.copy(
            _sql("COPY {s}.postings (term, pos, tf, length) FROM STDIN (FORMAT BINARY)", schema)
        ) as copy:
            copy.write(pgdb.int_copy([c[start : start + 200_000] for c in columns]))
    avgdl = float(np.mean([len(t) for t in tokens])) if tokens else 1.0
    cur.execute(
        _sql("INSERT INTO {s}.bm25 (documents, avgdl, k1, b) VALUES (%s, %s, %s, %s)", schema),
        (len(tokens), avgdl, BM25_K1, BM25_B),
    )


# -- reading a snapshot ----------------------------------------------------------------------------


DENSE = """
WITH candidates AS MATERIALIZED (
    SELECT pos, embedding <=> %(q)s AS distance
    FROM {s}.chunk_vectors ORDER BY embedding <=> %(q)s LIMIT %(n)s
)
SELECT c.pos, 1 - c.distance,
       (SELECT max(1 - (s.embedding <=> %(q)s)) FROM {s}.sentences s WHERE s.owner = c.pos)
FROM candidates c ORDER BY c.distance, c.pos
"""
# BM25 (bm25s's "lucene" variant): idf = ln(1 + (N - df + 0.5) / (df + 0.5)),
# score = sum over query tokens of idf * tf / (tf + k1 * (1 - b + b * length / avgdl)).
BM25 = """
SELECT p.pos,
       sum(q.n * ln(1 + (m.documents - t.df + 0.5) / (t.df + 0.5))
           * p.tf / (p.tf + m.k1 * (1 - m.b + m.b * p.length / m.avgdl))) AS score
FROM unnest(%(terms)s::integer[], %(counts)s::integer[]) AS q(term, n)
JOIN {s}.terms t ON t.id = q.term
JOIN {s}.postings p ON p.term = q.term
CROSS JOIN {s}.bm25 m
GROUP BY p.pos
ORDER BY score DESC, p.pos
LIMIT %(limit)s
"""
CHUNKS = (
    "SELECT c.pos, d.doc_id, c.chunk_id, c.n, c.title, c.section, c.start_char, c.end_char,"
    " c.text, c.sha256, c.sentences, c.page FROM {s}.chunks c JOIN {s}.documents d"
    " ON d.ord = c.doc WHERE c.pos = ANY(%s)"
)
DOCUMENT = (
    "SELECT doc_id, path, title, text, sha256, format, sections, pages, metadata"
    " FROM {s}.documents WHERE doc_id = ANY(%s)"
)


class PgSnapshot:
    """A published snapshot read from PostgreSQL. Only small per-row arrays and the term
    statistics are held in memory; passages, documents and vectors stay in the database (the
    ones just used are cached). Safe to share between threads."""

    def __init__(self, store: PgStore, snapshot_id: int, manifest: dict[str, Any]) -> None:
        self.store = store
        self.id = snapshot_id
        self.manifest = manifest
        self.path = None
        self.schema = schema_of(snapshot_id)
        url = store.url
        with reachable(url), store.pool.connection() as conn:
            counts = manifest.get("counts", {})
            docs = conn.execute(
                _sql("SELECT doc_id, chunks FROM {s}.documents ORDER BY ord", self.schema)
            ).fetchall()
            self._doc_ids = [d for d, _ in docs]
            self._chunk_counts = {d: int(n) for d, n in docs}
            doc_of = conn.execute(
                _sql(
                    "SELECT coalesce(array_agg(doc ORDER BY pos), '{{}}') FROM {s}.chunks",
                    self.schema,
                )
            ).fetchone()[0]
            self._doc_of = np.asarray(doc_of, dtype=np.int32)
            terms = conn.execute(_sql("SELECT term, id, df FROM {s}.terms", self.schema)).fetchall()
            words = conn.execute(_sql("SELECT word FROM {s}.words", self.schema)).fetchall()
            n_sentences = conn.execute(
                _sql("SELECT count(*) FROM {s}.sentences", self.schema)
            ).fetchone()[0]
            # the few records a Retriever reads whole at start-up (small: a few per document)
            self.abbreviations = [
                Definition(*row)
                for row in conn.execute(
                    _sql("SELECT doc_id, short, long FROM {s}.abbreviations", self.schema)
                )
            ]
            self.unreadable = [
                Unreadable(*row)
                for row in conn.execute(
                    _sql(
                        "SELECT doc_id, section, start_char, end_char, context, after"
                        " FROM {s}.unreadable ORDER BY doc_id, start_char",
                        self.schema,
                    )
                )
            ]
        self._term_ids = {t: int(i) for t, i, _ in terms}
        df = {t: int(f) for t, _, f in terms if t != EMPTY_TOKEN}
        self._stats = TermStats(len(self._doc_of), df, frozenset(w for (w,) in words))
        self._sentence_count = int(n_sentences)
        sizes = {
            "chunks": len(self._doc_of),
            "documents": len(self._doc_ids),
            "sentences": self._sentence_count,
        }
        if sizes != {k: counts.get(k) for k in sizes}:
            raise SnapshotError(f"index snapshot {self.version} is inconsistent {sizes}; {FIX}")
        self.documents = _Documents(self)
        self.chunks = _Chunks(self)
        self._chunk_cache: _Lru[int, Chunk] = _Lru(20_000)
        self._tokens: _Lru[int, set[str]] = _Lru(20_000)
        self._local = threading.local()

    @property
    def version(self) -> str:
        return str(self.manifest["version"])

    def _query(
        self, template: str, params: Any, *, binary: bool = False, hnsw: bool = False
    ) -> list[Any]:
        with reachable(self.store.url), self.store.pool.connection() as conn:
            try:
                if hnsw:
                    # HNSW whenever the build made one (as FAISS does above the same size):
                    # left to itself the planner scans small tables exactly instead.
                    with conn.transaction(), conn.cursor(binary=binary) as cur:
                        cur.execute("SET LOCAL enable_seqscan = off")
                        return cur.execute(_sql(template, self.schema), params).fetchall()
                with conn.cursor(binary=binary) as cur:
                    return cur.execute(_sql(template, self.schema), params).fetchall()
            except _undefined() as exc:
                raise SnapshotError(
                    f"index snapshot {self.version} was removed from the database while in "
                    f"use; {FIX}"
                ) from exc

    # -- the search surface (see store.Snapshot) --

    def doc_of(self, row: int) -> str:
        return self._doc_ids[int(self._doc_of[row])]

    def chunk_counts(self) -> dict[str, int]:
        return dict(self._chunk_counts)

    @property
    def sentence_count(self) -> int:
        return self._sentence_count

    def chunks_at(self, rows: Sequence[int]) -> list[Chunk]:
        wanted = [int(r) for r in rows]
        missing = [r for r in dict.fromkeys(wanted) if self._chunk_cache.get(r) is None]
        if missing:
            for rec in self._query(CHUNKS, (missing,)):
                self._chunk_cache.put(int(rec[0]), _chunk(rec))
        out = []
        for r in wanted:
            chunk = self._chunk_cache.get(r)
            if chunk is None:
                raise IndexError(f"passage {r} is not in snapshot {self.version}")
            out.append(chunk)
        return out

    def dense_candidates(self, vec: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        rows, scores, best = self._dense(vec, n)
        self._local.best = (vec.tobytes(), rows, best)  # for best_sentences, same thread
        return rows, scores

    def _dense(self, vec: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        found = self._query(
            DENSE,
            {"q": np.asarray(vec, dtype=np.float32), "n": n},
            hnsw=bool(self.manifest.get("storage", {}).get("hnsw")),
        )
        rows = np.asarray([r[0] for r in found], dtype=np.int64)
        scores = np.asarray([r[1] for r in found], dtype=np.float32)
        best = np.asarray([-1.0 if r[2] is None else r[2] for r in found], dtype=np.float32)
        return rows, scores, best

    def best_sentences(self, rows: np.ndarray, vec: np.ndarray) -> np.ndarray:
        """Best sentence cosine of each passage in ``rows`` (-1 when it has none); computed in
        the database with the dense candidates, or here from their vectors."""
        cached = getattr(self._local, "best", None)
        if cached is not None and cached[0] == vec.tobytes():
            where = {int(r): i for i, r in enumerate(cached[1])}
            if all(int(r) in where for r in rows):
                return np.asarray([cached[2][where[int(r)]] for r in rows], dtype=np.float32)
        out = np.full(len(rows), -1.0, dtype=np.float32)
        for i, vecs in enumerate(self.sentence_vectors([int(r) for r in rows])):
            if len(vecs):
                out[i] = float((vecs @ vec).max())
        return out

    def sentence_vectors(self, rows: Sequence[int]) -> list[np.ndarray]:
        wanted = [int(r) for r in rows]
        found = self._query(
            "SELECT owner, embedding FROM {s}.sentences WHERE owner = ANY(%s) ORDER BY pos",
            (wanted,),
            binary=True,
        )
        by_owner: dict[int, list[np.ndarray]] = {}
        for owner, vec in found:
            by_owner.setdefault(int(owner), []).append(vec)
        dim = int(self.manifest.get("storage", {}).get("dim", 0))
        return [
            np.stack(by_owner[r]) if r in by_owner else np.zeros((0, dim), dtype=np.float32)
            for r in wanted
        ]

    def lexical_scores(self, query: str, limit: int) -> tuple[np.ndarray | None, np.ndarray]:
        counts = Counter(self._term_ids[t] for t in tokenize(query) if t in self._term_ids)
        if not counts:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        found = self._query(
            BM25, {"terms": list(counts), "counts": list(counts.values()), "limit": limit}
        )
        rows = np.asarray([r[0] for r in found], dtype=np.int64)
        scores = np.asarray([r[1] for r in found], dtype=np.float32)
        return rows, scores

    def term_stats(self) -> TermStats:
        return self._stats

    def chunk_tokens(self, row: int) -> set[str]:
        tokens = self._tokens.get(row)
        if tokens is None:
            tokens = set(tokenize(lexical_text(self.chunks_at([row])[0])))
            self._tokens.put(row, tokens)
        return tokens

    def _documents(self, doc_ids: Sequence[str]) -> list[Document]:
        return [_document(rec) for rec in self._query(DOCUMENT, (list(doc_ids),))]


class _Documents(Mapping[str, Document]):
    """``doc_id -> Document``, read from the database on demand (the last ones used cached)."""

    def __init__(self, snapshot: PgSnapshot) -> None:
        self._snap = snapshot
        self._ids = set(snapshot._doc_ids)
        self._cache: _Lru[str, Document] = _Lru(64)

    def __getitem__(self, doc_id: str) -> Document:
        doc = self._cache.get(doc_id)
        if doc is None:
            if doc_id not in self._ids:
                raise KeyError(doc_id)
            doc = self._snap._documents([doc_id])[0]
            self._cache.put(doc_id, doc)
        return doc

    def __contains__(self, doc_id: object) -> bool:
        return doc_id in self._ids

    def __iter__(self) -> Iterator[str]:
        return iter(self._snap._doc_ids)

    def __len__(self) -> int:
        return len(self._ids)

    def values(self) -> Iterator[Document]:  # type: ignore[override]
        ids = self._snap._doc_ids
        for start in range(0, len(ids), 200):
            yield from self._snap._documents(ids[start : start + 200])


class _Chunks(Sequence[Chunk]):
    """Passage ``row`` -> Chunk, read from the database on demand."""

    def __init__(self, snapshot: PgSnapshot) -> None:
        self._snap = snapshot

    def __len__(self) -> int:
        return len(self._snap._doc_of)

    def __getitem__(self, row: Any) -> Any:
        if isinstance(row, slice):
            return self._snap.chunks_at(range(len(self))[row])
        if not -len(self) <= row < len(self):
            raise IndexError(row)
        return self._snap.chunks_at([row % len(self)])[0]

    def __iter__(self) -> Iterator[Chunk]:
        for start in range(0, len(self), 1000):
            yield from self._snap.chunks_at(range(start, min(len(self), start + 1000)))


K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class _Lru(Generic[K, V]):
    """A small thread-safe LRU map."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._data: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        with self._lock:
            value = self._data.get(key)
            if value is not None:
                self._data.move_to_end(key)
            return value

    def put(self, key: K, value: V) -> None:
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.size:
                self._data.popitem(last=False)


def _undefined() -> tuple[type[BaseException], ...]:
    from psycopg import errors

    return (errors.UndefinedTable, errors.InvalidSchemaName)


def _chunk(rec: Any) -> Chunk:
    _, doc_id, chunk_id, n, title, section, start, end, text, sha, flat, page = rec
    spans = tuple((int(flat[i]), int(flat[i + 1])) for i in range(0, len(flat), 2))
    return Chunk(chunk_id, doc_id, n, title, section, start, end, text, sha, spans, page)


def _document(rec: Any) -> Document:
    doc_id, path, title, text, sha, fmt, sections, pages, metadata = rec
    return Document(
        doc_id=doc_id,
        path=path,
        title=title,
        text=text,
        sha256=sha,
        format=fmt,
        sections=tuple(Section(t, a, b) for t, a, b in sections),
        pages=tuple(Page(p, a, b) for p, a, b in pages),
        metadata=tuple((k, v) for k, v in metadata),
    )


# -- the store ----------------------------------------------------------------------------------


class PgStore:
    """Snapshots in one PostgreSQL database: build, publish, load, prune, roll back, watch.

    ``pool`` serves the queries of loaded snapshots; a dedicated connection holds this
    process's leases (shared advisory locks on the snapshots it serves).
    """

    def __init__(self, url: str, models_dir: Path, *, pool_size: int = 8) -> None:
        self.url = url
        self.models_dir = models_dir  # where the build's ONNX exports live (on this machine)
        self.pool_size = max(1, pool_size)
        self._pool: Any = None
        self._lease_conn: Any = None
        self._leases: dict[int, float | None] = {}  # snapshot id -> release time (None: live)
        self._lock = threading.RLock()
        self._listen: Any = None
        self._listen_retry = 0.0  # monotonic time before which LISTEN is not tried again

    @staticmethod
    def _configure(conn: Any) -> None:
        pgdb.configure(conn)
        conn.execute(f"SET hnsw.ef_search = {HNSW_EF_SEARCH}")

    @property
    def pool(self) -> Any:
        """The query connections, opened on first use (again after ``close``)."""
        with self._lock:
            if self._pool is None:
                from psycopg_pool import ConnectionPool

                self._pool = ConnectionPool(
                    self.url,
                    min_size=1,
                    max_size=self.pool_size,
                    kwargs={"autocommit": True, "application_name": "mscqa", "connect_timeout": 5},
                    configure=self._configure,
                    timeout=2.0,
                    open=False,
                    name="mscqa",
                )
                self._pool.open(wait=False)
            return self._pool

    def connect(self) -> Any:
        return pgdb.connect(self.url)

    def close(self) -> None:
        with self._lock:
            for conn in (self._lease_conn, self._listen):
                if conn is not None:
                    with contextlib.suppress(Exception):
                        conn.close()
            self._lease_conn = self._listen = None
            self._leases.clear()
            if self._pool is not None:
                self._pool.close()
                self._pool = None

    def check(self) -> None:
        with reachable(self.url), self.pool.connection() as conn:
            conn.execute("SELECT 1")

    # -- the pointer and the list --

    def _read(self, query: str, params: Any = ()) -> list[Any]:
        with reachable(self.url), self.pool.connection() as conn:
            pgdb.check_schema(conn)
            return conn.execute(query, params).fetchall()

    def current_version(self) -> str | None:
        try:
            rows = self._read(
                "SELECT s.version FROM mscqa.serving p JOIN mscqa.snapshots s"
                " ON s.id = p.snapshot_id"
            )
        except NoIndexError:
            return None
        return str(rows[0][0]) if rows else None

    def list_versions(self) -> list[str]:
        try:
            return [
                str(v)
                for (v,) in self._read("SELECT version FROM mscqa.snapshots ORDER BY version")
            ]
        except NoIndexError:
            return []

    def manifests(self) -> list[dict[str, Any]]:
        return [m for (m,) in self._read("SELECT manifest FROM mscqa.snapshots ORDER BY version")]

    def current_manifest(self) -> dict[str, Any] | None:
        try:
            rows = self._read(
                "SELECT s.manifest FROM mscqa.serving p JOIN mscqa.snapshots s"
                " ON s.id = p.snapshot_id"
            )
        except NoIndexError:
            return None
        return rows[0][0] if rows else None

    # -- writing --

    def where(self) -> str:
        return pgdb.redact(self.url)

    @contextlib.contextmanager
    def writer(self, wait: bool = False) -> Iterator[PgWriter]:
        """Migrate the schema and hold the one-builder lock for the duration of a build."""
        conn = self.connect()
        try:
            with reachable(self.url):
                # a build killed in the middle of a long statement (an HNSW index, say) is
                # noticed by the server within a second: its transaction and locks go
                conn.execute("SET client_connection_check_interval = '1s'")
                conn.commit()
                pgdb.migrate(conn)
            with pgdb.writer_lock(conn, self.url, wait=wait):
                yield PgWriter(self, conn)
        finally:
            with contextlib.suppress(Exception):
                conn.close()

    # -- reading --

    def load(self, version: str, *, expect_model: str | None = None) -> PgSnapshot:
        rows = self._read(
            "SELECT id, format, manifest FROM mscqa.snapshots WHERE version = %s", (version,)
        )
        if not rows:
            raise SnapshotError(f"index snapshot {version} does not exist; {FIX}")
        snapshot_id, fmt, manifest = rows[0]
        return self._load(int(snapshot_id), int(fmt), manifest, expect_model)

    def _load(
        self, snapshot_id: int, fmt: int, manifest: dict[str, Any], expect_model: str | None
    ) -> PgSnapshot:
        version = manifest.get("version")
        if fmt != FORMAT_VERSION:
            raise SnapshotError(
                f"index snapshot {version} has format {fmt}, this version of mscqa reads "
                f"format {FORMAT_VERSION}; {FIX}"
            )
        if expect_model is not None and manifest.get("model", {}).get("sha256") != expect_model:
            raise SnapshotError(
                f"index snapshot {version} was built with model "
                f"{manifest.get('model', {}).get('name')!r}, not the configured one; {FIX}"
            )
        try:
            return PgSnapshot(self, snapshot_id, manifest)
        except _undefined() as exc:
            raise SnapshotError(f"index snapshot {version} is incomplete ({exc}); {FIX}") from exc

    def load_current(self, *, expect_model: str | None = None) -> PgSnapshot:
        """The served snapshot, leased first so that no build drops it while this process
        serves it (``retire`` ends the lease). If it is damaged, the newest good older one."""
        rows = self._read(
            "SELECT s.id, s.version FROM mscqa.serving p JOIN mscqa.snapshots s"
            " ON s.id = p.snapshot_id"
        )
        if not rows:
            raise NoIndexError(
                f"No index yet in the database {pgdb.redact(self.url)}; run `mscqa index` "
                "(or `mscqa serve`, which builds one)."
            )
        current_id, current = int(rows[0][0]), str(rows[0][1])
        try:
            return self._leased(current_id, expect_model)
        except SnapshotError as first:
            older = self._read(
                "SELECT id, version FROM mscqa.snapshots WHERE version < %s ORDER BY version DESC",
                (current,),
            )
            for snapshot_id, version in older:
                try:
                    snapshot = self._leased(int(snapshot_id), expect_model)
                except SnapshotError:
                    continue
                log.error("%s; serving the previous snapshot %s instead", first, version)
                return snapshot
            raise

    def _leased(self, snapshot_id: int, expect_model: str | None) -> PgSnapshot:
        self._lease(snapshot_id)
        try:
            # a build may have replaced and dropped it between reading the pointer and the lease
            rows = self._read(
                "SELECT format, manifest FROM mscqa.snapshots WHERE id = %s", (snapshot_id,)
            )
            if not rows:
                raise SnapshotError(f"the served index snapshot was just replaced; {FIX}")
            return self._load(snapshot_id, int(rows[0][0]), rows[0][1], expect_model)
        except BaseException:
            self.retire(snapshot_id, grace=0.0)
            raise

    # -- leases --

    def _lease(self, snapshot_id: int) -> None:
        with self._lock, reachable(self.url):
            self._release_due()
            if self._leases.get(snapshot_id, 0.0) is None:
                return
            conn = self._lease_connection()
            if snapshot_id not in self._leases:
                conn.execute(
                    "SELECT pg_advisory_lock_shared(%s, %s)", (pgdb.NAMESPACE, snapshot_id)
                )
            self._leases[snapshot_id] = None

    def retire(self, snapshot: Any, grace: float = LEASE_GRACE) -> None:
        """End this process's lease on a snapshot it no longer serves, after ``grace`` seconds
        (requests that started on it finish first)."""
        snapshot_id = snapshot if isinstance(snapshot, int) else getattr(snapshot, "id", None)
        with self._lock:
            if snapshot_id in self._leases:
                self._leases[snapshot_id] = time.monotonic() + grace
            self._release_due()

    def _release_due(self) -> None:
        now = time.monotonic()
        for snapshot_id, due in list(self._leases.items()):
            if due is not None and due <= now:
                del self._leases[snapshot_id]
                with contextlib.suppress(Exception):
                    self._lease_connection().execute(
                        "SELECT pg_advisory_unlock_shared(%s, %s)", (pgdb.NAMESPACE, snapshot_id)
                    )

    def _lease_connection(self) -> Any:
        conn = self._lease_conn
        if conn is not None and not conn.closed and not conn.broken:
            return conn
        # a new connection (the database restarted): take the live leases again
        conn = self._lease_conn = pgdb.connect(self.url, autocommit=True)
        for snapshot_id in self._leases:
            conn.execute("SELECT pg_advisory_lock_shared(%s, %s)", (pgdb.NAMESPACE, snapshot_id))
        return conn

    def keep_leases(self) -> None:
        """Renew the leases after a lost connection and release the due ones (watcher tick)."""
        with self._lock, contextlib.suppress(DatabaseUnavailable, Exception):
            if self._leases:
                self._lease_connection()
            self._release_due()

    # -- watching --

    def wait_for_change(self, timeout: float, stop: threading.Event) -> None:
        """Return when a build publishes (NOTIFY), after ``timeout`` seconds (the polling
        fallback) or soon after ``stop`` is set."""
        deadline = time.monotonic() + timeout
        while not stop.is_set() and (left := deadline - time.monotonic()) > 0:
            if time.monotonic() < self._listen_retry:
                stop.wait(min(left, 0.5))
                continue
            try:
                conn = self._listen
                if conn is None or conn.closed or conn.broken:
                    conn = self._listen = pgdb.connect(self.url, autocommit=True)
                    conn.execute(f"LISTEN {pgdb.CHANNEL}")
                if any(True for _ in conn.notifies(timeout=min(left, 0.5), stop_after=1)):
                    break
            except Exception as exc:  # database away, or a standby (no LISTEN there): poll
                log.debug("LISTEN failed (%s); polling", exc)
                with contextlib.suppress(Exception):
                    if self._listen is not None:
                        self._listen.close()
                self._listen = None
                self._listen_retry = time.monotonic() + LISTEN_RETRY
        self.keep_leases()


class PgWriter:
    """A build's handle on the database, holding the writer lock on its own connection."""

    def __init__(self, store: PgStore, conn: Any) -> None:
        self.store = store
        self.conn = conn

    def write(self, version: str, manifest: dict[str, Any], *parts: Any, **records: Any) -> None:
        with reachable(self.store.url):
            write_snapshot(self.conn, version, manifest, *parts, **records)

    def load(self, version: str) -> PgSnapshot:
        return self.store.load(version)

    def publish(self, version: str, keep: int = 3) -> None:
        """Serve ``version``: one transaction moves the pointer row and notifies the servers."""
        conn = self.conn
        with reachable(self.store.url), conn.transaction():
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
        with reachable(self.store.url):
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
                    conn.execute(_sql("DROP SCHEMA IF EXISTS {s} CASCADE", schema_of(snapshot_id)))
                    conn.execute("DELETE FROM mscqa.snapshots WHERE id = %s", (snapshot_id,))
                dropped.append(str(version))
            manifests = [
                m for (m,) in conn.execute("SELECT manifest FROM mscqa.snapshots").fetchall()
            ]
            conn.commit()
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
