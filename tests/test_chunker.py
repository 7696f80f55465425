"""Sentence splitting and sentence-aware chunking."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mscqa.ingest.chunker import Chunker
from mscqa.ingest.loaders import load_file
from mscqa.ingest.sentences import split_sentences
from mscqa.types import Chunk, Document, Section

ARTICLE = Path(__file__).resolve().parents[1] / "corpus" / "msc-article.md"
HEADING_LINE = re.compile(r"^#{1,6}[ \t]", re.MULTILINE)


def texts(text: str, offset: int = 0) -> list[str]:
    return [text[s - offset : e - offset] for s, e in split_sentences(text, offset)]


# --- split_sentences -------------------------------------------------------------------------


def test_splits_on_period_question_and_exclamation_marks() -> None:
    text = "MSCs are cells. Are they safe? Yes! 2020 saw approvals."
    assert texts(text) == ["MSCs are cells.", "Are they safe?", "Yes!", "2020 saw approvals."]


def test_offsets_are_exact_and_exclude_surrounding_whitespace() -> None:
    text = "  First one.   Second one?\n\n  Third.  "
    assert split_sentences(text) == [(2, 12), (15, 26), (30, 36)]
    assert [text[s:e] for s, e in split_sentences(text)] == ["First one.", "Second one?", "Third."]


def test_offset_argument_shifts_every_span() -> None:
    text = "One here. Two here."
    assert split_sentences(text, offset=100) == [(100, 109), (110, 119)]


@pytest.mark.parametrize(
    "text",
    [
        "The U.S. Food and Drug Administration approved it.",
        "Some tissues, e.g. Fat and marrow, are used.",
        "That is, i.e. The same thing.",
        "The study by J. Smith was cited.",
        "See Fig. 2 for details.",
        "Dr. Jones collected them.",
    ],
)
def test_abbreviations_and_initials_do_not_end_a_sentence(text: str) -> None:
    assert texts(text) == [text]


def test_lower_case_continuation_does_not_end_a_sentence() -> None:
    assert texts("It costs approx. 5 dollars. then more.") == [
        "It costs approx. 5 dollars. then more."
    ]


def test_closing_quote_stays_with_its_sentence() -> None:
    assert texts('He said "stop." Then he left.') == ['He said "stop."', "Then he left."]


def test_paragraph_breaks_always_end_a_sentence() -> None:
    text = "no final period here\n\nlower case start\n  \nU.S.\n\nEnd."
    assert texts(text) == ["no final period here", "lower case start", "U.S.", "End."]


def test_single_newline_does_not_end_a_sentence() -> None:
    text = "A sentence that wraps\nacross two lines. Next one."
    assert texts(text) == ["A sentence that wraps\nacross two lines.", "Next one."]


def test_blank_text_has_no_sentences() -> None:
    assert split_sentences("  \n\n \t ") == []


# --- Chunker -----------------------------------------------------------------------------------

MD = """Intro paragraph before any heading. It has two sentences.

# Title

Lead sentence under the title.

## First section

Alpha one is here. Alpha two is here too. Alpha three follows! Alpha four? Alpha five ends.

Second paragraph of the first section. It is short.

## Second section

Beta sentence only.
### Empty
## Third section
Gamma one. Gamma two.
"""


def markdown_doc(text: str, doc_id: str = "dir/doc.md") -> Document:
    from mscqa.ingest.loaders import markdown_sections

    sections, _ = markdown_sections(text)
    return Document(doc_id, doc_id, "Doc", text, "0" * 64, "markdown", sections)


def check_invariants(doc: Document, chunks: list[Chunk], max_chars: int) -> None:
    assert chunks, "no chunks"
    regions = {s.title: s for s in doc.sections}
    for n, chunk in enumerate(chunks):
        assert chunk.n == n
        assert chunk.chunk_id == f"{doc.doc_id}#{n}"
        assert chunk.doc_id == doc.doc_id
        assert chunk.text == doc.text[chunk.start : chunk.end]
        assert chunk.sentences, chunk
        assert chunk.sentences[0][0] == chunk.start
        assert chunk.sentences[-1][1] == chunk.end
        prev_end = chunk.start
        for start, end in chunk.sentences:
            assert chunk.start <= start < end <= chunk.end
            assert start >= prev_end, "sentences overlap or are out of order"
            prev_end = end
        if chunk.section is not None:
            sec = regions[chunk.section]
            assert sec.start <= chunk.start and chunk.end <= sec.end, chunk
        else:
            for sec in doc.sections:  # a section-less chunk lies outside every section
                assert chunk.end <= sec.start or chunk.start >= sec.end
        assert not HEADING_LINE.search(chunk.text), chunk.text
        if len(chunk.sentences) > 1:
            assert len(chunk.text) <= max_chars


@pytest.mark.parametrize("max_chars", [50, 80, 120, 700])
def test_chunk_invariants_on_markdown(max_chars: int) -> None:
    doc = markdown_doc(MD)
    chunks = Chunker(max_chars).chunk(doc)
    check_invariants(doc, chunks, max_chars)
    # Every sentence of the body text is in exactly one chunk, headings in none.
    all_spans = [span for c in chunks for span in c.sentences]
    quoted = [doc.text[s:e] for s, e in all_spans]
    assert "Gamma two." in quoted
    assert "Intro paragraph before any heading." in quoted
    assert not any("#" in q or "Title" in q or "Empty" in q for q in quoted)
    assert len(set(all_spans)) == len(all_spans)


def test_chunks_never_cross_sections() -> None:
    doc = markdown_doc(MD)
    chunks = Chunker(5000).chunk(doc)
    by_section = {c.section: c.text for c in chunks}
    assert by_section["Second section"] == "Beta sentence only."
    assert by_section["Third section"] == "Gamma one. Gamma two."
    assert by_section[None] == "Intro paragraph before any heading. It has two sentences."
    assert "Empty" not in by_section  # a heading with no body makes no chunk


def test_max_chars_is_respected_by_packing() -> None:
    doc = markdown_doc(MD)
    chunks = [c for c in Chunker(60).chunk(doc) if c.section == "First section"]
    assert len(chunks) >= 3
    assert all(len(c.text) <= 60 for c in chunks)


def test_a_run_on_sentence_is_cut_at_whitespace_to_the_chunk_size() -> None:
    long = "This sentence " + "goes on and on " * 10 + "until it ends."
    text = f"Short one. {long} Short two."
    doc = Document("d.txt", "d.txt", "d", text, "0" * 64, "text")
    chunks = Chunker(50).chunk(doc)
    assert chunks[0].text == "Short one." and all(len(c.text) <= 50 for c in chunks)
    sentences = [text[s:e] for c in chunks for s, e in c.sentences]
    assert " ".join(sentences) == text  # cut at spaces, nothing lost
    assert len(sentences) == 6 and all(len(s) <= 50 for s in sentences)
    assert all(text[c.start : c.end] == c.text for c in chunks)


def test_a_run_on_sentence_without_spaces_is_cut_hard() -> None:
    text = "Intro. " + "x" * 50 + "\u0301" + "x" * 70  # a combining accent right at a cut
    spans = split_sentences(text, max_chars=50)
    pieces = [text[s:e] for s, e in spans]
    assert pieces[0] == "Intro." and all(len(p) <= 50 for p in pieces)
    assert "".join(pieces[1:]) == text[7:] and len(pieces) == 4
    assert not any(p.startswith("\u0301") for p in pieces)  # not cut before a combining mark
    with pytest.raises(ValueError, match="max_chars"):
        split_sentences(text, max_chars=0)


def test_chunk_ids_are_doc_id_and_number() -> None:
    doc = markdown_doc(MD, doc_id="nested/folder/a.md")
    chunks = Chunker(50).chunk(doc)
    assert [c.chunk_id for c in chunks] == [f"nested/folder/a.md#{i}" for i in range(len(chunks))]


def test_prefers_paragraph_end_once_half_full() -> None:
    para1 = "First paragraph sentence number one is here. And number two is here."
    text = f"{para1}\n\nSecond paragraph starts. It continues."
    doc = Document("d.txt", "d.txt", "d", text, "0" * 64, "text")
    chunks = Chunker(130).chunk(doc)
    assert chunks[0].text == para1


@pytest.mark.parametrize("bad", [0, 10, 49, -5])
def test_bad_max_chars_is_rejected(bad: int) -> None:
    with pytest.raises(ValueError, match="max_chars"):
        Chunker(bad)


def test_section_less_text_document() -> None:
    doc = Document("n.txt", "n.txt", "n", "Line one. Line two.\n", "0" * 64, "text")
    (chunk,) = Chunker(700).chunk(doc)
    assert chunk.section is None
    assert chunk.sentences == ((0, 9), (10, 19))


def test_headings_are_not_sentences_in_any_format() -> None:
    """A heading stands just before its section's body in the text of an HTML, PDF or Word
    document (and a plain-text one): it names the section, it is no sentence to quote."""
    text = (
        "Stem cells\n\nIntro about cells.\n\nMarrow cells\n\nMarrow comes from bone.\n\n"
        "Collection\n\nMarrow is aspirated.\n\nFat cells\n\nFat comes from liposuction."
    )

    def body(title: str) -> Section:
        start = text.index(title) + len(title) + 2
        nxt = [text.index(t) for t in ("Marrow cells", "Collection", "Fat cells")]
        return Section(title, start, min([n for n in nxt if n > start], default=len(text)))

    # nested as the extractors flatten them: "Marrow cells" ends where "Collection" begins
    sections = tuple(body(t) for t in ("Stem cells", "Marrow cells", "Collection", "Fat cells"))
    doc = Document("p.html", "p.html", "p", text, "0" * 64, "html", sections)
    sentences = [
        (c.section, doc.text[a:b]) for c in Chunker(700).chunk(doc) for a, b in c.sentences
    ]
    assert sentences == [
        ("Stem cells", "Intro about cells."),
        ("Marrow cells", "Marrow comes from bone."),
        ("Collection", "Marrow is aspirated."),
        ("Fat cells", "Fat comes from liposuction."),
    ]


def test_plain_text_headings_become_sections_not_sentences(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("Marrow cells\n\nMarrow comes from bone.\n\nFat cells\n\nFat is soft.\n")
    doc = load_file(path, Path("notes.txt"))
    chunks = Chunker(700).chunk(doc)
    assert [(c.section, c.text) for c in chunks] == [
        ("Marrow cells", "Marrow comes from bone."),
        ("Fat cells", "Fat is soft."),
    ]


# --- the bundled article -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def article() -> tuple[Document, list[Chunk]]:
    doc = load_file(ARTICLE, Path("msc-article.md"))
    return doc, Chunker(700).chunk(doc)


def test_article_chunk_invariants(article: tuple[Document, list[Chunk]]) -> None:
    doc, chunks = article
    check_invariants(doc, chunks, 700)


def test_article_sections(article: tuple[Document, list[Chunk]]) -> None:
    doc, chunks = article
    names = {s.title for s in doc.sections}
    assert {"osteoarthritis", "Graft versus Host disease (GVDH)"} <= names
    assert {"osteoarthritis", "Graft versus Host disease (GVDH)"} <= {c.section for c in chunks}


def test_article_has_no_placeholders_or_navigation(article: tuple[Document, list[Chunk]]) -> None:
    _, chunks = article
    for chunk in chunks:
        assert "IMG_2" not in chunk.text
        assert "Return to List" not in chunk.text


def test_article_does_not_split_at_us(article: tuple[Document, list[Chunk]]) -> None:
    doc, chunks = article
    sentences = [doc.text[s:e] for c in chunks for s, e in c.sentences]
    fda = [s for s in sentences if "Food and Drug Administration" in s]
    assert len(fda) == 1
    assert fda[0].startswith("The U.S. Food and Drug Administration (FDA) has approved")
    assert not any(s.endswith("U.S.") for s in sentences)


def test_sections_from_loader_are_used_verbatim() -> None:
    text = "## A\nOne. Two.\n## B\nThree."
    doc = Document("x.md", "x.md", "x", text, "0" * 64, "markdown", (Section("A", 5, 15),))
    chunks = Chunker(700).chunk(doc)
    assert [(c.section, c.text) for c in chunks] == [("A", "One. Two."), (None, "Three.")]


def test_chunk_all_reuses_the_chunks_of_unchanged_documents_only() -> None:
    a = markdown_doc(MD)
    b = Document("b.txt", "b.txt", "b", "One. Two. Three.", "1" * 64, "text")
    chunker = Chunker(60)
    first = chunker.chunk_all([a, b])
    assert first == chunker.chunk(a) + chunker.chunk(b)
    # the same documents again: the very same chunk objects, no re-chunking
    again = chunker.chunk_all([a, b])
    assert again == first and all(x is y for x, y in zip(again, first, strict=True))
    # b's text changed under the same doc_id: b is chunked afresh, a is reused
    b2 = Document("b.txt", "b.txt", "b", "One. Two changed. Three.", "2" * 64, "text")
    third = chunker.chunk_all([a, b2])
    assert [c.text for c in third if c.doc_id == "b.txt"] == [c.text for c in chunker.chunk(b2)]
    assert third[0] is first[0]
    # other settings never reuse chunks made with different ones
    wide = Chunker(5000).chunk_all([a, b2])
    assert wide == Chunker(5000).chunk(a) + Chunker(5000).chunk(b2)
    assert wide[0] is not first[0]


# --- unreadable parts -------------------------------------------------------------------------


def load_text(name: str, text: str, tmp: Path | None = None) -> Document:
    import tempfile

    folder = Path(tmp or tempfile.mkdtemp())
    (folder / name).write_text(text, encoding="utf-8")
    return load_file(folder / name, Path(name))


IMAGES = """# Approved

There are no approved products in China. The following tables list them:

## 1. Bone marrow products

## 2. Adipose products

![table of adipose products](table2.png)

## Notes

Table 3 of approved cord products

IMG_260

The notes end here.
"""


def test_sections_without_text_and_image_placeholders_are_recorded() -> None:
    doc = load_text("approved.md", IMAGES)
    chunker = Chunker(200)
    chunks = chunker.chunk(doc)
    parts = chunker.unreadable(doc)
    assert [(p.section, p.context) for p in parts] == [
        ("1. Bone marrow products", "Approved"),
        ("2. Adipose products", "Approved"),
        ("Table 3 of approved cord products", "Notes"),
    ]
    assert parts[0].after == parts[1].after == chunks[0].chunk_id  # what announces them
    # a placeholder is not a sentence: nothing quotes "IMG_260" or the image link
    quoted = [doc.text[s:e] for c in chunks for s, e in c.sentences]
    assert not any("IMG_" in q or "![" in q for q in quoted)
    assert doc.text[parts[2].start : parts[2].end] == "IMG_260"
    assert "The notes end here." in quoted


def test_chunk_all_and_unreadable_all_agree_with_one_document_at_a_time() -> None:
    docs = [load_text("approved.md", IMAGES), load_text("plain.md", "# P\n\nJust text here.\n")]
    chunker = Chunker(200)
    assert chunker.chunk_all(docs) == chunker.chunk(docs[0]) + chunker.chunk(docs[1])
    assert chunker.unreadable_all(docs) == chunker.unreadable(docs[0])
