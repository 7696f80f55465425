"""Correct misspelt question words against the words the corpus actually uses.

Only words the corpus does not contain are touched, and only towards a corpus word that is
close (difflib ratio >= ``cutoff``) and starts with the same letter, so correct words, names and
out-of-domain words ("iPSCs", "football") pass through unchanged.
"""

from __future__ import annotations

import difflib
import functools
import re
from collections import defaultdict
from collections.abc import Iterable

from mscqa.index.lexical import SPELLING_WORD as _WORD
from mscqa.index.lexical import corpus_words

SUGGESTION_CACHE = 8192


class Speller:
    def __init__(self, words: Iterable[str], cutoff: float = 0.8) -> None:
        if not 0.0 < cutoff <= 1.0:
            raise ValueError(f"cutoff must be in (0, 1], got {cutoff}")
        self.cutoff = cutoff
        self.vocabulary = frozenset(w.lower() for w in words)
        self._by_initial: dict[str, list[str]] = defaultdict(list)
        for word in sorted(self.vocabulary):
            if len(word) >= 4:
                self._by_initial[word[0]].append(word)
        # difflib over every corpus word with the same initial costs ~0.1-1 ms per unknown word
        # on 1000 documents; questions repeat their words, so suggestions are remembered.
        self._closest = functools.lru_cache(maxsize=SUGGESTION_CACHE)(self._find_closest)

    @classmethod
    def from_texts(cls, texts: Iterable[str], cutoff: float = 0.8) -> Speller:
        return cls(corpus_words(texts), cutoff)

    def suggest(self, word: str) -> str | None:
        """The closest corpus word to an unknown ``word`` (None if known, short or far)."""
        return self._closest(word)

    def _find_closest(self, word: str) -> str | None:
        lower = word.lower()
        if lower in self.vocabulary or len(lower) < 4:
            return None
        pool = [w for w in self._by_initial.get(lower[0], ()) if abs(len(w) - len(lower)) <= 2]
        match = difflib.get_close_matches(lower, pool, n=1, cutoff=self.cutoff)
        return match[0] if match else None

    def correct(self, text: str) -> str:
        """``text`` with each unknown word replaced by its closest corpus word, if any."""

        def fix(m: re.Match[str]) -> str:
            return self.suggest(m.group(0)) or m.group(0)

        return _WORD.sub(fix, text)
