"""The text pipeline runs in linear time on adversarial input (hypothesis property tests).

Before: ``split_sentences("!" * 16000)`` took 2 s and every doubling 4x; a Markdown line of
``# a`` + 80,000 spaces + ``b`` the same; an uploaded file holding such text stalled the server
for 13-14 s on every rebuild.

What "linear" is tested as, honestly: the work for a text 8 times longer is less than 24 times
the work for the shorter one (linear code gives ~8, quadratic ~64). Work is the calling
thread's CPU time (``time.thread_time_ns``), not wall-clock time, so waiting for a busy machine
does not count; each figure is the best of a few runs, garbage collection is paused, and the
short text is long enough (thousands of characters) that timer overhead is noise. A failure
means the cost grew superlinearly on that input; the input is printed (hypothesis shrinks it).

The inputs are short units made of the characters the patterns care about (sentence marks,
quotes, closers, spaces, newlines, ``#``, brackets, ``<``) repeated, between a prefix and a
suffix that set up the patterns (a heading, front matter, a tag, a sentence start).
"""

from __future__ import annotations

import gc
import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from mscqa.ingest import loaders
from mscqa.ingest.abbreviations import mine
from mscqa.ingest.chunker import Chunker
from mscqa.ingest.extract import html, text
from mscqa.ingest.sentences import split_sentences
from mscqa.server import docview
from mscqa.types import Document

GROWTH = 8  # the longer text is this many times the shorter one
BOUND = 24  # 3x what linear code needs; quadratic code needs 64
SHORT_CHARS = 3000
ALPHABET = ".!?;:,\"')]\u201d\u2019([{\u201c  \t\n\n#*-_<>/=aAb1xZ\u00a0\u200b\u00ad"

units = st.text(alphabet=ALPHABET, min_size=1, max_size=6)
prefixes = st.sampled_from(["", "# a", "## Title ", "---\ntitle: x\n", "Hello there. ", "<p", "(A"])
suffixes = st.sampled_from(["", "b", "\n", " The end.", "!", ">", ")", "b\nx"])


def work_ns(fn: Callable[[str], object], arg: str) -> int:
    gc.disable()
    try:
        started = time.thread_time_ns()
        fn(arg)
        return max(1, time.thread_time_ns() - started)
    finally:
        gc.enable()


def assert_linear(fn: Callable[[str], object], prefix: str, unit: str, suffix: str) -> None:
    n = max(1, SHORT_CHARS // len(unit))
    short = prefix + unit * n + suffix
    long = prefix + unit * (n * GROWTH) + suffix
    fn(short)  # warm up (imports, caches)
    base = min(work_ns(fn, short) for _ in range(3))
    ratios = []
    for _ in range(3):  # a linear function passes on its first try; only a failure retries
        ratios.append(work_ns(fn, long) / base)
        if ratios[-1] < BOUND:
            return
        base = min(base, work_ns(fn, short))
    pytest.fail(
        f"{GROWTH}x the text cost {min(ratios):.0f}x the work (bound {BOUND}x) for "
        f"{prefix!r} + {unit!r} * n + {suffix!r}"
    )


def property_test(fn: Callable[[str], object]) -> Callable[..., None]:
    """A hypothesis test that ``fn`` is linear on every generated (prefix, unit, suffix)."""

    @given(prefix=prefixes, unit=units, suffix=suffixes)
    @example(prefix="", unit="!", suffix="")  # the splitter's backtracking, from the issue
    @example(prefix="# a", unit=" ", suffix="b")  # the Markdown heading's, from the issue
    @example(prefix="# a", unit=" ", suffix="b\nx")  # the /read heading line's (docview)
    @example(prefix="", unit="word (AB) ", suffix="")  # abbreviation mining's rescans
    @example(prefix="", unit="<a", suffix="")  # a tag that never closes
    @example(prefix="", unit=". ", suffix="x")  # dot leaders
    @settings(
        max_examples=25,
        deadline=None,
        database=None,
        derandomize=True,  # the same inputs on every run: a failure is reproducible
        suppress_health_check=list(HealthCheck),
    )
    def check(prefix: str, unit: str, suffix: str) -> None:
        assert_linear(fn, prefix, unit, suffix)

    return check


def markdown(raw: str) -> object:
    return loaders._markdown_document(loaders.normalise(raw), Path("a.md"), "0" * 64)


def plain_text(raw: str) -> object:
    return loaders._text_document(loaders.normalise(raw), Path("a.txt"), "0" * 64)


def chunk(raw: str) -> object:
    doc = markdown(raw)
    assert isinstance(doc, Document)
    return Chunker(700).chunk(doc)


def chunk_text(raw: str) -> object:
    # a text file's lines are judged as site chrome (ingest.boilerplate) before chunking
    try:
        doc = plain_text(raw)
    except loaders.UnreadableFile:
        return None  # only whitespace: refused as empty
    assert isinstance(doc, Document)
    return Chunker(700).chunk_all([doc, doc_copy(doc)])


def doc_copy(doc: Document) -> Document:
    return Document("b.txt", "b.txt", "b", doc.text[::-1], "1" * 64, "text")


def html_page(raw: str) -> object:
    try:
        return html.extract_html(raw.encode("utf-8"))
    except text.Refused:
        return None  # "no extractable text": refused, and that is an answer too


def reader_heading(raw: str) -> object:
    # /read lays out a section: the text before a heading loses the heading's own line
    return docview._without_heading_line(raw, 0, len(raw), "a")


CASES = {
    "split_sentences": split_sentences,
    "markdown loader": markdown,
    "text loader": plain_text,
    "chunker": chunk,
    "chunker of text files (boilerplate)": chunk_text,
    "abbreviation mining": mine,
    "extracted-text paragraphs": text.paragraphs,
    "html nesting depth": html.html_depth,
    "html extraction": html_page,
    "reader heading line": reader_heading,
}


@pytest.mark.parametrize("name", list(CASES))
def test_runs_in_linear_time(name: str) -> None:
    property_test(CASES[name])()


def test_the_measure_tells_quadratic_from_linear() -> None:
    """The check itself: a quadratic function fails it, a linear one passes."""

    def quadratic(s: str) -> int:
        return sum(s.count(c) for c in s[: len(s) // 10])

    assert_linear(str.upper, "", "ab", "")
    with pytest.raises(pytest.fail.Exception, match="cost"):
        assert_linear(quadratic, "", "ab", "")


# --- the linear patterns find exactly what the old ones found ------------------------------------

# The patterns as they were (quadratic), as references on short texts.
OLD = {
    "boundary": re.compile(r"[.!?]+[\"'\u201d\u2019)\]]*(?=\s)"),
    "next_starts": re.compile(r"\s+[\"'\u201c\u2018(\[]?[A-Z0-9\u0391-\u03a9]"),
    "paragraph": re.compile(r"\n[ \t]*\n"),
    "heading": re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t#]*$", re.MULTILINE),
    "front_matter_end": re.compile(r"\n---[ \t]*(?:\n|$)"),
    "blank_lines": re.compile(r"\n[ \t]*\n[\s]*"),
    "dot_leader": re.compile(r"(\.\s?){4,}\s*[0-9ivxlc]+$", re.I),
    "reader_heading": re.compile(r"(?:^|\n)[ \t]*#{1,6}[ \t]+[^\n]*\s*$"),
}
short_texts = st.text(alphabet=ALPHABET + "ivxlc5", max_size=80)


def spans(pattern: re.Pattern[str], s: str) -> list[tuple[int, int]]:
    return [m.span() for m in pattern.finditer(s)]


@given(s=short_texts)
@settings(max_examples=2000, deadline=None, database=None, derandomize=True)
def test_linear_patterns_match_what_the_old_ones_matched(s: str) -> None:
    from mscqa.ingest import sentences
    from mscqa.ingest.extract import pdf_layout

    assert spans(sentences._BOUNDARY, s) == spans(OLD["boundary"], s)
    assert [bool(sentences._NEXT_STARTS_SENTENCE.match(s, i)) for i in range(len(s))] == [
        bool(OLD["next_starts"].match(s, i)) for i in range(len(s))
    ]
    assert spans(sentences._PARAGRAPH, s) == spans(OLD["paragraph"], s)
    assert spans(loaders._FRONT_MATTER_END, s) == spans(OLD["front_matter_end"], s)
    assert text._BLANK_LINES_RE.split(s) == OLD["blank_lines"].split(s)
    for line in s.split("\n"):
        assert bool(pdf_layout._DOT_LEADER_RE.search(line)) == bool(OLD["dot_leader"].search(line))
    headings = [(m.group(1), m.group(2).strip(), m.end()) for m in OLD["heading"].finditer(s)]
    sections, _ = loaders.markdown_sections(s)
    assert [sec.title for sec in sections] == [title for _, title, _ in headings]
    old_heading = OLD["reader_heading"].search(s)
    assert docview._trailing_heading(s) == (old_heading.start() if old_heading else None)


@given(s=st.text(alphabet="ab AB().;:\n-", max_size=200))
@settings(max_examples=500, deadline=None, database=None, derandomize=True)
def test_abbreviation_lookback_matches_the_old_rescan(s: str) -> None:
    from mscqa.ingest import abbreviations

    clause = re.compile(r"[.;:!?](?=\s)|[\[\]()\n]")
    starts = [m.end() for m in clause.finditer(s)]
    for paren in (i for i, c in enumerate(s) if c == "("):
        old_start = 0
        for m in clause.finditer(s, 0, paren):
            old_start = m.end()
        assert abbreviations._clause_before(s, paren, starts) == s[old_start:paren].rstrip()
