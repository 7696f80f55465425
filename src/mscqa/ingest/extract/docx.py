"""DOCX to text: zip-bomb checks, then python-docx paragraphs, headings and tables as blocks.

python-docx is imported only when a document is parsed, inside the extraction worker's limits.
"""

from __future__ import annotations

import re
from typing import Any

from mscqa.ingest.extract.text import (
    Block,
    Refused,
    assemble,
    fmt_size,
    inline,
    paragraphs,
    short_reason,
)

ZIP_MAX_UNCOMPRESSED = 200 * 1024 * 1024
ZIP_MAX_ENTRIES = 10_000


def _check_zip(data: bytes) -> None:
    import io
    import zipfile

    if data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        raise Refused("not a DOCX (legacy .doc or password-protected Office file)")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            infos = zf.infolist()
            names = {i.filename for i in infos}
    except zipfile.BadZipFile:
        if data[:4] == b"PK\x03\x04":
            raise Refused("corrupt DOCX (truncated or damaged zip)") from None
        raise Refused("corrupt DOCX (not a zip file)") from None
    if len(infos) > ZIP_MAX_ENTRIES:
        raise Refused(f"DOCX has too many parts ({len(infos)} > {ZIP_MAX_ENTRIES}; zip bomb?)")
    total = sum(i.file_size for i in infos)
    if total > ZIP_MAX_UNCOMPRESSED:
        limit = fmt_size(ZIP_MAX_UNCOMPRESSED)
        raise Refused(f"DOCX too large uncompressed ({fmt_size(total)} > {limit}; zip bomb?)")
    if "word/document.xml" not in names and "[Content_Types].xml" not in names:
        raise Refused("corrupt DOCX (zip without a Word document in it)")


def _docx_level(paragraph: Any) -> int | None:
    """Heading level of a paragraph from its style chain (Title = 0, Heading N = N)."""
    style = paragraph.style
    for _ in range(10):
        if style is None:
            break
        name = (style.name or "").strip().lower()
        if name == "title":
            return 0
        m = re.fullmatch(r"heading\s*([1-9])", name)
        if m:
            return int(m.group(1))
        style = style.base_style
    try:
        lvl = paragraph._p.pPr.outlineLvl  # explicit outline level on the paragraph
        if lvl is not None:
            value = int(
                lvl.get("{http://schemas.openxmlformats.org/wordprocessingml/2006/main}val")
            )
            if 0 <= value < 9:
                return value + 1
    except (AttributeError, TypeError, ValueError):
        pass
    return None


def _cell_text(cell: Any) -> str:
    """Text of a table cell, nested tables flattened (iteratively)."""
    from docx.table import Table, _Cell, _Row

    out: list[str] = []
    stack: list[Any] = [cell]
    while stack:
        item = stack.pop()
        if isinstance(item, _Cell):
            stack.extend(reversed(list(item.iter_inner_content())))
        elif isinstance(item, Table):
            stack.extend(reversed(list(item.rows)))
        elif isinstance(item, _Row):
            stack.extend(reversed(_unique_cells(item)))
        else:
            out.append(item.text)
    return inline(" ".join(out))


def _unique_cells(row: Any) -> list[Any]:
    seen: set[int] = set()
    cells = []
    for cell in row.cells:  # merged cells repeat the same underlying <w:tc>
        if id(cell._tc) not in seen:
            seen.add(id(cell._tc))
            cells.append(cell)
    return cells


def extract_docx(data: bytes) -> dict[str, Any]:
    import io

    _check_zip(data)
    import docx
    from docx.table import Table

    try:
        document = docx.Document(io.BytesIO(data))
    except (MemoryError, RecursionError):
        raise
    except Exception as exc:
        raise Refused(f"corrupt DOCX ({short_reason(exc)})") from None

    blocks: list[Block] = []
    for item in document.iter_inner_content():
        if isinstance(item, Table):
            for row in item.rows:
                cells = [t for t in (_cell_text(c) for c in _unique_cells(row)) if t]
                if cells:
                    blocks.append(Block(" | ".join(cells)))
            continue
        level = _docx_level(item)
        if level is not None:
            heading = inline(item.text)
            if heading:
                blocks.append(Block(heading, level))
        else:
            blocks.extend(Block(p) for p in paragraphs(item.text))

    title = None
    try:
        title = inline(document.core_properties.title or "") or None
    except Exception:
        title = None
    if title is None:
        title = next((b.text for b in blocks if b.level is not None), None)
    text, sections, pages = assemble(blocks)
    if not text.strip():
        raise Refused("no extractable text in DOCX")
    return {"title": title, "text": text, "sections": sections, "pages": pages}
