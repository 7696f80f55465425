"""Tests for mscqa.ingest.extract: extraction of PDF, HTML and DOCX in a sandboxed subprocess.

Fixtures live in tests/data/formats (regenerate with make_fixtures.py there); big or hostile
inputs are generated in tmp_path.
"""

from __future__ import annotations

import itertools
import os
import shutil
import time
import zipfile
from pathlib import Path

import pytest

from mscqa.ingest.extract import pdf as extract_pdf
from mscqa.ingest.extract import sandbox as formats
from mscqa.ingest.extract import text as extract_text
from mscqa.ingest.extract.sandbox import SUPPORTED_SUFFIXES, Extracted, ExtractionError, extract

DATA = Path(__file__).parent / "data" / "formats"


def _section(doc: Extracted, heading: str) -> str:
    matches = [doc.text[s:e] for h, s, e in doc.sections if h == heading]
    assert matches, f"no section {heading!r} in {[h for h, _, _ in doc.sections]}"
    return matches[0]


def _page(doc: Extracted, number: int) -> str:
    matches = [doc.text[s:e] for p, s, e in doc.pages if p == number]
    assert matches, f"no page {number} in {doc.pages}"
    return matches[0]


def _reason(path: Path, **kwargs: float) -> str:
    with pytest.raises(ExtractionError) as info:
        extract(path, **kwargs)  # type: ignore[arg-type]
    assert str(info.value) == info.value.reason
    return info.value.reason


def _our_workers(marker: str) -> list[int]:
    """Pids of live (or zombie) worker processes whose command line mentions ``marker``."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if "mscqa.ingest.extract.worker" in cmdline and marker in cmdline:
            pids.append(int(entry.name))
    return pids


def test_supported_suffixes() -> None:
    assert frozenset({".html", ".htm", ".pdf", ".docx"}) == SUPPORTED_SUFFIXES


# ----------------------------------------------------------------------------------------- PDF


def test_pdf_text_title_sections_and_pages() -> None:
    doc = extract(DATA / "paper.pdf")
    assert doc.title == "MSC cartilage repair review"
    text = doc.text
    # end-of-line hyphenation undone, wrapped lines joined into one paragraph
    assert "Bone marrow derived mesenchymal stromal cells (MSCs) are multipotent progenitors " \
        "that differentiate into osteoblasts, chondrocytes and adipocytes." in text  # fmt: skip
    assert "mesen-" not in text
    assert "alpha-MEM" in text  # a hyphen before a capital is kept
    # paragraphs end at vertical gaps; headings are paragraphs of their own
    paragraphs = text.split("\n\n")
    assert "Abstract" in paragraphs
    assert "Methods" in paragraphs
    assert paragraphs[0] == "Mesenchymal Stromal Cells in Cartilage Repair"
    assert all(p.strip() == p and p for p in paragraphs)
    # running head and page numbers are dropped
    assert "J. Stromal Cell Res." not in text
    assert not any(p.strip().isdigit() for p in paragraphs)
    # a sentence running over the page break stays one paragraph
    assert "clinical trials of knee osteoarthritis, where pain scores" in text

    assert "multipotent progenitors" in _section(doc, "Abstract")
    assert "osteoarthritis" in _section(doc, "Abstract")
    assert "Methods" not in _section(doc, "Abstract")
    assert "CD105" in _section(doc, "Methods")
    assert "Chondrogenic" not in _section(doc, "Methods")
    assert "No tumour formation" in _section(doc, "Results")
    # the largest heading (the paper title) contains the whole body
    assert "No tumour formation" in _section(doc, "Mesenchymal Stromal Cells in Cartilage Repair")

    assert [p for p, _, _ in doc.pages] == [1, 2, 3]
    assert "Bone marrow derived" in _page(doc, 1)
    assert _page(doc, 1).endswith("clinical trials of knee")
    assert _page(doc, 2).startswith("osteoarthritis, where")
    assert "CD105" in _page(doc, 2) and "Methods" in _page(doc, 2)
    assert "No tumour formation" in _page(doc, 3) and "CD105" not in _page(doc, 3)
    ends = [(s, e) for _, s, e in doc.pages]
    assert all(0 <= s < e <= len(text) for s, e in ends)
    assert all(e1 <= s2 for (_, e1), (s2, _) in itertools.pairwise(ends))


def test_encrypted_pdf_is_refused() -> None:
    assert _reason(DATA / "encrypted.pdf") == "encrypted PDF"


def test_pdf_with_only_an_owner_password_is_read() -> None:
    doc = extract(DATA / "owner_only.pdf")
    assert "mesenchymal stromal cells" in doc.text


def test_image_only_pdf_is_refused() -> None:
    assert _reason(DATA / "image_only.pdf") == "no extractable text (scanned image-only PDF?)"


def test_corrupt_pdf_is_refused() -> None:
    assert _reason(DATA / "corrupt.pdf").startswith("corrupt PDF")


def test_pdf_truncated_after_header_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "half.pdf"
    bad.write_bytes(b"%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n")
    assert _reason(bad).startswith(("corrupt PDF", "no extractable text"))


# ----------------------------------------------------------------------------------------- DOCX


def test_docx_text_title_sections_and_tables() -> None:
    doc = extract(DATA / "report.docx")
    assert doc.title == "MSC potency assay report"  # core properties win over the Title style
    assert doc.pages == ()
    paragraphs = doc.text.split("\n\n")
    assert paragraphs[:3] == [
        "Potency of Umbilical Cord MSCs",
        "Background",
        "Umbilical cord mesenchymal stromal cells suppress T-cell proliferation in vitro.",
    ]
    assert "Potency varied between donors by up to threefold." in paragraphs  # runs joined
    assert "CD73 | 98% positive" in paragraphs  # table cells become text
    assert "HLA-DR | <2% positive" in paragraphs
    assert "Text after the table closes the assay section." in paragraphs  # nbsp normalised

    background = _section(doc, "Background")
    assert "suppress T-cell proliferation" in background
    assert "threefold" in background  # the Heading 2 section nests inside Heading 1
    assert "IDO activity" not in background
    assert _section(doc, "Donor variability") == "Potency varied between donors by up to threefold."
    assert "CD73 | 98% positive" in _section(doc, "Assay")
    assert _section(doc, "Assay").endswith("closes the assay section.")


def test_docx_title_falls_back_to_first_heading(tmp_path: Path) -> None:
    src = DATA / "report.docx"
    dst = tmp_path / "untitled.docx"
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "docProps/core.xml":
                data = data.replace(b"MSC potency assay report", b"")
            zout.writestr(item, data)
    assert extract(dst).title == "Potency of Umbilical Cord MSCs"


def test_truncated_docx_is_refused() -> None:
    assert _reason(DATA / "truncated.docx").startswith("corrupt DOCX")


def test_text_file_named_docx_is_refused() -> None:
    assert _reason(DATA / "not_really.docx") == "corrupt DOCX (not a zip file)"


def test_docx_zip_bomb_is_refused_before_parsing(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.docx"
    chunk = b"\0" * (1024 * 1024)
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        with zf.open("word/document.xml", "w", force_zip64=True) as fh:
            for _ in range(210):
                fh.write(chunk)
    assert bomb.stat().st_size < 1024 * 1024
    reason = _reason(bomb)
    assert "zip bomb" in reason and "200 MB" in reason


# ----------------------------------------------------------------------------------------- HTML


def test_html_main_text_only() -> None:
    doc = extract(DATA / "article.html")
    assert doc.title == "MSC Secretome & Wound Healing | Example Journal"
    assert "SHOULD-NOT-APPEAR" not in doc.text  # script, style, nav, header, footer, aside, ...
    assert doc.pages == ()
    paragraphs = doc.text.split("\n\n")
    assert paragraphs[0] == "The MSC Secretome in Wound Healing"  # article header kept
    assert (
        "Mesenchymal stromal cells release growth factors — VEGF, HGF and TGF-β1 – that "
        "accelerate re-epithelialisation." in paragraphs
    )
    assert "Exosomes carry microRNAs\nand proteins." in paragraphs  # &shy; gone, <br> kept
    assert {"Bone marrow", "Adipose tissue", "Umbilical cord"} <= set(paragraphs)
    assert "VEGF | 4.2" in paragraphs
    assert "Wound closure was faster by day 7." in paragraphs

    intro = _section(doc, "Introduction")
    assert intro.startswith("Mesenchymal stromal cells")
    assert intro.endswith("Umbilical cord")  # the h3 "Sources" nests inside the h2
    assert _section(doc, "Sources") == "Bone marrow\n\nAdipose tissue\n\nUmbilical cord"
    assert _section(doc, "Results").startswith("Factor | Fold change")
    assert "Wound closure" in _section(doc, "The MSC Secretome in Wound Healing")


def test_html_title_falls_back_to_h1_and_legacy_encoding() -> None:
    doc = extract(DATA / "legacy_cp1252.htm")
    assert doc.title == "Café culture"
    assert doc.text == "Café culture\n\nCells – résumé of the “method”."
    assert doc.sections == (("Café culture", 14, len(doc.text)),)


def test_text_is_normalised(tmp_path: Path) -> None:
    page = tmp_path / "controls.html"
    page.write_bytes(
        "<title>t</title><p>Cafe\u0301 a\x00b\x07c\r\nd\x1b</p>\r\n<pre>x\ty</pre>".encode()
    )
    doc = extract(page)
    assert doc.text == "Café abc d\n\nx\ty"
    assert "\u0301" not in doc.text  # NFC
    assert not any(ord(ch) < 32 and ch not in "\n\t" for ch in doc.text)


def test_deeply_nested_html_is_reported_not_crashed(tmp_path: Path) -> None:
    n = 200_000
    page = tmp_path / "deep.html"
    page.write_text("<html><body>" + "<div>" * n + "deep" + "</div>" * n + "</body></html>")
    started = time.monotonic()
    reason = _reason(page)
    assert "nested too deeply" in reason
    assert time.monotonic() - started < 10


def test_moderately_nested_html_still_parses(tmp_path: Path) -> None:
    n = 3000
    page = tmp_path / "nested.html"
    page.write_text("<body>" + "<div>" * n + "<p>inner text</p>" + "</div>" * n + "<p>after</p>")
    assert extract(page).text == "inner text\n\nafter"


# ----------------------------------------------------------------------------------------- limits


def test_file_over_max_bytes_is_refused_without_parsing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    big = tmp_path / "huge.html"
    big.write_bytes(b"<p>" + b"a" * (3 * 1024 * 1024))  # one 3 MB line

    def no_subprocess(*args: object, **kwargs: object) -> None:
        raise AssertionError("a worker was started for a file over the size limit")

    monkeypatch.setattr(formats.subprocess, "Popen", no_subprocess)
    assert _reason(big, max_bytes=1024 * 1024) == "file too large (3 MB > 1 MB)"


def test_timeout_kills_the_worker(tmp_path: Path) -> None:
    pdf = tmp_path / "timeout-marker-1.pdf"
    shutil.copy(DATA / "paper.pdf", pdf)
    started = time.monotonic()
    assert _reason(pdf, timeout_s=0.01) == "timed out after 0.01s"
    assert time.monotonic() - started < 5
    assert _our_workers(str(pdf)) == []  # killed and reaped, no zombie left


def test_timeout_during_a_genuinely_slow_parse(tmp_path: Path) -> None:
    # About a million paragraphs: several seconds of parsing on this machine, far past 1 s.
    page = tmp_path / "timeout-marker-2.html"
    page.write_bytes(b"<p>cell" * 1_000_000)
    started = time.monotonic()
    assert _reason(page, timeout_s=1.0) == "timed out after 1s"
    assert time.monotonic() - started < 5
    assert _our_workers(str(page)) == []


def test_memory_limit_is_enforced_in_the_worker() -> None:
    assert _reason(DATA / "article.html", memory_mb=1) == "memory limit exceeded (1 MB)"


def test_unsupported_missing_and_empty_files(tmp_path: Path) -> None:
    note = tmp_path / "note.md"
    note.write_text("# hi")
    assert _reason(note) == "unsupported file type '.md'"
    assert _reason(tmp_path / "missing.pdf").startswith("cannot read file")
    empty = tmp_path / "empty.html"
    empty.write_bytes(b"")
    assert _reason(empty) == "empty file"
    blank = tmp_path / "blank.html"
    blank.write_text("<html><body><script>x()</script></body></html>")
    assert _reason(blank) == "no extractable text in HTML"


def test_uppercase_suffix_is_accepted(tmp_path: Path) -> None:
    page = tmp_path / "PAGE.HTM"
    page.write_text("<h1>Upper</h1><p>case</p>")
    assert extract(page).text == "Upper\n\ncase"


def test_extraction_error_is_an_mscqa_error() -> None:
    from mscqa.errors import MscqaError

    err = ExtractionError("encrypted PDF")
    assert isinstance(err, MscqaError) and err.reason == "encrypted PDF"


def test_worker_start_up_imports_no_parser_or_heavy_library() -> None:
    import subprocess
    import sys

    code = (
        "import sys, mscqa.ingest.extract.worker; "
        "bad = [m for m in ('torch', 'numpy', 'pypdf', 'docx', 'selectolax') if m in sys.modules]; "
        "sys.exit(str(bad) if bad else 0)"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONSTARTUP"}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=30)


# ----------------------------------------------------------------------------------------- helpers


def test_hyphenation_join_rules() -> None:
    assert extract_pdf._join("derived mesen-", "chymal cells") == "derived mesenchymal cells"
    assert extract_pdf._join("alpha-", "MEM medium") == "alpha-MEM medium"
    assert extract_pdf._join("IL-", "6 levels") == "IL-6 levels"
    assert extract_pdf._join("cells", "were") == "cells were"
    assert extract_pdf._join("soft\u00ad", "hyphen") == "softhyphen"
    assert extract_pdf._join("range 5 -", "to 7") == "range 5 - to 7"


def test_section_spans_nest_and_stop_at_same_level() -> None:
    blocks = [
        extract_text.Block("A", 1),
        extract_text.Block("a1"),
        extract_text.Block("B", 2),
        extract_text.Block("b1"),
        extract_text.Block("C", 1),
        extract_text.Block("c1"),
        extract_text.Block("D", 1),
    ]
    text, sections, _ = extract_text.assemble(blocks)
    spans = {h: text[s:e] for h, s, e in sections}
    assert spans == {"A": "a1\n\nB\n\nb1", "B": "b1", "C": "c1", "D": ""}
