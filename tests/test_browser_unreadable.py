"""A part of a document that is an image or a table the loader could not read: the chat names
it (the answer's ``unreadable`` field) instead of padding the answer, in headless Chromium
against a real `mscqa serve` with the real model.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from browser import (
    DESKTOP_800,
    _expect,
    _session,
    answered_turn,
    ask,
    assistant_turn,
    axe_violations,
    chromium_browser,
)
from conftest import mscqa_serve
from mscqa.config import Settings
from mscqa.indexing import build_index

__all__ = ["chromium_browser"]  # fixtures, used by name
pytestmark = [pytest.mark.slow, pytest.mark.browser]

PRODUCTS = """# Approved stem cell products

## Approved products

There are no approved MSC products in China yet. The following tables list the products that
are approved in Japan and in South Korea:

## 1. Approved in Japan

IMG_256

## 2. Approved in South Korea

IMG_257

## Manufacturing

Every approved product is manufactured under good manufacturing practice in a licensed
facility, and each batch is tested for sterility before it is released.
"""


@pytest.fixture(scope="module")
def image_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """`mscqa serve` (real model) over a document whose product tables were images; yields the
    URL and the document's text."""
    root = tmp_path_factory.mktemp("images")
    (root / "corpus").mkdir()
    (root / "corpus" / "products.md").write_text(PRODUCTS)
    settings = Settings(corpus_dir=root / "corpus", index_dir=root / "index", _env_file=None)
    build_index(settings)
    with mscqa_serve(settings, MSCQA_DATA_DIR=str(root / "data")) as (_, url):
        yield url, PRODUCTS


def test_a_part_that_is_an_image_is_named_instead_of_padding(
    chromium_browser: Any, image_server: tuple[str, str]
) -> None:
    expect = _expect()
    url, text = image_server
    for session in _session(
        chromium_browser, url, DESKTOP_800, permissions=("clipboard-read", "clipboard-write")
    ):
        page = session.page
        session.open()
        ask(page, "Which products are approved in Japan?")
        turn = assistant_turn(page, 0)
        note = turn.locator(".unreadable")
        expect(note).to_be_visible()
        # both tables match ("approved"); the one asked about is named, in the document's title
        expect(note).to_contain_text(
            re.compile(
                r"(This part|These parts) of the document (is an image|are images) and "
                r"could not be read"
            )
        )
        expect(note).to_contain_text("Approved stem cell products")
        link = note.locator("a", has_text="1. Approved in Japan")
        expect(link).to_be_visible()
        # nothing from the text is offered as if it listed the products
        expect(turn.locator(".answer")).not_to_contain_text("manufactured")
        for theme in ("light", "dark"):  # the note keeps its contrast in both themes
            page.emulate_media(color_scheme=theme)
            assert axe_violations(page, min_contrast_checks=3) == [], theme

        # the link opens the reader at that part of the document
        href = link.get_attribute("href") or ""
        start, end = (int(x) for x in re.findall(r"(?:start|end)=(\d+)", href))
        assert "Approved in Japan" in text[start:end] or "IMG_256" in text[start:end], href
        turn.locator(".action-copy").click()
        copied = page.evaluate("navigator.clipboard.readText()")
        assert re.search(r"of the document (is an image|are images) and could not be read:", copied)
        assert f"1. Approved in Japan — Approved stem cell products: <{url}{href}>" in copied
        link.click()
        expect(page).to_have_url(re.compile(r"/read/products\.md\?start=\d+&end=\d+$"))
        expect(page.locator("#cited")).to_be_visible()

        # a question the text answers carries no such note
        session.open()
        page.click("#new-conversation")
        ask(page, "How is each batch tested before it is released?")
        turn = answered_turn(page, 0)
        expect(turn.locator(".answer")).to_contain_text("sterility")
        expect(turn.locator(".unreadable")).to_have_count(0)
        session.assert_clean()
