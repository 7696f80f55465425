"""Draw the PubMedQA abstracts the pubmed question sets are written over (seeded, reproducible).

    python3 tests/data/eval/draw.py          # print the draw
    python3 tests/data/eval/draw.py --write  # (re)write pubmed.draw.json

The draw is ``random.Random(SEED).sample`` of the 1000 PubMed ids in sorted order, then a second
seeded shuffle of those 40 ids puts the first ``DEV_ABSTRACTS`` into dev and the rest into test, so
every question about one abstract lands in the same split.
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


def draw(pmids: list[str]) -> dict[str, list[str]]:
    """``{"dev": [...], "test": [...]}``: ``COUNT`` ids drawn from ``pmids``, split by abstract."""
    rng = random.Random(SEED)
    chosen = rng.sample(sorted(pmids), COUNT)
    order = list(chosen)
    rng.shuffle(order)
    return {"dev": sorted(order[:DEV_ABSTRACTS]), "test": sorted(order[DEV_ABSTRACTS:])}


def main(argv: list[str]) -> int:
    pmids = list(json.loads(DATA.read_text(encoding="utf-8")))
    result = {"seed": SEED, "source": "shared/bench/pubmedqa/ori_pqal.json", **draw(pmids)}
    text = json.dumps(result, indent=2) + "\n"
    if "--write" in argv:
        DRAW_FILE.write_text(text, encoding="utf-8")
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
