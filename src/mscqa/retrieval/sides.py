"""The two sides of a comparison or a coordination: "A vs B: which ...?", "How does A compare
with B?", "How do A and B differ?", "What are X and Y?", "... X or Y?".

A question about two things is answered by a sentence about each: the answer to "How do bone
marrow and umbilical cord MSCs differ in yield?" quotes what the documents say of bone marrow
MSCs *and* of umbilical cord ones, not two sentences about one of them. The sides are read from
the question's form alone: the run of content words just before a connector ("vs", "versus",
"compared with", "compare with/to", "or", and "and" in a question that compares: "both",
"between", "differ", "which") and the run just after it, each bounded by a
function word, a question word, a comparison word ("differ", "better") or punctuation. Each
side is then the question's terms (``Term``) its words give, less those both sides share
("MSCs" in "bone marrow MSCs and umbilical cord MSCs"); the answerer gives each side a piece
of its own, as it gives each part of a compound question (``questions.question_parts``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable

from mscqa.index.lexical import tokenize
from mscqa.retrieval.vocabulary import QUESTION_WORDS, Term

# the connectors, strongest first: an explicit comparison decides over a plain "and"
_CONNECTORS = (
    re.compile(r"\s+(?:vs\.?|versus|compared\s+(?:with|to)|compare[sd]?\s+(?:with|to))\s+", re.I),
    re.compile(r"\s+or\s+", re.I),
    _AND := re.compile(r"\s+and\s+", re.I),
)
# a plain "and" joins two sides only in a question that compares ("both", "between", "differ")
_COMPARES = re.compile(
    r"\b(both|between|either|differ\w*|compar\w*|contrast\w*|which|whereas|versus|vs)\b", re.I
)
_TOKEN = re.compile(r"[A-Za-z0-9][\w'-]*|[^\w\s]")
# words that end a side: function words, and the words of the comparison itself
_BOUNDARY = frozenset(
    [
        *QUESTION_WORDS,
        *("a", "an", "and", "as", "at", "but", "by", "for", "if", "in", "into", "of", "on"),
        *("or", "that", "the", "this", "these", "those", "to", "with", "from", "between"),
        *("among", "both", "either", "neither", "than", "vs", "versus", "over", "under"),
        *("after", "before", "during", "without", "within", "per", "each", "other", "one"),
        *("differ", "differs", "differed", "different", "difference", "differences"),
        *("compare", "compares", "compared", "comparison", "better", "worse", "best", "worst"),
        *("more", "less", "most", "least", "prefer", "preferred", "preferable", "such"),
        *("not", "no", "yes", "then", "there", "is", "are", "it", "they", "their"),
    ]
)
SIDE_ROWS = 2  # passages of the best document added for a side, at most
MAX_SIDE = 5  # words: a longer run is a clause, not the name of one side


def sides(question: str) -> tuple[str, str] | None:
    """The two sides of the first connector in ``question`` that has content words on both
    sides of it, or None.

    >>> sides("Bone marrow MSCs vs adipose MSCs: which hurts less to collect?")
    ('Bone marrow MSCs', 'adipose MSCs')
    >>> sides("How do bone marrow and umbilical cord MSCs differ in yield?")
    ('bone marrow', 'umbilical cord')
    >>> sides("What is the dose?") is None
    True
    >>> sides("Did stem cells help and stay safe?") is None  # a plain "and" compares nothing
    True
    """
    for connector in _CONNECTORS:
        if connector is _AND and not _COMPARES.search(question):
            continue  # "stem cells helped and stayed safe": a plain "and" compares nothing
        for m in connector.finditer(question):
            left = _run(_TOKEN.findall(question[: m.start()])[::-1])[::-1]
            right = _run(_TOKEN.findall(question[m.end() :]))
            if left and right:
                if len(right) > len(left):
                    # "bone marrow and umbilical cord MSCs": the head noun after the longer
                    # side is both sides' ("bone marrow MSCs"), not the right one's own
                    right = right[:-1]
                return " ".join(left), " ".join(right)
    return None


def _run(words: list[str]) -> list[str]:
    """The content words at the start of ``words``, up to the first boundary."""
    out: list[str] = []
    for w in words:
        if not w[0].isalnum() or w.lower() in _BOUNDARY or len(out) == MAX_SIDE:
            break
        out.append(w)
    return out


def side_parts(question: str, terms: list[Term]) -> tuple[frozenset[int], ...]:
    """The terms of each side of ``question`` (``sides``), as indices of ``terms``, without
    the terms both sides hold; empty when it has no two sides with terms of their own."""
    found = sides(question)
    if not found:
        return ()
    parts = []
    for side in found:
        words = set(tokenize(side))
        parts.append({i for i, t in enumerate(terms) if words & t.forms[0]})
    shared = parts[0] & parts[1]
    own = tuple(frozenset(p - shared) for p in parts)
    return own if all(own) else ()


def side_rows(
    sides: tuple[frozenset[int], ...],
    terms: list[Term],
    rows: Iterable[int],
    tokens_of: Callable[[int], Collection[str]],
    limit: int = SIDE_ROWS,
) -> list[int]:
    """Of ``rows`` (the best document's passages not yet scored, best first), the first
    ``limit`` for each side whose words (``tokens_of``) hold all of that side's terms: a
    sentence about each side is looked for even where the passage holding it did not rank
    among those whose sentences are scored."""
    out: dict[int, None] = {}
    for side in sides:
        found = 0
        for row in rows:
            if found == limit:
                break
            words = tokens_of(row)
            if all(terms[i].found_in(words) for i in side):
                out[row] = None
                found += 1
    return list(out)
