"""mscqa eval: question files, splits, the metrics of issue 11 and calibration helpers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mscqa.cli import main
from mscqa.errors import MscqaError
from mscqa.evaluation import (
    brier,
    evaluate,
    evaluate_files,
    load_questions,
    question_files,
    reliability,
    set_name,
    split_of,
)
from mscqa.service import QAService


def write(path: Path, records: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


QUESTIONS = [
    {
        "id": "q1",
        "kind": "fact",
        "question": "How are adipose stem cells collected?",
        "gold": ["liposuction"],
    },
    {
        "id": "q2",
        "kind": "fact",
        "question": "Who approved Prochymal?",
        "gold": ["Food and Drug Administration"],
        "gold_doc": ["marrow.txt"],
    },
    {
        "id": "q3",
        "kind": "oos",
        "question": "What is the capital of France?",
        "expect_abstain": True,
    },
]


def test_split_and_set_come_from_the_file_name(tmp_path: Path) -> None:
    assert split_of(Path("article.test.jsonl")) == "test"
    assert split_of(Path("article.dev.jsonl")) == "dev"
    assert split_of(Path("devset.jsonl")) == "dev"  # a curator's own file is dev
    assert set_name(Path("pubmed.test.jsonl")) == "pubmed"
    assert set_name(Path("devset.jsonl")) == "devset"
    dev = write(tmp_path / "sets" / "a.dev.jsonl", QUESTIONS)
    test = write(tmp_path / "sets" / "a.test.jsonl", QUESTIONS)
    other = write(tmp_path / "mine.jsonl", QUESTIONS)
    assert question_files([tmp_path]) == [other, dev, test]
    assert question_files([tmp_path / "sets"], "test") == [test]
    assert question_files([tmp_path, other], "dev") == [other, dev]
    with pytest.raises(MscqaError, match="does not exist"):
        question_files([tmp_path / "missing.jsonl"])
    items = load_questions(test)
    assert {(i.source, i.split) for i in items} == {("a", "test")}


def test_a_bad_record_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"question": "ok"}\n\n{"gold": ["no question"]}\n', encoding="utf-8")
    with pytest.raises(MscqaError, match=r"bad\.jsonl:3"):
        load_questions(path)


def test_metrics_of_a_small_set(tmp_path: Path, tiny_service: QAService) -> None:
    items = load_questions(write(tmp_path / "q.jsonl", QUESTIONS))
    result = evaluate(tiny_service, items)
    rows = {r["id"]: r for r in result["rows"]}
    m = result["metrics"]
    assert (m["questions"], m["in_scope"], m["out_of_scope"]) == (3, 2, 1)
    for r in rows.values():
        assert r["grounded"]
        assert 0.0 <= r["confidence"] <= 1.0
    # citation_hit@3 is computed on the answer's citations, not on the retrieved passages
    for r in rows.values():
        if not r["answered"]:
            assert not r["cited_hit"]
    assert m["citation_hit@3"] == sum(rows[i]["cited_hit"] for i in ("q1", "q2")) / 2
    assert m["false_abstention"] == sum(not rows[i]["answered"] for i in ("q1", "q2")) / 2
    assert m["abstention_recall"] == float(not rows["q3"]["answered"])
    assert m["unreadable_flagged"] is None  # no question expects an unreadable section
    assert m["brier"] == brier(result["rows"])


def test_gold_doc_and_gold_phrases_must_both_match(tmp_path: Path, tiny_service: QAService) -> None:
    wrong_doc = dict(QUESTIONS[1], gold_doc=["adipose.md"])
    items = load_questions(write(tmp_path / "q.jsonl", [QUESTIONS[1], wrong_doc]))
    right, wrong = evaluate(tiny_service, items)["rows"]
    assert not wrong["cited_hit"] and not wrong["right"]
    assert right["rank"] is not None and wrong["rank"] is None


def test_each_split_is_reported_on_its_own(tmp_path: Path, tiny_service: QAService) -> None:
    dev = write(tmp_path / "a.dev.jsonl", QUESTIONS[:1])
    test = write(tmp_path / "a.test.jsonl", QUESTIONS)
    result = evaluate_files(tiny_service, [dev, test])
    splits = result["splits"]
    assert splits["dev"]["metrics"]["questions"] == 1
    assert splits["test"]["metrics"]["questions"] == 3
    assert set(splits["test"]["by_kind"]) == {"fact", "oos"}
    assert list(splits["test"]["files"]) == ["a.test.jsonl"]
    bins = splits["test"]["reliability"]
    assert sum(b["n"] for b in bins) == 3


def test_reliability_and_brier() -> None:
    assert brier([]) is None
    rows = [
        {"confidence": 0.9, "would_be_right": True, "expect_abstain": False},
        {"confidence": 0.2, "would_be_right": False, "expect_abstain": False},
    ]
    assert brier(rows, "would_be_right") == pytest.approx((0.01 + 0.04) / 2)
    assert brier(rows) == pytest.approx((0.01 + 0.64) / 2)  # both are in scope
    table = reliability([0.05, 0.15, 0.12, 1.0], [0.0, 1.0, 0.0, 1.0])
    assert table == [
        {"bin": "0.0-0.1", "n": 1, "confidence": 0.05, "observed": 0.0},
        {"bin": "0.1-0.2", "n": 2, "confidence": 0.135, "observed": 0.5},
        {"bin": "0.9-1.0", "n": 1, "confidence": 1.0, "observed": 1.0},
    ]


def test_cli_eval_prints_a_column_per_split(
    tmp_path: Path, tiny_service: QAService, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    write(tmp_path / "q" / "a.dev.jsonl", QUESTIONS[:2])
    write(tmp_path / "q" / "a.test.jsonl", QUESTIONS)
    monkeypatch.setenv("MSCQA_INDEX_DIR", str(tiny_service.settings.index_dir))
    monkeypatch.setattr("mscqa.service.QAService", lambda settings: tiny_service)
    assert main(["eval", str(tmp_path / "q"), "--by-kind"]) == 0
    out = capsys.readouterr().out
    header = out.splitlines()[0].split()
    assert header == ["dev", "test"]
    assert "citation_hit@3" in out and "test, by kind:" in out
    assert main(["eval", str(tmp_path / "q"), "--split", "dev", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert list(data["splits"]) == ["dev"] and "rows" not in data
    assert main(["eval", str(tmp_path / "nothing-here")]) == 1
