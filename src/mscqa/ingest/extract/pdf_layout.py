"""PDF page layout: pypdf text-visitor callbacks to lines, paragraphs and heading levels.

Works on the lines pypdf reports (text, position, font size, boldness); pypdf itself is imported
by :mod:`mscqa.ingest.extract.pdf`, never here.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

from mscqa.ingest.extract.text import inline

_BOLD_RE = re.compile(r"bold|black|heavy|demi", re.I)
_PAGE_NO_RE = re.compile(r"^(page\s*)?([0-9]{1,4}|[ivxlc]{1,6})(\s*(of|/)\s*[0-9]{1,4})?$", re.I)
SENTENCE_END_RE = re.compile(r"[.!?:;][\"'”’)\]]*$")
_BULLET_RE = re.compile(r"^[•◦▪▫●○■□‣⁃∙·]\s")
# A table-of-contents dot leader. Linear: a leader may only start where a run of dots starts,
# and nothing is given back (each dot of ". . . ." used to start a rescan of the rest).
_DOT_LEADER_RE = re.compile(r"(?<!\.)(?<!\.\s)(?:\.\s?){4,}+\s*+[0-9ivxlc]++$", re.I)


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


def read_lines(page: Any) -> list[_Line]:
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


def drop_running_heads(pages: list[list[_Line]]) -> None:
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


def _median(values: list[float]) -> float | None:
    if not values:
        return None
    values = sorted(values)
    return values[len(values) // 2]


@dataclass
class _Para:
    lines: list[_Line]
    page: int


def group_paragraphs(page_lines: list[list[_Line]]) -> list[_Para]:
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
        ends = bool(SENTENCE_END_RE.search(prev.text))
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


def heading_levels(paras: list[_Para], body: float | None) -> dict[int, int]:
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
