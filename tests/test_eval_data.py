"""The question sets in ``tests/data/eval`` stay well formed (no model needed).

The same rules as ``python3 tests/data/eval/check.py``: every record valid, every gold phrase
verbatim in its document, out-of-scope PubMedQA questions really unanswerable by any abstract, no
test question repeating a dev one, no dev2 or dev3 question repeating or nearly repeating any
other file's, and ``split.py`` reproducing the files it makes. The checker is also fed broken
records, so a rule that stopped firing would show. The dev tooling (``mscqa.evaluation``,
``bench.quality.report`` and through it ``bench.quality.learning``) must read the dev2 and dev3
files as dev and the test2 to test5 files as test, held back from every run but the one that asks
for them (and then each set on its own, never pooled); no fitting code reads a test file.
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


PARTS = ("dev", "test", "dev2", "test2", "test3", "test4", "test5")
ARTICLE_FILES = [*(f"article.{part}.jsonl" for part in PARTS), "article.dev3.jsonl"]
PUBMED_FILES = [f"pubmed.{part}.jsonl" for part in PARTS]
HELD_BACK = ("test2", "test3", "test4", "test5")
# Each held-back set, its id prefix, and the later part written before it (its near-repeat foil).
LATER_SETS = [
    ("test2", "au", "dev2", "ae"),
    ("test3", "av", "test2", "au"),
    ("test4", "aw", "test3", "av"),
    ("test5", "ay", "test4", "aw"),
]


@pytest.mark.parametrize("name", ARTICLE_FILES)
def test_article_records_are_valid_and_gold_is_in_the_article(name: str, files, ctx) -> None:
    assert check.file_problems(name, files[name], ctx) == []


@needs_shared
@pytest.mark.parametrize("name", PUBMED_FILES)
def test_pubmed_records_are_valid_and_gold_is_in_their_abstract(name: str, files, ctx) -> None:
    assert ctx.docs is not None and len(ctx.docs) == 1000
    assert check.file_problems(name, files[name], ctx) == []


def test_sets_are_apart_sized_and_hold_every_kind(files, ctx) -> None:
    assert check.set_problems(files, check.load_old_dev(), ctx.draw) == []
    assert len(files["article.test.jsonl"]) >= 160
    assert any(r.get("expect_unreadable") for r in files["article.test.jsonl"])
    assert len(files["article.dev2.jsonl"]) >= 150
    assert len(files["pubmed.dev2.jsonl"]) >= 80
    assert len(files["article.dev3.jsonl"]) >= 110
    assert any(r.get("expect_unreadable") for r in files["article.dev3.jsonl"])
    for part in HELD_BACK:
        assert len(files[f"article.{part}.jsonl"]) >= 110
        assert any(r.get("expect_unreadable") for r in files[f"article.{part}.jsonl"])
        assert len(files[f"pubmed.{part}.jsonl"]) >= 55


def test_dev_tooling_reads_the_dev2_and_dev3_files_as_dev(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(EVAL.parents[2]))  # the repository root holds bench/
    from bench.quality import report

    from mscqa.evaluation import load_questions, question_files

    sets = report.question_sets()
    for corpus, part in (("article", "dev2"), ("pubmed", "dev2"), ("article", "dev3")):
        dev = EVAL / f"{corpus}.{part}.jsonl"
        assert dev in question_files(sets[corpus], "dev")
        assert dev not in question_files(sets[corpus], "test")
        assert report.held_back(dev) is None
        assert {item.split for item in load_questions(dev)} == {"dev"}


def test_later_test_files_are_test_and_held_back(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(EVAL.parents[2]))
    from bench.quality import report

    from mscqa.evaluation import is_test_file, load_questions, question_files, split_of

    for name in (
        "a.test.jsonl",
        "article.test2.jsonl",
        "pubmed.test3.jsonl",
        "article.test4.jsonl",
        "pubmed.test5.jsonl",
    ):
        assert is_test_file(Path(name)) and split_of(Path(name)) == "test"
    for name in (
        "article.dev2.jsonl",
        "article.dev3.jsonl",
        "devset.jsonl",
        "heldout.jsonl",
        "a.testing.jsonl",
    ):
        assert not is_test_file(Path(name)) and split_of(Path(name)) == "dev"
    assert report.held_back(Path("article.test2.jsonl")) == "test2"
    assert report.held_back(Path("pubmed.test3.jsonl")) == "test3"
    assert report.held_back(Path("article.test4.jsonl")) == "test4"
    assert report.held_back(Path("pubmed.test5.jsonl")) == "test5"
    for name in ("article.test.jsonl", "article.dev2.jsonl", "a.test3.json", "devset.jsonl"):
        assert report.held_back(Path(name)) is None
    sets = report.question_sets()
    assert report.held_back_parts(sets) == list(HELD_BACK)
    for corpus in ("article", "pubmed"):
        for part in HELD_BACK:
            path = EVAL / f"{corpus}.{part}.jsonl"
            assert path in question_files(sets[corpus], "test")
            assert path not in question_files(sets[corpus], "dev")
            assert {item.split for item in load_questions(path)} == {"test"}
    asked: dict[str | None, list[str]] = {}
    for part in (None, *HELD_BACK):

        def evaluate_files(service: Any, paths: list[Path], _p: str | None = part) -> Any:
            asked.setdefault(_p, []).extend(p.name for p in paths)
            return {}

        monkeypatch.setattr("mscqa.evaluation.evaluate_files", evaluate_files)
        monkeypatch.setattr(report, "log", lambda *a, **k: None)
        report.run({"article": None, "pubmed": None}, sets, "all", part)
    assert "article.test.jsonl" in asked[None] and "article.dev2.jsonl" in asked[None]
    for part in HELD_BACK:
        assert not any(part in name for name in asked[None])  # held back from every other run
        assert sorted(asked[part]) == [f"article.{part}.jsonl", f"pubmed.{part}.jsonl"]


def test_held_back_sets_are_reported_each_on_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    """``--split test --held-back`` gives test2 to test5 their own columns (never one
    pooled figure); ``--held-back test3`` and ``--test2`` one set; an ordinary run none of them."""
    monkeypatch.syspath_prepend(str(EVAL.parents[2]))
    from bench.quality import report

    sets = report.question_sets()

    def parts(*argv: str) -> list[str]:
        ap = report.parser()
        return report.chosen_parts(ap, ap.parse_args(list(argv)), sets)

    assert parts("--split", "test", "--held-back") == list(HELD_BACK)
    assert parts("--split", "test", "--held-back", "test3") == ["test3"]
    assert parts("--split", "test", "--held-back", "test4") == ["test4"]
    assert parts("--split", "test", "--held-back", "test5") == ["test5"]
    assert parts("--split", "test", "--test2") == ["test2"]
    assert parts("--split", "dev") == []
    with pytest.raises(SystemExit):
        parts("--held-back", "test9")

    def evaluate_files(service: Any, paths: list[Path]) -> dict[str, Any]:
        metrics = {"questions": len(paths), "files": sorted(p.name for p in paths)}
        return {"splits": {"test": {"metrics": metrics}}, "rows": [{"split": "test"}]}

    monkeypatch.setattr("mscqa.evaluation.evaluate_files", evaluate_files)
    monkeypatch.setattr(report, "log", lambda *a, **k: None)
    services = {"article": None, "pubmed": None}
    cols = report.columns(report.run_held_back(services, sets, "test", list(HELD_BACK)))
    assert sorted(cols) == [
        f"{corpus} {part}" for corpus in ("article", "pubmed") for part in HELD_BACK
    ]
    for name, metrics in cols.items():
        corpus, part = name.split()
        assert metrics["files"] == [f"{corpus}.{part}.jsonl"]


def test_no_fitting_code_reads_a_test_file(monkeypatch: pytest.MonkeyPatch) -> None:
    """``bench.quality.learning.dev_cases`` is what calibrate.py and ranker.py fit on: it must
    see every dev question and no test one, test2 included (and they read no file themselves)."""
    monkeypatch.syspath_prepend(str(EVAL.parents[2]))
    from bench.quality import learning, report

    from mscqa.evaluation import is_test_file, load_questions

    class Service:
        def explain(self, question: str, k: int, history: Any) -> tuple[None, None]:
            return None, None

    opened: list[str] = []

    def open_service(corpus: str, root: Path, **options: Any) -> Service:
        opened.append(corpus)
        return Service()

    monkeypatch.setattr(report, "open_service", open_service)
    monkeypatch.setattr(report, "log", lambda *a, **k: None)
    cases = learning.dev_cases()
    assert sorted(opened) == ["article", "pubmed"]
    assert {c.item.split for c in cases} == {"dev"}
    test_ids = {
        item.id
        for path in [*EVAL.glob("*.jsonl")]
        if is_test_file(path)
        for item in load_questions(path)
    }
    assert len(test_ids) >= 186 + 95 + len(HELD_BACK) * (110 + 55)
    assert {"au-001", "pu-001", "av-001", "pv-001", "aw-001", "pw-001", "ay-001", "py-001"} <= (
        test_ids
    )
    assert not test_ids & {c.item.id for c in cases}
    seen = {(c.item.source, c.item.id) for c in cases}
    assert ("article.dev2", "ae-001") in seen and ("pubmed.dev2", "pe-001") in seen
    for module in ("calibrate", "ranker"):
        source = (EVAL.parents[2] / "bench" / "quality" / f"{module}.py").read_text("utf-8")
        for reader in ("load_questions", "question_files", "question_sets", ".jsonl", "glob("):
            assert reader not in source, f"{module}.py reads question files itself ({reader})"


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
    committed3 = json.loads((EVAL / "pubmed.draw3.json").read_text(encoding="utf-8"))
    assert draw.draw_test2(pmids) == {"test2": committed3["test2"]}
    assert committed3["seed"] == draw.TEST2_SEED and len(committed3["test2"]) == draw.TEST2_COUNT
    earlier = committed["dev"] + committed["test"] + committed2["dev2"]
    assert set(committed3["test2"]).isdisjoint(earlier)
    committed4 = json.loads((EVAL / "pubmed.draw4.json").read_text(encoding="utf-8"))
    assert draw.draw_test3(pmids) == {"test3": committed4["test3"]}
    assert committed4["seed"] == draw.TEST3_SEED and len(committed4["test3"]) == draw.TEST3_COUNT
    assert set(committed4["test3"]).isdisjoint(earlier + committed3["test2"])
    committed5 = json.loads((EVAL / "pubmed.draw5.json").read_text(encoding="utf-8"))
    assert draw.draw_test4(pmids) == {"test4": committed5["test4"]}
    assert committed5["seed"] == draw.TEST4_SEED and len(committed5["test4"]) == draw.TEST4_COUNT
    earlier += committed3["test2"] + committed4["test3"]
    assert set(committed5["test4"]).isdisjoint(earlier)
    committed6 = json.loads((EVAL / "pubmed.draw6.json").read_text(encoding="utf-8"))
    assert draw.draw_test5(pmids) == {"test5": committed6["test5"]}
    assert committed6["seed"] == draw.TEST5_SEED and len(committed6["test5"]) == draw.TEST5_COUNT
    assert set(committed6["test5"]).isdisjoint(earlier + committed5["test4"])


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
    overlap3 = {**ctx.draw, "test2": [ctx.draw["dev2"][0]]}
    assert any("pubmed.draw3.json" in p for p in check.set_problems({}, [], overlap3))
    overlap4 = {**ctx.draw, "test3": [ctx.draw["test2"][0]]}
    assert any("pubmed.draw4.json" in p for p in check.set_problems({}, [], overlap4))
    overlap5 = {**ctx.draw, "test4": [ctx.draw["test3"][0]]}
    assert any("pubmed.draw5.json" in p for p in check.set_problems({}, [], overlap5))
    overlap6 = {**ctx.draw, "test5": [ctx.draw["test4"][0]]}
    assert any("pubmed.draw6.json" in p for p in check.set_problems({}, [], overlap6))


@pytest.mark.parametrize(("part", "prefix", "before", "before_prefix"), LATER_SETS)
def test_checker_reports_held_back_repeats_and_near_repeats(
    part: str, prefix: str, before: str, before_prefix: str, ctx
) -> None:
    asked = "Which institute pioneered the bone marrow aspiration technique?"
    earlier = {**GOOD, "id": f"{before_prefix}-001", "question": asked}
    later = {
        **GOOD,
        "id": f"{prefix}-001",
        "question": asked.replace("pioneered", "first pioneered"),
    }
    files = {f"article.{before}.jsonl": [earlier], f"article.{part}.jsonl": [later]}
    near = check.set_problems(files, [], ctx.draw)
    assert any(f"{prefix}-001 nearly repeats {before_prefix}-001" in p for p in near), near
    assert not any(asked in p for p in near)  # the other question itself is not shown
    old = [{"id": "dev-001", "question": later["question"]}]
    same = check.set_problems({f"article.{part}.jsonl": [later]}, old, ctx.draw)
    assert any(f"{prefix}-001 repeats dev question dev-001" in p for p in same)
    assert (
        check.record_problems({**GOOD, "id": f"{prefix}-001"}, "article", part, prefix, ctx) == []
    )
    kinds = check.set_problems(
        {"article.test.jsonl": [GOOD], f"article.{part}.jsonl": [{**later, "kind": "list"}]},
        [],
        ctx.draw,
    )
    assert any(f"article.{part}.jsonl: kinds differ" in p for p in kinds)


@needs_shared
@pytest.mark.parametrize(("part", "prefix", "before", "_before_prefix"), LATER_SETS)
def test_checker_reports_a_held_back_gold_doc_from_another_draw(
    part: str, prefix: str, before: str, _before_prefix: str, ctx
) -> None:
    pubmed_prefix = "p" + prefix[1:]
    good = {"id": f"{pubmed_prefix}-001", "kind": "fact", "question": "q?", "gold": [],
            "gold_doc": [f"{ctx.draw[part][0]}.md"]}  # fmt: skip
    good["gold"] = [ctx.docs[good["gold_doc"][0]][:30]]
    assert check.record_problems(good, "pubmed", part, pubmed_prefix, ctx) == []
    other = {**good, "gold_doc": [f"{ctx.draw[before][0]}.md"]}
    problems = check.record_problems(other, "pubmed", part, pubmed_prefix, ctx)
    assert any(f"not an abstract drawn for {part}" in p for p in problems)


def test_parity_compares_the_backends_on_every_test_set(monkeypatch: pytest.MonkeyPatch) -> None:
    """``bench.quality.parity`` lists its sets by hand: every test file is there, as test."""
    monkeypatch.syspath_prepend(str(EVAL.parents[2]))
    from bench.quality import parity

    from mscqa.evaluation import is_test_file

    listed = {path.name: split for sets in parity.SETS.values() for _, path, split in sets}
    for path in EVAL.glob("*.jsonl"):
        if is_test_file(path):
            assert listed.get(path.name) == "test", path.name
