"""Records of a PostgreSQL snapshot: written by COPY, read back by key as ``Chunk`` and
``Document`` (the queries and their rows' shapes)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from typing import Any

from mscqa.index import pgdb
from mscqa.types import Chunk, Definition, Document, Page, Section, Unreadable

CHUNKS = (
    "SELECT c.pos, d.doc_id, c.chunk_id, c.n, c.title, c.section, c.start_char, c.end_char,"
    " c.text, c.sha256, c.sentences, c.page FROM {s}.chunks c JOIN {s}.documents d"
    " ON d.ord = c.doc WHERE c.pos = ANY(%s)"
)
DOCUMENT = (
    "SELECT doc_id, path, title, text, sha256, format, sections, pages, metadata"
    " FROM {s}.documents WHERE doc_id = ANY(%s)"
)


def undefined() -> tuple[type[BaseException], ...]:
    from psycopg import errors

    return (errors.UndefinedTable, errors.InvalidSchemaName)


def chunk_of(rec: Any) -> Chunk:
    _, doc_id, chunk_id, n, title, section, start, end, text, sha, flat, page = rec
    spans = tuple((int(flat[i]), int(flat[i + 1])) for i in range(0, len(flat), 2))
    return Chunk(chunk_id, doc_id, n, title, section, start, end, text, sha, spans, page)


def document_of(rec: Any) -> Document:
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


def copy_records(
    cur: Any,
    schema: str,
    documents: Sequence[Document],
    chunks: Sequence[Chunk],
    abbreviations: Sequence[Definition],
    unreadable: Sequence[Unreadable],
) -> None:
    """COPY a snapshot's records into its tables (``pgwrite.SNAPSHOT_TABLES``)."""
    counts = Counter(c.doc_id for c in chunks)
    ords = {d.doc_id: i for i, d in enumerate(documents)}
    with cur.copy(
        pgdb.in_schema(
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
        pgdb.in_schema(
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
    with cur.copy(
        pgdb.in_schema("COPY {s}.abbreviations (doc_id, short, long) FROM STDIN", schema)
    ) as copy:
        for a in abbreviations:
            copy.write_row((a.doc_id, a.short, a.long))
    with cur.copy(
        pgdb.in_schema(
            "COPY {s}.unreadable (doc_id, section, start_char, end_char, context, after)"
            " FROM STDIN",
            schema,
        )
    ) as copy:
        for u in unreadable:
            copy.write_row((u.doc_id, u.section, u.start, u.end, u.context, u.after))
