"""Child process that parses ONE document and writes the result to stdout as JSON.

Run only by :func:`mscqa.formats.extract`::

    python -m mscqa._extract_worker PATH MAX_BYTES MEMORY_MB CPU_SECONDS

The parent enforces the wall-clock timeout and kills this process group; this process limits its
own address space (RLIMIT_AS) and CPU time before it imports any parser, so a decompression bomb
or a pathological file fails here with MemoryError or a signal instead of hurting the caller.

Output (one JSON object on stdout, nothing else is ever written there)::

    {"ok": true, "title": str|null, "text": str, "sections": [[h, s, e], ...], "pages": [...]}
    {"ok": false, "reason": "short human-readable reason"}

Only the standard library is imported at start-up; pypdf, python-docx or selectolax are imported
when the file's format needs them.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import sys
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ZIP_MAX_UNCOMPRESSED = 200 * 1024 * 1024
ZIP_MAX_ENTRIES = 10_000
HTML_MAX_DEPTH = 10_000
MIN_PDF_ALNUM = 20
_MEMORY_MB = 0  # the address-space limit in force, for messages


class Refused(Exception):
    """The file cannot be extracted; ``reason`` says why in a few words."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# --------------------------------------------------------------------------------------------
# Text normalisation
# --------------------------------------------------------------------------------------------

# C0 controls except \t and \n, DEL, and invisible characters that only get in the way of search
# (soft hyphen, zero-width space, byte-order mark).
_CONTROL_RE = re.compile("[\x00-\x08\x0b-\x1f\x7f\u00ad\u200b\ufeff]")
_ALL_WS_RE = re.compile(r"[\s\u00a0]+")
_SPACES_RE = re.compile(r"[ \u00a0\f\v]+")
_BLANK_LINES_RE = re.compile(r"\n[ \t]*\n[\s]*")


def normalize(s: str) -> str:
    """NFC, \\r\\n and \\r to \\n, drop C0 controls (but \\t, \\n) and invisible characters."""
    s = s.replace("\r\n", "\n").replace("\r", "\n")
    s = unicodedata.normalize("NFC", s)
    return _CONTROL_RE.sub("", s)


def inline(s: str) -> str:
    """Normalised text on one line: every run of whitespace becomes one space."""
    return _ALL_WS_RE.sub(" ", normalize(s)).strip()


def paragraphs(s: str) -> list[str]:
    """Normalised text split into paragraphs at blank lines; single line breaks are kept."""
    s = normalize(s)
    out = []
    for chunk in _BLANK_LINES_RE.split(s):
        lines = [_SPACES_RE.sub(" ", line).strip() for line in chunk.split("\n")]
        text = "\n".join(line for line in lines if line)
        if text:
            out.append(text)
    return out


# --------------------------------------------------------------------------------------------
# Assembly of blocks into text + section and page offsets
# --------------------------------------------------------------------------------------------


@dataclass
class Block:
    """One paragraph of the output. ``level`` is set for headings (0 = document title, 1..)."""

    text: str
    level: int | None = None
    # PDF only: (page number, start, end) spans inside ``text``.
    pages: list[tuple[int, int, int]] = field(default_factory=list)


def assemble(blocks: list[Block]) -> tuple[str, list[list[Any]], list[list[int]]]:
    parts: list[str] = []
    starts: list[int] = []
    pos = 0
    kept: list[Block] = []
    for b in blocks:
        if not b.text:
            continue
        if parts:
            pos += 2
        starts.append(pos)
        parts.append(b.text)
        kept.append(b)
        pos += len(b.text)
    text = "\n\n".join(parts)

    sections: list[list[Any]] = []
    for i, b in enumerate(kept):
        if b.level is None:
            continue
        start = min(starts[i] + len(b.text) + 2, len(text))
        end = len(text)
        for j in range(i + 1, len(kept)):
            other = kept[j].level
            if other is not None and other <= b.level:
                end = starts[j] - 2
                break
        sections.append([b.text, start, max(start, end)])

    spans: dict[int, list[int]] = {}
    for i, b in enumerate(kept):
        for page, s, e in b.pages:
            s, e = starts[i] + s, starts[i] + e
            if page in spans:
                spans[page][0] = min(spans[page][0], s)
                spans[page][1] = max(spans[page][1], e)
            else:
                spans[page] = [s, e]
    pages = [[p, s, e] for p, (s, e) in sorted(spans.items())]
    return text, sections, pages


# --------------------------------------------------------------------------------------------
# HTML
# --------------------------------------------------------------------------------------------

_DROP_TAGS = frozenset(
    {
        "script", "style", "noscript", "nav", "footer", "aside", "form", "template", "svg",
        "iframe", "object", "embed", "canvas", "button", "select", "textarea", "input", "head",
        "audio", "video", "map", "dialog", "title", "link", "meta",
    }
)  # fmt: skip
# ARIA landmarks that mean the same as the dropped elements.
_DROP_ROLES = frozenset({"navigation", "banner", "contentinfo", "complementary", "search", "form"})
_HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
_BLOCK_TAGS = frozenset(
    {
        "address", "article", "blockquote", "body", "caption", "center", "dd", "details", "dir",
        "div", "dl", "dt", "fieldset", "figcaption", "figure", "header", "hgroup", "hr", "html",
        "legend", "li", "main", "menu", "ol", "p", "pre", "section", "summary", "table", "tbody",
        "tfoot", "thead", "ul",
    }
)  # fmt: skip
_HIDDEN_STYLE_RE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.I)
_META_CHARSET_RE = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)
_TAG_RE = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9-]*)[^>]*?(/?)>")
# Elements that never nest in practice (void) or whose end tag HTML closes implicitly.
_NO_DEPTH = frozenset(
    {
        "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr", "p", "li", "dt", "dd", "option", "optgroup", "tr", "td", "th", "thead",
        "tbody", "tfoot", "colgroup", "rb", "rt", "rtc", "rp", "html", "head", "body", "param",
    }
)  # fmt: skip


def decode_html(data: bytes) -> str:
    """Decode using the BOM, then a <meta charset> in the first 4 KB, then UTF-8, then cp1252."""
    for bom, enc in (
        (b"\xef\xbb\xbf", "utf-8"),
        (b"\xff\xfe", "utf-16-le"),
        (b"\xfe\xff", "utf-16-be"),
    ):
        if data.startswith(bom):
            return data[len(bom) :].decode(enc, errors="replace")
    m = _META_CHARSET_RE.search(data[:4096])
    if m:
        enc = m.group(1).decode("ascii", "replace").lower()
        if enc in ("iso-8859-1", "latin-1", "latin1", "us-ascii", "ascii"):
            enc = "cp1252"  # what browsers do (WHATWG encoding standard)
        try:
            return data.decode(enc, errors="replace")
        except LookupError:
            pass
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def html_depth(html: str) -> int:
    """Rough maximum element nesting depth, counted from tags in the source.

    HTML5 tree building is quadratic in nesting depth, so absurd depths are refused before
    parsing instead of spending the whole time budget on them.
    """
    depth = best = 0
    for m in _TAG_RE.finditer(html):
        name = m.group(2).lower()
        if name in _NO_DEPTH or m.group(3):
            continue
        if m.group(1):
            depth = max(0, depth - 1)
        else:
            depth += 1
            if depth > best:
                best = depth
    return best


def _is_hidden(attrs: dict[str, str | None]) -> bool:
    if "hidden" in attrs:
        return True
    if (attrs.get("aria-hidden") or "").strip().lower() == "true":
        return True
    if (attrs.get("role") or "").strip().lower() in _DROP_ROLES:
        return True
    style = attrs.get("style")
    return bool(style and _HIDDEN_STYLE_RE.search(style))


class _HtmlText:
    """Walks a selectolax tree without recursion and collects paragraph blocks."""

    def __init__(self) -> None:
        self.blocks: list[Block] = []
        self.buf: list[str] = []
        self.rows: list[list[str]] = []  # open table rows (nested tables stack)
        self.heading: int | None = None
        self.pre = 0

    def flush(self) -> None:
        if not self.buf:
            return
        raw = "".join(self.buf)
        self.buf = []
        if self.rows and self.rows[-1]:
            text = inline(raw)
            if text:
                row = self.rows[-1]
                row[-1] = f"{row[-1]} {text}".strip()
            return
        if self.heading is not None:
            text = inline(raw)
            if text:
                self.blocks.append(Block(text, self.heading))
            return
        self.blocks.extend(Block(p) for p in paragraphs(raw))

    def add_text(self, s: str) -> None:
        if self.pre:
            self.buf.append(s)
        else:
            self.buf.append(_ALL_WS_RE.sub(" ", s))

    def enter(self, tag: str) -> None:
        if tag == "br":
            self.buf.append("\n")
        elif tag in _HEADINGS:
            self.flush()
            self.heading = _HEADINGS[tag]
        elif tag == "tr":
            self.flush()
            self.rows.append([])
        elif tag in ("td", "th"):
            self.flush()
            if self.rows:
                self.rows[-1].append("")
        elif tag in _BLOCK_TAGS:
            self.flush()
            if tag == "pre":
                self.pre += 1

    def leave(self, tag: str) -> None:
        if tag in _HEADINGS:
            self.flush()
            self.heading = None
        elif tag == "tr":
            self.flush()
            if self.rows:
                cells = [c for c in self.rows.pop() if c]
                if cells:
                    self.blocks.append(Block(" | ".join(cells)))
        elif tag in ("td", "th"):
            self.flush()
        elif tag in _BLOCK_TAGS:
            self.flush()
            if tag == "pre":
                self.pre -= 1

    def walk(self, root: Any) -> list[Block]:
        stack: list[tuple[Any, bool]] = [(root, False)]
        while stack:
            node, leaving = stack.pop()
            tag = node.tag
            if leaving:
                self.leave(tag)
                continue
            if tag == "-text":
                self.add_text(node.text_content or "")
                continue
            if not tag or tag.startswith(("-", "_", "#")):  # comments, doctype, ...
                continue
            if tag in _DROP_TAGS or _is_hidden(node.attributes):
                continue
            if tag == "header" and not _inside_content(node):
                continue
            self.enter(tag)
            stack.append((node, True))
            children = []
            child = node.child
            while child is not None:
                children.append(child)
                child = child.next
            stack.extend((c, False) for c in reversed(children))
        self.flush()
        return self.blocks


def _inside_content(node: Any) -> bool:
    """True for a <header> inside <article>/<main> (an article's own header: title, byline)."""
    parent = node.parent
    while parent is not None:
        if parent.tag in ("article", "main"):
            return True
        parent = parent.parent
    return False


def extract_html(data: bytes) -> dict[str, Any]:
    html = decode_html(data)
    depth = html_depth(html)
    if depth > HTML_MAX_DEPTH:
        raise Refused(f"HTML nested too deeply (about {depth} levels > {HTML_MAX_DEPTH})")
    from selectolax.lexbor import LexborHTMLParser

    try:
        tree = LexborHTMLParser(html)
    except Exception:
        # lexbor never rejects markup; it fails only when an allocation fails.
        raise Refused(f"memory limit exceeded ({_MEMORY_MB} MB) while parsing HTML") from None
    title = None
    node = tree.css_first("head title") or tree.css_first("title")
    if node is not None:
        title = inline(node.text(deep=True)) or None

    body = tree.body if tree.body is not None else tree.root
    if body is None:
        raise Refused("no extractable text in HTML")
    blocks = _HtmlText().walk(body)
    # Prefer the page's declared main content when it holds a fair share of the text.
    mains = tree.css("main, [role=main]") or []
    articles = tree.css("article") or []
    candidate = mains[0] if mains else (articles[0] if len(articles) == 1 else None)
    if candidate is not None:
        inner = _HtmlText().walk(candidate)
        if sum(len(b.text) for b in inner) >= 0.25 * sum(len(b.text) for b in blocks):
            blocks = inner
    if title is None:
        title = next((b.text for b in blocks if b.level == 1), None)
    text, sections, pages = assemble(blocks)
    if not text.strip():
        raise Refused("no extractable text in HTML")
    return {"title": title, "text": text, "sections": sections, "pages": pages}


# --------------------------------------------------------------------------------------------
# PDF
# --------------------------------------------------------------------------------------------

_BOLD_RE = re.compile(r"bold|black|heavy|demi", re.I)
_PAGE_NO_RE = re.compile(r"^(page\s*)?([0-9]{1,4}|[ivxlc]{1,6})(\s*(of|/)\s*[0-9]{1,4})?$", re.I)
_SENTENCE_END_RE = re.compile(r"[.!?:;][\"'”’)\]]*$")
_HYPHEN_END_RE = re.compile(r"[^\W\d_][-\u2010]$")
_BULLET_RE = re.compile(r"^[•◦▪▫●○■□‣⁃∙·]\s")
_DOT_LEADER_RE = re.compile(r"(\.\s?){4,}\s*[0-9ivxlc]+$", re.I)


@dataclass
class _Line:
    text: str
    x: float | None = None
    y: float | None = None
    size: float | None = None
    bold: bool = False


class _LineCollector:
    """Receives pypdf's text-visitor callbacks for one page and splits them into lines."""

    def __init__(self) -> None:
        self.lines: list[_Line] = []
        self._parts: list[str] = []
        self._geo: tuple[float, float] | None = None
        self._sizes: Counter[float] = Counter()
        self._bold = 0
        self._chars = 0

    def end_line(self) -> None:
        text = "".join(self._parts)
        if text.strip():
            size = self._sizes.most_common(1)[0][0] if self._sizes else None
            x, y = self._geo if self._geo else (None, None)
            self.lines.append(_Line(text, x, y, size, self._bold * 2 > self._chars > 0))
        self._parts, self._geo, self._sizes, self._bold, self._chars = [], None, Counter(), 0, 0

    def visit(self, text: str, cm: Any, tm: Any, font: Any, font_size: Any) -> None:
        pieces = text.split("\n")
        for i, piece in enumerate(pieces):
            if i:
                self.end_line()
            if not piece:
                continue
            self._parts.append(piece)
            n = len(piece.strip())
            if not n:
                continue
            try:
                _a, _b, c, d, e, f = (float(v) for v in tm)
                ca, cb, cc, cd, ce, cf = (float(v) for v in cm)
                x = e * ca + f * cc + ce
                y = e * cb + f * cd + cf
                scale = ((c * ca + d * cc) ** 2 + (c * cb + d * cd) ** 2) ** 0.5
                size = round(float(font_size) * scale * 2) / 2
            except (TypeError, ValueError):
                x = y = size = None  # type: ignore[assignment]
            if self._geo is None and x is not None and y is not None:
                self._geo = (x, y)
            if size:
                self._sizes[size] += n
            base = ""
            try:
                base = str(font.get("/BaseFont", "")) if font is not None else ""
            except Exception:
                base = ""
            if _BOLD_RE.search(base):
                self._bold += n
            self._chars += n


def _squash(s: str) -> str:
    return re.sub(r"\s+", "", s)


def _page_lines(page: Any) -> list[_Line]:
    collector = _LineCollector()
    plain = page.extract_text(visitor_text=collector.visit)
    collector.end_line()
    lines = collector.lines
    # Safety net: if the visitor saw something different from pypdf's own text, trust the text.
    if _squash(plain) != _squash("".join(line.text for line in lines)):
        lines = [_Line(t) for t in (plain or "").split("\n") if t.strip()]
    for line in lines:
        line.text = inline(line.text.rstrip("\u00ad")) + ("\u00ad" if _soft(line.text) else "")
    return [line for line in lines if line.text.strip("\u00ad")]


def _soft(s: str) -> bool:
    return s.rstrip().endswith("\u00ad")


def _drop_running_heads(pages: list[list[_Line]]) -> None:
    """Remove page numbers and lines repeated at the top/bottom of most pages."""

    def key(line: _Line) -> str:
        return re.sub(r"\d+", "#", line.text.lower()).strip()

    def edge_idx(lines: list[_Line]) -> set[int]:
        n = len(lines)
        return {i for i in (0, 1, n - 2, n - 1) if 0 <= i < n}

    counts: Counter[str] = Counter()
    for lines in pages:
        counts.update({key(lines[i]) for i in edge_idx(lines)})
    threshold = max(3, (len(pages) + 1) // 2)
    for p, lines in enumerate(pages):
        drop = {
            i
            for i in edge_idx(lines)
            if _PAGE_NO_RE.match(lines[i].text)
            or (len(pages) >= 3 and counts[key(lines[i])] >= threshold)
        }
        if drop:
            pages[p] = [line for i, line in enumerate(lines) if i not in drop]


def _join(a: str, b: str) -> str:
    """Join two wrapped lines, undoing end-of-line hyphenation ("mesen-" + "chymal")."""
    if a.endswith("\u00ad"):
        return a[:-1] + b
    if _HYPHEN_END_RE.search(a) and b[:1].islower():
        return a[:-1] + b
    if a.endswith(("-", "\u2010")) and not a.endswith(" -"):
        return a + b
    return f"{a} {b}"


def _median(values: list[float]) -> float | None:
    if not values:
        return None
    values = sorted(values)
    return values[len(values) // 2]


@dataclass
class _Para:
    lines: list[_Line]
    page: int


def _paragraphs(page_lines: list[list[_Line]]) -> list[_Para]:
    sizes: Counter[float] = Counter()
    lengths: list[float] = []
    for lines in page_lines:
        for line in lines:
            if line.size:
                sizes[line.size] += len(line.text)
            lengths.append(len(line.text))
    body = sizes.most_common(1)[0][0] if sizes else None
    deltas = []
    for lines in page_lines:
        for prev, cur in itertools.pairwise(lines):
            if prev.y is None or cur.y is None or prev.size != body or cur.size != body:
                continue
            dy = prev.y - cur.y
            if body and 0 < dy < 2.5 * body:
                deltas.append(dy)
    leading = _median(deltas)
    typical_len = _median(lengths) or 0.0

    def breaks(prev: _Line, cur: _Line, first: _Line) -> bool:
        ends = bool(_SENTENCE_END_RE.search(prev.text))
        if ends and len(prev.text) < 0.6 * typical_len:
            return True  # a short last line
        if _BULLET_RE.match(cur.text) or _DOT_LEADER_RE.search(prev.text):
            return True  # a list item starts; a table-of-contents entry ends
        if prev.size is None or cur.size is None or prev.y is None or cur.y is None:
            return False
        if abs(prev.size - cur.size) > max(0.75, 0.12 * (body or cur.size)):
            return True
        if prev.bold != cur.bold:
            return True
        dy = prev.y - cur.y
        normal = leading if leading and prev.size == body else 1.2 * prev.size
        if dy > 1.4 * normal:
            return True
        indent = (cur.x or 0.0) - (first.x or 0.0)
        return ends and 0 < dy <= 1.4 * normal and cur.size < indent < 6 * cur.size

    paras: list[_Para] = []
    for page_no, lines in enumerate(page_lines, start=1):
        current: _Para | None = None
        for line in lines:
            if current is None or breaks(current.lines[-1], line, current.lines[0]):
                current = _Para([line], page_no)
                paras.append(current)
            else:
                current.lines.append(line)
    return paras


def _heading_levels(paras: list[_Para], body: float | None) -> dict[int, int]:
    """Index of heading paragraphs -> level (1 = largest type)."""
    candidates: dict[int, float] = {}
    for i, para in enumerate(paras):
        text = " ".join(line.text for line in para.lines)
        size = para.lines[0].size
        if body is None or size is None or len(para.lines) > 3 or len(text) > 200:
            continue
        if not re.search(r"[^\W\d_]", text) or text.rstrip().endswith((".", ",", ";")):
            continue
        if _DOT_LEADER_RE.search(text) or _BULLET_RE.match(text):
            continue
        if size >= 1.15 * body:
            candidates[i] = size
        elif all(line.bold for line in para.lines) and len(para.lines) == 1 and len(text) <= 100:
            candidates[i] = body  # bold run-of-text heading, lowest level
    ranks = {s: r for r, s in enumerate(sorted(set(candidates.values()), reverse=True), start=1)}
    return {i: ranks[s] for i, s in candidates.items()}


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
        raise Refused(f"corrupt PDF ({_short(exc)})") from None
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
        page_lines = [_page_lines(page) for page in reader.pages]
    except FileNotDecryptedError:
        raise Refused("encrypted PDF") from None
    except (MemoryError, RecursionError):
        raise
    except Exception as exc:
        raise Refused(f"corrupt PDF ({_short(exc)})") from None
    if sum(ch.isalnum() for lines in page_lines for line in lines for ch in line.text) < (
        MIN_PDF_ALNUM
    ):
        raise Refused("no extractable text (scanned image-only PDF?)")

    _drop_running_heads(page_lines)
    paras = _paragraphs(page_lines)
    sizes: Counter[float] = Counter()
    for para in paras:
        for line in para.lines:
            if line.size:
                sizes[line.size] += len(line.text)
    levels = _heading_levels(paras, sizes.most_common(1)[0][0] if sizes else None)

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
            and not _SENTENCE_END_RE.search(prev_body.text)
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


# --------------------------------------------------------------------------------------------
# DOCX
# --------------------------------------------------------------------------------------------


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
        raise Refused(f"corrupt DOCX ({_short(exc)})") from None

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


# --------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------

EXTRACTORS = {
    ".html": extract_html,
    ".htm": extract_html,
    ".pdf": extract_pdf,
    ".docx": extract_docx,
}


def _short(exc: BaseException) -> str:
    msg = inline(str(exc)) or type(exc).__name__
    return msg if len(msg) <= 120 else msg[:117] + "..."


def fmt_size(n: float) -> str:
    """'31.2 MB', '25 MB', '0.5 KB': sizes as reasons show them."""
    mb = n / (1024 * 1024)
    if mb >= 0.1:
        return f"{mb:.1f} MB".replace(".0 MB", " MB")
    return f"{n / 1024:.1f} KB".replace(".0 KB", " KB")


def _limit_resources(memory_mb: int, cpu_s: int) -> None:
    import resource

    def cap(which: int, value: int) -> None:
        _soft, hard = resource.getrlimit(which)
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard)
        resource.setrlimit(which, (value, hard))

    cap(resource.RLIMIT_CORE, 0)
    if cpu_s > 0:
        cap(resource.RLIMIT_CPU, cpu_s)
    if memory_mb > 0:
        cap(resource.RLIMIT_AS, memory_mb * 1024 * 1024)


def run(path: Path, max_bytes: int) -> dict[str, Any]:
    extractor = EXTRACTORS.get(path.suffix.lower())
    if extractor is None:
        raise Refused(f"unsupported file type {path.suffix or '(none)'!r}")
    try:
        with path.open("rb") as fh:
            data = fh.read(max_bytes + 1)
    except OSError as exc:
        raise Refused(f"cannot read file ({exc.strerror or exc})") from None
    if len(data) > max_bytes:
        raise Refused(f"file too large (> {fmt_size(max_bytes)})")
    if not data.strip():
        raise Refused("empty file")
    return extractor(data)


def main(argv: list[str]) -> int:
    # Keep the real stdout for the JSON answer only; anything a library prints goes to stderr.
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    if len(argv) != 4:
        out.write(b'{"ok": false, "reason": "bad worker arguments"}')
        return 2
    path, max_bytes, memory_mb, cpu_s = Path(argv[0]), int(argv[1]), int(argv[2]), int(argv[3])
    global _MEMORY_MB
    _MEMORY_MB = memory_mb
    _limit_resources(memory_mb, cpu_s)
    sys.setrecursionlimit(10_000)

    payload: dict[str, Any] | None = None
    failure = None
    try:
        payload = {"ok": True, **run(path, max_bytes)}
    except Refused as exc:
        failure = exc.reason
    except MemoryError:
        failure = f"memory limit exceeded ({memory_mb} MB)"
    except RecursionError:
        failure = "document structure too deeply nested"
    except Exception as exc:
        failure = f"extraction failed ({type(exc).__name__}: {_short(exc)})"
    if payload is None:
        payload = {"ok": False, "reason": failure}
    out.write(json.dumps(payload, ensure_ascii=True).encode("ascii"))
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
