"""Text helpers shared by the extract_* parsers: normalisation, paragraphs, assembly.

Standard library only: the extraction worker imports this module before it sets its resource
limits. ``assemble`` joins :class:`Block` paragraphs into one text with the character offsets of
its sections and pages, the shape :func:`mscqa.ingest.extract.sandbox.extract` returns.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any


class Refused(Exception):
    """The file cannot be extracted; ``reason`` says why in a few words."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class OutOfMemory(Refused):
    """An allocation failed while ``doing`` something; the worker adds the limit in force."""

    def __init__(self, doing: str) -> None:
        super().__init__(f"memory limit exceeded while {doing}")
        self.doing = doing


# --------------------------------------------------------------------------------------------
# Text normalisation
# --------------------------------------------------------------------------------------------

# C0 controls except \t and \n, DEL, and invisible characters that only get in the way of search
# (soft hyphen, zero-width space, byte-order mark).
_CONTROL_RE = re.compile("[\x00-\x08\x0b-\x1f\x7f\u00ad\u200b\ufeff]")
ALL_WS_RE = re.compile(r"[\s\u00a0]+")
_SPACES_RE = re.compile(r"[ \u00a0\f\v]+")
_BLANK_LINES_RE = re.compile(r"\n[ \t]*+\n\s*")


def normalize(s: str) -> str:
    """NFC, \\r\\n and \\r to \\n, drop C0 controls (but \\t, \\n) and invisible characters."""
    s = s.replace("\r\n", "\n").replace("\r", "\n")
    s = unicodedata.normalize("NFC", s)
    return _CONTROL_RE.sub("", s)


def inline(s: str) -> str:
    """Normalised text on one line: every run of whitespace becomes one space."""
    return ALL_WS_RE.sub(" ", normalize(s)).strip()


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
    # HTML only: the markup says it is site chrome (a link list, a navigation or footer class)
    chrome: bool = False


def chrome_spans(blocks: list[Block]) -> list[list[int]]:
    """``[start, end]`` in ``assemble(blocks)``'s text of the blocks marked ``chrome``."""
    spans: list[list[int]] = []
    pos = None
    for b in blocks:
        if not b.text:
            continue
        pos = 0 if pos is None else pos + 2
        if b.chrome:
            spans.append([pos, pos + len(b.text)])
        pos += len(b.text)
    return spans


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
# Reasons
# --------------------------------------------------------------------------------------------


def short_reason(exc: BaseException) -> str:
    """An exception as a reason: its message on one line, at most 120 characters."""
    msg = inline(str(exc)) or type(exc).__name__
    return msg if len(msg) <= 120 else msg[:117] + "..."


def fmt_size(n: float) -> str:
    """'31.2 MB', '25 MB', '0.5 KB': sizes as reasons show them."""
    mb = n / (1024 * 1024)
    if mb >= 0.1:
        return f"{mb:.1f} MB".replace(".0 MB", " MB")
    return f"{n / 1024:.1f} KB".replace(".0 KB", " KB")
