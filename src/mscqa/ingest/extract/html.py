"""HTML to text: decoding, a nesting-depth guard, and a selectolax walk into paragraph blocks.

selectolax is imported only when a page is parsed, inside the extraction worker's limits.
"""

from __future__ import annotations

import re
from typing import Any

from mscqa.ingest.extract.landmarks import (
    DROP_TAGS,
    LINK_DENSITY,
    MAX_CHROME,
    inside_content,
    is_chrome,
    is_hidden,
)
from mscqa.ingest.extract.text import (
    ALL_WS_RE,
    Block,
    OutOfMemory,
    Refused,
    assemble,
    chrome_spans,
    inline,
    paragraphs,
)

HTML_MAX_DEPTH = 10_000

_HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
_BLOCK_TAGS = frozenset(
    {
        "address", "article", "blockquote", "body", "caption", "center", "dd", "details", "dir",
        "div", "dl", "dt", "fieldset", "figcaption", "figure", "header", "hgroup", "hr", "html",
        "legend", "li", "main", "menu", "ol", "p", "pre", "section", "summary", "table", "tbody",
        "tfoot", "thead", "ul",
    }
)  # fmt: skip
_META_CHARSET_RE = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)
# Linear: a tag's attributes stop at the next "<" or ">". The lazy "[^>]*?" let every "<a" of
# "<a<a<a..." scan to the end of the page (quadratic; tests/test_linear_time.py). A "<" inside
# an attribute value now ends the tag for this rough count, which only has to spot absurd
# nesting.
_TAG_RE = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9-]*+)([^<>]*+)>")
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
        if name in _NO_DEPTH or m.group(3).endswith("/"):
            continue
        if m.group(1):
            depth = max(0, depth - 1)
        else:
            depth += 1
            if depth > best:
                best = depth
    return best


class _HtmlText:
    """Walks a selectolax tree without recursion and collects paragraph blocks."""

    def __init__(self) -> None:
        self.blocks: list[Block] = []
        self.buf: list[str] = []
        self.rows: list[list[str]] = []  # open table rows (nested tables stack)
        self.heading: int | None = None
        self.pre = 0
        self.links = 0  # characters of link text in ``buf``
        self.in_link = 0
        self.opened: list[int] = []  # where each open chrome element's blocks start
        self.marked: list[tuple[int, int]] = []  # blocks [a, b) of each closed one

    def flush(self) -> None:
        if not self.buf:
            return
        raw = "".join(self.buf)
        self.buf = []
        chars = len(ALL_WS_RE.sub("", raw))
        chrome = bool(chars and self.links / chars >= LINK_DENSITY)
        self.links = 0
        if self.rows and self.rows[-1]:
            text = inline(raw)
            if text:
                row = self.rows[-1]
                row[-1] = f"{row[-1]} {text}".strip()
            return
        if self.heading is not None:
            text = inline(raw)
            if text:
                self.blocks.append(Block(text, self.heading, chrome=chrome))
            return
        self.blocks.extend(Block(p, chrome=chrome) for p in paragraphs(raw))

    def add_text(self, s: str) -> None:
        if self.in_link:
            self.links += len(ALL_WS_RE.sub("", s))
        if self.pre:
            self.buf.append(s)
        else:
            self.buf.append(ALL_WS_RE.sub(" ", s))

    def enter(self, tag: str) -> None:
        if tag == "a":
            self.in_link += 1
        elif tag == "br":
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
        if tag == "a":
            self.in_link = max(0, self.in_link - 1)
        elif tag in _HEADINGS:
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
                if is_chrome(node):
                    self.flush()
                    self.marked.append((self.opened.pop(), len(self.blocks)))
                continue
            if tag == "-text":
                self.add_text(node.text_content or "")
                continue
            if not tag or tag.startswith(("-", "_", "#")):  # comments, doctype, ...
                continue
            if tag in DROP_TAGS or is_hidden(node.attributes):
                continue
            if tag == "header" and not inside_content(node):
                continue
            if is_chrome(node):
                self.flush()
                self.opened.append(len(self.blocks))
            self.enter(tag)
            stack.append((node, True))
            children = []
            child = node.child
            while child is not None:
                children.append(child)
                child = child.next
            stack.extend((c, False) for c in reversed(children))
        self.flush()
        self._mark()
        return self.blocks

    def _mark(self) -> None:
        """Mark the blocks of chrome elements, but not of one that holds most of the page's
        text: that class names a layout ("with-sidebar"), not chrome."""
        total = sum(len(b.text) for b in self.blocks)
        for a, b in self.marked:
            if sum(len(x.text) for x in self.blocks[a:b]) <= MAX_CHROME * total:
                for block in self.blocks[a:b]:
                    block.chrome = True


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
        raise OutOfMemory("parsing HTML") from None
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
    return {
        "title": title,
        "text": text,
        "sections": sections,
        "pages": pages,
        "chrome": chrome_spans(blocks),
    }
