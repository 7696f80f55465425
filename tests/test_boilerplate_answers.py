"""Site boilerplate is never an answer: the client's original article, uploaded as a ``.txt``
through the admin API and indexed by a real `mscqa serve` (real model), answers no question
from its navigation lines, while /read still shows them and the file stays as uploaded; an HTML
page's navigation, footer, aside and link lists are never cited either.

Before ``ingest.boilerplate``: "What did the NMPA issue?" answered "Next:NMPA issued the
Implementation Measures ..." [1] and "What is the release date?" answered "Release
Date:2025-04-07" [1], each with confidence 1.00.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import mscqa_serve
from mscqa.config import Settings
from mscqa.indexing import build_index
from waiting import finished_job

pytestmark = [pytest.mark.slow]

REPO = Path(__file__).resolve().parents[1]
ARTICLE_TXT = REPO.parent / "shared" / "seed" / "msc-article.txt"
TOKEN = "boilerplate-curator-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
NAVIGATION = ("Return to List", "Prve:", "Next:", "Release Date:")
# Questions that the navigation lines and the page's chrome matched best before
CHROME_QUESTIONS = [
    "What did the NMPA issue?",
    "Which measures on drug trial data protection were issued?",
    "Who calculated the disease burden of Parkinson's disease in China?",
    "What is the release date?",
    "When was the article released?",
    "How do I return to the list?",
    "Which article comes next?",
    "What was the previous article about?",
]
PAGE = b"""<!doctype html><html><head><title>Cord blood banking</title></head><body>
<header><a href="/">Example Health</a> <a href="/news">News</a> <a href="/about">About</a></header>
<nav><ul><li><a href="/a">Liposuction for adipose stem cells explained</a></li>
<li><a href="/b">Umbilical cord donation after birth</a></li></ul></nav>
<div class="cookie-banner">This website uses cookies to measure visits. <a href="#">Accept</a></div>
<main><h1>Cord blood banking</h1>
<p>Cord blood is collected from the umbilical cord right after birth and frozen in liquid
nitrogen. Public banks store donated units for any patient who needs a transplant.</p>
<div class="share-links"><a href="/s/fb">Share on Facebook</a> <a href="/s/tw">Share on X</a></div>
<ul><li><a href="/c">How long can cord blood be stored in a freezer</a></li>
<li><a href="/d">Private cord blood banks and their fees</a></li></ul>
</main>
<aside><p>Subscribe to our newsletter about stem cell banking for weekly news.</p></aside>
<footer><p>Example Health, 12 Harbour Road, Springfield. Cord blood questions: call 555-0100.</p>
</footer></body></html>"""
PAGE_CHROME = (
    "Example Health",
    "Liposuction for adipose",
    "uses cookies",
    "Share on",
    "How long can cord blood be stored",
    "Private cord blood banks",
    "newsletter",
    "Harbour Road",
)
PAGE_QUESTIONS = [
    "How long can cord blood be stored?",
    "How much do private cord blood banks charge?",
    "Does the website use cookies?",
    "Where is Example Health?",
    "How can I share this on Facebook?",
    "How do I subscribe to the newsletter about stem cell banking?",
    "What is liposuction used for?",
]


def quoted(body: dict[str, Any]) -> list[str]:
    """Everything an answer shows as the documents' words: its text, cited and related passages."""
    passages = [c["text"] for c in body.get("citations", []) + body.get("related", [])]
    return [body["answer"], *passages]


@pytest.fixture(scope="module")
def uploaded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """A real `mscqa serve` whose curator uploaded the original article (.txt) and an HTML page,
    then rebuilt the index through the admin API; yields its URL and corpus folder."""
    if not ARTICLE_TXT.exists():
        pytest.skip("needs ../shared/seed/msc-article.txt")
    root = tmp_path_factory.mktemp("boilerplate")
    corpus = root / "corpus"
    corpus.mkdir()
    (corpus / "welcome.md").write_text("# Welcome\n\nThis corpus holds the client's documents.\n")
    settings = Settings(corpus_dir=corpus, index_dir=root / "index", _env_file=None)
    build_index(settings)
    env = {"MSCQA_ADMIN_TOKEN": TOKEN, "MSCQA_DATA_DIR": str(root / "data")}
    with mscqa_serve(settings, **env) as (_, url):
        for name, data in (("msc-article.txt", ARTICLE_TXT.read_bytes()), ("cord.html", PAGE)):
            r = httpx.post(
                f"{url}/admin/documents", files={"file": (name, data)}, headers=AUTH, timeout=30
            )
            assert r.status_code == 201, r.text
        r = httpx.post(f"{url}/admin/reindex", headers=AUTH, timeout=30)
        assert r.status_code == 202, r.text
        assert finished_job(url, r.json()["job_id"], AUTH)["state"] == "done"
        yield url, corpus


def ask(url: str, question: str) -> dict[str, Any]:
    r = httpx.post(f"{url}/ask", json={"question": question}, timeout=60)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


@pytest.mark.parametrize("question", CHROME_QUESTIONS)
def test_no_answer_quotes_the_articles_navigation(
    uploaded: tuple[str, Path], question: str
) -> None:
    url, _ = uploaded
    body = ask(url, question)
    for text in quoted(body):
        assert not any(line in text for line in NAVIGATION), (question, text)


def test_the_article_still_answers_from_its_content_and_reads_whole(
    uploaded: tuple[str, Path],
) -> None:
    url, corpus = uploaded
    body = ask(url, "What kind of product is Prochymal?")
    assert body["answered"] and "bone marrow mesenchymal stem cell product" in body["answer"]
    assert body["citations"][0]["doc_id"] == "msc-article.txt"
    # the editor's sign-off is content: it answers
    body = ask(url, "What did the writer hope stem cells would one day break?")
    assert "break the barriers of technology and cost" in body["answer"]
    # the reader shows the whole file, navigation included; the upload is unchanged
    page = httpx.get(f"{url}/read/msc-article.txt", timeout=30).text
    for line in ("Release Date:2025-04-07", "Return to List", "Prve:Several", "Next:NMPA"):
        assert line in page
    stored = (corpus / "msc-article.txt").read_bytes()
    assert hashlib.sha256(stored).digest() == hashlib.sha256(ARTICLE_TXT.read_bytes()).digest()


@pytest.mark.parametrize("question", PAGE_QUESTIONS)
def test_no_answer_quotes_an_html_pages_chrome(uploaded: tuple[str, Path], question: str) -> None:
    url, _ = uploaded
    body = ask(url, question)
    for text in quoted(body):
        assert not any(chrome in text for chrome in PAGE_CHROME), (question, text)


def test_the_html_pages_content_answers(uploaded: tuple[str, Path]) -> None:
    url, _ = uploaded
    body = ask(url, "Where is cord blood collected from?")
    assert body["answered"] and "umbilical cord right after birth" in body["answer"]
    assert body["citations"][0]["doc_id"] == "cord.html"
