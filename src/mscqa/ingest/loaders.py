"""Walk the corpus folder and load each file into a ``Document``.

One loader per format. A file that cannot be loaded is skipped and reported (path and reason);
the walk goes on. Loading never modifies a file.
"""

from __future__ import annotations

import logging
import os
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from mscqa.errors import CorpusError
from mscqa.fileio import file_sha256
from mscqa.types import Document, Page, Section

log = logging.getLogger(__name__)

TEXT_SUFFIXES = frozenset({".md", ".markdown", ".txt"})
MAX_TEXT_BYTES = 50 * 1024 * 1024

# Linear time (tests/test_linear_time.py): the title's trailing spaces and #s are stripped in
# Python; the lazy ``(.+?)[ \t#]*$`` backtracked quadratically on "# a" + spaces + "b".
_HEADING = re.compile(r"^(#{1,6})[ \t]++(.*)$", re.MULTILINE)
_FRONT_MATTER_END = re.compile(r"\n---[ \t]*+(?:\n|$)")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# Plain-text headings (``text_sections``): a paragraph of one short line that does not end as a
# sentence or clause does ("." "," ";" ":"), is no "label:value" field ("Release Date:2025") or
# image marker, and has body text after it.
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n")
_HEADING_WORDS = 12
_HEADING_CHARS = 100
_FIELD = re.compile(r"^[^:]{1,40}:\S")
_MARKER = re.compile(r"^(?:IMG_\d+|\[[^\]]*\]|!\[.*)$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Skipped:
    file: str
    reason: str


@dataclass(slots=True)
class LoadResult:
    documents: list[Document] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)


class UnreadableFile(Exception):
    """Raised by a loader with a short reason; turned into a ``Skipped`` entry."""


def supported_suffixes() -> frozenset[str]:
    from mscqa.ingest.extract.sandbox import SUPPORTED_SUFFIXES

    return TEXT_SUFFIXES | SUPPORTED_SUFFIXES


def doc_id_for(relative: Path) -> str:
    """The stable id of a corpus file: its corpus-relative POSIX path (e.g. ``msc-article.md``)."""
    return relative.as_posix()


def iter_corpus_files(corpus_dir: Path) -> Iterator[Path]:
    """Every non-hidden regular file below ``corpus_dir``, sorted, symlinks not followed.

    ``os.walk`` rather than ``Path.rglob``: on 1000 files rglob's hashing of Path objects took
    0.2 s, a fifth of the time of adding one document to an index.
    """
    found: list[tuple[str, ...]] = []
    for top, dirs, files in os.walk(corpus_dir, followlinks=False):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        rel = Path(top).relative_to(corpus_dir).parts
        for name in files:
            if not name.startswith(".") and not os.path.islink(os.path.join(top, name)):
                found.append((*rel, name))
    for parts in sorted(found):  # the order Path objects sort in
        path = corpus_dir.joinpath(*parts)
        if path.is_file():
            yield path


def load_corpus(corpus_dir: Path, on_file: Callable[[Path], None] | None = None) -> LoadResult:
    """Load every supported file under ``corpus_dir``; report the ones that fail."""
    if not corpus_dir.is_dir():
        raise CorpusError(
            f"Corpus folder {corpus_dir} does not exist; create it or set MSCQA_CORPUS_DIR."
        )
    result = LoadResult()
    suffixes = supported_suffixes()
    for path in iter_corpus_files(corpus_dir):
        rel = path.relative_to(corpus_dir)
        if on_file is not None:
            on_file(path)
        suffix = path.suffix.lower()
        try:
            if suffix not in suffixes:
                raise UnreadableFile(f"unsupported file type {suffix or '(none)'}")
            doc = load_file(path, rel)
        except UnreadableFile as exc:
            log.warning("Skipped %s: %s", rel.as_posix(), exc)
            result.skipped.append(Skipped(rel.as_posix(), str(exc)))
            continue
        result.documents.append(doc)
    return result


def load_file(path: Path, rel: Path) -> Document:
    """Load one file by its suffix. Raises ``UnreadableFile`` with a reason."""
    suffix = path.suffix.lower()
    sha = file_sha256(path)
    if suffix in TEXT_SUFFIXES:
        raw = _read_text(path)
        if suffix == ".txt":
            return _text_document(raw, rel, sha)
        return _markdown_document(raw, rel, sha)
    return _extracted_document(path, rel, sha)


def normalise(text: str) -> str:
    """NFC, Unix newlines, no BOM and no control characters other than tab and newline."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")
    return _CONTROL.sub("", unicodedata.normalize("NFC", text))


def _read_text(path: Path) -> str:
    size = path.stat().st_size
    if size > MAX_TEXT_BYTES:
        raise UnreadableFile(
            f"file too large ({size / 1e6:.1f} MB > {MAX_TEXT_BYTES / 1e6:.0f} MB)"
        )
    try:
        raw = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UnreadableFile(f"not UTF-8 text (byte {exc.start})") from None
    return normalise(raw)


def split_front_matter(raw: str) -> tuple[dict[str, str], str]:
    """Split ``---``-delimited ``key: value`` front matter from a Markdown body."""
    if not raw.startswith("---\n"):
        return {}, raw
    close = _FRONT_MATTER_END.search(raw, 3)
    if close is None:
        return {}, raw
    meta: dict[str, str] = {}
    for line in raw[4 : close.start() + 1].splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() and not key.startswith((" ", "\t", "#")):
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
                value = value[1:-1]
            meta[key.strip().lower()] = value
    return meta, raw[close.end() :].lstrip("\n")


def markdown_sections(body: str) -> tuple[tuple[Section, ...], str | None]:
    """Sections of a Markdown body (heading -> span until the next heading) and its H1."""
    sections: list[Section] = []
    h1: str | None = None
    # a heading needs something after its first space or tab (the old pattern's ".+?")
    matches = [m for m in _HEADING.finditer(body) if m.end() - m.end(1) >= 2]
    for i, m in enumerate(matches):
        rest = m.group(2)
        # what "(.+?)[ \t#]*$" took: at least one character, without trailing spaces and #s
        title = (rest.rstrip(" \t#") or rest[:1]).strip()
        if m.group(1) == "#" and h1 is None:
            h1 = title
        start = m.end() + 1 if m.end() < len(body) else m.end()
        end = matches[i + 1].start() if i + 1 < len(matches) else len(body)
        sections.append(Section(title, min(start, end), end))
    return tuple(sections), h1


def innermost_sections(sections: Iterable[Section]) -> tuple[Section, ...]:
    """Flatten nested sections: each heading owns its text up to the next heading of any level."""
    ordered = sorted(sections, key=lambda s: (s.start, -s.end))
    out = []
    for i, sec in enumerate(ordered):
        end = min(sec.end, ordered[i + 1].start) if i + 1 < len(ordered) else sec.end
        # a heading's own text is what precedes its first subsection (may be empty)
        out.append(Section(sec.title, sec.start, max(sec.start, end)))
    return tuple(out)


def _markdown_document(raw: str, rel: Path, sha: str) -> Document:
    meta, body = split_front_matter(raw)
    if not body.strip():
        raise UnreadableFile("empty document")
    sections, h1 = markdown_sections(body)
    title = meta.get("title") or h1 or rel.stem
    return Document(
        doc_id=doc_id_for(rel),
        path=rel.as_posix(),
        title=title,
        text=body,
        sha256=sha,
        format="markdown",
        sections=sections,
        metadata=tuple(sorted(meta.items())),
    )


def text_sections(text: str) -> tuple[Section, ...]:
    """Sections of a plain-text document: each heading line owns the text after it up to the
    next heading (the heading line itself is in no section, as a Markdown heading's is not).

    A heading is a paragraph of one short line (at most 12 words, 100 characters) that does not
    end as a sentence or a clause does, is no "label:value" field and no image marker, and has
    text after it. Two or more such paragraphs in a row are none: they are a list
    ("Osteoarthritis", "Lupus", ...) as often as a heading over a subheading, and a heading
    over nothing would be an empty section. A line ending in "?" is a heading too ("What is a
    stem cell?" over its answer). Linear time.
    """
    paras: list[tuple[int, int]] = []
    pos = 0
    for m in _PARAGRAPH_BREAK.finditer(text):
        paras.append((pos, m.start()))
        pos = m.end()
    paras.append((pos, len(text)))
    paras = [(a, b) for a, b in ((a + _lead(text, a, b), b) for a, b in paras) if text[a:b].strip()]
    heads = [i for i, (a, b) in enumerate(paras) if _heading_line(text[a:b])]
    alone = set(heads)
    chosen = [i for i in heads if i + 1 < len(paras) and {i - 1, i + 1}.isdisjoint(alone)]
    sections = []
    for n, i in enumerate(chosen):
        a, b = paras[i]
        start = paras[i + 1][0]
        end = paras[chosen[n + 1]][0] if n + 1 < len(chosen) else len(text)
        sections.append(Section(text[a:b].strip(), start, end))
    return tuple(sections)


def _lead(text: str, a: int, b: int) -> int:
    """How many whitespace characters ``text[a:b]`` starts with."""
    return len(text[a:b]) - len(text[a:b].lstrip())


def _heading_line(para: str) -> bool:
    line = para.strip()
    return (
        "\n" not in line
        and len(line) <= _HEADING_CHARS
        and len(line.split()) <= _HEADING_WORDS
        and not line.endswith((".", ",", ";", ":"))
        and any(c.isalpha() for c in line)
        and not _FIELD.match(line)
        and not _MARKER.match(line)
    )


def _text_document(raw: str, rel: Path, sha: str) -> Document:
    if not raw.strip():
        raise UnreadableFile("empty document")
    first = raw.strip().split("\n", 1)[0].strip()
    title = first if 0 < len(first) <= 150 else rel.stem
    return Document(
        doc_id_for(rel), rel.as_posix(), title, raw, sha, "text", sections=text_sections(raw)
    )


def _extracted_document(path: Path, rel: Path, sha: str) -> Document:
    from mscqa.ingest.extract.sandbox import ExtractionError, extract

    try:
        ex = extract(path)
    except ExtractionError as exc:
        raise UnreadableFile(exc.reason) from None
    if not ex.text.strip():
        raise UnreadableFile("no text found")
    return Document(
        doc_id=doc_id_for(rel),
        path=rel.as_posix(),
        title=ex.title or rel.stem,
        text=ex.text,
        sha256=sha,
        format=path.suffix.lower().lstrip("."),
        sections=innermost_sections(Section(t, s, e) for t, s, e in ex.sections),
        pages=tuple(Page(n, s, e) for n, s, e in ex.pages),
        chrome=ex.chrome,
    )
