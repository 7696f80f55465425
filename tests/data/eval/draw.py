"""Draw the PubMedQA abstracts the pubmed question sets are written over (seeded, reproducible).

    python3 tests/data/eval/draw.py                 # print the draw
    python3 tests/data/eval/draw.py --write         # (re)write pubmed.draw.json
    python3 tests/data/eval/draw.py --dev2 --write  # (re)write pubmed.draw2.json
    python3 tests/data/eval/draw.py --test2 --write # (re)write pubmed.draw3.json
    python3 tests/data/eval/draw.py --test3 --write # (re)write pubmed.draw4.json
    python3 tests/data/eval/draw.py --test4 --write # (re)write pubmed.draw5.json
    python3 tests/data/eval/draw.py --test5 --write # (re)write pubmed.draw6.json

The draw is ``random.Random(SEED).sample`` of the 1000 PubMed ids in sorted order, then a second
seeded shuffle of those 40 ids puts the first ``DEV_ABSTRACTS`` into dev and the rest into test, so
every question about one abstract lands in the same split.

The dev2 draw (2026-12-02, for ``pubmed.dev2.jsonl``) is ``random.Random(DEV2_SEED).sample`` of
``DEV2_COUNT`` ids from the sorted ids **not** drawn above, so its abstracts are neither dev nor
test ones; a later draw should likewise exclude every id of both files.

The test2 draw (2026-12-02, for the second frozen test set ``pubmed.test2.jsonl``) is
``random.Random(TEST2_SEED).sample`` of ``TEST2_COUNT`` ids from the sorted ids drawn by neither
``draw`` nor ``draw_dev2``.

The test3 draw (2026-12-02, for the third frozen test set ``pubmed.test3.jsonl``) is
``random.Random(TEST3_SEED).sample`` of ``TEST3_COUNT`` ids from the sorted ids drawn by none of
``draw``, ``draw_dev2`` and ``draw_test2``.

The test4 draw (2026-12-02, session 5, for the fourth frozen test set ``pubmed.test4.jsonl``) is
``random.Random(TEST4_SEED).sample`` of ``TEST4_COUNT`` ids from the sorted ids drawn by none of
``draw``, ``draw_dev2``, ``draw_test2`` and ``draw_test3``.

The test5 draw (2026-12-04, session 7, for the fifth frozen test set ``pubmed.test5.jsonl``) is
``random.Random(TEST5_SEED).sample`` of ``TEST5_COUNT`` ids from the sorted ids drawn by none of
``draw``, ``draw_dev2``, ``draw_test2``, ``draw_test3`` and ``draw_test4``.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE.parents[2].parent / "shared" / "bench" / "pubmedqa" / "ori_pqal.json"
SEED = 20261201
COUNT = 40
DEV_ABSTRACTS = 12
DRAW_FILE = HERE / "pubmed.draw.json"
DEV2_SEED = 20261202
DEV2_COUNT = 20
DRAW2_FILE = HERE / "pubmed.draw2.json"
TEST2_SEED = 20261203
TEST2_COUNT = 15
DRAW3_FILE = HERE / "pubmed.draw3.json"
TEST3_SEED = 20261204
TEST3_COUNT = 15
DRAW4_FILE = HERE / "pubmed.draw4.json"
TEST4_SEED = 20261205
TEST4_COUNT = 15
DRAW5_FILE = HERE / "pubmed.draw5.json"
TEST5_SEED = 20261206
TEST5_COUNT = 15
DRAW6_FILE = HERE / "pubmed.draw6.json"


def draw(pmids: list[str]) -> dict[str, list[str]]:
    """``{"dev": [...], "test": [...]}``: ``COUNT`` ids drawn from ``pmids``, split by abstract."""
    rng = random.Random(SEED)
    chosen = rng.sample(sorted(pmids), COUNT)
    order = list(chosen)
    rng.shuffle(order)
    return {"dev": sorted(order[:DEV_ABSTRACTS]), "test": sorted(order[DEV_ABSTRACTS:])}


# The later draws, in order: (name, seed, count, file); each takes ids no earlier draw took.
LATER = (
    ("dev2", DEV2_SEED, DEV2_COUNT, DRAW2_FILE),
    ("test2", TEST2_SEED, TEST2_COUNT, DRAW3_FILE),
    ("test3", TEST3_SEED, TEST3_COUNT, DRAW4_FILE),
    ("test4", TEST4_SEED, TEST4_COUNT, DRAW5_FILE),
    ("test5", TEST5_SEED, TEST5_COUNT, DRAW6_FILE),
)


def draw_later(pmids: list[str], name: str) -> dict[str, list[str]]:
    """``{name: [...]}``: the later draw ``name`` of ``LATER``, its count of ids from the sorted
    ``pmids`` that neither ``draw`` nor any later draw before it took."""
    taken = {p for ids in draw(pmids).values() for p in ids}
    for later, seed, count, _ in LATER:
        rest = sorted(set(pmids) - taken)
        ids = sorted(random.Random(seed).sample(rest, count))
        if later == name:
            return {name: ids}
        taken |= set(ids)
    raise ValueError(f"no later draw named {name!r}")


def draw_dev2(pmids: list[str]) -> dict[str, list[str]]:
    """``{"dev2": [...]}``: ``DEV2_COUNT`` ids of ``pmids`` that ``draw`` did not take."""
    return draw_later(pmids, "dev2")


def draw_test2(pmids: list[str]) -> dict[str, list[str]]:
    """``{"test2": [...]}``: ``TEST2_COUNT`` ids of ``pmids`` neither earlier draw took."""
    return draw_later(pmids, "test2")


def draw_test3(pmids: list[str]) -> dict[str, list[str]]:
    """``{"test3": [...]}``: ``TEST3_COUNT`` ids of ``pmids`` no earlier draw took."""
    return draw_later(pmids, "test3")


def draw_test4(pmids: list[str]) -> dict[str, list[str]]:
    """``{"test4": [...]}``: ``TEST4_COUNT`` ids of ``pmids`` no earlier draw took."""
    return draw_later(pmids, "test4")


def draw_test5(pmids: list[str]) -> dict[str, list[str]]:
    """``{"test5": [...]}``: ``TEST5_COUNT`` ids of ``pmids`` no earlier draw took."""
    return draw_later(pmids, "test5")


def main(argv: list[str]) -> int:
    pmids = list(json.loads(DATA.read_text(encoding="utf-8")))
    source = "shared/bench/pubmedqa/ori_pqal.json"
    files = [DRAW_FILE.name] + [f.name for *_, f in LATER]
    for i, (name, seed, _, file) in reversed(list(enumerate(LATER))):
        if f"--{name}" in argv:
            result = {"seed": seed, "source": source, "excludes": " ".join(files[: i + 1])}
            result.update(draw_later(pmids, name))
            target = file
            break
    else:
        result = {"seed": SEED, "source": source, **draw(pmids)}
        target = DRAW_FILE
    text = json.dumps(result, indent=2) + "\n"
    if "--write" in argv:
        target.write_text(text, encoding="utf-8")
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
