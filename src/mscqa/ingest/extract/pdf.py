"""PDF to text: pypdf reading and decryption, then paragraphs and headings joined into blocks.

pypdf is imported only when a PDF is parsed, inside the extraction worker's limits; the layout
analysis (lines, running heads, paragraphs, heading levels) lives in
:mod:`mscqa.ingest.extract.pdf_layout`.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from mscqa.ingest.extract.pdf_layout import (
    SENTENCE_END_RE,
    drop_running_heads,
    group_paragraphs,
    heading_levels,
    read_lines,
)
from mscqa.ingest.extract.text import Block, Refused, assemble, inline, short_reason

MIN_PDF_ALNUM = 20
_HYPHEN_END_RE = re.compile(r"[^\W\d_][-\u2010]$")


def _join(a: str, b: str) -> str:
    """Join two wrapped lines, undoing end-of-line hyphenation ("mesen-" + "chymal")."""
    if a.endswith("\u00ad"):
        return a[:-1] + b
    if _HYPHEN_END_RE.search(a) and b[:1].islower():
        return a[:-1] + b
    if a.endswith(("-", "\u2010")) and not a.endswith(" -"):
        return a + b
    return f"{a} {b}"


def _pdf_title(reader: Any) -> str | None:
    try:
        meta = reader.metadata
        raw = meta.title if meta is not None else None
    except Exception:
        return None
    if not raw:
        return None
    title = inline(str(raw))
    title = re.sub(r"^Microsoft (Word|PowerPoint) - ", "", title)
    title = re.sub(r"\.(docx?|pptx?|pdf|tex)$", "", title, flags=re.I).strip()
    return title if title and title.lower() not in ("untitled", "title") else None


def extract_pdf(data: bytes) -> dict[str, Any]:
    import io
    import logging

    logging.getLogger("pypdf").setLevel(logging.ERROR)
    if b"%PDF-" not in data[:1024]:
        raise Refused("corrupt PDF (no %PDF header)")
    from pypdf import PdfReader
    from pypdf.errors import DependencyError, FileNotDecryptedError

    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
    except Exception as exc:
        raise Refused(f"corrupt PDF ({short_reason(exc)})") from None
    if reader.is_encrypted:
        try:
            ok = bool(reader.decrypt(""))
        except DependencyError:
            raise Refused("encrypted PDF (AES; needs the 'cryptography' package)") from None
        except Exception:
            ok = False
        if not ok:
            raise Refused("encrypted PDF")
    try:
        page_lines = [read_lines(page) for page in reader.pages]
    except FileNotDecryptedError:
        raise Refused("encrypted PDF") from None
    except (MemoryError, RecursionError):
        raise
    except Exception as exc:
        raise Refused(f"corrupt PDF ({short_reason(exc)})") from None
    if sum(ch.isalnum() for lines in page_lines for line in lines for ch in line.text) < (
        MIN_PDF_ALNUM
    ):
        raise Refused("no extractable text (scanned image-only PDF?)")

    drop_running_heads(page_lines)
    paras = group_paragraphs(page_lines)
    sizes: Counter[float] = Counter()
    for para in paras:
        for line in para.lines:
            if line.size:
                sizes[line.size] += len(line.text)
    levels = heading_levels(paras, sizes.most_common(1)[0][0] if sizes else None)

    blocks: list[Block] = []
    prev_body: Block | None = None  # last body paragraph, if it may continue on the next page
    for i, para in enumerate(paras):
        level = levels.get(i)
        if level is not None:
            text = " ".join(line.text.rstrip("\u00ad") for line in para.lines)
            blocks.append(Block(text, level, [(para.page, 0, len(text))]))
            prev_body = None
            continue
        text = ""
        for line in para.lines:
            text = _join(text, line.text) if text else line.text
        first = para.lines[0].text
        if (
            prev_body is not None
            and blocks
            and blocks[-1] is prev_body
            and prev_body.pages[-1][0] == para.page - 1
            and not SENTENCE_END_RE.search(prev_body.text)
            and first[:1].islower()
        ):
            joined = _join(prev_body.text, text)
            start = len(joined) - len(text)
            page, s, _ = prev_body.pages[-1]
            prev_body.pages[-1] = (page, s, min(len(prev_body.text.rstrip("-\u00ad")), start))
            prev_body.text = joined
            prev_body.pages.append((para.page, start, len(joined)))
        else:
            prev_body = Block(text, None, [(para.page, 0, len(text))])
            blocks.append(prev_body)
    for b in blocks:
        if b.text.endswith("\u00ad"):
            b.text = b.text[:-1]
            b.pages = [(p, s, min(e, len(b.text))) for p, s, e in b.pages]
    text, sections, pages = assemble(blocks)
    return {"title": _pdf_title(reader), "text": text, "sections": sections, "pages": pages}
