"""Abbreviations a passage uses without defining them, recognised from the question's words.

An abstract often defines an abbreviation in its title ("Cone beam computed tomography
(CBCT) ...") and then uses only the short form; without the title, nothing in the corpus says
that "CBCT" is cone beam computed tomography, so a question in the long form finds none of its
words in the sentence that answers it. The short form of a run of three to six of the
question's words is their initials, as in nearly every such abbreviation; when a retrieved
passage uses a word that is those initials, the passage names the run by it:

- the word must be no ordinary word (not a whole word of the embedding model's vocabulary: "ace",
  "set"), and not one of the question's own words;
- the corpus must not define it as something else: a defined abbreviation means its long forms
  (``Retriever``'s vocabulary), so "TCA" defined as tricyclic antidepressants is no guess;
- only the retrieved passages' words count, not the whole corpus's: a rare guess that happens to
  be some unrelated abstract's word is never looked for.

A sentence holding the short form then holds each question term of the run.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence

from mscqa.index.lexical import tokenize
from mscqa.retrieval.vocabulary import Term

MIN_WORDS = 3
MAX_WORDS = 6


def initials(
    tokens: Sequence[str],
    present: Callable[[str], bool],
    ordinary: Collection[str],
    defined: Mapping[str, Collection[tuple[str, ...]]],
) -> list[tuple[str, frozenset[str]]]:
    """``(short form, the run's tokens)`` for every run of ``tokens`` whose initials are a word
    the retrieved passages use (``present``) that is no ``ordinary`` word, no token of the
    question, and not ``defined`` (short token -> its long forms' token tuples) as anything but
    this run. The short form is compared as the passages' tokens are, stemmed: "ALS" is the
    token "al", "ARDS" "ard".

    >>> words = {"cbct", "exam"}
    >>> [(short, sorted(run)) for short, run in initials(
    ...     ["cone", "beam", "comput", "tomographi", "exam"], words.__contains__, set(), {})]
    [('cbct', ['beam', 'comput', 'cone', 'tomographi'])]
    """
    asked = set(tokens)
    out: list[tuple[str, frozenset[str]]] = []
    for i in range(len(tokens)):
        for j in range(i + MIN_WORDS, min(len(tokens), i + MAX_WORDS) + 1):
            run = tuple(tokens[i:j])
            letters = "".join(t[0] for t in run)
            stemmed = tokenize(letters)
            if len(stemmed) != 1 or letters in ordinary:
                continue
            short = stemmed[0]
            if short in asked or not present(short):
                continue
            longs = defined.get(short)
            if longs and run not in longs:
                continue
            out.append((short, frozenset(run)))
    return out


def with_initials(terms: list[Term], found: list[tuple[str, frozenset[str]]]) -> list[Term]:
    """``terms`` with the short form added to every term that lies inside its run."""
    if not found:
        return terms
    out = []
    for term in terms:
        extra = [frozenset([short]) for short, run in found if term.forms and term.forms[0] <= run]
        out.append(
            Term(term.weight, tuple(dict.fromkeys([*term.forms, *extra]))) if extra else term
        )
    return out
