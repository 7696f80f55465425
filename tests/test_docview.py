"""The document reader: ``docview`` lays a document out, ``GET /read/{doc_id}`` serves it with
the cited span highlighted; answers carry the ``id`` and ``index_version`` that link to it."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from mscqa.config import Settings
from mscqa.server.app import create_app
from mscqa.server.docview import document_view, parse_span
from mscqa.service import QAService
from mscqa.types import Document, Page, Section

MARK = re.compile(r'<mark class="quoted"( id="cited" tabindex="-1")?>(.*?)</mark>', re.S)


@pytest.fixture
def client(tiny_settings: Settings, tiny_service: QAService) -> Iterator[TestClient]:
    with TestClient(create_app(tiny_settings, tiny_service)) as c:
        yield c


def _doc(text: str, sections=(), pages=()) -> Document:
    return Document("d.md", "d.md", "D", text, "", "markdown", tuple(sections), tuple(pages))


# --- layout ------------------------------------------------------------------------------------


def test_markdown_heading_lines_become_headings_not_text() -> None:
    text = "Intro line.\n\n## First\nBody one.\n\n## Second\nBody two.\n"
    first = text.index("Body one")
    second = text.index("Body two")
    doc = _doc(
        text,
        [Section("First", first, text.index("## Second")), Section("Second", second, len(text))],
    )
    view = document_view(doc)
    assert [(b.kind, b.text) for b in view.blocks] == [
        ("paragraph", "Intro line."),
        ("heading", "First"),
        ("paragraph", "Body one."),
        ("heading", "Second"),
        ("paragraph", "Body two."),
    ]
    assert view.span is None and view.quoted == ""
    assert all(not p.marked for b in view.blocks for p in b.pieces)


def test_span_across_paragraphs_is_marked_in_each_and_scrolls_to_the_first() -> None:
    text = "Alpha one. Alpha two.\n\nBeta one. Beta two."
    start, end = text.index("Alpha two"), text.index(" Beta two")
    view = document_view(_doc(text), start, end)
    marked = [(p.text, p.first_mark) for b in view.blocks for p in b.pieces if p.marked]
    assert marked == [("Alpha two.", True), ("Beta one.", False)]
    assert view.quoted == text[start:end]
    # every character of the document is shown once, in order (whitespace between blocks aside)
    shown = "".join(p.text for b in view.blocks for p in b.pieces)
    assert shown.replace(" ", "") == text.replace("\n", "").replace(" ", "")


def test_pages_and_sections_are_reported_for_the_span() -> None:
    text = "Page one text.\fPage two text. The cited sentence."
    p2 = text.index("Page two")
    doc = _doc(
        text,
        [Section("Results", p2, len(text))],
        [Page(1, 0, p2), Page(2, p2, len(text))],
    )
    start = text.index("The cited")
    view = document_view(doc, start, len(text))
    assert (view.section, view.page) == ("Results", 2)
    kinds = [(b.kind, b.text) for b in view.blocks if b.kind != "paragraph"]
    assert kinds == [("page", "Page 1"), ("heading", "Results"), ("page", "Page 2")]


@pytest.mark.parametrize(
    ("start", "end"),
    [("5", "2"), ("0", "0"), ("-1", "3"), ("0", "999"), ("x", "3"), ("1.5", "3"), (None, "3")],
)
def test_unusable_offsets_give_no_span(start: str | None, end: str | None) -> None:
    assert parse_span(start, end, 20) is None


# --- GET /read ---------------------------------------------------------------------------------


def _page_text(body: str) -> str:
    """The reader's document text as a person sees it (tags dropped, entities decoded)."""
    inner = body.split('id="doc-text"', 1)[1]
    return html.unescape(re.sub(r"<[^>]+>", "", inner))


def test_read_highlights_a_quoted_sentence_of_an_answer(
    client: TestClient, tiny_service: QAService
) -> None:
    answer = client.post("/ask", json={"question": "How are adipose stem cells collected?"}).json()
    assert answer["answered"]
    cited = answer["citations"][0]
    span = cited["sentences"][0]
    sentence = cited["text"][span["start"] - cited["start"] : span["end"] - cited["start"]]
    r = client.get(f"/read/{cited['doc_id']}", params=span)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in r.headers["content-security-policy"]
    marks = MARK.findall(r.text)
    assert marks == [(' id="cited" tabindex="-1"', html.escape(sentence, quote=False))]
    doc, _ = tiny_service.document(cited["doc_id"])
    shown = _page_text(r.text)
    for line in doc.text.splitlines():  # the rest of the document is readable around it
        if line.strip() and not line.startswith("#"):
            assert line.strip() in shown
    assert answer["index_version"] in r.text


def test_read_nested_document_ids_and_no_offsets(client: TestClient) -> None:
    r = client.get("/read/nested/cord.md")
    assert r.status_code == 200
    assert "Umbilical cord stem cells come from allogeneic cord tissue." in r.text
    assert not MARK.findall(r.text)
    assert "does not have" not in r.text  # no offsets asked: no warning either


@pytest.mark.parametrize("query", ["start=40&end=10", "start=0&end=99999", "start=a&end=b"])
def test_read_with_bad_offsets_shows_the_document_without_highlight(
    client: TestClient, query: str
) -> None:
    r = client.get(f"/read/adipose.md?{query}")
    assert r.status_code == 200
    assert "Adipose stem cells are collected by liposuction." in r.text
    assert not MARK.findall(r.text)
    assert "does not have" in r.text


def test_read_unknown_document_is_a_404_page(client: TestClient) -> None:
    r = client.get("/read/nope/missing.md?start=0&end=4")
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("text/html")
    assert "Document not found" in r.text
    assert "&#39;nope/missing.md&#39;" in r.text


def test_read_escapes_document_markup(tmp_path, fake_embedder) -> None:
    from mscqa.indexing import build_index

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "evil.md").write_text("# <b>Evil</b>\n\nSpam <script>alert(1)</script> here.\n")
    settings = Settings(corpus_dir=corpus, index_dir=tmp_path / "index", _env_file=None)
    build_index(settings, fake_embedder)
    service = QAService(settings, fake_embedder)
    service.load()
    with TestClient(create_app(settings, service)) as c:
        r = c.get("/read/evil.md?start=0&end=5")
    assert "<script>alert" not in r.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in r.text
    assert "<b>Evil" not in r.text


# --- answer ids --------------------------------------------------------------------------------


def test_every_answer_has_its_own_id_and_the_index_version(client: TestClient) -> None:
    version = client.get("/health").json()["index"]["version"]
    bodies = [
        client.post("/ask", json={"question": "What is liposuction?"}).json() for _ in range(2)
    ]
    ids = [b["id"] for b in bodies]
    assert all(re.fullmatch(r"[0-9a-f]{24}", i) for i in ids)
    assert ids[0] != ids[1]  # the same question answered twice (from the cache) is two answers
    assert {b["index_version"] for b in bodies} == {version}
    refused = client.post("/ask", json={"question": "What is the capital of France?"}).json()
    assert refused["id"] and refused["index_version"] == version


def test_pages_do_not_share_one_template_context(client: TestClient) -> None:
    from mscqa.server import pages as web

    for path in ("/", "/documents/view", "/read/adipose.md", "/read/missing.md"):
        client.get(path)
    # TemplateResponse stores the request in its context: a shared dict would hand this
    # TestClient request to the next app's responses (uvicorn then fails on its debug message).
    assert "request" not in web.STATIC


# --- the page scripts --------------------------------------------------------------------------

STATIC = Path(__file__).resolve().parents[1] / "web" / "static"


def test_page_scripts_are_modules_sharing_one_helper_module(client: TestClient) -> None:
    comments = re.compile(r"/\*.*?\*/|//[^\n]*", re.S)
    scripts = {p.name: comments.sub("", p.read_text(encoding="utf-8")) for p in STATIC.glob("*.js")}
    for page, script in (("/", "app.js"), ("/documents/view", "documents.js")):
        assert f'<script type="module" src="/static/{script}"></script>' in client.get(page).text
    for name, text in scripts.items():
        assert not re.search(r"\.(inner|outer)HTML|insertAdjacentHTML|document\.write", text), name
        assert not re.search(r"\beval\(|new Function\(", text), name
        # DOM and fetch helpers live in common.js only: no second copy in a page script
        if name != "common.js":
            for helper in ("el", "readJson", "detailText", "detailOf", "fetchJson", "textNode"):
                assert not re.search(rf"function {helper}\(", text), f"{name} defines {helper}"
    assert "localStorage" not in scripts["documents.js"]  # the admin token stays in the tab


def test_the_chat_page_takes_its_constants_from_the_server(
    tiny_settings: Settings, tiny_service: QAService
) -> None:
    settings = tiny_settings.model_copy(
        update={"max_question_chars": 5000, "min_confidence": 0.65, "question_log": "off"}
    )
    with TestClient(create_app(settings, tiny_service)) as c:
        page = c.get("/").text
    assert 'data-max-question-chars="5000"' in page
    assert 'data-min-confidence="0.65"' in page
    shown = re.search(r'data-not-found="([^"]*)"', page)
    assert shown and html.unescape(shown.group(1)) == tiny_service.not_found
    assert 'data-feedback-url=""' in page  # no rating buttons when nothing is kept
    scripts = " ".join(p.read_text(encoding="utf-8") for p in STATIC.glob("*.js"))
    assert tiny_service.not_found not in scripts
    assert not re.search(r"\b0\.[47]\b", scripts)  # the old copied confidence thresholds
