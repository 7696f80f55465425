"""The quality report: every question set on its own corpus, dev and test side by side.

    .venv/bin/python -m bench.quality.report [--split dev|test|all] [--by-kind] [--json] [--txt]
    .venv/bin/python -m bench.quality.report --split test --held-back   # the lead, once, at the end

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
The later frozen test sets (`*.test2.jsonl`, `*.test3.jsonl`, ...: `held_back`) are held back: no
run reads them but one with `--held-back` (`--split test --held-back` reads only them, each set in
its own columns, `article test2`, `article test3`, ...; `--held-back test3` only that one;
`--test2` is `--held-back test2`): the lead's single measurement at the end of the session that
added a set.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
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


_HELD_BACK = re.compile(r"\.(test\d+)\.jsonl$")


def held_back(path: Path) -> str | None:
    """The held-back set a frozen test file belongs to (`test2` for `<set>.test2.jsonl`, `test3`
    for `<set>.test3.jsonl`, ...); None for the first split's `<set>.test.jsonl` and dev files."""
    from mscqa.evaluation import is_test_file

    found = _HELD_BACK.search(path.name)
    return found.group(1) if found and is_test_file(path) else None


def held_back_parts(sets: dict[str, list[Path]]) -> list[str]:
    """The held-back sets present among ``sets``' files, in order (`test2`, `test3`, ...)."""
    parts = {part for files in sets.values() for p in files if (part := held_back(p))}
    return sorted(parts, key=lambda part: int(part.removeprefix("test")))


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
    services: dict[str, Any], sets: dict[str, list[Path]], split: str, part: str | None = None
) -> dict[str, dict[str, Any]]:
    """``{corpus: evaluation.evaluate_files(...)}`` over the files of ``split``, without the
    held-back test files (``held_back``); with ``part`` (`test2`, ...), over that set's only."""
    from mscqa.evaluation import evaluate_files, question_files

    out = {}
    for name, files in sets.items():
        kept = [p for p in files if held_back(p) == part]
        chosen = question_files(kept, split) if kept else []
        if chosen:
            log(f"asking {name}: {', '.join(p.name for p in chosen)}")
            out[name] = evaluate_files(services[name], chosen)
    return out


def run_held_back(
    services: dict[str, Any], sets: dict[str, list[Path]], split: str, parts: Sequence[str]
) -> dict[str, dict[str, Any]]:
    """Each held-back set of ``parts`` on its own, as ``run`` gives it, with its test split
    renamed for the set (``{corpus: {"splits": {"test2": ..., "test3": ...}, "rows": [...]}}``),
    so no two sets are pooled into one figure."""
    out: dict[str, dict[str, Any]] = {}
    for part in parts:
        for name, result in run(services, sets, split, part).items():
            merged = out.setdefault(name, {"splits": {}, "rows": []})
            if "test" in result["splits"]:
                merged["splits"][part] = result["splits"]["test"]
            merged["rows"].extend(result["rows"])
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


def chosen_parts(
    ap: argparse.ArgumentParser, args: argparse.Namespace, sets: dict[str, list[Path]]
) -> list[str]:
    """The held-back sets the command line asks for (none: an ordinary run without them)."""
    present = held_back_parts(sets)
    asked = list(args.held_back or []) + (["test2"] if args.test2 else [])
    if args.held_back is not None and not asked:
        asked = present
    unknown = [part for part in asked if part not in present]
    if unknown:
        ap.error(f"no held-back set {', '.join(unknown)}; present: {', '.join(present)}")
    return list(dict.fromkeys(asked))


def parser() -> argparse.ArgumentParser:
    """The command line of ``main``."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--held-back",
        nargs="*",
        metavar="SET",
        default=None,
        help="only the held-back test sets (test2, test3, ...; all when none is named), each in "
        "its own columns (once, at the end)",
    )
    ap.add_argument("--test2", action="store_true", help="the same as --held-back test2")
    ap.add_argument("--split", choices=("dev", "test", "all"), default="all")
    ap.add_argument("--by-kind", action="store_true", help="dev figures per question kind")
    ap.add_argument("--json", action="store_true", help="print the results as JSON")
    ap.add_argument(
        "--txt", action="store_true", help="also the article's questions over its original .txt"
    )
    ap.add_argument("--index-root", type=Path, default=OUT / "quality-index")
    return ap


def main(argv: list[str] | None = None, open_: Callable[..., Any] = open_service) -> int:
    ap = parser()
    args = ap.parse_args(argv)
    quiet()
    sets = question_sets(args.txt)
    parts = chosen_parts(ap, args, sets)
    before, at = machine(), commit()
    services = {name: open_(name, args.index_root) for name, files in sets.items() if files}
    if parts:
        results = run_held_back(services, sets, args.split, parts)
    else:
        results = run(services, sets, args.split)
    cols = columns(results)
    tests = {name: m for name, m in cols.items() if not name.endswith(" dev")}
    if tests:
        label = f"bench.quality.report --split {args.split}"
        label += f" --held-back {' '.join(parts)}" if parts else ""
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
