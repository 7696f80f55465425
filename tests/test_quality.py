"""Quality on the real model: the dev question set's floors, grounding, abstention, follow-ups.

The index is built once per session from the bundled article (fixture ``real_service``).
Floors sit a little below the figures measured with ``mscqa eval`` (README) so that a real
regression fails while the exact figures stay documented there.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mscqa.evaluation import evaluate, grounded, load_questions
from mscqa.service import QAService
from mscqa.types import Turn

DATA = Path(__file__).resolve().parent / "data"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def dev_metrics(real_service: QAService) -> dict:
    return evaluate(real_service, load_questions(DATA / "devset.jsonl"))


def test_dev_set_is_big_and_varied() -> None:
    items = load_questions(DATA / "devset.jsonl")
    kinds = {i.kind for i in items}
    assert len(items) >= 80
    assert {
        "fact",
        "paraphrase",
        "colloquial",
        "misspelling",
        "followup",
        "multi-section",
        "oos-far",
        "oos-near",
    } <= kinds


def test_retrieval_hit_at_3(dev_metrics: dict) -> None:
    assert dev_metrics["metrics"]["hit@3"] >= 0.9


def test_out_of_scope_questions_abstain(dev_metrics: dict) -> None:
    assert dev_metrics["metrics"]["abstention_recall"] >= 0.9


def test_in_scope_questions_rarely_abstain(dev_metrics: dict) -> None:
    assert dev_metrics["metrics"]["false_abstention"] <= 0.1


def test_every_answer_is_grounded(dev_metrics: dict) -> None:
    assert dev_metrics["metrics"]["grounding"] == 1.0


def test_citation_offsets_round_trip(real_service: QAService) -> None:
    snap = real_service._current().snapshot
    for item in load_questions(DATA / "devset.jsonl")[:40]:
        answer = real_service.ask(item.question, history=item.history)
        assert grounded(answer)
        for c in answer.citations:
            text = snap.documents[c.chunk.doc_id].text
            assert text[c.chunk.start : c.chunk.end] == c.chunk.text
            for s, e in c.sentences:
                assert c.chunk.start <= s < e <= c.chunk.end
                assert text[s:e] in answer.text


@pytest.mark.parametrize(
    "question",
    [
        "What is the capital of France?",
        "How do I bake sourdough bread?",
        "Who won the 2018 World Cup?",
    ],
)
def test_far_out_of_scope_abstains_without_citations(real_service: QAService, question) -> None:
    a = real_service.ask(question)
    assert not a.answered
    assert a.citations == ()
    assert a.text == "I couldn't find that in the documents."


def test_follow_up_uses_history(real_service: QAService) -> None:
    history = [
        Turn("user", "What are the advantages of adipose mesenchymal stem cells?"),
        Turn(
            "assistant", "Derived from adipose tissue, it has the advantages of easy sampling. [1]"
        ),
    ]
    a = real_service.ask("How are they collected?", history=history)
    assert a.answered
    assert "liposuction" in a.text


def test_umbilical_cord_country_answer_first_sentence(real_service: QAService) -> None:
    a = real_service.ask("Which country uses umbilical cord MSCs more?")
    assert a.answered
    first = a.text.split(" [")[0]
    assert "China" in first
