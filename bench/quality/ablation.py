"""What each part of retrieval adds, on the dev set's in-scope questions (retrieval hit@3).

    .venv/bin/python -m bench.quality.ablation [--index-dir DIR]

One index of the article; the same QAService with its Retriever switched step by step:
dense only (alpha 1, no best-sentence pooling), BM25 only (alpha 0), weighted fusion (alpha
0.75, no pooling), plus best-sentence pooling (sentence_weight 0.5), then as shipped (plus the
domain vocabulary: synonym expansion of the BM25 query and of the word-overlap checks). The
vocabulary is switched off by giving the Retriever empty synonym tables.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from bench.common import DEVSET, article_index


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index-dir", type=Path, default=None, help="reuse an article index")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from mscqa.config import Settings
    from mscqa.evaluation import evaluate, load_questions
    from mscqa.retrieval import retriever as retriever_module
    from mscqa.service import QAService

    index_dir = article_index(args.index_dir)
    service = QAService(Settings(index_dir=index_dir, cache_size=0))
    service.load()
    live = service.serving()
    items = load_questions(DEVSET)
    shipped = (live.retriever.alpha, live.retriever.sentence_weight)
    no_vocabulary: dict[str, Any] = {"expand": lambda text: text}
    steps: list[tuple[str, float, float, bool]] = [
        ("dense only", 1.0, 0.0, False),
        ("BM25 only", 0.0, 0.0, False),
        (f"weighted fusion (alpha {shipped[0]})", shipped[0], 0.0, False),
        ("+ best-sentence pooling", shipped[0], shipped[1], False),
        ("+ domain vocabulary (as shipped)", shipped[0], shipped[1], True),
    ]
    saved = (retriever_module.expand, live.retriever._equivalents, live.retriever._group_tokens)
    print("| retrieval | dev in-scope hit@3 | hit@1 |\n|---|---|---|")
    for label, alpha, weight, vocabulary in steps:
        live.retriever.alpha, live.retriever.sentence_weight = alpha, weight
        if vocabulary:
            retriever_module.expand = saved[0]  # type: ignore[assignment]
            live.retriever._equivalents, live.retriever._group_tokens = saved[1], saved[2]
        else:
            retriever_module.expand = no_vocabulary["expand"]  # type: ignore[assignment]
            live.retriever._equivalents, live.retriever._group_tokens = {}, {}
        metrics = evaluate(service, items)["metrics"]
        print(f"| {label} | {metrics['hit@3']:.3f} | {metrics['hit@1']:.3f} |")


if __name__ == "__main__":
    main()
