"""Sentence spans: where a sentence of a paragraph starts and ends, in linear time.

``split_sentences(text)`` gives the absolute ``(start, end)`` of every sentence in ``text``
(whitespace trimmed), none longer than ``max_chars``; ``paragraphs(text)`` the spans between
blank lines. The chunker packs these spans into passages; the answerer quotes them.
"""

from __future__ import annotations

import re
import unicodedata

# Words whose trailing period does not end a sentence.
_ABBREVIATIONS = frozenset(
    [
        "e.g",
        "i.e",
        "etc",
        "vs",
        "al",
        "fig",
        "figs",
        "no",
        "nos",
        "dr",
        "mr",
        "mrs",
        "ms",
        "prof",
        "st",
        "approx",
        "ca",
        "cf",
        "dept",
        "eq",
        "ref",
        "refs",
        "vol",
        "jan",
        "feb",
        "mar",
        "apr",
        "jun",
        "jul",
        "aug",
        "sep",
        "sept",
        "oct",
        "nov",
        "dec",
        "inc",
        "ltd",
        "co",
        "corp",
    ]
)
# Every pattern here runs in linear time (tests/test_linear_time.py): possessive quantifiers
# (Python 3.11) never give back what they took, and a boundary may only start where a run of
# sentence marks starts. The greedy versions backtracked quadratically: "!" * 16000 took 2 s.
_PARAGRAPH = re.compile(r"\n[ \t]*+\n")
# A candidate boundary: terminal punctuation, optional closing quotes/brackets, then whitespace.
_BOUNDARY = re.compile(r"(?<![.!?])[.!?]++[\"'\u201d\u2019)\]]*+(?=\s)")
_NEXT_STARTS_SENTENCE = re.compile(r"\s++[\"'\u201c\u2018(\[]?[A-Z0-9\u0391-\u03a9]")
_INITIALISM = re.compile(r"(?:[A-Za-z]\.)++[A-Za-z]|[A-Z]")
_NOT_SPACE = re.compile(r"\S")
# Where a run-on sentence is cut: the last of these before the length cap (else a hard cut).
_CUT_AT = (" ", "\n", "\t", "\u00a0", "\u2009", "\u3000")
# Longer words are not abbreviations: the abbreviation check looks back no further.
_MAX_ABBREVIATION = 40
MAX_SENTENCE_CHARS = 5000  # the hard cap, = the largest MSCQA_CHUNK_CHARS


def split_sentences(
    text: str, offset: int = 0, max_chars: int = MAX_SENTENCE_CHARS
) -> list[tuple[int, int]]:
    """Absolute ``(start, end)`` spans of the sentences in ``text`` (a paragraph or more).

    Paragraph breaks always end a sentence; ``.``/``!``/``?`` end one when the next word starts
    with a capital or digit and the word before is not an abbreviation (``e.g.``, ``U.S.``).
    No span is longer than ``max_chars``: a longer run-on "sentence" (a table, a list, a file
    with no punctuation) is cut at the last whitespace before the limit, or at the limit where
    there is none. Linear time in ``len(text)``.
    """
    if max_chars < 1:
        raise ValueError(f"max_chars must be >= 1, got {max_chars}")
    spans: list[tuple[int, int]] = []
    for para_start, para_end in paragraphs(text):
        start = para_start
        for m in _BOUNDARY.finditer(text, para_start, para_end):
            end = m.end()
            if not _NEXT_STARTS_SENTENCE.match(text, end, para_end) or _is_abbreviation(
                text, start, m.start()
            ):
                continue
            _append(spans, text, start, end, offset, max_chars)
            start = end
        _append(spans, text, start, para_end, offset, max_chars)
    return spans


def paragraphs(text: str) -> list[tuple[int, int]]:
    """The ``(start, end)`` spans of ``text`` between blank lines (empty ones included)."""
    out, pos = [], 0
    for m in _PARAGRAPH.finditer(text):
        out.append((pos, m.start()))
        pos = m.end()
    out.append((pos, len(text)))
    return out


def _is_abbreviation(text: str, sent_start: int, dot: int) -> bool:
    word_start = dot
    floor = max(sent_start, dot - _MAX_ABBREVIATION)
    while word_start > floor and not text[word_start - 1].isspace():
        word_start -= 1
    if word_start == floor > sent_start and not text[word_start - 1].isspace():
        return False  # a word this long is no abbreviation
    word = text[word_start:dot].lstrip("(\"'[")
    if word.lower() in _ABBREVIATIONS:
        return True
    # Initialisms such as "U.S" or a single capital initial ("J. Smith").
    return bool(_INITIALISM.fullmatch(word))


def _append(
    spans: list[tuple[int, int]], text: str, start: int, end: int, offset: int, max_chars: int
) -> None:
    """Add the sentence ``text[start:end]`` without its surrounding whitespace, in pieces of at
    most ``max_chars``."""
    first = _NOT_SPACE.search(text, start, end)
    if first is None:
        return
    start = first.start()
    end = start + len(text[start:end].rstrip())
    while end - start > max_chars:
        limit = start + max_chars
        cut = max(text.rfind(c, start + 1, limit + 1) for c in _CUT_AT)
        if cut <= start:  # no whitespace: cut at the limit, not inside a combining sequence
            cut = limit
            while cut > start + 1 and unicodedata.combining(text[cut]):
                cut -= 1
        piece_end = start + len(text[start:cut].rstrip())
        spans.append((start + offset, piece_end + offset))
        following = _NOT_SPACE.search(text, cut, end)
        if following is None:
            return
        start = following.start()
    spans.append((start + offset, end + offset))
