"""Sentence scores of retrieved passages: a sentence that refers back is found by the words of
the sentence it refers to (``retrieval.sentences``), over either backend."""

from __future__ import annotations

import pytest

from conftest import write_corpus
from mscqa.config import Settings
from mscqa.embedding.hashing import HashingEmbedder
from mscqa.index import IndexSnapshot
from mscqa.index.backends import open_store
from mscqa.index.lexical import tokenize
from mscqa.indexing import build_index
from mscqa.retrieval.retriever import Retriever
from mscqa.retrieval.sentences import continues

pytestmark = pytest.mark.both_backends

BEFORE = frozenset(tokenize("The institute uses a microfluidic technology to sort cells."))


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        ("The technology doubles the yield.", True),  # a noun the sentence before used
        ("This technology doubles the yield.", True),
        ("It doubles the yield.", True),
        ("Their yield doubles.", True),
        ('"It doubles the yield."', True),
        ("The patients were followed for a year.", False),  # a noun it did not use
        ("This may double the yield.", False),  # a determiner before a verb is no reference
        ("Yield doubles with the technology.", False),
        ("Items of the technology list.", False),  # "it" only as a whole word
    ],
)
def test_a_sentence_continues_the_one_before_it(sentence: str, expected: bool) -> None:
    assert continues(sentence, BEFORE) is expected


DOC = """# Methods

The SMART institute reported a new marrow aspiration technique using microfluidic chips.

The technique doubles the yield and saves twenty minutes.

# Costs

The technique is expensive in some countries.
"""


@pytest.fixture
def snapshot(tmp_path, fake_embedder: HashingEmbedder, database_url: str | None):
    corpus = write_corpus(tmp_path / "c", {"smart.md": DOC})
    settings = Settings(
        corpus_dir=corpus, index_dir=tmp_path / "i", database_url=database_url, _env_file=None
    )
    build_index(settings, fake_embedder)
    store = open_store(settings)
    snapshot = store.load_current()
    yield snapshot
    store.retire(snapshot)
    store.close()


@pytest.fixture
def retriever(snapshot: IndexSnapshot, fake_embedder: HashingEmbedder) -> Retriever:
    return Retriever(snapshot, fake_embedder)


def _scored(retriever: Retriever, question: str) -> dict[str, frozenset[int]]:
    result = retriever.search(question, 3)
    return {
        s.chunk.text[s.start - s.chunk.start : s.end - s.chunk.start]: s.found
        for s in result.sentences
    }


def test_a_continuing_sentence_is_found_by_the_words_it_refers_to(retriever) -> None:
    # "SMART" is only in the first paragraph; the second one says "The technique ..."
    question = "SMART microfluidic yield"
    terms = retriever.terms(question)
    names = [next(iter(t.forms[0])) for t in terms]
    found = _scored(retriever, question)
    second = found["The technique doubles the yield and saves twenty minutes."]
    assert {names[i] for i in second} == {"smart", "microfluid", "yield"}
    first = found[
        "The SMART institute reported a new marrow aspiration technique using microfluidic chips."
    ]
    assert {names[i] for i in first} == {"smart", "microfluid"}


def test_a_new_section_does_not_continue_the_last_one(retriever) -> None:
    found = _scored(retriever, "SMART expensive")
    terms = retriever.terms("SMART expensive")
    names = [next(iter(t.forms[0])) for t in terms]
    costs = found["The technique is expensive in some countries."]
    assert {names[i] for i in costs} == {"expens"}


def test_continuations_can_be_switched_off(snapshot, fake_embedder: HashingEmbedder) -> None:
    off = Retriever(snapshot, fake_embedder, continuations=False)
    found = _scored(off, "SMART microfluidic yield")
    assert len(found["The technique doubles the yield and saves twenty minutes."]) == 1
