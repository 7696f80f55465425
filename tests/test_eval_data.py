"""The question sets in ``tests/data/eval`` stay well formed (no model needed).

The same rules as ``python3 tests/data/eval/check.py``: every record valid, every gold phrase
verbatim in its document, out-of-scope PubMedQA questions really unanswerable by any abstract, no
test question repeating a dev one, no dev2 question repeating or nearly repeating any other file's,
and ``split.py`` reproducing the files it makes. The checker is also fed broken records, so a rule
that stopped firing would show. The dev tooling (``mscqa.evaluation``, ``bench.quality.report``
and through it ``bench.quality.learning``) must read the dev2 files as dev.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

EVAL = Path(__file__).resolve().parent / "data" / "eval"
SHARED = Path(__file__).resolve().parents[1].parent / "shared"
PUBMEDQA = SHARED / "bench" / "pubmedqa" / "ori_pqal.json"
needs_shared = pytest.mark.skipif(
    not SHARED.is_dir(), reason=f"{SHARED} is absent: the PubMedQA abstracts are not available"
)


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"eval_{name}", EVAL / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


check = _load("check")


@pytest.fixture(scope="module")
def ctx() -> Any:
    return check.load_context(PUBMEDQA if SHARED.is_dir() else None)


@pytest.fixture(scope="module")
def files() -> dict[str, list[dict[str, Any]]]:
    loaded, problems = check.load_files()
    assert problems == []
    return loaded


@pytest.mark.parametrize("name", ["article.dev.jsonl", "article.test.jsonl", "article.dev2.jsonl"])
def test_article_records_are_valid_and_gold_is_in_the_article(name: str, files, ctx) -> None:
    assert check.file_problems(name, files[name], ctx) == []


@needs_shared
@pytest.mark.parametrize("name", ["pubmed.dev.jsonl", "pubmed.test.jsonl", "pubmed.dev2.jsonl"])
def test_pubmed_records_are_valid_and_gold_is_in_their_abstract(name: str, files, ctx) -> None:
    assert ctx.docs is not None and len(ctx.docs) == 1000
    assert check.file_problems(name, files[name], ctx) == []


def test_sets_are_apart_sized_and_hold_every_kind(files, ctx) -> None:
    assert check.set_problems(files, check.load_old_dev(), ctx.draw) == []
    assert len(files["article.test.jsonl"]) >= 160
    assert any(r.get("expect_unreadable") for r in files["article.test.jsonl"])
    assert len(files["article.dev2.jsonl"]) >= 150
    assert len(files["pubmed.dev2.jsonl"]) >= 80


def test_dev_tooling_reads_the_dev2_files_as_dev(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(EVAL.parents[2]))  # the repository root holds bench/
    from bench.quality import report

    from mscqa.evaluation import load_questions, question_files

    sets = report.question_sets()
    for corpus in ("article", "pubmed"):
        dev2 = EVAL / f"{corpus}.dev2.jsonl"
        assert dev2 in question_files(sets[corpus], "dev")
        assert dev2 not in question_files(sets[corpus], "test")
        assert {item.split for item in load_questions(dev2)} == {"dev"}


def test_split_script_reproduces_the_committed_files() -> None:
    assert check.split_problems() == []


@needs_shared
def test_pubmed_draw_is_the_seeded_draw() -> None:
    draw = _load("draw")
    pmids = list(json.loads(PUBMEDQA.read_text(encoding="utf-8")))
    committed = json.loads((EVAL / "pubmed.draw.json").read_text(encoding="utf-8"))
    assert draw.draw(pmids) == {"dev": committed["dev"], "test": committed["test"]}
    assert committed["seed"] == draw.SEED
    assert set(committed["dev"]).isdisjoint(committed["test"])
    committed2 = json.loads((EVAL / "pubmed.draw2.json").read_text(encoding="utf-8"))
    assert draw.draw_dev2(pmids) == {"dev2": committed2["dev2"]}
    assert committed2["seed"] == draw.DEV2_SEED and len(committed2["dev2"]) == draw.DEV2_COUNT
    assert set(committed2["dev2"]).isdisjoint(committed["dev"] + committed["test"])


# The checker itself: each rule fires on a record that breaks it.

GOOD = {"id": "at-001", "kind": "fact", "question": "What does SMART stand for?",
        "gold": ["Intelligent Enterprise Management Institute"]}  # fmt: skip


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"gold": ["Prochymol"]}, "not in the article"),
        ({"gold": ["Three approved applications of stem cells"]}, "not in the article"),  # heading
        ({"colour": "red"}, "unknown field"),
        ({"gold": None}, "must be list"),
        ({"id": "ad-1"}, "id must look like at-001"),
        ({"expect_abstain": True}, "out-of-scope record with gold"),
        ({"gold": []}, "in-scope record without gold"),
        ({"gold_doc": ["1.md"]}, "for PubMedQA"),
        ({"history": [{"role": "assistant", "content": "Stem cells cure all. [1]"}]}, "verbatim"),
        ({"history": [{"role": "bot", "content": "hi"}]}, "bad role"),
    ],
)
def test_checker_reports_a_broken_article_record(change: dict[str, Any], message: str, ctx) -> None:
    assert check.record_problems(GOOD, "article", "test", "at", ctx) == []
    problems = check.record_problems({**GOOD, **change}, "article", "test", "at", ctx)
    assert any(message in p for p in problems), problems


@needs_shared
def test_checker_reports_broken_pubmed_records(ctx) -> None:
    pmid = ctx.draw["test"][0]
    good = {"id": "pt-001", "kind": "fact", "question": "q?", "gold_doc": [f"{pmid}.md"],
            "gold": [ctx.docs[f"{pmid}.md"][:30]]}  # fmt: skip
    assert check.record_problems(good, "pubmed", "test", "pt", ctx) == []
    wrong_split = check.record_problems(good, "pubmed", "dev", "pt", ctx)
    assert any("not an abstract drawn for dev" in p for p in wrong_split)
    absent_gold = check.record_problems({**good, "gold": ["zz top"]}, "pubmed", "test", "pt", ctx)
    assert any("not in" in p for p in absent_gold)
    oos = {"id": "pt-002", "kind": "oos", "question": "q?", "expect_abstain": True}
    unchecked = check.record_problems(oos, "pubmed", "test", "pt", ctx)
    assert any("without absent_terms" in p for p in unchecked)
    present = {**oos, "absent_terms": ["mitochondria"]}
    found = check.record_problems(present, "pubmed", "test", "pt", ctx)
    assert any("occurs in" in p for p in found)


def test_checker_reports_repeats_across_and_into_test(ctx) -> None:
    dev = {**GOOD, "id": "ad-001"}
    files = {
        "article.dev.jsonl": [dev],
        "article.test.jsonl": [{**GOOD, "question": "what does SMART stand for"}],
    }
    problems = check.set_problems(files, [], ctx.draw)
    assert any("repeats ad-001" in p for p in problems)
    old = [{"id": "dev-001", "question": GOOD["question"]}]
    problems = check.set_problems({"article.test.jsonl": [GOOD]}, old, ctx.draw)
    assert any("repeats dev question dev-001" in p for p in problems)
    assert any("fewer than 160" in p for p in problems)


def test_checker_reports_dev2_repeats_near_repeats_and_unknown_kinds(ctx) -> None:
    asked = "Which institute pioneered the bone marrow aspiration technique?"
    test = {**GOOD, "question": asked}
    dev2 = {**GOOD, "id": "ae-001"}

    def problems(files: dict[str, list[dict[str, Any]]], old: tuple[Any, ...] = ()) -> list[str]:
        return check.set_problems(files, old, ctx.draw)

    same = problems(
        {"article.test.jsonl": [test], "article.dev2.jsonl": [{**test, "id": "ae-001"}]}
    )
    assert any("ae-001 repeats at-001" in p for p in same)
    reworded = {**dev2, "question": asked.replace("pioneered", "first pioneered")}
    near = problems({"article.test.jsonl": [test], "article.dev2.jsonl": [reworded]})
    assert any("ae-001 nearly repeats at-001" in p for p in near), near
    assert not any(asked in p for p in near)  # the test question itself is not shown
    same_fact = {**dev2, "question": "Who came up with the marrow aspiration method?"}
    apart = problems({"article.test.jsonl": [test], "article.dev2.jsonl": [same_fact]})
    assert not any("repeats" in p for p in apart), apart
    old = [{"id": "dev-001", "question": GOOD["question"]}]
    assert any(
        "repeats dev question dev-001" in p for p in problems({"article.dev2.jsonl": [dev2]}, old)
    )
    kinds = problems(
        {"article.test.jsonl": [test], "article.dev2.jsonl": [{**dev2, "kind": "list"}]}
    )
    assert any("kinds differ from the test split's" in p for p in kinds)
    bad_kind = check.record_problems({**GOOD, "kind": "trivia"}, "article", "dev2", "at", ctx)
    assert any("unknown kind" in p for p in bad_kind)
    overlap = {**ctx.draw, "dev2": [ctx.draw["test"][0]]}
    assert any("drawn before" in p for p in check.set_problems({}, [], overlap))
