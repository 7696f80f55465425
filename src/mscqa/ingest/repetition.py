"""Lines a corpus repeats: a site's template, found as the lines and paragraphs that occur
verbatim in documents that are not versions of one another (``ingest.boilerplate``'s
"repeated" ground), and the line records both modules judge.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations

from mscqa.ingest.chrome import HEADING, ends_sentence, line_key

_MIN_REPEATED_CHARS = 12
_MIN_REPEATED_SENTENCE = 40
_COPY_JACCARD = 0.5  # two documents sharing this much of their text are versions of one
_PAIR_LIMIT = 20


@dataclass(frozen=True, slots=True)
class Line:
    start: int  # its span in the document's text, without surrounding whitespace
    end: int
    paragraph: int  # lines of one paragraph (no blank line between them) share it
    key: str  # as repetition compares lines (``chrome.line_key``)
    heading: bool  # a Markdown heading line: never boilerplate


def lines_of(text: str) -> list[Line]:
    """The non-blank lines of ``text`` with their paragraph numbers."""
    out: list[Line] = []
    paragraph = 0
    pos = 0
    blank = True
    for raw in text.split("\n"):
        end = pos + len(raw)
        stripped = raw.strip()
        if stripped:
            if blank and out:
                paragraph += 1
            lead = len(raw) - len(raw.lstrip())
            start = pos + lead
            heading = bool(HEADING.match(raw))
            out.append(Line(start, start + len(stripped), paragraph, line_key(stripped), heading))
            blank = False
        else:
            blank = True
        pos = end + 1
    return out


def by_paragraph(lines: list[Line]) -> dict[int, list[int]]:
    groups: dict[int, list[int]] = {}
    for i, line in enumerate(lines):
        groups.setdefault(line.paragraph, []).append(i)
    return groups


@dataclass(frozen=True, slots=True)
class Units:
    """What of one document repetition compares (a pure function of its text, kept between
    builds with the rest of its analysis)."""

    lines: frozenset[str]  # keys of its lines that can say "template" (``_repeatable``)
    all: frozenset[str]  # those and the keys of its multi-line paragraphs
    size: int  # characters of ``lines``


def units_of(lines: Sequence[Line]) -> Units:
    keys = frozenset(line.key for line in lines if not line.heading and _repeatable(line.key))
    groups = [m for m in by_paragraph(list(lines)).values() if len(m) > 1]
    paragraphs = {" ".join(lines[i].key for i in m) for m in groups}
    units = keys | {k for k in paragraphs if len(k) >= _MIN_REPEATED_CHARS}
    return Units(keys, frozenset(units), sum(len(k) for k in keys))


def repeated_keys(units: Mapping[str, Units]) -> set[str]:
    """Keys of lines and multi-line paragraphs that occur in documents (``doc_id -> Units``)
    that are not copies of each other: two documents whose lines are mostly the same (weighted
    Jaccard, characters shared over characters in either, at least ``_COPY_JACCARD``) are one
    document in two versions, and what they share is content, not a template."""
    holders: dict[str, list[str]] = {}
    for doc_id, u in units.items():
        for k in u.all:
            holders.setdefault(k, []).append(doc_id)
    shared = {k: ds for k, ds in holders.items() if len(ds) >= 2}
    if not shared:
        return set()
    # Pairs of documents sharing lines, through the lines few documents hold (a line held by
    # many is template whoever holds it; counting its pairs would be quadratic).
    overlap: Counter[tuple[str, str]] = Counter()
    for k, ds in shared.items():
        if len(ds) <= _PAIR_LIMIT:
            for pair in combinations(sorted(ds), 2):
                if k in units[pair[0]].lines:
                    overlap[pair] += len(k)
    parent = {d: d for d in units}

    def root(d: str) -> str:
        while parent[d] != d:
            parent[d] = parent[parent[d]]
            d = parent[d]
        return d

    for (a, b), common in overlap.items():
        if common / max(1, units[a].size + units[b].size - common) >= _COPY_JACCARD:
            parent[root(a)] = root(b)
    return {k for k, ds in shared.items() if len({root(d) for d in ds}) >= 2}


def _repeatable(key: str) -> bool:
    """Whether a line found in two documents says they share a template: a bare line (a menu,
    a name, an address) or a long one. A short sentence ("Case series.", "Not applicable.")
    is often the same in unrelated documents."""
    return len(key) >= _MIN_REPEATED_SENTENCE or (
        len(key) >= _MIN_REPEATED_CHARS and not ends_sentence(key)
    )
