"""Corpus walking and per-format loading (Markdown and plain text)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from mscqa.errors import CorpusError
from mscqa.ingest.loaders import (
    iter_corpus_files,
    load_corpus,
    load_file,
    normalise,
    split_front_matter,
)
from mscqa.types import Section


def sha256s(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def load_one(tmp_path: Path, name: str, content: str | bytes) -> object:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return load_file(path, Path(name))


# --- front matter and Markdown ----------------------------------------------------------------


def test_front_matter_values_and_title(tmp_path: Path) -> None:
    md = (
        "---\ntitle: \"Quoted: title\"\ndate: 2025-01-02\nauthor: 'Ann'\nNote:  spaced  \n---\n"
        "\n# Heading one\n\nBody.\n"
    )
    doc = load_one(tmp_path, "a.md", md)
    assert doc.title == "Quoted: title"  # front matter wins over the H1
    assert dict(doc.metadata) == {
        "title": "Quoted: title",
        "date": "2025-01-02",
        "author": "Ann",
        "note": "spaced",
    }
    assert doc.text == "# Heading one\n\nBody.\n"  # front matter is not part of the text
    assert doc.format == "markdown"


def test_split_front_matter_without_front_matter() -> None:
    assert split_front_matter("# T\n\nbody") == ({}, "# T\n\nbody")
    # an opening delimiter that is never closed is not front matter
    assert split_front_matter("---\ntitle: x\nbody") == ({}, "---\ntitle: x\nbody")


def test_empty_front_matter_keeps_the_body(tmp_path: Path) -> None:
    # Empty front matter ("---\n---") is common (Jekyll). The body, which has a thematic break
    # further down, must survive intact.
    md = "---\n---\n# Title\n\nBody text here.\n\n---\n\nMore text.\n"
    doc = load_one(tmp_path, "e.md", md)
    assert "Body text here." in doc.text
    assert doc.title == "Title"


def test_sections_from_headings_have_exact_spans(tmp_path: Path) -> None:
    md = "# Top\n\nIntro.\n\n## First ##\nOne.\n\n### Sub\nTwo.\n## Last\nThree."
    doc = load_one(tmp_path, "s.md", md)
    assert [s.title for s in doc.sections] == ["Top", "First", "Sub", "Last"]
    bodies = [doc.text[s.start : s.end] for s in doc.sections]
    assert bodies == ["\nIntro.\n\n", "One.\n\n", "Two.\n", "Three."]
    for sec in doc.sections:
        assert isinstance(sec, Section)
        assert "#" not in doc.text[sec.start : sec.end]


def test_h1_is_the_fallback_title_then_file_stem(tmp_path: Path) -> None:
    assert load_one(tmp_path, "h.md", "Intro.\n\n## Sub\n\n# Real title\n\nx").title == "Real title"
    assert load_one(tmp_path, "my-notes.md", "## Only h2\n\ntext").title == "my-notes"


def test_txt_title_is_first_non_blank_line(tmp_path: Path) -> None:
    doc = load_one(tmp_path, "n.txt", "\n\n  Bone marrow notes  \n\nBody sentence.\n")
    assert doc.title == "Bone marrow notes"
    assert doc.format == "text"
    # the title line is also the heading of what follows, as a Markdown H1 is
    assert [(s.title, doc.text[s.start : s.end]) for s in doc.sections] == [
        ("Bone marrow notes", "Body sentence.\n")
    ]


def test_txt_headings_are_short_lines_standing_alone_over_text(tmp_path: Path) -> None:
    raw = (
        "Stem cell notes\n\nRelease Date:2025-04-07\n\nIntro sentence one. Intro two.\n\n"
        "What is a stem cell?\n\nIMG_256\n\nA stem cell renews itself.\n\n"
        "Osteoarthritis\n\nLupus\n\nDiabetes\n\nThey are all treated.\n\n"
        "This line ends as a sentence does.\n\nBody after it.\n\n"
        "Last heading with nothing after it\n"
    )
    doc = load_one(tmp_path, "notes.txt", raw)
    bodies = {s.title: doc.text[s.start : s.end] for s in doc.sections}
    # a "label:value" field, a list of short lines, a sentence and a trailing line are no
    # headings; a question over its answer is
    assert list(bodies) == ["Stem cell notes", "What is a stem cell?"]
    assert (
        bodies["Stem cell notes"] == "Release Date:2025-04-07\n\nIntro sentence one. Intro two.\n\n"
    )
    assert bodies["What is a stem cell?"].startswith("IMG_256\n\nA stem cell renews itself.")
    assert bodies["What is a stem cell?"].endswith("Last heading with nothing after it\n")


def test_overlong_first_line_is_not_a_title(tmp_path: Path) -> None:
    doc = load_one(tmp_path, "long.txt", "word " * 60 + "\nmore")
    assert doc.title == "long"


def test_crlf_and_control_characters_are_normalised(tmp_path: Path) -> None:
    raw = b"\xef\xbb\xbfLine one.\r\nLine\x00 two\x07.\rTab\there.\x1b\x7f\r\n"
    doc = load_one(tmp_path, "c.txt", raw)
    assert doc.text == "Line one.\nLine two.\nTab\there.\n"
    # the recorded hash is of the bytes on disk, not of the normalised text
    assert doc.sha256 == hashlib.sha256(raw).hexdigest()


def test_normalise_composes_unicode() -> None:
    assert normalise("cafe\u0301") == "caf\u00e9"


# --- corpus walking ----------------------------------------------------------------------------


def test_doc_ids_are_corpus_relative_posix_paths(tiny_corpus: Path) -> None:
    deep = tiny_corpus / "a" / "b" / "deep.md"
    deep.parent.mkdir(parents=True)
    deep.write_text("# Deep\n\nText.\n", encoding="utf-8")
    result = load_corpus(tiny_corpus)
    assert [d.doc_id for d in result.documents] == [
        "a/b/deep.md",
        "adipose.md",
        "marrow.txt",
        "nested/cord.md",
    ]
    assert all(d.path == d.doc_id for d in result.documents)
    assert result.skipped == []
    titles = {d.doc_id: d.title for d in result.documents}
    assert titles == {
        "a/b/deep.md": "Deep",
        "adipose.md": "Adipose MSCs",
        "marrow.txt": "Bone marrow notes",
        "nested/cord.md": "Umbilical cord",
    }


def test_hidden_files_and_folders_are_ignored(tiny_corpus: Path) -> None:
    (tiny_corpus / ".draft.md").write_text("# Hidden\n\nSecret.\n", encoding="utf-8")
    (tiny_corpus / ".git").mkdir()
    (tiny_corpus / ".git" / "notes.md").write_text("# Hidden\n\nSecret.\n", encoding="utf-8")
    (tiny_corpus / "nested" / ".cache").mkdir()
    (tiny_corpus / "nested" / ".cache" / "x.xyz").write_bytes(b"\xff")
    result = load_corpus(tiny_corpus)
    assert {d.doc_id for d in result.documents} == {"adipose.md", "marrow.txt", "nested/cord.md"}
    assert result.skipped == []


def test_bad_files_are_skipped_with_a_reason_and_the_rest_load(tiny_corpus: Path) -> None:
    (tiny_corpus / "latin1.txt").write_bytes("caf\u00e9 notes".encode("latin-1"))
    (tiny_corpus / "empty.md").write_text("", encoding="utf-8")
    (tiny_corpus / "blank.txt").write_text("  \n\n\t\n", encoding="utf-8")
    (tiny_corpus / "only-front.md").write_text("---\ntitle: X\n---\n\n", encoding="utf-8")
    (tiny_corpus / "data.xyz").write_text("whatever", encoding="utf-8")
    (tiny_corpus / "nested" / "deeper").mkdir()
    (tiny_corpus / "nested" / "deeper" / "bad.md").write_bytes(b"\xff\xfe\x00bad")
    seen: list[str] = []
    result = load_corpus(tiny_corpus, on_file=lambda p: seen.append(p.name))
    assert {d.doc_id for d in result.documents} == {"adipose.md", "marrow.txt", "nested/cord.md"}
    reasons = {s.file: s.reason for s in result.skipped}
    assert set(reasons) == {
        "latin1.txt",
        "empty.md",
        "blank.txt",
        "only-front.md",
        "data.xyz",
        "nested/deeper/bad.md",
    }
    assert "UTF-8" in reasons["latin1.txt"]
    assert "UTF-8" in reasons["nested/deeper/bad.md"]
    assert "empty" in reasons["empty.md"]
    assert "empty" in reasons["blank.txt"]
    assert "empty" in reasons["only-front.md"]
    assert "unsupported" in reasons["data.xyz"] and ".xyz" in reasons["data.xyz"]
    assert len(seen) == 9  # every visible file was offered, good or bad


def test_missing_corpus_folder_is_a_corpus_error(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match="does not exist"):
        load_corpus(tmp_path / "nope")
    (tmp_path / "file.md").write_text("# x\n\ny", encoding="utf-8")
    with pytest.raises(CorpusError):
        load_corpus(tmp_path / "file.md")


def test_loading_never_modifies_files(tiny_corpus: Path) -> None:
    (tiny_corpus / "crlf.md").write_bytes(b"---\r\ntitle: T\r\n---\r\n# H\r\n\r\nBody.\x00\r\n")
    (tiny_corpus / "bad.xyz").write_bytes(b"\x00\x01")
    before = sha256s(tiny_corpus)
    result = load_corpus(tiny_corpus)
    assert sha256s(tiny_corpus) == before
    docs = {d.doc_id: d for d in result.documents}
    assert docs["crlf.md"].text == "# H\n\nBody.\n"
    assert docs["crlf.md"].title == "T"
    assert all(d.sha256 == before[d.doc_id] for d in result.documents)


def test_corpus_files_are_sorted_and_symlinks_are_not_followed(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.md").write_text("# Outside\n\nNot part of the corpus.\n")
    for rel in ("b.md", "a/z.md", "a/b/c.md", "a-b.md", "A.md"):
        (corpus / rel).parent.mkdir(parents=True, exist_ok=True)
        (corpus / rel).write_text("# T\n\nText.\n")
    (corpus / "link.md").symlink_to(outside / "secret.md")
    (corpus / "linked-dir").symlink_to(outside, target_is_directory=True)
    got = [p.relative_to(corpus).as_posix() for p in iter_corpus_files(corpus)]
    assert got == ["A.md", "a/b/c.md", "a/z.md", "a-b.md", "b.md"]
    assert got == [
        p.relative_to(corpus).as_posix()
        for p in sorted(corpus.rglob("*.md"))
        if not p.is_symlink() and "linked-dir" not in p.parts
    ]
