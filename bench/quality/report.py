"""The quality report: every question set on its own corpus, dev and test side by side.

    .venv/bin/python -m bench.quality.report [--split dev|test|all] [--by-kind] [--json] [--txt]

Two corpora, each indexed by mscqa's real build (`build_index`, the bundled model) into
`bench/out/quality-index/` (kept, so a rerun only re-embeds what changed):

- **article**: `corpus/` (the client's article) for `tests/data/devset.jsonl` and
  `heldout.jsonl` (both seen by earlier sessions, so both dev) and
  `tests/data/eval/article.{dev,test,dev2}.jsonl`;
- **pubmed**: all 1000 PubMedQA abstracts (`<pmid>.md`, as `bench.quality.pubmedqa` writes them)
  for `tests/data/eval/pubmed.{dev,test,dev2}.jsonl`, questions written by us over a few dozen of
  them. The other abstracts are there as distractors: a question must find its abstract among
  1000 similar ones, as on PubMedQA itself, not among the few that have questions;
- **article-txt** (with `--txt`): the client's original plain-text article
  (`shared/seed/msc-article.txt`: headings are bare lines, image markers and site navigation
  are in the text) for the article's questions: the same content as a user would upload it.

Questions go through `QAService.explain` (the `/ask` path without its cache) via
`mscqa.evaluation`. The test split is written before the changes it judges and never tuned on:
this script prints only its aggregate figures, and every run that includes it appends a line
(time, commit, figures) to `bench/quality/test_runs.md`, so the reader sees how often test was
looked at. Per-question rows are written (to `bench/out/quality-rows.jsonl`) for dev only.
The second frozen test set (`*.test2.jsonl`, 2026-12-02) is held back: no run reads it but one
with `--test2` (`--split test --test2` reads only it, as test): the lead's single measurement at
the end.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from bench.common import DEFAULT_DATA, OUT, REPO, load_pubmedqa, machine, save, write_corpus

ARTICLE_TXT = REPO.parent / "shared" / "seed" / "msc-article.txt"

DATA = REPO / "tests" / "data"
EVAL = DATA / "eval"
TEST_LOG = REPO / "bench" / "quality" / "test_runs.md"
# The figures of the table, then the others (`mscqa.evaluation.summarize`).
HEADLINE = (
    "questions",
    "citation_hit@3",
    "answer_contains_gold",
    "false_abstention",
    "abstention_recall",
    "first_citation_hit",
    "unreadable_flagged",
    "grounding",
    "hit@1",
    "hit@3",
    "brier",
    "latency_ms_p50",
)


def question_sets(txt: bool = False) -> dict[str, list[Path]]:
    """Corpus name -> its question files (the ones present); with ``txt``, the article's
    questions over its original plain text too."""
    article = [DATA / "devset.jsonl", DATA / "heldout.jsonl", *sorted(EVAL.glob("article.*.jsonl"))]
    pubmed = sorted(EVAL.glob("pubmed.*.jsonl"))
    sets = {"article": [p for p in article if p.is_file()], "pubmed": pubmed}
    if txt and ARTICLE_TXT.is_file():
        sets["article-txt"] = sets["article"]
    return sets


def held_back(path: Path) -> bool:
    """A frozen test file other than the first split's `<set>.test.jsonl` (`<set>.test2.jsonl`)."""
    from mscqa.evaluation import is_test_file

    return is_test_file(path) and not path.name.endswith(".test.jsonl")


def corpus_folder(name: str, root: Path, data: Path = DEFAULT_DATA) -> Path:
    """The corpus folder of ``name``: the repository's `corpus/`, or the PubMedQA abstracts."""
    if name == "article":
        return REPO / "corpus"
    if name == "article-txt":
        folder = root / "article-txt-corpus"
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / ARTICLE_TXT.name
        if not target.is_file() or target.read_bytes() != ARTICLE_TXT.read_bytes():
            target.write_bytes(ARTICLE_TXT.read_bytes())
        return folder
    folder = root / "pubmed-corpus"
    write_corpus(load_pubmedqa(data), folder)  # rewritten identically each run (same text)
    return folder


def open_service(name: str, root: Path, **service_options: Any) -> Any:
    """A loaded ``QAService`` over an up-to-date index of corpus ``name`` under ``root``."""
    from mscqa.config import Settings
    from mscqa.indexing import build_index
    from mscqa.service import QAService

    settings = Settings(
        corpus_dir=corpus_folder(name, root), index_dir=root / name, cache_size=0, _env_file=None
    )
    log(f"indexing {name} ({settings.corpus_dir})")
    report = build_index(settings)
    log(f"  {report.documents} documents, {report.chunks} passages, {report.embedded} embedded")
    service = QAService(settings, **service_options)
    service.load()
    return service


def run(
    services: dict[str, Any], sets: dict[str, list[Path]], split: str, test2: bool = False
) -> dict[str, dict[str, Any]]:
    """``{corpus: evaluation.evaluate_files(...)}`` over the files of ``split``, without the
    held-back test2 files (``held_back``); with ``test2``, over those only."""
    from mscqa.evaluation import evaluate_files, question_files

    out = {}
    for name, files in sets.items():
        kept = [p for p in files if held_back(p) == test2]
        chosen = question_files(kept, split) if kept else []
        if chosen:
            log(f"asking {name}: {', '.join(p.name for p in chosen)}")
            out[name] = evaluate_files(services[name], chosen)
    return out


def columns(results: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """``"<corpus> <split>"`` -> that split's metrics."""
    return {
        f"{name} {split}": part["metrics"]
        for name, result in results.items()
        for split, part in result["splits"].items()
    }


def render(cols: dict[str, dict[str, Any]], keys: Sequence[str] = HEADLINE) -> str:
    names = list(cols)
    head = "| metric | " + " | ".join(names) + " |"
    lines = [head, "|---" * (len(names) + 1) + "|"]
    for key in keys:
        cells = [cols[n].get(key) for n in names]
        lines.append(f"| {key} | " + " | ".join("-" if c is None else str(c) for c in cells) + " |")
    return "\n".join(lines)


def commit() -> str:
    """The checked-out commit, with ``+dirty`` when the work tree has changes."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(REPO), *args], capture_output=True, text=True, check=False
        ).stdout.strip()

    dirty = git("status", "--porcelain", "--untracked-files=no")
    return git("rev-parse", "--short", "HEAD") + ("+dirty" if dirty else "")


def log_test_run(what: str, figures: dict[str, dict[str, Any]], at: str) -> None:
    """Append one line per test evaluation to ``bench/quality/test_runs.md`` (aggregates only)."""
    TEST_LOG.parent.mkdir(parents=True, exist_ok=True)
    if not TEST_LOG.exists():
        TEST_LOG.write_text(
            "# Test-split evaluations\n\nEvery run that computed figures on a test split, "
            "appended by `bench.quality.report` and `bench.quality.ablation` (aggregate "
            "figures only; nothing was tuned on them).\n\n"
            "| time (UTC) | commit | what | figures |\n|---|---|---|---|\n",
            encoding="utf-8",
        )
    keys = ("questions", "citation_hit@3", "answer_contains_gold", "false_abstention")
    keys += ("abstention_recall", "unreadable_flagged")
    parts = [
        f"{name}: " + ", ".join(f"{k} {m.get(k)}" for k in keys if m.get(k) is not None)
        for name, m in figures.items()
    ]
    stamp = time.strftime("%Y-%m-%d %H:%M", time.gmtime())
    with TEST_LOG.open("a", encoding="utf-8") as fh:
        fh.write(f"| {stamp} | {at} | {what} | {'; '.join(parts)} |\n")


def dev_rows(results: dict[str, dict[str, Any]]) -> Iterable[dict[str, Any]]:
    for result in results.values():
        yield from (r for r in result["rows"] if r["split"] == "dev")


def log(message: str) -> None:
    sys.stderr.write(f"[quality {time.strftime('%H:%M:%S')}] {message}\n")
    sys.stderr.flush()


def quiet() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    logging.basicConfig(level=logging.WARNING)
    for noisy in ("bm25s", "mscqa", "faiss.loader", "sentence_transformers"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def main(argv: list[str] | None = None, open_: Callable[..., Any] = open_service) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--test2", action="store_true", help="only the held-back test2 files (once)")
    ap.add_argument("--split", choices=("dev", "test", "all"), default="all")
    ap.add_argument("--by-kind", action="store_true", help="dev figures per question kind")
    ap.add_argument("--json", action="store_true", help="print the results as JSON")
    ap.add_argument(
        "--txt", action="store_true", help="also the article's questions over its original .txt"
    )
    ap.add_argument("--index-root", type=Path, default=OUT / "quality-index")
    args = ap.parse_args(argv)
    quiet()
    sets = question_sets(args.txt)
    before, at = machine(), commit()
    services = {name: open_(name, args.index_root) for name, files in sets.items() if files}
    results = run(services, sets, args.split, args.test2)
    cols = columns(results)
    tests = {name: m for name, m in cols.items() if name.endswith(" test")}
    if tests:
        label = f"bench.quality.report --split {args.split}" + (" --test2" if args.test2 else "")
        log_test_run(label, tests, at)
    report = {
        "machine": before,
        "machine_after": machine(),
        "commit": at,
        "figures": cols,
        "calibration": {
            f"{name} {split}": {"reliability": part["reliability"]}
            for name, result in results.items()
            for split, part in result["splits"].items()
        },
        "dev_by_kind": {
            name: result["splits"]["dev"]["by_kind"]
            for name, result in results.items()
            if "dev" in result["splits"]
        },
    }
    save("quality", report)
    OUT.mkdir(parents=True, exist_ok=True)
    with (OUT / "quality-rows.jsonl").open("w", encoding="utf-8") as fh:
        fh.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in dev_rows(results))
    if args.json:
        sys.stdout.write(json.dumps(report, indent=2) + "\n")
        return 0
    m = before
    sys.stdout.write(
        f"Quality — {m['date']}, commit {report['commit']}, {m['cores']} cores, load "
        f"{m['loadavg']} -> {report['machine_after']['loadavg']}\n\n{render(cols)}\n"
    )
    if args.by_kind:
        for name, kinds in report["dev_by_kind"].items():
            sys.stdout.write(f"\n{name} dev, by kind:\n")
            sys.stdout.write(render(kinds, ("questions", *HEADLINE[1:6])) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
