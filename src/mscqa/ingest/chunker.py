"""Sentence-aware chunking: ``Document -> list[Chunk]``.

A chunk is a run of whole sentences inside one section, at most ``max_chars`` long (a longer
run-on sentence is cut into pieces of that size first). Chunks record absolute character offsets, so
``document.text[chunk.start:chunk.end] == chunk.text`` and every sentence span is exact.
"""

from __future__ import annotations

import bisect
import hashlib
import re
from collections.abc import Sequence

from mscqa.ingest import boilerplate
from mscqa.ingest.sentences import paragraphs, split_sentences
from mscqa.memo import LastCall
from mscqa.types import Chunk, Document, Unreadable

Spans = tuple[tuple[int, int], ...]
# Chunks (and unreadable parts) by (settings, document, its boilerplate spans), as a chunker's
# memo keeps them.
Chunked = LastCall[tuple[str, Document, Spans], tuple[list[Chunk], list[Unreadable]]]

# A paragraph that only stands for a picture: the converter's image marker (IMG_258), a
# Markdown or HTML image, or a bracketed "[image]" / "[table 2]" placeholder.
_PLACEHOLDER = re.compile(
    r"\s*(?:IMG_\d+|!\[[^\]]*\]\([^)]*\)|<img\b[^>]*>|"
    r"\[(?:image|img|figure|fig|table|picture|photo|chart|diagram)\b[^\]]*\])\s*",
    re.IGNORECASE,
)
_CAPTION_CHARS = 150
HEADINGS_VERSION = "headings-v1"
_HEADING_GAP = 8  # blanks and "#"s allowed between a heading's title and its section's body
# A Markdown heading line: blanked out before a section is split into sentences (linear time,
# like the sentence patterns: tests/test_linear_time.py).
_HEADING_LINE = re.compile(r"^#{1,6}[ \t].*$", re.MULTILINE)


class Chunker:
    """Pack sentences into passages of at most ``max_chars`` characters, section by section."""

    def __init__(
        self,
        max_chars: int = 700,
        memo: Chunked | None = None,
        chrome: boilerplate.Analysed | None = None,
    ) -> None:
        """``memo`` keeps the previous ``chunk_all`` call's chunks for the next: a build cache
        passes the one it keeps between builds (``indexing.BuildCache``); by default each
        chunker has its own."""
        if max_chars < 50:
            raise ValueError(f"max_chars must be >= 50, got {max_chars}")
        self.max_chars = max_chars
        self._memo: Chunked = memo if memo is not None else LastCall()
        # each document's lines as boilerplate judges them, kept the same way
        self._chrome: boilerplate.Analysed = chrome if chrome is not None else LastCall()

    def settings(self) -> dict[str, object]:
        # v2: run-on sentences are cut to max_chars (v1 kept them whole, however long);
        # v3: image placeholders are no longer sentences (``unreadable`` records them)
        # boilerplate: site chrome (ingest.boilerplate) is left out of passages
        # headings: a section's heading text is no sentence (HTML, PDF, Word and plain-text
        # headings were quoted as sentences: the heading just before a section's body)
        return {
            "splitter": "sentence-v3",
            "max_chars": self.max_chars,
            "boilerplate": boilerplate.VERSION,
            "headings": HEADINGS_VERSION,
        }

    def chunk_all(self, documents: Sequence[Document]) -> list[Chunk]:
        """Every document's chunks, in order.

        A document equal to one the previous call (through this chunker's memo) chunked with
        the same settings gets those chunks again (chunking is a pure function of the two;
        chunks are immutable): adding one document to 1000 abstracts no longer re-chunks the
        other 999 (0.19 s of a 0.8 s rebuild, bench/build.py).
        """
        return [chunk for chunks, _ in self._all(documents) for chunk in chunks]

    def unreadable_all(self, documents: Sequence[Document]) -> list[Unreadable]:
        """Every document's unreadable parts (``unreadable``), in order; after ``chunk_all`` of
        the same documents this chunks nothing again."""
        return [part for _, parts in self._all(documents) for part in parts]

    def _all(self, documents: Sequence[Document]) -> list[tuple[list[Chunk], list[Unreadable]]]:
        setting = repr(sorted(self.settings().items()))
        # across documents: footers repeat, a line names another document
        chrome = boilerplate.find_boilerplate(documents, self._chrome)
        keys = [
            (setting, doc, boilerplate.chrome_spans(doc, chrome.get(doc.doc_id, ())))
            for doc in documents
        ]
        return self._memo.results(keys, lambda key: self._chunk(key[1], key[2]))

    def chunk(self, doc: Document) -> list[Chunk]:
        """``doc``'s passages, its boilerplate judged on ``doc`` alone."""
        return self._chunk(doc, _own_chrome(doc))[0]

    def unreadable(self, doc: Document) -> list[Unreadable]:
        """The parts of ``doc`` with no text to quote: sections whose body is empty or only
        image placeholders, and placeholder paragraphs inside other text. Each records the
        heading before it that has text and the passage just before it."""
        return self._chunk(doc, _own_chrome(doc))[1]

    def _chunk(self, doc: Document, chrome: Spans) -> tuple[list[Chunk], list[Unreadable]]:
        """Passages of ``doc``'s sentences outside ``chrome`` (boilerplate spans), none
        spanning one; and the unreadable parts."""
        chunks: list[Chunk] = []
        gaps: list[Unreadable] = []
        context: str | None = None
        # a heading is no sentence: blanked like boilerplate (a Markdown one already is)
        chrome = _merge(chrome, _heading_spans(doc))
        for section, start, end in self._regions(doc):
            skip = tuple((a, b) for a, b in chrome if a < end and b > start)
            sentences = self._sentences(doc.text, start, end, skip)
            after = chunks[-1].chunk_id if chunks else None
            if not sentences and skip and self._sentences(doc.text, start, end, ()):
                continue  # a section of boilerplate only: not a part without text
            if section is not None and not sentences:
                # a heading with no text under it, or only images: the section is the part
                gaps.append(Unreadable(doc.doc_id, section, start, end, context, after))
                continue
            for group in self._pack(doc.text, sentences, skip):
                chunks.append(self._make(doc, len(chunks), section, group))
            for para_start, para_end in self._placeholders(doc.text, start, end):
                before = [c for c in chunks if c.end <= para_start]
                caption = _caption(doc.text, start, para_start) or section or "image"
                gaps.append(
                    Unreadable(
                        doc.doc_id,
                        caption,
                        para_start,
                        para_end,
                        section or context,
                        before[-1].chunk_id if before else after,
                    )
                )
            if sentences and section is not None:
                context = section
        return chunks, gaps

    @staticmethod
    def _placeholders(text: str, start: int, end: int) -> list[tuple[int, int]]:
        return [
            (start + a, start + b)
            for a, b in paragraphs(text[start:end])
            if b > a and _PLACEHOLDER.fullmatch(text, start + a, start + b)
        ]

    def _regions(self, doc: Document) -> list[tuple[str | None, int, int]]:
        """Spans of text with their section; text before the first section has none."""
        regions: list[tuple[str | None, int, int]] = []
        pos = 0
        for sec in sorted(doc.sections, key=lambda s: s.start):
            if sec.start > pos:
                regions.append((None, pos, sec.start))
            regions.append((sec.title, sec.start, sec.end))
            pos = max(pos, sec.end)
        if pos < len(doc.text):
            regions.append((None, pos, len(doc.text)))
        return regions

    def _sentences(self, text: str, start: int, end: int, skip: Spans) -> list[tuple[int, int]]:
        region = _HEADING_LINE.sub(lambda m: " " * len(m.group(0)), text[start:end])
        if skip:  # each blanked as a paragraph break: no sentence runs into or over it
            parts, pos = [], 0
            for a, b in skip:  # sorted, apart (boilerplate.chrome_spans)
                a, b = max(a, start) - start, min(b, end) - start
                parts += [region[pos:a], "\n" + " " * (b - a - 2) + "\n"[: b - a - 1]]
                pos = b
            region = "".join([*parts, region[pos:]])
        # an image placeholder is not a sentence (``unreadable`` records it)
        return [
            (a, b)
            for a, b in split_sentences(region, offset=start, max_chars=self.max_chars)
            if not _PLACEHOLDER.fullmatch(text, a, b)
        ]

    def _pack(
        self, text: str, sentences: list[tuple[int, int]], skip: Spans = ()
    ) -> list[list[tuple[int, int]]]:
        groups: list[list[tuple[int, int]]] = []
        current: list[tuple[int, int]] = []
        for span in sentences:
            if current and any(current[-1][1] <= a < span[0] for a, _ in skip):
                groups.append(current)  # a passage never spans boilerplate
                current = []
            elif current and span[1] - current[0][0] > self.max_chars:
                groups.append(current)
                current = []
            elif (
                current
                and span[1] - current[0][0] > self.max_chars // 2
                and _new_paragraph(text, current[-1][1], span[0])
            ):
                # Past half-full, prefer to end a passage where the author ended a paragraph.
                groups.append(current)
                current = []
            current.append(span)
        if current:
            groups.append(current)
        return groups

    @staticmethod
    def _make(doc: Document, n: int, section: str | None, group: list[tuple[int, int]]) -> Chunk:
        start, end = group[0][0], group[-1][1]
        text = doc.text[start:end]
        page = None
        if doc.pages:
            starts = [p.start for p in doc.pages]
            page = doc.pages[max(0, bisect.bisect_right(starts, start) - 1)].number
        return Chunk(
            chunk_id=f"{doc.doc_id}#{n}",
            doc_id=doc.doc_id,
            n=n,
            title=doc.title,
            section=section,
            start=start,
            end=end,
            text=text,
            sha256=hashlib.sha256(text.encode("utf-8")).hexdigest()[:16],
            sentences=tuple(group),
            page=page,
        )


def _heading_spans(doc: Document) -> Spans:
    """Where each section's heading stands in ``doc.text``: its title just before the section's
    body, with only blanks (and Markdown's ``#``) between them."""
    spans = []
    for sec in doc.sections:
        floor = max(0, sec.start - len(sec.title) - _HEADING_GAP)
        at = doc.text.rfind(sec.title, floor, sec.start) if sec.title else -1
        if at >= 0 and not doc.text[at + len(sec.title) : sec.start].strip(" \t\n#"):
            spans.append((at, at + len(sec.title)))
    return tuple(sorted(set(spans)))


def _merge(a: Spans, b: Spans) -> Spans:
    """Sorted, non-overlapping union of two span lists."""
    out: list[tuple[int, int]] = []
    for s, e in sorted((*a, *b)):
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return tuple(out)


def _own_chrome(doc: Document) -> Spans:
    return boilerplate.chrome_spans(doc, boilerplate.find_boilerplate([doc]).get(doc.doc_id, ()))


def _caption(text: str, start: int, placeholder: int) -> str | None:
    """The short line just before a placeholder (its caption or heading), if there is one."""
    before = text[start:placeholder].rstrip()
    line = before[before.rfind("\n") + 1 :].strip().lstrip("#").strip()
    if line and len(line) <= _CAPTION_CHARS and not line.endswith((".", "!", "?")):
        return line
    return None


def _new_paragraph(text: str, prev_end: int, next_start: int) -> bool:
    return "\n\n" in text[prev_end:next_start]
