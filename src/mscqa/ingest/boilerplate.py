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

What is never boilerplate: a Markdown heading line (the chunker already keeps headings out of
passages and they name sections), and any line on none of the grounds above, however short. The
rules only ever take lines that carry positive evidence of chrome, so a content paragraph is kept
whatever its length or style; ``tests/test_boilerplate.py`` checks that every sentence of the
client's article is still indexed.

Linear in the corpus's text. Pure: ``find_boilerplate(documents)`` depends only on the documents.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterator, Sequence, Set
from dataclasses import dataclass
from itertools import combinations

from mscqa.types import Document

VERSION = "boilerplate-v1"

# Labels of navigation lines (lower case, spaces collapsed).
NAVIGATION_LABELS = frozenset(
    {
        "prev", "previous", "next", "newer", "older", "previous article", "next article",
        "previous post", "next post", "previous page", "next page", "share", "share this",
        "share on", "tags", "tag", "tagged", "tagged with", "category", "categories",
        "filed under", "posted in", "related", "related articles", "related posts",
        "related news", "related stories", "recommended", "recommended reading", "see also",
        "read more", "more", "up next", "return", "back", "print", "follow us",
    }
)  # fmt: skip
# Labels of page-template fields: only a date, time or number follows them.
FIELD_LABELS = frozenset(
    {
        "date", "release date", "released", "released on", "release time", "publish date",
        "published", "published on", "publication date", "publish time", "posted", "posted on",
        "post date", "updated", "last updated", "updated on", "last modified", "modified",
        "time", "views", "view count", "reads", "hits", "clicks", "comments", "likes",
    }
)  # fmt: skip
_MAX_LABEL_CHARS = 30
_MAX_FIELD_VALUE_CHARS = 40
_MAX_NOTICE_CHARS = 300
_MAX_CONTEXT_WORDS = 5
_MIN_REPEATED_CHARS = 12
_MIN_REPEATED_SENTENCE = 40
_MIN_TITLE_CHARS = 20  # a shorter title ("Notes") is too likely a line of another document
_COPY_JACCARD = 0.5  # two documents sharing this much of their text are versions of one
_PAIR_LIMIT = 20

_HEADING = re.compile(r"[ \t]*#{1,6}[ \t]")
_BULLET = re.compile(r"[ \t]*+(?:[-*+\u2022\u00b7|>\u00bb\u203a\u00ab\u2039]+[ \t]*+)*+")
_LABELLED = re.compile(r"([^\W\d_][^\W\d_ '\u2019-]*+(?:[ '\u2019-][^\W\d_]++)*+)[ \t]*+[:\uff1a]")
_ARROWED = re.compile(
    r"(?:previous|prev|next|older|newer)[ \t]++(?:post|article|page|story|entry|item)s?\b",
    re.IGNORECASE,
)
_PHRASE = re.compile(
    r"(?:(?:return|back|go[ \t]++back|skip|jump)[ \t]++to(?:[ \t]++the)?[ \t]++"
    r"(?:list|top|home(?:[ \t]*+page)?|index|menu|(?:main[ \t]++)?content|navigation|search|"
    r"results|overview|previous[ \t]++page|(?:article|news|post)s?(?:[ \t]++list)?)|"
    r"(?:read|see|load|show|view)[ \t]++(?:more|all)|top[ \t]++of[ \t]++(?:the[ \t]++)?page)\b",
    re.IGNORECASE,
)
_NOTICE = re.compile(
    r"\u00a9|\(c\)[ \t]*+\d{4}|\ball rights reserved\b|\bcopyright\b[^.!?]{0,80}\d{4}|"
    r"\b(?:site|website|we)\b[^.!?]{0,40}\bcookies\b|\bcookie[ \t]++(?:policy|settings|consent)\b",
    re.IGNORECASE,
)
_MONTHS = (
    r"jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
    r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?|am|pm|utc|gmt"
)
# A date, a time or a count: digits, separators and month names only.
_FIELD_VALUE = re.compile(
    rf"(?:[\d\s,./:\-\u5e74\u6708\u65e5]|\b(?:{_MONTHS})\b\.?)++", re.IGNORECASE
)
_DIGIT = re.compile(r"\d")
_NOTICE_WORDS = ("\u00a9", "(c)", "reserved", "copyright", "cookie")
_SENTENCE_MARKS = ".!?;:\u3002\uff01\uff1f"
_CLOSERS = "\"'\u201d\u2019)]"
_SPACES = re.compile(r"\s+")


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


def find_boilerplate(documents: Sequence[Document]) -> dict[str, tuple[Chrome, ...]]:
    """Every document's boilerplate spans, in text order, by ``doc_id`` (documents with none
    are left out). Repetition and links to other documents are judged across ``documents``."""
    lines = {doc.doc_id: _lines(doc.text) for doc in documents}
    titles = {key for doc in documents if len(key := _key(doc.title)) >= _MIN_TITLE_CHARS}
    repeated = _repeated(documents, lines)
    out: dict[str, tuple[Chrome, ...]] = {}
    for doc in documents:
        found = _document_chrome(doc, lines[doc.doc_id], titles - {_key(doc.title)}, repeated)
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


def classify_line(line: str, other_titles: Set[str] = frozenset()) -> str | None:
    """The ground on which one line (no newline) is boilerplate by itself, or ``None``."""
    text = _BULLET.sub("", line, count=1).strip()
    if not text or _HEADING.match(line):
        return None
    if (_ARROWED.match(text) or _PHRASE.match(text)) and _short_phrase(text):
        return "navigation"
    labelled = _LABELLED.match(text)
    if labelled and len(labelled.group(1)) <= _MAX_LABEL_CHARS:
        label = _SPACES.sub(" ", labelled.group(1)).lower()
        value = text[labelled.end() :].strip()
        if _is_navigation_label(label):
            return "navigation"
        if (
            label in FIELD_LABELS
            and len(value) <= _MAX_FIELD_VALUE_CHARS
            and _FIELD_VALUE.fullmatch(value)
            and _DIGIT.search(value)
        ):
            return "field"
        if other_titles and value and _key(value) in other_titles:
            return "link"
    if len(text) <= _MAX_NOTICE_CHARS and _notice(text):
        return "notice"
    if other_titles and _key(text) in other_titles:
        return "link"
    return None


def _is_navigation_label(label: str) -> bool:
    if label in NAVIGATION_LABELS:
        return True
    # One swap of two adjacent letters ("Prve" for "Prev"): a typo, not another word; a
    # substitution would turn "text" into "next".
    if " " in label or len(label) < 4:
        return False
    return any(
        label[:i] + label[i + 1] + label[i] + label[i + 2 :] in NAVIGATION_LABELS
        for i in range(len(label) - 1)
    )


def _notice(text: str) -> bool:
    low = text.lower()
    return any(w in low for w in _NOTICE_WORDS) and bool(_NOTICE.search(text))


def _ends_sentence(text: str) -> bool:
    return text.rstrip().rstrip(_CLOSERS)[-1:] in tuple(_SENTENCE_MARKS)


def _short_phrase(text: str) -> bool:
    return len(text.split()) <= 6 and not _ends_sentence(text)


def _bare(text: str) -> bool:
    """A short line with no sentence punctuation: a bare link, a label, a heading."""
    return len(text.split()) <= _MAX_CONTEXT_WORDS and not _ends_sentence(text)


def _document_chrome(
    doc: Document, lines: list[_Line], other_titles: Set[str], repeated: set[str]
) -> tuple[Chrome, ...]:
    reasons: list[str | None] = []
    for i, line in enumerate(lines):
        if line.heading:
            reasons.append(None)
            continue
        # the first line of a text is its own title, even where another copy names it so
        reason = classify_line(doc.text[line.start : line.end], other_titles if i else frozenset())
        if reason is None and line.key in repeated:
            reason = "repeated"
        reasons.append(reason)
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
                and _bare(text[lines[i].start : lines[i].end])
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
            heading = bool(_HEADING.match(raw))
            out.append(_Line(start, start + len(stripped), paragraph, _key(stripped), heading))
            blank = False
        else:
            blank = True
        pos = end + 1
    return out


def _key(text: str) -> str:
    """A line as repetition compares it: NFKC, case-folded, whitespace collapsed."""
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text)
    return " ".join(text.casefold().split())


def _repeatable(key: str) -> bool:
    """Whether a line found in two documents says they share a template: a bare line (a menu,
    a name, an address) or a long one. A short sentence ("Case series.", "Not applicable.")
    is often the same in unrelated documents."""
    return len(key) >= _MIN_REPEATED_SENTENCE or (
        len(key) >= _MIN_REPEATED_CHARS and not _ends_sentence(key)
    )
