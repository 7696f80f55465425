"""Site boilerplate (navigation, template fields, notices, repeated footers) is found in any
document, and real content never is (``mscqa.ingest.boilerplate``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mscqa.ingest import boilerplate
from mscqa.ingest.boilerplate import chrome_spans, classify_line, find_boilerplate
from mscqa.ingest.chunker import Chunker
from mscqa.ingest.loaders import load_file
from mscqa.memo import LastCall
from mscqa.types import Document

REPO = Path(__file__).resolve().parents[1]
ARTICLE_MD = REPO / "corpus" / "msc-article.md"
ARTICLE_TXT = REPO.parent / "shared" / "seed" / "msc-article.txt"
FOOTER = (
    "About us | Contact | Privacy policy\n"
    "Example Health News, 12 Harbour Road, Springfield. Tel 555-0100.\n"
    "Copyright 2025 Example Health News. All rights reserved."
)


def doc(text: str, doc_id: str = "a.txt", title: str = "A document") -> Document:
    return Document(doc_id, doc_id, title, text, "", "text")


def found(documents: list[Document]) -> dict[str, list[tuple[str, str]]]:
    """``doc_id -> [(reason, text)]`` of what ``find_boilerplate`` marks."""
    texts = {d.doc_id: d.text for d in documents}
    return {
        doc_id: [(c.reason, texts[doc_id][c.start : c.end]) for c in chrome]
        for doc_id, chrome in find_boilerplate(documents).items()
    }


def article_paragraphs() -> list[str]:
    """The article's content paragraphs (the Markdown copy, without headings)."""
    body = ARTICLE_MD.read_text(encoding="utf-8").split("\n---\n", 1)[1]
    return [
        p.strip()
        for p in body.split("\n\n")
        if p.strip() and not p.lstrip().startswith("#") and "IMG_" not in p
    ]


@pytest.mark.skipif(not ARTICLE_TXT.exists(), reason="needs ../shared/seed")
def test_the_original_article_loses_only_its_navigation_and_release_date() -> None:
    txt = load_file(ARTICLE_TXT, Path("msc-article.txt"))
    marked = found([txt])["msc-article.txt"]
    assert [r for r, _ in marked] == ["field", "navigation", "navigation", "navigation"]
    assert marked[0][1] == "Release Date:2025-04-07"
    assert marked[1][1] == "Return to List"
    assert marked[2][1].startswith("Prve:Several domestic medical institutions")
    assert marked[3][1].startswith("Next:NMPA issued")
    # the editor's sign-off holds facts (a dev question asks about it): content
    assert not any("Xiaobian" in t or "Small series" in t for _, t in marked)


def test_the_markdown_article_has_no_boilerplate() -> None:
    md = load_file(ARTICLE_MD, Path("msc-article.md"))
    assert found([md]) == {}


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("Prev: Stem cells in Japan", "navigation"),
        ("Prve:Several domestic medical institutions joined hands.", "navigation"),
        ("« Previous post", "navigation"),
        ("Next article", "navigation"),
        ("Share: Facebook Twitter LinkedIn", "navigation"),
        ("Tags: stem cells, MSC, Japan", "navigation"),
        ("- Related articles: The cord blood bank opens", "navigation"),
        ("Return to List", "navigation"),
        ("Back to top", "navigation"),
        ("Read more", "navigation"),
        ("Release Date:2025-04-07", "field"),
        ("Posted on: 12 March 2024, 10:30 am", "field"),
        ("Views: 1,204", "field"),
        ("© 2025 Example Corp", "notice"),
        ("This website uses cookies to improve your experience. Accept", "notice"),
        # content that looks a little like chrome
        ("Previous studies have shown that MSCs reduce inflammation.", None),
        ("Next, the cells were expanded in culture for 14 days.", None),
        ("Text: the label on the vial", None),
        ("Return to work after knee surgery", None),
        ("Release date: to be announced by the regulator", None),
        ("Time: 36 months of follow-up", None),
        ("Note: cells were counted twice.", None),
        ("Bone marrow mesenchymal stem cells (BM-MSCs)", None),
        ("osteoarthritis", None),
        ("1. Bone marrow mesenchymal stem cells (BM-MSCs)", None),
        ("## Next: a heading is never chrome", None),
        ("The bakery uses cookies from a local supplier.", None),
    ],
)
def test_lines(line: str, reason: str | None) -> None:
    assert classify_line(line) == reason


def test_a_bare_link_beside_navigation_is_navigation_too() -> None:
    text = "Cells grow. They divide.\n\nHome\nNews\nNext: Another story\nAbout\n\nThe end came."
    assert found([doc(text)])["a.txt"] == [
        ("context", "Home"),
        ("context", "News"),
        ("navigation", "Next: Another story"),
        ("context", "About"),
    ]


def test_a_line_naming_another_document_is_a_link_to_it() -> None:
    a = doc("Umbilical cord cells expand fast.\n\nAdipose stem cells in Japanese clinics", "a.txt")
    title = "Adipose stem cells in Japanese clinics"
    b = doc("Adipose cells are approved in Japan.", "b.txt", title)
    assert found([a, b]) == {"a.txt": [("link", "Adipose stem cells in Japanese clinics")]}


def test_two_documents_sharing_a_footer_lose_only_the_footer() -> None:
    paragraphs = article_paragraphs()
    a = doc("\n\n".join(paragraphs[:5]) + "\n\n" + FOOTER, "a.txt")
    b = doc("\n\n".join(paragraphs[5:9]) + "\n\n" + FOOTER, "b.txt")
    marked = found([a, b])
    footer_lines = FOOTER.split("\n")
    for doc_id in ("a.txt", "b.txt"):
        assert {t for _, t in marked[doc_id]} == set(footer_lines)
    # alone, neither footer line says it is a footer except the copyright notice
    assert found([a]) == {"a.txt": [("notice", footer_lines[2])]}


def test_a_copy_of_a_document_keeps_its_text() -> None:
    paragraphs = article_paragraphs()
    a = doc("\n\n".join(paragraphs[:6]), "a.txt")
    b = doc("\n\n".join(paragraphs[:6] + paragraphs[6:7]), "v2/a.txt")  # a second version
    c = doc("\n\n".join(paragraphs[8:10]), "c.txt")
    assert found([a, b, c]) == {}


def test_a_multi_line_footer_repeated_as_a_whole() -> None:
    footer = "Example\nNews desk"  # each line alone too short to count
    a = doc("Stem cells were counted twice.\n\n" + footer, "a.txt")
    b = doc("Cord blood was frozen at birth.\n\n" + footer, "b.txt")
    marked = found([a, b])
    assert marked["a.txt"] == [("repeated", footer)] and marked["b.txt"] == [("repeated", footer)]


def test_spans_are_merged_and_sorted() -> None:
    d = doc("Home\nNext: x y\n\nText.")
    assert chrome_spans(d, find_boilerplate([d])["a.txt"]) == ((0, 14),)


def test_loader_hints_are_kept() -> None:
    d = Document("a.html", "a.html", "A", "Links here\n\nText.", "", "html", chrome=((0, 10),))
    assert found([d]) == {"a.html": [("hint", "Links here")]}


# Hypothesis: any mix of the article's paragraphs into documents, with or without a shared
# footer and navigation, keeps every content paragraph; the footer goes whenever two share it.
@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.lists(st.integers(min_value=0, max_value=200), min_size=1, max_size=6),
        min_size=1,
        max_size=4,
    ),
    st.booleans(),
    st.booleans(),
)
def test_content_paragraphs_are_never_marked(
    picks: list[list[int]], with_footer: bool, with_navigation: bool
) -> None:
    paragraphs = article_paragraphs()
    documents = []
    for n, chosen in enumerate(picks):
        # distinct paragraphs per document: the same paragraph in two documents is repetition
        parts = [paragraphs[(i + 7 * n) % len(paragraphs)] for i in dict.fromkeys(chosen)]
        parts = [p for p in parts if all(p not in d.text for d in documents)] or [
            f"Document {n} says cells were counted on day {n}."
        ]
        if with_navigation:
            parts.append("Return to List\nPrev: The story before\nNext: The story after")
        if with_footer:
            parts.append(FOOTER)
        documents.append(doc("\n\n".join(parts), f"d{n}.txt"))
    for d in documents:
        marked = find_boilerplate(documents).get(d.doc_id, ())
        spans = chrome_spans(d, marked)
        starts, ends = [0, *(e for _, e in spans)], [*(s for s, _ in spans), len(d.text)]
        kept = "".join(d.text[a:b] for a, b in zip(starts, ends, strict=True))
        for paragraph in paragraphs:
            if paragraph in d.text:
                assert paragraph in kept
        if with_navigation:
            assert "Next: The story after" not in kept
        if with_footer and len(documents) > 1:
            assert not any(line in kept for line in FOOTER.split("\n"))


PAGE = b"""<!doctype html><html><head><title>Stem cells today</title></head><body>
<header><a href="/">Home</a> <a href="/news">News</a></header>
<nav><ul><li><a href="/a">Other article one title here</a></li></ul></nav>
<div class="cookie-banner">This website uses cookies. <a href="#">Accept</a></div>
<div id="page"><h1>Stem cells today</h1>
<p>Umbilical cord cells are collected after birth. They expand <a href="/q">quickly</a>.</p>
<div class="related-posts"><p>Some other post about cells and things that grow.</p></div>
<ul><li><a href="/1">The first other story on the site</a></li><li>Cells divide.</li></ul>
</div>
<aside>Sidebar text</aside><div class="site-footer">Example Corp, 1 Main Street.</div>
<footer>Footer text</footer></body></html>"""


def test_an_html_page_marks_its_chrome_and_keeps_it_readable(tmp_path: Path) -> None:
    (tmp_path / "page.html").write_bytes(PAGE)
    page = load_file(tmp_path / "page.html", Path("page.html"))
    # landmarks are not extracted at all
    for dropped in ("Home", "Other article one", "Sidebar text", "Footer text"):
        assert dropped not in page.text
    hinted = [page.text[s:e] for s, e in page.chrome]
    assert hinted == [
        "This website uses cookies. Accept",  # class "cookie-banner"
        "Some other post about cells and things that grow.",  # class "related-posts"
        "The first other story on the site",  # all link text
        "Example Corp, 1 Main Street.",  # class "site-footer"
    ]
    assert "Umbilical cord cells are collected after birth." in page.text  # one link: content
    assert "Cells divide." in page.text and "Cells divide." not in hinted
    marked = {page.text[c.start : c.end] for c in find_boilerplate([page])["page.html"]}
    assert marked == set(hinted)


def test_a_layout_class_on_the_page_or_its_wrapper_marks_nothing(tmp_path: Path) -> None:
    body = (
        b'<body class="has-sidebar nav-open"><div class="with-sidebar"><h1>Cells</h1>'
        b"<p>Cord blood is frozen at birth.</p><p>Banks store it for years.</p></div></body>"
    )
    (tmp_path / "layout.html").write_bytes(body)
    page = load_file(tmp_path / "layout.html", Path("layout.html"))
    assert "Cord blood is frozen at birth." in page.text and page.chrome == ()


def test_a_chrome_class_on_a_wrapper_of_most_of_the_page_marks_nothing(tmp_path: Path) -> None:
    body = (
        b'<body><div class="page-with-sidebar"><p>Cord blood is frozen at birth and kept for'
        b' years.</p><p>Banks store it for any patient.</p></div><div class="footer">Example'
        b"</div></body>"
    )
    (tmp_path / "wrapped.html").write_bytes(body)
    page = load_file(tmp_path / "wrapped.html", Path("wrapped.html"))
    assert [page.text[s:e] for s, e in page.chrome] == ["Example"]


def test_a_label_in_the_middle_of_the_text_needs_chrome_beside_it() -> None:
    paragraphs = article_paragraphs()
    steps = "Next: the cells were washed twice.\n\nDate: 12 March 2024"
    middle = doc("\n\n".join([*paragraphs[:3], steps, *paragraphs[3:6]]))
    assert found([middle]) == {}  # a protocol's step and a note's date: content
    trailer = doc("\n\n".join([*paragraphs[:3], steps]))  # the last paragraphs: a page footer
    assert [r for r, _ in found([trailer])["a.txt"]] == ["navigation", "field"]
    beside = doc("\n\n".join([*paragraphs[:3], "Share: Facebook\nTags: cells", *paragraphs[3:6]]))
    assert [r for r, _ in found([beside])["a.txt"]] == ["navigation", "navigation"]


# --- what the chunker indexes -------------------------------------------------------------------


def indexed(documents: list[Document]) -> set[tuple[str, int, int]]:
    return {(c.doc_id, s, e) for c in Chunker(700).chunk_all(documents) for s, e in c.sentences}


def test_every_sentence_of_the_article_is_still_indexed(monkeypatch: pytest.MonkeyPatch) -> None:
    md = load_file(ARTICLE_MD, Path("msc-article.md"))
    now = indexed([md])
    monkeypatch.setattr(boilerplate, "find_boilerplate", lambda documents, memo=None: {})
    assert now == indexed([md])


@pytest.mark.skipif(not ARTICLE_TXT.exists(), reason="needs ../shared/seed")
def test_the_original_article_keeps_every_sentence_but_its_navigation(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    txt = load_file(ARTICLE_TXT, Path("msc-article.txt"))
    chrome = chrome_spans(txt, find_boilerplate([txt])["msc-article.txt"])
    chunks = Chunker(700).chunk_all([txt])
    now = {(c.doc_id, s, e) for c in chunks for s, e in c.sentences}
    monkeypatch.setattr(boilerplate, "find_boilerplate", lambda documents, memo=None: {})
    before = indexed([txt])
    assert now < before
    for _, s, e in before - now:  # what went is inside the navigation lines
        assert any(a <= s and e <= b for a, b in chrome)
    for _, s, e in now:  # and no passage holds any of them
        assert not any(a < e and s < b for a, b in chrome)
    for chunk in chunks:
        assert not any(chunk.start < b and a < chunk.end for a, b in chrome)
    assert chunks[-1].text.endswith("benefit more patients.")  # the editor's sign-off stays


def test_a_section_of_boilerplate_only_is_no_unreadable_part(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text(
        "# A\n\nCells divide.\n\n## Share this\n\nShare: Facebook\nTags: cells\n"
    )
    d = load_file(tmp_path / "a.md", Path("a.md"))
    chunker = Chunker(700)
    assert [c.text for c in chunker.chunk_all([d])] == ["Cells divide."]
    assert chunker.unreadable_all([d]) == []


def test_a_shared_footer_is_not_in_any_passage() -> None:
    paragraphs = article_paragraphs()
    a = doc("\n\n".join(paragraphs[:3]) + "\n\n" + FOOTER, "a.txt")
    b = doc("\n\n".join(paragraphs[3:6]) + "\n\n" + FOOTER, "b.txt")
    passages = " ".join(c.text for c in Chunker(700).chunk_all([a, b]))
    assert not any(line in passages for line in FOOTER.split("\n"))
    for paragraph in paragraphs[:6]:
        assert paragraph in passages
    # judged alone, a's footer is not known to repeat: only its copyright line goes
    alone = " ".join(c.text for c in Chunker(700).chunk(a))
    assert FOOTER.split("\n")[0] in alone and FOOTER.split("\n")[2] not in alone


def test_a_rebuild_analyses_only_the_documents_that_changed() -> None:
    memo: boilerplate.Analysed = LastCall()
    a, b = doc("Cells divide.\n\nNext: More", "a.txt"), doc("Cord blood.", "b.txt")
    Chunker(700, chrome=memo).chunk_all([a, b])
    first = memo.kept
    b2 = doc("Cord blood is frozen.", "b.txt")
    Chunker(700, chrome=memo).chunk_all([a, b2])
    assert memo.kept[a.text] is first[a.text] and set(memo.kept) == {a.text, b2.text}
