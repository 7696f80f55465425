"""Frozen records that flow through the pipeline. No behaviour beyond small derived values."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Section:
    """A heading and the character span of its body in ``Document.text``."""

    title: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Page:
    """A page number and its character span in ``Document.text`` (PDFs only)."""

    number: int
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Document:
    """One corpus file, loaded. ``text`` is what every offset in the system refers to."""

    doc_id: str
    path: str
    title: str
    text: str
    sha256: str
    format: str
    sections: tuple[Section, ...] = ()
    pages: tuple[Page, ...] = ()
    metadata: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class Chunk:
    """A passage of whole sentences inside one section.

    ``text == document.text[start:end]``; ``sentences`` are absolute ``(start, end)`` spans of the
    sentences in this chunk, in order.
    """

    chunk_id: str
    doc_id: str
    n: int
    title: str
    section: str | None
    start: int
    end: int
    text: str
    sha256: str
    sentences: tuple[tuple[int, int], ...]
    page: int | None = None


@dataclass(frozen=True, slots=True)
class Hit:
    """A retrieved chunk with its fused score and the per-retriever evidence behind it."""

    row: int
    chunk: Chunk
    score: float
    dense: float
    lexical: float


@dataclass(frozen=True, slots=True)
class Citation:
    n: int
    chunk: Chunk
    score: float
    sentences: tuple[tuple[int, int], ...] = ()


@dataclass(frozen=True, slots=True)
class Answer:
    text: str
    answered: bool
    confidence: float
    citations: tuple[Citation, ...] = ()
    related: tuple[Citation, ...] = ()
    took_ms: float = 0.0
    meta: dict[str, float] = field(default_factory=dict, compare=False)


@dataclass(frozen=True, slots=True)
class Turn:
    role: str
    content: str
