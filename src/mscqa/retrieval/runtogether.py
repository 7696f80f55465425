"""Two words typed as one ("bonemarrow", "stemcells"), split where the documents use both.

A question word the corpus does not use may be two corpus words with the space left out. The
split is read from the corpus's own vocabulary (every word any document uses), not from a
list, so a new document brings its own compounds: "bonemarrow" becomes "bone marrow" over a
corpus that says "bone" and "marrow", and stays as it is over one that does not.
"""

from __future__ import annotations

from collections.abc import Container

# each half has at least this many letters: shorter words ("in", "of", "the") make almost any
# word a pair of corpus words ("often" is "of ten")
MIN_HALF = 4


def split_run_together(word: str, vocabulary: Container[str]) -> str | None:
    """``word`` as two words of ``vocabulary`` (lower-cased) joined by a space, or None.

    Each half has ``MIN_HALF`` letters or more and is a corpus word. Where several splits are
    possible, the one whose shorter half is longest wins (the most even split: two real words
    rather than a long one and a fragment that happens to be a word).

    >>> split_run_together("bonemarrow", {"bone", "marrow"})
    'bone marrow'
    >>> split_run_together("Stemcells", {"stem", "cells", "stemc"})  # "ells" is no word
    'stem cells'
    >>> split_run_together("often", {"often", "ten"}) is None
    True
    """
    low = word.lower()
    best: tuple[int, str] | None = None
    for i in range(MIN_HALF, len(low) - MIN_HALF + 1):
        left, right = low[:i], low[i:]
        if left in vocabulary and right in vocabulary:
            key = min(len(left), len(right))
            if best is None or key > best[0]:
                best = (key, f"{left} {right}")
    return best[1] if best else None
