"""Documents and chunks as the plain JSON records a snapshot stores, and back."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from mscqa.types import Chunk, Document, Page, Section

CHUNK_FIELDS = tuple(f.name for f in fields(Chunk))


# Explicit records rather than dataclasses.asdict, which deep-copies every field recursively
# and was a third of the time of adding one document to a 1000-document index.
def doc_record(doc: Document) -> dict[str, Any]:
    return {
        "doc_id": doc.doc_id,
        "path": doc.path,
        "title": doc.title,
        "text": doc.text,
        "sha256": doc.sha256,
        "format": doc.format,
        "sections": [{"title": s.title, "start": s.start, "end": s.end} for s in doc.sections],
        "pages": [{"number": p.number, "start": p.start, "end": p.end} for p in doc.pages],
        "metadata": [list(kv) for kv in doc.metadata],
    }


def chunk_record(chunk: Chunk) -> dict[str, Any]:
    record = {name: getattr(chunk, name) for name in CHUNK_FIELDS}
    record["sentences"] = [list(span) for span in chunk.sentences]
    return record


def doc_from_record(rec: dict[str, Any]) -> Document:
    return Document(
        doc_id=rec["doc_id"],
        path=rec["path"],
        title=rec["title"],
        text=rec["text"],
        sha256=rec["sha256"],
        format=rec["format"],
        sections=tuple(Section(**s) for s in rec["sections"]),
        pages=tuple(Page(**p) for p in rec["pages"]),
        metadata=tuple((k, v) for k, v in rec["metadata"]),
    )


def chunk_from_record(rec: dict[str, Any]) -> Chunk:
    rec["sentences"] = tuple((int(s), int(e)) for s, e in rec["sentences"])
    return Chunk(**rec)
