"""The baseline every performance figure is compared with.

    .venv/bin/python -m bench.perf.baseline [--questions N]

The baseline is the tutorial pipeline: sentence-transformers (torch backend, default settings,
so torch's default thread count) encodes the question, and a flat FAISS inner-product index
over fixed 800-character chunks of corpus/msc-article.md returns the top 5, in process, with
no cache. Every benchmark measures it again in the same run, so a ratio never compares figures
taken under different background load.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from bench.common import ARTICLE, machine, summary, varied_questions

# -- the baseline ------------------------------------------------------------------------------


class Baseline:
    """sentence-transformers + flat FAISS inner product over fixed 800-character chunks."""

    def __init__(self, corpus: Path = ARTICLE, chunk_chars: int = 800) -> None:
        import faiss
        from sentence_transformers import SentenceTransformer

        from mscqa.embedding.sentence_transformer import resolve_model

        self.model = SentenceTransformer(str(resolve_model("")), device="cpu")
        text = corpus.read_text(encoding="utf-8")
        self.chunks = [text[i : i + chunk_chars] for i in range(0, len(text), chunk_chars)]
        vectors = self.model.encode(self.chunks, convert_to_numpy=True)
        self.index = faiss.IndexFlatIP(vectors.shape[1])
        self.index.add(np.ascontiguousarray(vectors, dtype=np.float32))

    def ask(self, question: str, k: int = 5) -> list[str]:
        vector = self.model.encode([question], convert_to_numpy=True)
        _, rows = self.index.search(np.ascontiguousarray(vector, dtype=np.float32), k)
        return [self.chunks[r] for r in rows[0] if r >= 0]

    def latencies(self, questions: Sequence[str]) -> list[float]:
        """Milliseconds per question, one at a time (a few warm-up questions first)."""
        for q in questions[:3]:
            self.ask(q)
        out = []
        for q in questions:
            started = time.perf_counter()
            self.ask(q)
            out.append((time.perf_counter() - started) * 1000)
        return out


def baseline_embed_seconds(texts: Sequence[str]) -> float:
    """Seconds the baseline (default sentence-transformers) takes to embed ``texts``."""
    from sentence_transformers import SentenceTransformer

    from mscqa.embedding.sentence_transformer import resolve_model

    model = SentenceTransformer(str(resolve_model("")), device="cpu")
    model.encode(["warm up"])
    started = time.perf_counter()
    model.encode(list(texts), convert_to_numpy=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--questions", type=int, default=100)
    args = parser.parse_args()
    questions = varied_questions(args.questions)
    started = time.perf_counter()
    baseline = Baseline()
    setup = time.perf_counter() - started
    s = summary(baseline.latencies(questions))
    print(f"baseline: {len(baseline.chunks)} chunks, set up in {setup:.1f}s")
    print(f"in-process /ask latency, ms: {s}")
    print(f"machine: {machine()}")


if __name__ == "__main__":
    main()
