"""The question files ``mscqa eval`` reads: JSON Lines of questions with what a right answer
holds, and which split (dev or test) a file is (see ``mscqa.evaluation``)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from mscqa.errors import MscqaError
from mscqa.types import Turn

SPLITS = ("dev", "test")


@dataclass
class Item:
    id: str
    question: str
    history: list[Turn] = field(default_factory=list)
    gold: list[str] = field(default_factory=list)
    gold_all: bool = False
    gold_doc: list[str] = field(default_factory=list)
    expect_abstain: bool = False
    expect_unreadable: bool = False
    kind: str = ""
    source: str = ""  # the question file's set name ("article", "devset", ...)
    split: str = "dev"


# A test file: ``<set>.test.jsonl`` or a later frozen set ``<set>.test2.jsonl``, ``.test3``, ...
_TEST_FILE = re.compile(r"\.test\d*\.jsonl$")


def is_test_file(path: Path) -> bool:
    """Whether ``path`` is a frozen test file (``<set>.test.jsonl``, ``<set>.test<N>.jsonl``):
    reported only, never tuned or fitted on. Every other question file is dev."""
    return _TEST_FILE.search(path.name) is not None


def split_of(path: Path) -> str:
    """``test`` for a test file (``is_test_file``), else ``dev``."""
    return "test" if is_test_file(path) else "dev"


def set_name(path: Path) -> str:
    """The set a question file belongs to: its name without ``.dev``/``.test`` and ``.jsonl``."""
    name = path.name.removesuffix(".jsonl")
    for split in SPLITS:
        name = name.removesuffix(f".{split}")
    return name


def question_files(paths: Iterable[Path], split: str = "all") -> list[Path]:
    """The ``.jsonl`` files among ``paths`` (directories are searched recursively), sorted,
    keeping only those of ``split`` (``dev``, ``test`` or ``all``)."""
    if split not in (*SPLITS, "all"):
        raise MscqaError(f"split must be one of dev, test, all; got {split!r}")
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(sorted(path.rglob("*.jsonl")))
        elif path.is_file():
            found.append(path)
        else:
            raise MscqaError(f"question file {path} does not exist")
    unique = list(dict.fromkeys(found))
    return [p for p in unique if split == "all" or split_of(p) == split]


def load_questions(path: Path) -> list[Item]:
    items = []
    source, split = set_name(path), split_of(path)
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
            items.append(
                Item(
                    id=str(rec.get("id", n)),
                    question=rec["question"],
                    history=[Turn(t["role"], t["content"]) for t in rec.get("history", [])],
                    gold=list(rec.get("gold", [])),
                    gold_all=bool(rec.get("gold_all", False)),
                    gold_doc=list(rec.get("gold_doc", [])),
                    expect_abstain=bool(rec.get("expect_abstain", False)),
                    expect_unreadable=bool(rec.get("expect_unreadable", False)),
                    kind=rec.get("kind", ""),
                    source=source,
                    split=split,
                )
            )
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
            raise MscqaError(f"{path}:{n}: not a valid question record ({exc})") from None
    return items
