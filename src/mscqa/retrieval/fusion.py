"""Pure rank-fusion functions for hybrid retrieval.

Both take per-row score arrays from each retriever (same length, row i = chunk i) and return
one fused score per row; higher is better.
"""

from __future__ import annotations

import numpy as np

FUSION_MODES = ("weighted", "rrf", "dense", "lexical")


def rrf(dense: np.ndarray, lexical: np.ndarray, k: int = 60) -> np.ndarray:
    """Reciprocal rank fusion (Cormack, Clarke & Buettcher, SIGIR 2009).

    ``score(d) = sum over retrievers r of 1 / (k + rank_r(d))`` with 1-based ranks.
    Rows a retriever scores at zero or below (no match) get no share from it.
    """
    out = np.zeros(len(dense), dtype=np.float64)
    for scores in (dense, lexical):
        order = np.argsort(-scores, kind="stable")
        ranks = np.empty(len(scores), dtype=np.float64)
        ranks[order] = np.arange(1, len(scores) + 1)
        out += np.where(scores > 0, 1.0 / (k + ranks), 0.0)
    return out


def weighted(dense: np.ndarray, lexical: np.ndarray, alpha: float = 0.7) -> np.ndarray:
    """Convex combination of the cosine and the max-normalised BM25 score.

    ``score(d) = alpha * cos(q, d) + (1 - alpha) * bm25(q, d) / max_d' bm25(q, d')``.
    Cosine is already on a fixed scale; BM25 is not, so it is divided by the query's best
    BM25 score (0 when nothing matches lexically).
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    top = float(lexical.max()) if len(lexical) else 0.0
    lex = lexical / top if top > 0 else np.zeros_like(lexical)
    return alpha * dense.astype(np.float64) + (1.0 - alpha) * lex


def fuse(mode: str, dense: np.ndarray, lexical: np.ndarray, alpha: float = 0.7) -> np.ndarray:
    """Dispatch on ``mode``; an unknown mode is rejected with the valid ones."""
    if mode == "weighted":
        return weighted(dense, lexical, alpha)
    if mode == "rrf":
        return rrf(dense, lexical)
    if mode == "dense":
        return dense.astype(np.float64)
    if mode == "lexical":
        return lexical.astype(np.float64)
    raise ValueError(f"unknown fusion mode {mode!r}; valid modes: {', '.join(FUSION_MODES)}")
