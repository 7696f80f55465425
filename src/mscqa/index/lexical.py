"""The lexical half of hybrid search: BM25 (bm25s) over stemmed, stop-worded tokens."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from mscqa.index.impacts import ImpactLists
from mscqa.memo import LastCall

_WORD = re.compile(r"\w\w+")
# The words the spelling corrector learns from a corpus (retrieval.spelling corrects towards them)
SPELLING_WORD = re.compile(r"[A-Za-z][A-Za-z']{3,}")
# BM25's parameters, and the token bm25s indexes for a passage with none (so it has length 1)
BM25_K1 = 1.2
BM25_B = 0.75
EMPTY_TOKEN = "\u2205"


@lru_cache(maxsize=1)
def _stemmer() -> Any:
    import Stemmer

    return Stemmer.Stemmer("english")


@lru_cache(maxsize=1)
def _stopwords() -> frozenset[str]:
    from bm25s.tokenization import STOPWORDS_EN

    return frozenset(STOPWORDS_EN)


# Tokens by text from the previous ``tokenize_all`` call given the same memo: a store keeps
# one (``FolderStore.tokens``), so a rebuild tokenises only the passages that changed, and the
# snapshot just written or swapped in only those its predecessor did not have.
Tokens = LastCall[str, tuple[str, ...]]


def tokenize(text: str) -> list[str]:
    """Lower-cased, stop-word-free, Snowball-stemmed word tokens.

    The plural of an abbreviation loses its "s" as well ("MSCs" -> "msc", "PCPs" -> "pcp"),
    which Snowball leaves alone: a word with no vowel before its final "s" is an abbreviation.
    """
    stop = _stopwords()
    words = [_singular(w) for w in _WORD.findall(text.lower()) if w not in stop]
    return list(_stemmer().stemWords(words))


_VOWELLESS_PLURAL = re.compile(r"[^\Waeiouy\d_]{2,}s")


def _singular(word: str) -> str:
    return word[:-1] if _VOWELLESS_PLURAL.fullmatch(word) else word


def tokenize_all(texts: Sequence[str], memo: Tokens | None = None) -> list[tuple[str, ...]]:
    """``tokenize`` of every text; with ``memo``, reusing its previous call's result for the
    texts seen there. Each distinct token is one string object (``sys.intern``): the stemmer
    returns a new string per word, and a memo of a million passages' tokens held ~90 M of
    them (about 5 GB) where the vocabulary has a few hundred thousand."""
    if memo is None:
        return [_interned(text) for text in texts]
    return memo.results(texts, _interned)


def _interned(text: str) -> tuple[str, ...]:
    return tuple(map(sys.intern, tokenize(text)))


class LexicalIndex:
    """BM25 over a fixed list of texts; row i scores text i."""

    def __init__(self, bm25: Any) -> None:
        self._bm25 = bm25
        self._vocab: dict[str, int] = bm25.vocab_dict

    @classmethod
    def build(cls, texts: Sequence[str], memo: Tokens | None = None) -> LexicalIndex:
        """BM25 over ``texts`` (tokenised through ``memo`` when given, see ``Tokens``)."""
        import bm25s

        tokens = tokenize_all(texts, memo)
        bm25 = bm25s.BM25(k1=BM25_K1, b=BM25_B)
        bm25.index([list(t) or [EMPTY_TOKEN] for t in tokens], show_progress=False)
        return cls(bm25)

    @classmethod
    def load(cls, folder: Path, *, mmap: bool = False) -> LexicalIndex:
        """The index ``save`` wrote in ``folder``; with ``mmap``, its score arrays are mapped
        from the files rather than read (the page cache holds them, shared, not the heap)."""
        import bm25s

        return cls(bm25s.BM25.load(str(folder), mmap=mmap, show_progress=False, verbosity=0))

    def save(self, folder: Path) -> None:
        self._bm25.save(str(folder), show_progress=False)

    @property
    def size(self) -> int:
        return int(self._bm25.scores["num_docs"])

    @property
    def vocabulary(self) -> dict[str, int]:
        """Token -> its id in ``impacts()``."""
        return self._vocab

    def impacts(self) -> ImpactLists:
        """bm25s's per-posting scores as impact-ordered lists and a forward index."""
        s = self._bm25.scores
        return ImpactLists.from_csc(s["data"], s["indices"], s["indptr"], int(s["num_docs"]))

    def document_frequencies(self) -> dict[str, int]:
        """Passages holding each indexed token, read from the score matrix (one entry per
        passage and token it holds): what counting every passage's token set gives, without
        tokenising the corpus again. ``EMPTY_TOKEN`` (a passage with no token) and bm25s's own
        empty token are not words and are left out."""
        starts = np.asarray(self._bm25.scores["indptr"], dtype=np.int64)
        counts = np.diff(starts).tolist()
        terms = len(counts)
        return {
            token: counts[i]
            for token, i in self._vocab.items()
            if i < terms and counts[i] and token != EMPTY_TOKEN
        }

    def known(self, tokens: Sequence[str]) -> list[str]:
        return [t for t in tokens if t in self._vocab]

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every row for ``query`` (zeros when no query word is indexed)."""
        tokens = self.known(tokenize(query))
        if not tokens:
            return np.zeros(self.size, dtype=np.float32)
        return np.asarray(self._bm25.get_scores(tokens), dtype=np.float32)


def corpus_words(texts: Iterable[str]) -> set[str]:
    """Every lower-cased word (``SPELLING_WORD``) of ``texts``: a snapshot records these as the
    vocabulary its spelling corrector corrects towards."""
    found: set[str] = set()
    for text in texts:
        found.update(SPELLING_WORD.findall(text))
    return {w.lower() for w in found}  # lower-cased once per distinct word, not per occurrence
