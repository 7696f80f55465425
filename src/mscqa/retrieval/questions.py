"""What a question's own text says: the names it uses, its sub-questions, the corpus's subjects.

Pure functions of the question and the snapshot's vocabulary, used by the retriever: the
capitalised names in a question (``NAME``), where a compound question splits into parts
("What is X, and how is Y done?"), and which words name something the documents are about
(abbreviations they define and their long forms, words of their section headings).
"""

from __future__ import annotations

import re

from mscqa.index import IndexSnapshot
from mscqa.index.lexical import tokenize
from mscqa.retrieval.vocabulary import QUESTION_WORDS, Term

NAME = re.compile(r"\b[A-Za-z]*[A-Z][A-Za-z0-9'-]*")
# Where a compound question splits: another question mark, a semicolon, or "and"/a comma
# followed by a new question word ("..., and how is it collected?").
_QUESTION_WORD = (
    r"(?:what|how|which|why|where|who|whom|whose|when|is|are|was|were|does|do|did|can|could|"
    r"has|have|had|should|will|would)\b"
)
# a word in more than this share of the passages is the corpus's common ground, not a subject
SUBJECT_MAX_DF = 0.3
_QUESTION_TOKENS = frozenset(t for w in QUESTION_WORDS for t in tokenize(w))
_PARTS = re.compile(
    rf"\?\s+|;\s*|,?\s+(?:and|but|or)\s+(?={_QUESTION_WORD})|,\s+(?={_QUESTION_WORD})", re.I
)


def question_parts(question: str, terms: list[Term]) -> tuple[frozenset[int], ...]:
    """The terms of each sub-question of a compound question ("What is X, and how is Y
    done?"), as indices of ``terms``; empty for a question of one part."""
    pieces = [p for p in _PARTS.split(question) if p and p.strip()]
    if len(pieces) < 2:
        return ()
    out = []
    for piece in pieces:
        words = set(tokenize(piece))
        idx = frozenset(i for i, t in enumerate(terms) if words & t.forms[0])
        if idx:
            out.append(idx)
    return tuple(out) if len(out) > 1 else ()


def subject_tokens(snapshot: IndexSnapshot, passages: int, df: dict[str, int]) -> frozenset[str]:
    """The words that name something the documents are about: those of the abbreviations
    they define (short and long forms) and of their section headings, except the corpus's
    most common words and question words."""
    words: set[str] = set()
    for a in snapshot.abbreviations:
        words.update(tokenize(a.short), tokenize(a.long))
    for doc in snapshot.documents.values():
        for section in doc.sections:
            words.update(tokenize(section.title))
    common = SUBJECT_MAX_DF * max(1, passages)
    return frozenset(w for w in words if df.get(w, 0) <= common and w not in _QUESTION_TOKENS)
