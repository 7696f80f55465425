"""Correct misspelt question words against the words the corpus actually uses.

Only words the corpus does not contain are touched, and only towards a corpus word that is
close (difflib ratio >= ``cutoff``) and starts with the same letter, so correct words, names and
out-of-domain words ("iPSCs", "football") pass through unchanged.

A word the model's own tokenizer holds as a whole word ("healing", "teens", "watching") is a
word, not a typo, even where the corpus never uses it: it is left alone (``known``), so it is
not turned into a corpus word that looks like it ("heralding", "trees", "wasting"). So is a word
of an English dictionary (``english_words``: pyspellchecker's word list, 160k words with the
medical and scientific ones the tokenizer splits into pieces: "myeloma" is not "myoma").

Abbreviations are written many ways: "BMSCs" for a document's "BM-MSCs", "AD-MSC" for
"ADMSCs". A question word with two or more capitals that the corpus does not use is rewritten to
the one abbreviation the documents define (``abbreviations``) whose letters are the same up to
one letter more or less, hyphens and a plural "s" aside; with none or several, it stays.

Two corpus words typed as one ("bonemarrow", "stemcells") are written apart
(``retrieval.runtogether``) before any close word is looked for.
"""

from __future__ import annotations

import difflib
import functools
import json
import re
from collections import defaultdict
from collections.abc import Container, Iterable
from pathlib import Path
from typing import Any

from mscqa.index.lexical import SPELLING_WORD as _WORD
from mscqa.index.lexical import corpus_words
from mscqa.retrieval.runtogether import split_run_together

SUGGESTION_CACHE = 8192


_ABBREVIATION = re.compile(r"\b[A-Za-z0-9]*[A-Z][A-Za-z0-9]*(?:-[A-Za-z0-9]+)*\b")
_MIN_KEY = 4  # "BMSC": shorter forms are one letter from too many others (PD, PDA; CRT, CAR-T)


def abbreviation_key(form: str) -> str:
    """``form``'s letters and digits, lower-cased, without a plural "s" after a capital:
    "BM-MSCs" -> "bmmsc"."""
    if len(form) > 1 and form.endswith("s") and form[-2].isupper():
        form = form[:-1]
    return "".join(c for c in form.lower() if c.isalnum())


def _one_apart(a: str, b: str) -> bool:
    """Whether ``a`` becomes ``b`` by inserting or deleting one character (``len`` differs by 1)."""
    if len(a) > len(b):
        a, b = b, a
    i = 0
    while i < len(a) and a[i] == b[i]:
        i += 1
    return a[i:] == b[i + 1 :]


@functools.lru_cache(maxsize=8)
def _tokenizer_words(path: Path) -> frozenset[str]:
    try:
        vocab = json.loads(path.read_text(encoding="utf-8"))["model"]["vocab"]
    except (OSError, ValueError, KeyError, TypeError):
        return frozenset()
    return frozenset(w.lower() for w in vocab if isinstance(w, str) and w.isalpha())


def model_words(embedder: Any) -> frozenset[str]:
    """The whole words of the embedding model's tokenizer (its ``tokenizer.json`` vocabulary,
    word pieces aside), or none when the embedder has no local model folder (a fake, a
    model known by name only)."""
    folder = getattr(embedder, "folder", None) or getattr(embedder, "source", None)
    if not isinstance(folder, (str, Path)) or not Path(folder).is_dir():
        return frozenset()
    return _tokenizer_words(Path(folder) / "tokenizer.json")


@functools.lru_cache(maxsize=1)
def english_words() -> Container[str]:
    """The words of pyspellchecker's English dictionary (lower case), read once per process
    (~0.6 s, ~30 MB); none when the package is missing. A list of real words, not a model: it only
    says that a word exists, so that a word the corpus does not use is not "corrected" into
    one it does."""
    try:
        from spellchecker import SpellChecker
    except ImportError:  # pragma: no cover - a dependency; an install without it spells less
        return frozenset()
    return SpellChecker(language="en", distance=1).word_frequency.dictionary.keys()


class Speller:
    def __init__(
        self,
        words: Iterable[str],
        cutoff: float = 0.8,
        abbreviations: Iterable[str] = (),
        known: Container[str] = frozenset(),
        dictionary: Container[str] = frozenset(),
    ) -> None:
        if not 0.0 < cutoff <= 1.0:
            raise ValueError(f"cutoff must be in (0, 1], got {cutoff}")
        self.cutoff = cutoff
        self.vocabulary = frozenset(w.lower() for w in words)
        self.known = known  # words that are words (the model's), whatever the corpus uses
        self.dictionary = dictionary  # and those of a dictionary (``english_words``)
        self._by_initial: dict[str, list[str]] = defaultdict(list)
        for word in sorted(self.vocabulary):
            if len(word) >= 4:
                self._by_initial[word[0]].append(word)
        # difflib over every corpus word with the same initial costs ~0.1-1 ms per unknown word
        # on 1000 documents; questions repeat their words, so suggestions are remembered.
        self._closest = functools.lru_cache(maxsize=SUGGESTION_CACHE)(self._find_closest)
        self._abbreviations: dict[str, dict[str, str]] = defaultdict(dict)  # initial -> key -> form
        for form in abbreviations:
            key = abbreviation_key(form)
            if len(key) >= _MIN_KEY:
                self._abbreviations[key[0]].setdefault(key, form)
        self._variant = functools.lru_cache(maxsize=SUGGESTION_CACHE)(self._find_variant)

    @classmethod
    def from_texts(cls, texts: Iterable[str], cutoff: float = 0.8) -> Speller:
        return cls(corpus_words(texts), cutoff)

    def suggest(self, word: str) -> str | None:
        """The closest corpus word to an unknown ``word`` (None if known, short or far)."""
        return self._closest(word)

    def _find_closest(self, word: str) -> str | None:
        lower = word.lower()
        if len(lower) < 4 or lower in self.vocabulary or lower in self.known:
            return None
        if lower in self.dictionary:
            return None
        if word[:1].islower() and (joined := split_run_together(lower, self.vocabulary)):
            # "bonemarrow": two corpus words typed as one; a capitalised word is a name
            # ("Cellgram", a product no document names, is no "cell gram")
            return joined
        pool = [w for w in self._by_initial.get(lower[0], ()) if abs(len(w) - len(lower)) <= 2]
        match = difflib.get_close_matches(lower, pool, n=1, cutoff=self.cutoff)
        return match[0] if match else None

    def variant(self, word: str) -> str | None:
        """The abbreviation the documents define that ``word`` writes another way, if exactly
        one: "BMSCs" -> "BM-MSCs", "ADMSC" -> "AD-MSCs" (None for a defined form itself or a
        word with fewer than two capitals)."""
        return self._variant(word) if self._abbreviations else None

    def _find_variant(self, word: str) -> str | None:
        if sum(c.isupper() for c in word) < 2:
            return None
        key = abbreviation_key(word)
        forms = self._abbreviations.get(key[:1], {})
        if len(key) < _MIN_KEY:
            return None
        if key in forms:  # "ADMSC" for "AD-MSCs": the same letters, tokenised differently
            return forms[key] if forms[key] != word else None
        close = {f for k, f in forms.items() if abs(len(k) - len(key)) == 1 and _one_apart(k, key)}
        close = {f for f in close if abbreviation_key(f)[-1] == key[-1]}
        return close.pop() if len(close) == 1 else None

    def correct(self, text: str) -> str:
        """``text`` with each unknown word replaced by its closest corpus word, if any, and
        each abbreviation written another way by the one the documents define."""

        def fix(m: re.Match[str]) -> str:
            return self.suggest(m.group(0)) or m.group(0)

        def fix_abbreviation(m: re.Match[str]) -> str:
            return self.variant(m.group(0)) or m.group(0)

        if self._abbreviations:
            text = _ABBREVIATION.sub(fix_abbreviation, text)
        return _WORD.sub(fix, text)
