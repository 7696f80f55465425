"""A published index snapshot read from PostgreSQL (``pgwrite`` wrote it): search happens in
the database, per question a few indexed reads.

Nearest passages by ``<=>`` (HNSW) with each candidate's best sentence, in one query; BM25's
top passages from the impact lists (``pglexical``, ``impacts.top_k``), with the same scores as
bm25s's; passages and documents read by key when a hit needs them (the last ones cached).
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Protocol

import numpy as np

from mscqa.errors import SnapshotError
from mscqa.index import pgdb, pglexical
from mscqa.index.impacts import top_k
from mscqa.index.lexical import EMPTY_TOKEN, tokenize
from mscqa.index.manifest import FIX, Manifest
from mscqa.index.pgrecords import CHUNKS, DOCUMENT, chunk_of, document_of, undefined
from mscqa.index.pgwrite import schema_of
from mscqa.index.store import TermStats, lexical_text
from mscqa.memo import Lru
from mscqa.types import Chunk, Definition, Document, Unreadable


class Database(Protocol):
    """Where a snapshot reads from (``pgstore.PgStore``)."""

    url: str

    @property
    def pool(self) -> Any: ...


DENSE = """
WITH candidates AS MATERIALIZED (
    SELECT pos, embedding <=> %(q)s AS distance
    FROM {s}.chunk_vectors ORDER BY embedding <=> %(q)s LIMIT %(n)s
)
SELECT c.pos, 1 - c.distance,
       (SELECT max(1 - (s.embedding <=> %(q)s)) FROM {s}.sentences s WHERE s.owner = c.pos)
FROM candidates c ORDER BY c.distance, c.pos
"""


class PgSnapshot:
    """A published snapshot read from PostgreSQL. Only small per-row arrays and the term
    statistics are held in memory; passages, documents and vectors stay in the database (the
    ones just used are cached). Safe to share between threads."""

    def __init__(self, store: Database, snapshot_id: int, manifest: Manifest) -> None:
        self.store = store
        self.id = snapshot_id
        self.manifest = manifest
        self.path = None
        self.schema = schema_of(snapshot_id)
        url = store.url
        with pgdb.reachable(url), store.pool.connection() as conn:
            docs = conn.execute(
                pgdb.in_schema("SELECT doc_id, chunks FROM {s}.documents ORDER BY ord", self.schema)
            ).fetchall()
            self._doc_ids = [d for d, _ in docs]
            self._chunk_counts = {d: int(n) for d, n in docs}
            doc_of = conn.execute(
                pgdb.in_schema(
                    "SELECT coalesce(array_agg(doc ORDER BY pos), '{{}}') FROM {s}.chunks",
                    self.schema,
                )
            ).fetchone()[0]
            self._doc_of = np.asarray(doc_of, dtype=np.int32)
            terms = conn.execute(
                pgdb.in_schema("SELECT term, id, df FROM {s}.terms", self.schema)
            ).fetchall()
            words = conn.execute(
                pgdb.in_schema("SELECT word FROM {s}.words", self.schema)
            ).fetchall()
            n_sentences = conn.execute(
                pgdb.in_schema("SELECT count(*) FROM {s}.sentences", self.schema)
            ).fetchone()[0]
            # the few records a Retriever reads whole at start-up (small: a few per document)
            self.abbreviations = [
                Definition(*row)
                for row in conn.execute(
                    pgdb.in_schema("SELECT doc_id, short, long FROM {s}.abbreviations", self.schema)
                )
            ]
            self.unreadable = [
                Unreadable(*row)
                for row in conn.execute(
                    pgdb.in_schema(
                        "SELECT doc_id, section, start_char, end_char, context, after"
                        " FROM {s}.unreadable ORDER BY doc_id, start_char",
                        self.schema,
                    )
                )
            ]
        self._term_ids = {t: int(i) for t, i, _ in terms}
        self._df = {int(i): int(f) for _, i, f in terms}
        self._postings = pglexical.PgPostings(
            lambda template, params: self._query(template, params, binary=True)
        )
        df = {t: int(f) for t, _, f in terms if t != EMPTY_TOKEN}
        self._stats = TermStats(len(self._doc_of), df, frozenset(w for (w,) in words))
        self._sentence_count = int(n_sentences)
        sizes = {
            "chunks": len(self._doc_of),
            "documents": len(self._doc_ids),
            "sentences": self._sentence_count,
        }
        counts = manifest.counts
        recorded = dataclasses.asdict(counts) if counts is not None else {}
        if sizes != {k: recorded.get(k) for k in sizes}:
            raise SnapshotError(f"index snapshot {self.version} is inconsistent {sizes}; {FIX}")
        self.documents = _Documents(self)
        self.chunks = _Chunks(self)
        self._chunk_cache: Lru[int, Chunk] = Lru(20_000)
        self._tokens: Lru[int, set[str]] = Lru(20_000)
        self._local = threading.local()

    @property
    def version(self) -> str:
        return self.manifest.version

    def _query(self, template: str, params: Any, *, binary: bool = False) -> list[Any]:
        with pgdb.reachable(self.store.url), self.store.pool.connection() as conn:
            try:
                with conn.cursor(binary=binary) as cur:
                    return cur.execute(pgdb.in_schema(template, self.schema), params).fetchall()
            except undefined() as exc:
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
                self._chunk_cache.put(int(rec[0]), chunk_of(rec))
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
        dim = self.manifest.storage.dim if self.manifest.storage else 0
        return [
            np.stack(by_owner[r]) if r in by_owner else np.zeros((0, dim), dtype=np.float32)
            for r in wanted
        ]

    def lexical_scores(
        self, query: str, limit: int, rows: Sequence[int] = ()
    ) -> tuple[np.ndarray | None, np.ndarray]:
        """BM25's best ``limit`` passages for ``query`` and the exact scores of ``rows`` too
        (the dense candidates): bm25s's scores, read from a prefix of the impact lists."""
        ids = [self._term_ids[t] for t in tokenize(query) if t in self._term_ids]
        return top_k(ids, self._df, limit, self._postings, rows)

    def term_stats(self) -> TermStats:
        return self._stats

    def chunk_tokens(self, row: int) -> set[str]:
        tokens = self._tokens.get(row)
        if tokens is None:
            tokens = set(tokenize(lexical_text(self.chunks_at([row])[0])))
            self._tokens.put(row, tokens)
        return tokens

    def _documents(self, doc_ids: Sequence[str]) -> list[Document]:
        return [document_of(rec) for rec in self._query(DOCUMENT, (list(doc_ids),))]


class _Documents(Mapping[str, Document]):
    """``doc_id -> Document``, read from the database on demand (the last ones used cached)."""

    def __init__(self, snapshot: PgSnapshot) -> None:
        self._snap = snapshot
        self._ids = set(snapshot._doc_ids)
        self._cache: Lru[str, Document] = Lru(64)

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
