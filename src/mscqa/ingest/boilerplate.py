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

from collections.abc import Iterator, Sequence, Set
from dataclasses import dataclass

from mscqa.ingest.chrome import (
    bare,
    classify_line,
    judge_line,
    line_key,
)
from mscqa.ingest.repetition import Line, Units, by_paragraph, lines_of, repeated_keys, units_of
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

_WEAK = frozenset({"labelled", "field"})
_MIN_TITLE_CHARS = 20  # a shorter title ("Notes") is too likely a line of another document


@dataclass(frozen=True, slots=True)
class Chrome:
    """A span of a document's text that is site boilerplate, and the ground for it."""

    start: int
    end: int
    reason: str  # navigation | field | notice | link | repeated | context | hint


@dataclass(frozen=True, slots=True)
class Lines:
    """A document's lines and what each is judged alone: the part of the work that depends on
    the document only, which a build keeps for the next (``Analysed``)."""

    lines: tuple[Line, ...]
    own: tuple[str | None, ...]  # ``classify_line`` of each line without other titles
    values: tuple[str, ...]  # the key of a labelled line's value ("" for other lines)
    units: Units  # what repetition compares


# Analyses by document text (all an analysis depends on: hashing a str is cached, hashing a
# Document hashes every section and page).
Analysed = LastCall[str, Lines]


def analyse(text: str) -> Lines:
    lines = tuple(lines_of(text))
    own: list[str | None] = []
    values: list[str] = []
    for line in lines:
        reason, value = (None, "") if line.heading else judge_line(text[line.start : line.end])
        own.append(reason)
        values.append(value)
    return Lines(lines, tuple(own), tuple(values), units_of(lines))


def find_boilerplate(
    documents: Sequence[Document], memo: Analysed | None = None
) -> dict[str, tuple[Chrome, ...]]:
    """Every document's boilerplate spans, in text order, by ``doc_id`` (documents with none
    are left out). Repetition and links to other documents are judged across ``documents``;
    ``memo`` keeps each document's ``analyse`` for the next call."""
    texts = [doc.text for doc in documents]
    analysed = memo.results(texts, analyse) if memo is not None else [analyse(t) for t in texts]
    by_id = {doc.doc_id: a for doc, a in zip(documents, analysed, strict=True)}
    titles = {key for doc in documents if len(key := line_key(doc.title)) >= _MIN_TITLE_CHARS}
    repeated = repeated_keys({d: a.units for d, a in by_id.items()})
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
    reasons = _placed(lines, list(analysed.own))
    for i, line in enumerate(lines):
        if reasons[i] is not None or line.heading:
            continue
        # the first line of a text is its own title, even where another copy names it so
        if i and other_titles and (line.key in other_titles or analysed.values[i] in other_titles):
            reasons[i] = "link"
        elif line.key in repeated:
            reasons[i] = "repeated"
    found: list[Chrome] = []
    if any(reasons):
        _spread_by_context(doc.text, lines, reasons)
        found = [Chrome(x.start, x.end, r) for x, r in zip(lines, reasons, strict=True) if r]
    if repeated:
        found.extend(_repeated_paragraphs(doc.text, lines, reasons, repeated))
    found.extend(Chrome(s, e, "hint") for s, e in doc.chrome if 0 <= s < e <= len(doc.text))
    return tuple(sorted(found, key=lambda c: (c.start, c.end)))


def _placed(lines: list[Line], reasons: list[str | None]) -> list[str | None]:
    """Weak grounds ("labelled", "field") confirmed by the line's place: in the first or last
    two paragraphs of the document (a page's header and footer), or beside another line of
    chrome; otherwise the line is content. A confirmed "labelled" line is navigation. Linear."""
    if not any(reasons):
        return reasons
    last = lines[-1].paragraph
    edges = {0, 1, last - 1, last}
    out = list(reasons)
    for i, reason in enumerate(reasons):
        if reason not in _WEAK:
            continue
        # beside: a strong ground next to it, or a weak one in its paragraph (a block of
        # labelled lines: "Share: ...", "Tags: ...")
        beside = [
            reasons[j]
            for j in (i - 1, i + 1)
            if 0 <= j < len(lines)
            and reasons[j]
            and (reasons[j] not in _WEAK or lines[j].paragraph == lines[i].paragraph)
        ]
        if lines[i].paragraph in edges or beside:
            out[i] = "navigation" if reason == "labelled" else reason
        else:
            out[i] = None
    return out


def _spread_by_context(text: str, lines: list[Line], reasons: list[str | None]) -> None:
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
    text: str, lines: list[Line], reasons: list[str | None], repeated: set[str]
) -> Iterator[Chrome]:
    """Whole paragraphs found verbatim in other documents (a footer of several lines whose
    lines, alone, are too common or too short to say so)."""
    for members in by_paragraph(lines).values():
        if len(members) < 2 or all(reasons[i] for i in members):
            continue
        start, end = lines[members[0]].start, lines[members[-1]].end
        if " ".join(lines[i].key for i in members) in repeated:
            yield Chrome(start, end, "repeated")
