"""Site boilerplate in documents' text: the spans no answer should quote.

A page saved from a website carries the site's chrome with the author's text: navigation
("Return to List", "Prev: <another article>", "Next: ..."), page-template fields ("Release
Date:2025-04-07"), cookie and copyright lines, and the footer or related-links block every page of
the site repeats. Cited as evidence they make nonsense answers ("Next: NMPA issued ..."), so the
chunker leaves these spans out of the passages it makes. The text itself is never changed: the
document reader (``/read``) still shows every line, and the user's file is never touched.

The unit is a line (a paragraph of one line is the common case in saved pages and extracted
HTML). A line is boilerplate on one of these grounds, each a classic one (jusText's cue words
and context, template detection by repetition across a site's pages):

``navigation``
    a line labelled as a link to elsewhere: ``Prev:``/``Previous:``/``Next:``/``Share:``/
    ``Tags:``/``Category:``/``Related:`` (a one-word label within one swap of two adjacent
    letters of one of these counts too: machine-saved pages misspell "Prev" as "Prve"), "« Previous
    post", "Return to list", "Back to top", "Read more".
``field``
    a page-template field: a date or count label (``Release Date:``, ``Posted on``, ``Updated:``,
    ``Views:``) whose value is only a date, time or number.
``notice``
    a short copyright or cookie notice (``©``, "All rights reserved", "This site uses cookies").
``link``
    a line that is (after an optional label) the title of another document of the corpus: a link
    to it, not text of its own.
``repeated``
    a line or paragraph that occurs verbatim in two or more documents: the site's template. Two
    documents that share most of their text (characters of shared lines over characters of
    either's, at least a half) are versions of one document, not two pages with a footer:
    what they share is content and stays.
``context``
    a short line without sentence punctuation (a bare link such as "Home") in the same paragraph
    as navigation, as jusText classifies short blocks by their neighbours.
``hint``
    a span the loader marked from the markup (``Document.chrome``: HTML blocks that are mostly
    link text, or inside elements whose class or id names navigation, a footer or a banner).

The per-line cues (labels, patterns) are in ``ingest/chrome.py``. What is never boilerplate: a
Markdown heading line (the chunker already keeps headings out of passages and they name
sections), and any line on none of the grounds above, however short. The rules only take lines
that carry positive evidence of chrome, so a content paragraph is kept whatever its length or
style; ``tests/test_boilerplate.py`` checks that every sentence of the client's article is still
indexed.

Linear in the corpus's text. Pure: ``find_boilerplate(documents)`` depends only on the documents.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence, Set
from dataclasses import dataclass
from itertools import combinations

from mscqa.ingest.chrome import (
    HEADING,
    bare,
    classify_line,
    ends_sentence,
    judge_line,
    line_key,
)
from mscqa.memo import LastCall
from mscqa.types import Document

__all__ = [
    "Analysed",
    "Chrome",
    "Lines",
    "analyse",
    "chrome_spans",
    "classify_line",
    "find_boilerplate",
]

VERSION = "boilerplate-v1"

_MIN_REPEATED_CHARS = 12
_MIN_REPEATED_SENTENCE = 40
_MIN_TITLE_CHARS = 20  # a shorter title ("Notes") is too likely a line of another document
_COPY_JACCARD = 0.5  # two documents sharing this much of their text are versions of one
_PAIR_LIMIT = 20


@dataclass(frozen=True, slots=True)
class Chrome:
    """A span of a document's text that is site boilerplate, and the ground for it."""

    start: int
    end: int
    reason: str  # navigation | field | notice | link | repeated | context | hint


@dataclass(frozen=True, slots=True)
class _Line:
    start: int  # its span in the document's text, without surrounding whitespace
    end: int
    paragraph: int  # lines of one paragraph (no blank line between them) share it
    key: str  # as repetition compares lines (``_key``)
    heading: bool  # a Markdown heading line: never boilerplate


@dataclass(frozen=True, slots=True)
class Lines:
    """A document's lines and what each is judged alone: the part of the work that depends on
    the document only, which a build keeps for the next (``Analysed``)."""

    lines: tuple[_Line, ...]
    own: tuple[str | None, ...]  # ``classify_line`` of each line without other titles
    values: tuple[str, ...]  # the key of a labelled line's value ("" for other lines)


Analysed = LastCall[Document, Lines]


def analyse(doc: Document) -> Lines:
    lines = tuple(_lines(doc.text))
    own: list[str | None] = []
    values: list[str] = []
    for line in lines:
        reason, value = (None, "") if line.heading else judge_line(doc.text[line.start : line.end])
        own.append(reason)
        values.append(value)
    return Lines(lines, tuple(own), tuple(values))


def find_boilerplate(
    documents: Sequence[Document], memo: Analysed | None = None
) -> dict[str, tuple[Chrome, ...]]:
    """Every document's boilerplate spans, in text order, by ``doc_id`` (documents with none
    are left out). Repetition and links to other documents are judged across ``documents``;
    ``memo`` keeps each document's ``analyse`` for the next call."""
    analysed = memo.results(list(documents), analyse) if memo else [analyse(d) for d in documents]
    by_id = {doc.doc_id: a for doc, a in zip(documents, analysed, strict=True)}
    titles = {key for doc in documents if len(key := line_key(doc.title)) >= _MIN_TITLE_CHARS}
    repeated = _repeated(documents, {d: list(a.lines) for d, a in by_id.items()})
    out: dict[str, tuple[Chrome, ...]] = {}
    for doc in documents:
        found = _document_chrome(doc, by_id[doc.doc_id], titles - {line_key(doc.title)}, repeated)
        if found:
            out[doc.doc_id] = found
    return out


def chrome_spans(doc: Document, chrome: Sequence[Chrome]) -> tuple[tuple[int, int], ...]:
    """``chrome`` as sorted ``(start, end)`` spans, merged where only whitespace separates
    them (what the chunker leaves out)."""
    spans: list[tuple[int, int]] = []
    for c in sorted(chrome, key=lambda c: c.start):
        if spans and (c.start <= spans[-1][1] or doc.text[spans[-1][1] : c.start].isspace()):
            spans[-1] = (spans[-1][0], max(spans[-1][1], c.end))
        else:
            spans.append((c.start, c.end))
    return tuple(spans)


def _document_chrome(
    doc: Document, analysed: Lines, other_titles: Set[str], repeated: set[str]
) -> tuple[Chrome, ...]:
    lines = list(analysed.lines)
    reasons = list(analysed.own)
    for i, line in enumerate(lines):
        if reasons[i] is not None or line.heading:
            continue
        # the first line of a text is its own title, even where another copy names it so
        if i and other_titles and (line.key in other_titles or analysed.values[i] in other_titles):
            reasons[i] = "link"
        elif line.key in repeated:
            reasons[i] = "repeated"
    _spread_by_context(doc.text, lines, reasons)
    found = [Chrome(line.start, line.end, r) for line, r in zip(lines, reasons, strict=True) if r]
    found.extend(_repeated_paragraphs(doc.text, lines, reasons, repeated))
    found.extend(Chrome(s, e, "hint") for s, e in doc.chrome if 0 <= s < e <= len(doc.text))
    return tuple(sorted(found, key=lambda c: (c.start, c.end)))


def _spread_by_context(text: str, lines: list[_Line], reasons: list[str | None]) -> None:
    """A bare line next to a navigation line of its paragraph is navigation too, and so is a
    run of bare lines that reaches one: one pass forward, one backward (linear)."""
    order = list(range(len(lines)))
    for step, indices in ((-1, order), (1, order[::-1])):
        for i in indices:
            j = i + step
            if (
                reasons[i] is None
                and 0 <= j < len(lines)
                and lines[j].paragraph == lines[i].paragraph
                and reasons[j] in ("navigation", "context", "link")
                and not lines[i].heading
                and bare(text[lines[i].start : lines[i].end])
            ):
                reasons[i] = "context"


def _repeated_paragraphs(
    text: str, lines: list[_Line], reasons: list[str | None], repeated: set[str]
) -> Iterator[Chrome]:
    """Whole paragraphs found verbatim in other documents (a footer of several lines whose
    lines, alone, are too common or too short to say so)."""
    for members in _by_paragraph(lines).values():
        if len(members) < 2 or all(reasons[i] for i in members):
            continue
        start, end = lines[members[0]].start, lines[members[-1]].end
        if " ".join(lines[i].key for i in members) in repeated:
            yield Chrome(start, end, "repeated")


def _by_paragraph(lines: list[_Line]) -> dict[int, list[int]]:
    groups: dict[int, list[int]] = {}
    for i, line in enumerate(lines):
        groups.setdefault(line.paragraph, []).append(i)
    return groups


def _repeated(documents: Sequence[Document], lines: dict[str, list[_Line]]) -> set[str]:
    """Keys of lines and multi-line paragraphs that occur in documents that are not copies of
    each other: two documents whose lines are mostly the same (weighted Jaccard, characters
    shared over characters in either, at least ``_COPY_JACCARD``) are one document in two
    versions, and what they share is content, not a template."""
    holders: dict[str, list[str]] = {}
    line_keys: dict[str, set[str]] = {}
    for doc in documents:
        doc_lines = lines[doc.doc_id]
        keys = {line.key for line in doc_lines if not line.heading and _repeatable(line.key)}
        line_keys[doc.doc_id] = keys
        for members in _by_paragraph(doc_lines).values():
            if len(members) > 1:
                keys = keys | {" ".join(doc_lines[i].key for i in members)}
        for k in keys:
            if len(k) >= _MIN_REPEATED_CHARS:
                holders.setdefault(k, []).append(doc.doc_id)
    shared = {k: ds for k, ds in holders.items() if len(ds) >= 2}
    if not shared:
        return set()
    # Pairs of documents sharing lines, through the lines few documents hold (a line held by
    # many is template whoever holds it; counting its pairs would be quadratic).
    overlap: Counter[tuple[str, str]] = Counter()
    for k, ds in shared.items():
        if len(ds) <= _PAIR_LIMIT:
            for pair in combinations(sorted(ds), 2):
                if k in line_keys[pair[0]]:
                    overlap[pair] += len(k)
    size = {d: sum(len(k) for k in keys) for d, keys in line_keys.items()}
    parent = {d: d for d in line_keys}

    def root(d: str) -> str:
        while parent[d] != d:
            parent[d] = parent[parent[d]]
            d = parent[d]
        return d

    for (a, b), common in overlap.items():
        if common / max(1, size[a] + size[b] - common) >= _COPY_JACCARD:
            parent[root(a)] = root(b)
    return {k for k, ds in shared.items() if len({root(d) for d in ds}) >= 2}


def _lines(text: str) -> list[_Line]:
    """The non-blank lines of ``text`` with their paragraph numbers."""
    out: list[_Line] = []
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
            out.append(_Line(start, start + len(stripped), paragraph, line_key(stripped), heading))
            blank = False
        else:
            blank = True
        pos = end + 1
    return out


def _repeatable(key: str) -> bool:
    """Whether a line found in two documents says they share a template: a bare line (a menu,
    a name, an address) or a long one. A short sentence ("Case series.", "Not applicable.")
    is often the same in unrelated documents."""
    return len(key) >= _MIN_REPEATED_SENTENCE or (
        len(key) >= _MIN_REPEATED_CHARS and not ends_sentence(key)
    )
