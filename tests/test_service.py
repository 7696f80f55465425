"""QAService: answers, cache, validation and hot swap without mixing snapshots."""

from __future__ import annotations

import pytest

from mscqa.answer.cache import normalise_question
from mscqa.errors import IndexNotReady, InvalidQuestion
from mscqa.indexing import build_index
from mscqa.service import QAService
from mscqa.types import Turn

pytestmark = pytest.mark.both_backends


def test_answers_quote_the_documents(tiny_service: QAService) -> None:
    a = tiny_service.ask("How are adipose stem cells collected?")
    assert a.answered
    assert "liposuction" in a.text
    for c in a.citations:
        doc = tiny_service.serving().snapshot.documents[c.chunk.doc_id]
        assert doc.text[c.chunk.start : c.chunk.end] == c.chunk.text
        for s, e in c.sentences:
            assert doc.text[s:e] in a.text


def test_repeated_question_is_served_from_cache(tiny_service: QAService, monkeypatch) -> None:
    first = tiny_service.ask("How are adipose stem cells collected?")
    calls = []
    monkeypatch.setattr(tiny_service, "_answer", lambda *a: calls.append(a))
    again = tiny_service.ask("  how are ADIPOSE stem cells collected? ")
    assert calls == []
    assert again.text == first.text


def test_history_is_part_of_the_cache_key(tiny_service: QAService) -> None:
    q = "How are they collected?"
    a = tiny_service.ask(q, history=[Turn("user", "Tell me about adipose stem cells")])
    b = tiny_service.ask(q, history=[Turn("user", "Tell me about bone marrow stem cells")])
    again = tiny_service.ask(q, history=[Turn("user", "Tell me about adipose stem cells")])
    # a different history is answered afresh (retrieval used it: other scores), the same
    # history comes from the cache (same answer)
    assert a.citations[0].score != b.citations[0].score
    assert (again.text, again.citations) == (a.text, a.citations)


@pytest.mark.parametrize("question", ["", "   ", "x" * 2001])
def test_invalid_questions(tiny_service: QAService, question: str) -> None:
    with pytest.raises(InvalidQuestion):
        tiny_service.ask(question)


def test_not_ready_before_load(tiny_settings, fake_embedder) -> None:
    with pytest.raises(IndexNotReady):
        QAService(tiny_settings, fake_embedder).ask("anything?")


def test_refresh_swaps_to_a_new_snapshot(tiny_service, tiny_settings, fake_embedder) -> None:
    old = tiny_service.health()["index"]
    assert tiny_service.refresh() is False  # nothing new yet
    (tiny_settings.corpus_dir / "new.md").write_text("# Placenta\n\nPlacenta MSCs are new here.\n")
    build_index(tiny_settings, fake_embedder)
    assert tiny_service.refresh() is True
    new = tiny_service.health()["index"]
    assert new["version"] != old["version"]
    assert new["documents"] == old["documents"] + 1
    retrieval, _ = tiny_service.explain("placenta MSCs", 3)
    assert retrieval.hits[0].chunk.doc_id == "new.md"


def test_request_in_flight_keeps_its_snapshot(tiny_service, tiny_settings, fake_embedder) -> None:
    live = tiny_service.serving()
    (tiny_settings.corpus_dir / "adipose.md").unlink()
    build_index(tiny_settings, fake_embedder)
    tiny_service.refresh()
    # the request that started before the swap still reads a complete, consistent snapshot
    retrieval, answer = tiny_service._answer(live, "How are adipose stem cells collected?", 3, ())
    assert "liposuction" in answer.text
    assert all(h.chunk.doc_id in live.snapshot.documents for h in retrieval.hits)
    assert "adipose.md" not in tiny_service.serving().snapshot.documents


def test_answering_leaves_the_retrieval_as_it_was(tiny_service, monkeypatch) -> None:
    """Retrieval is frozen: the service cuts the hits to top_k in a copy, never in place."""
    retriever = tiny_service.serving().retriever
    found = retriever.search("How are adipose stem cells collected?", 5)
    assert isinstance(found.hits, tuple) and len(found.hits) > 2
    with pytest.raises(AttributeError):
        found.hits = ()  # type: ignore[misc]
    monkeypatch.setattr(retriever, "search", lambda *a, **k: found)
    retrieval, _ = tiny_service.explain("How are adipose stem cells collected?", 2)
    assert len(retrieval.hits) == 2
    assert len(found.hits) > 2  # untouched


def test_serving_is_the_public_view_of_the_live_snapshot(tiny_service) -> None:
    serving = tiny_service.serving()
    assert serving.version == tiny_service.health()["index"]["version"]
    assert serving.encoder is serving.retriever.embedder
    assert serving is tiny_service.serving()  # the same until a swap


def test_normalise_question() -> None:
    assert normalise_question("  What  IS\tthis? ") == "what is this?"


def test_zero_width_characters_change_neither_answer_nor_cache_key(
    tiny_service: QAService, monkeypatch
) -> None:
    """Before: "adi\\u200bpose" was another word, so the answer changed, and the same question
    with a zero-width character missed the cache."""
    plain = tiny_service.ask("How are adipose stem cells collected?")
    calls = []
    monkeypatch.setattr(tiny_service, "_answer", lambda *a: calls.append(a))
    hidden = tiny_service.ask("How are adi\u200bpose stem\u200c cells\ufeff col\u00adlected?\u200d")
    assert calls == []  # served from the cache: the same key
    assert (hidden.text, hidden.citations) == (plain.text, plain.citations)
    monkeypatch.undo()
    followup = tiny_service.ask(
        "How are they collected?", history=[Turn("user", "Tell me about adi\u2060pose cells")]
    )
    assert (
        followup.citations
        == tiny_service.ask(
            "How are they collected?", history=[Turn("user", "Tell me about adipose cells")]
        ).citations
    )
