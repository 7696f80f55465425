"""Quality on the real model: floors on the article's dev and test questions, grounding,
abstention, follow-ups, answer units and the unreadable tables.

The index is built once per session from the bundled article (fixture ``real_service``).
Dev floors sit a little below what the dev questions reach (``bench.quality.report``, README);
test floors a little below what the frozen test questions reached when they were reported
(``bench/quality/test_runs.md``). They were not tuned to pass: a real regression fails them.
The test questions' per-question results are never printed here, only their aggregates.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mscqa.evaluation import evaluate, grounded, load_questions
from mscqa.service import QAService
from mscqa.types import Turn

DATA = Path(__file__).resolve().parent / "data"

pytestmark = pytest.mark.slow


ARTICLE_DEV = [DATA / "devset.jsonl", DATA / "heldout.jsonl", DATA / "eval" / "article.dev.jsonl"]
ARTICLE_TEST = DATA / "eval" / "article.test.jsonl"


@pytest.fixture(scope="module")
def dev_metrics(real_service: QAService) -> dict:
    items = [item for path in ARTICLE_DEV for item in load_questions(path)]
    return evaluate(real_service, items)


@pytest.fixture(scope="module")
def article_test_metrics(real_service: QAService) -> dict:
    return evaluate(real_service, load_questions(ARTICLE_TEST))["metrics"]


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


# Issue 11's targets: cited passages hold the gold fact >= 0.97, the answer contains it >= 0.92,
# in-scope refused <= 0.03, out-of-scope refused >= 0.95. Floors: what dev reaches, less about
# two questions; README has the exact figures.


def test_retrieval_hit_at_3(dev_metrics: dict) -> None:
    assert dev_metrics["metrics"]["hit@3"] >= 0.92


def test_cited_passages_hold_the_gold_fact(dev_metrics: dict) -> None:
    assert dev_metrics["metrics"]["citation_hit@3"] >= 0.90


def test_answers_contain_the_gold_phrase(dev_metrics: dict) -> None:
    assert dev_metrics["metrics"]["answer_contains_gold"] >= 0.90


def test_out_of_scope_questions_abstain(dev_metrics: dict) -> None:
    assert dev_metrics["metrics"]["abstention_recall"] >= 0.81


def test_in_scope_questions_rarely_abstain(dev_metrics: dict) -> None:
    assert dev_metrics["metrics"]["false_abstention"] <= 0.03


def test_unreadable_tables_are_flagged(dev_metrics: dict) -> None:
    assert dev_metrics["metrics"]["unreadable_flagged"] >= 0.66


# a little below what the test split reached when it was reported (2026-12-01 21:32, commit
# 1022f96: 0.840 / 0.827 / 0.045 / 0.833; bench/quality/test_runs.md)
TEST_FLOORS = {
    "citation_hit@3": (">=", 0.81),
    "answer_contains_gold": (">=", 0.80),
    "false_abstention": ("<=", 0.07),
    "abstention_recall": (">=", 0.78),
    "grounding": (">=", 1.0),
}


@pytest.mark.parametrize("metric", sorted(TEST_FLOORS))
def test_test_split_floors(article_test_metrics: dict, metric: str) -> None:
    op, floor = TEST_FLOORS[metric]
    value = article_test_metrics[metric]
    assert value >= floor if op == ">=" else value <= floor, (metric, value)


def test_history_does_not_change_standalone_questions(real_service: QAService) -> None:
    unrelated = [
        Turn("user", "How are adipose mesenchymal stem cells collected?"),
        Turn("assistant", "It is to extract the corresponding fat tissue through liposuction. [1]"),
    ]
    standalone = [
        i
        for i in load_questions(DATA / "devset.jsonl")
        if i.kind in ("fact", "paraphrase") and not i.history
    ]
    assert len(standalone) >= 25
    for item in standalone:
        alone, _ = real_service.explain(item.question, 3)
        with_history, _ = real_service.explain(item.question, 3, unrelated)
        assert [h.chunk.chunk_id for h in with_history.hits] == [
            h.chunk.chunk_id for h in alone.hits
        ], item.question


def test_follow_ups_retrieve_their_topic(real_service: QAService) -> None:
    follow = [i for i in load_questions(DATA / "devset.jsonl") if i.kind == "followup" and i.gold]
    assert len(follow) >= 10
    found = 0
    for item in follow:
        retrieval, _ = real_service.explain(item.question, 3, item.history)
        text = " ".join(h.chunk.text.lower() for h in retrieval.hits)
        found += any(g.lower() in text for g in item.gold)
    assert found / len(follow) >= 0.9


def test_every_answer_is_grounded(dev_metrics: dict) -> None:
    assert dev_metrics["metrics"]["grounding"] == 1.0


def test_a_pointer_is_quoted_with_what_completes_it(real_service: QAService) -> None:
    a = real_service.ask("What are the disadvantages of bone marrow mesenchymal stem cells?")
    assert a.answered
    assert "number of stem cells in bone marrow is limited" in a.text
    assert "certain pain and trauma" in a.text
    text = real_service.serving().snapshot.documents[a.citations[0].chunk.doc_id].text
    quoted = [text[s:e] for c in a.citations for s, e in c.sentences]
    assert any("obvious disadvantages" in q and "pain and trauma" in q for q in quoted)


def test_the_image_tables_are_named_not_padded(real_service: QAService) -> None:
    a = real_service.ask("Which bone marrow MSC products are approved in Japan?")
    assert not a.answered
    assert [u.section for u in a.unreadable][:1] == [
        "1. Bone marrow mesenchymal stem cells (BM-MSCs)"
    ]


def test_citation_offsets_round_trip(real_service: QAService) -> None:
    snap = real_service.serving().snapshot
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


def test_an_out_of_scope_question_after_a_conversation_is_still_refused(
    real_service: QAService,
) -> None:
    # read with the earlier turn's words ("AnswerPolicy.reread", not shipped) it would quote
    # the earlier topic's sentences; read as what it says, the documents do not hold it
    history = [Turn("user", "How are bone marrow MSCs collected?"), Turn("assistant", "...")]
    for question in ("Suggest a name for my new puppy.", "What is the capital of France?"):
        assert not real_service.ask(question, history=history).answered, question


def test_umbilical_cord_country_answer_first_sentence(real_service: QAService) -> None:
    a = real_service.ask("Which country uses umbilical cord MSCs more?")
    assert a.answered
    first = a.text.split(" [")[0]
    assert "China" in first
