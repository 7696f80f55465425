"""BM25 in PostgreSQL: a snapshot's impact lists, written by the build, read by ``impacts.top_k``.

Each term's row in ``terms`` holds its whole impact-ordered list (``impacts.ENTRY`` pairs of
passage row and bm25s's float32 score) as one ``bytea`` stored uncompressed (``STORAGE
EXTERNAL``), so ``substring`` reads just the prefix a question needs from TOAST without
detoasting the rest; ``passage_terms`` holds each passage's own ``(term, impact)`` pairs, for
the few passages whose exact score the prefix leaves open. A question costs one or two index
lookups per term and a few kilobytes, not a scan of every posting of its common words.

The impacts are bm25s's own (``LexicalIndex.impacts``): the same tokens, idf, length
normalisation and float32 sums, so scores equal the folder backend's to the last bit.

Snapshots written before the impact lists (``storage.lexical`` absent: the same release's
earlier builds, with BM25 computed in SQL from a ``postings`` table) are refused by
``PgStore.load`` with "rebuild the index".
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from mscqa.index import pgdb
from mscqa.index.impacts import ENTRY
from mscqa.index.lexical import BM25_B, BM25_K1, LexicalIndex, Tokens, tokenize_all
from mscqa.memo import LastCall

LEXICAL = "impacts"  # Manifest.storage.lexical of snapshots with impact lists
BATCH = 200_000  # rows per binary COPY
ANALYZE = ("terms", "passage_terms")  # the tables the planner wants statistics of

TABLES = """
CREATE TABLE {s}.terms (
    id integer NOT NULL, term text NOT NULL, df integer NOT NULL, impacts bytea NOT NULL
);
ALTER TABLE {s}.terms ALTER COLUMN impacts SET STORAGE EXTERNAL;
CREATE TABLE {s}.passage_terms (pos integer NOT NULL, entries bytea NOT NULL);
CREATE TABLE {s}.bm25 (
    documents integer NOT NULL, avgdl double precision NOT NULL,
    k1 double precision NOT NULL, b double precision NOT NULL
);
"""
KEYS = """
ALTER TABLE {s}.terms ADD PRIMARY KEY (id), ADD UNIQUE (term);
ALTER TABLE {s}.passage_terms ADD PRIMARY KEY (pos);
"""
# entries [start, stop) of each term's list: bytes 8 * start + 1 on (substring counts from 1)
PREFIXES = (
    "SELECT id, substring(impacts FROM 8 * %(start)s + 1 FOR 8 * (%(stop)s - %(start)s))"
    " FROM {s}.terms WHERE id = ANY(%(terms)s)"
)
FORWARD = "SELECT pos, entries FROM {s}.passage_terms WHERE pos = ANY(%s)"


def write(cur: Any, schema: str, texts: Sequence[str], memo: Tokens | None = None) -> None:
    """The lexical tables of snapshot ``schema``, whose passage ``i`` has the lexical text
    ``texts[i]``: created, filled and keyed (tokenised once, through ``memo`` if given)."""
    memo = memo if memo is not None else LastCall()
    lexical = LexicalIndex.build(texts, memo)
    lists = lexical.impacts()
    terms = len(lists.term_starts) - 1
    cur.execute(pgdb.in_schema(TABLES, schema))
    with cur.copy(
        pgdb.in_schema("COPY {s}.terms (id, term, df, impacts) FROM STDIN (FORMAT BINARY)", schema)
    ) as copy:
        copy.set_types(["int4", "text", "int4", "bytea"])
        for term, i in lexical.vocabulary.items():
            if i < terms:  # bm25s's vocabulary also holds "", which no passage has
                run = lists.term(i)
                copy.write_row((i, term, len(run), run.tobytes()))
    starts = lists.passage_starts
    for first in range(0, len(texts), BATCH):
        with cur.copy(
            pgdb.in_schema(
                "COPY {s}.passage_terms (pos, entries) FROM STDIN (FORMAT BINARY)", schema
            )
        ) as copy:
            copy.set_types(["int4", "bytea"])
            for pos in range(first, min(first + BATCH, len(texts))):
                copy.write_row((pos, lists.by_passage[starts[pos] : starts[pos + 1]].tobytes()))
    lengths = [len(t) or 1 for t in tokenize_all(texts, memo)]
    cur.execute(
        pgdb.in_schema(
            "INSERT INTO {s}.bm25 (documents, avgdl, k1, b) VALUES (%s, %s, %s, %s)", schema
        ),
        (len(texts), float(np.mean(lengths)) if lengths else 1.0, BM25_K1, BM25_B),
    )
    cur.execute(pgdb.in_schema(KEYS, schema))


class PgPostings:
    """``impacts.PostingSource`` over a snapshot's tables; ``query(template, params)`` runs a
    query on the snapshot (binary results)."""

    def __init__(self, query: Callable[[str, Any], list[Any]]) -> None:
        self._query = query

    def prefixes(self, terms: Sequence[int], start: int, stop: int) -> dict[int, np.ndarray]:
        found = self._query(PREFIXES, {"terms": list(terms), "start": start, "stop": stop})
        return {int(t): np.frombuffer(data, dtype=ENTRY) for t, data in found}

    def forward(self, rows: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        found = dict(self._query(FORWARD, (list(rows),)))
        runs = [found.get(int(r), b"") for r in rows]
        entries = np.frombuffer(b"".join(runs), dtype=ENTRY)
        return entries, np.asarray([len(r) // ENTRY.itemsize for r in runs], dtype=np.int64)
