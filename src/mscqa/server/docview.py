"""A whole document laid out for reading, with one cited span marked (the ``/read`` page).

Pure: a ``Document`` and ``[start, end)`` (document character offsets, as in an answer's
``citations[].sentences``) in, a list of blocks out. Sections become headings, blank lines
separate paragraphs, PDF pages are marked where they begin, and the span is split into
``marked`` pieces wherever it crosses a paragraph. A Markdown heading line (``## Title``) is
not repeated as text above the heading it introduces.

>>> from mscqa.types import Document, Section
>>> doc = Document("a.md", "a.md", "A", "## Use\\nOne. Two.\\n\\nThree.", "", "markdown",
...                (Section("Use", 7, 24),))
>>> view = document_view(doc, 12, 16)
>>> [(b.kind, b.text) for b in view.blocks]
[('heading', 'Use'), ('paragraph', 'One. Two.'), ('paragraph', 'Three.')]
>>> [(p.text, p.marked) for p in view.blocks[1].pieces]
[('One. ', False), ('Two.', True)]
>>> view.section
'Use'
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mscqa.types import Document

_BLANK_LINES = re.compile(r"\n[ \t]*\n\s*")
# The start of a Markdown heading line. Only the last non-blank line of a text is tested (see
# _trailing_heading): the single pattern ``(?:^|\n)[ \t]*#{1,6}[ \t]+[^\n]*\s*$`` it replaces
# backtracked quadratically (``[^\n]*`` into ``\s*$`` at every space of a long heading line).
_HEADING_START = re.compile(r"[ \t]*+#{1,6}[ \t]")


@dataclass(frozen=True, slots=True)
class Piece:
    text: str
    marked: bool = False
    first_mark: bool = False  # the start of the cited span: the page scrolls to it


@dataclass(frozen=True, slots=True)
class Block:
    kind: str  # "heading" | "paragraph" | "page"
    text: str
    anchor: str = ""
    pieces: tuple[Piece, ...] = ()


@dataclass(frozen=True, slots=True)
class DocumentView:
    doc_id: str
    title: str
    blocks: tuple[Block, ...]
    span: tuple[int, int] | None  # the highlighted span, when the offsets were usable
    section: str | None  # the section the span starts in
    page: int | None  # the PDF page it starts on
    quoted: str  # the highlighted text


def parse_span(start: str | None, end: str | None, length: int) -> tuple[int, int] | None:
    """``(start, end)`` when both are integers with ``0 <= start < end <= length``, else None.

    >>> parse_span("2", "5", 10), parse_span("5", "2", 10), parse_span("x", "5", 10)
    ((2, 5), None, None)
    """
    try:
        a, b = int(str(start)), int(str(end))
    except ValueError:
        return None
    return (a, b) if 0 <= a < b <= length else None


def document_view(doc: Document, start: int | None = None, end: int | None = None) -> DocumentView:
    """Lay out ``doc`` with ``[start, end)`` marked (no mark when the span is unusable)."""
    text = doc.text
    span = (start, end) if start is not None and end is not None else None
    if span is not None and not 0 <= span[0] < span[1] <= len(text):
        span = None
    events = sorted(
        [(s.start, 0, "heading", s.title) for s in doc.sections if 0 <= s.start <= len(text)]
        + [(p.start, 1, "page", f"Page {p.number}") for p in doc.pages if 0 <= p.start < len(text)]
    )
    blocks: list[Block] = []
    state = {"marked": False}
    cut = 0
    for n, (at, _, kind, title) in enumerate(events):
        region_end = at
        if kind == "heading":
            region_end = _without_heading_line(text, cut, at, title)
        blocks += _paragraphs(text, cut, region_end, span, state)
        blocks.append(Block(kind, title, anchor=f"{kind}-{n + 1}"))
        cut = max(cut, at)
    blocks += _paragraphs(text, cut, len(text), span, state)
    section = page = None
    if span is not None:
        section = next((s.title for s in doc.sections if s.start <= span[0] < s.end), None)
        page = next((p.number for p in doc.pages if p.start <= span[0] < p.end), None)
    return DocumentView(
        doc_id=doc.doc_id,
        title=doc.title,
        blocks=tuple(b for b in blocks if b.kind != "paragraph" or b.pieces),
        span=span,
        section=section,
        page=page,
        quoted=text[span[0] : span[1]] if span else "",
    )


def _without_heading_line(text: str, start: int, end: int, title: str) -> int:
    """Where the text before a heading ends once the heading's own line is left out."""
    before = text[start:end]
    heading = _trailing_heading(before)
    if heading is not None and title.strip() in before[heading:]:
        return start + heading
    stripped = before.rstrip()
    if stripped.endswith(title.strip()) and title.strip():
        return start + len(stripped) - len(title.strip())
    return end


def _trailing_heading(before: str) -> int | None:
    """Where ``before``'s trailing Markdown heading starts (the newline before its line, or 0)
    when its last non-blank line is a heading (``## Title``); else None. Linear time."""
    line_start = before.rstrip().rfind("\n") + 1
    if not _HEADING_START.match(before, line_start):
        return None
    return line_start - 1 if line_start else 0


def _paragraphs(
    text: str, start: int, end: int, span: tuple[int, int] | None, state: dict[str, bool]
) -> list[Block]:
    out = []
    pos = start
    for m in [*_BLANK_LINES.finditer(text, start, end), None]:
        stop = m.start() if m else end
        a, b = _strip(text, pos, stop)
        if b > a:
            out.append(Block("paragraph", text[a:b], pieces=_pieces(text, a, b, span, state)))
        if m:
            pos = m.end()
    return out


def _strip(text: str, a: int, b: int) -> tuple[int, int]:
    while a < b and text[a].isspace():
        a += 1
    while b > a and text[b - 1].isspace():
        b -= 1
    return a, b


def _pieces(
    text: str, a: int, b: int, span: tuple[int, int] | None, state: dict[str, bool]
) -> tuple[Piece, ...]:
    if span is None or span[1] <= a or span[0] >= b:
        return (Piece(text[a:b]),)
    s, e = max(a, span[0]), min(b, span[1])
    first = not state["marked"]
    state["marked"] = True
    parts = [Piece(text[a:s]), Piece(text[s:e], True, first), Piece(text[e:b])]
    return tuple(p for p in parts if p.text)
