"""The subject of a question, and whether it is something the documents never name.

"Is tirzepatide better than insulin for type 2 diabetes?" over 1000 abstracts, none about
tirzepatide, is answered by the abstracts about insulin: every other word of it matches them. A
word the corpus never uses is strong evidence that the documents do not answer when it is what
the question asks about, its grammatical subject ("Is *X* ...?", "Does *X* slow ...?", "How much
does *X* cut ...?"), and weak evidence when it is a modifier or sits in a title's topic part
("Telemedicine and type 1 diabetes: is technology ... sufficient ...?", whose abstract says
"telematic"): PubMedQA's answerable titles often hold a word their abstracts lack, seldom as the
subject of their question clause.

The subject is read from the question's form alone: the clause after a title's last separator
(":", " - ", "--", ";"), which starts with an auxiliary verb ("is", "does", "can", ...), perhaps
after a question word and a few words ("how much does", "what response rates does"), then an
optional determiner; the next word is the subject unless it is a pronoun. A question about a
property of something ("What are the side effects of the mpox vaccine?") is about the
complement of its "of" or "for". It is *unknown* when
the corpus has no token of it, no word sharing its first six letters (so "simplification" is a
form of the corpus's "simplified", not a new name), it does not start with a corpus word (two
words typed as one, "umbilicalcord"), and the embedding model's tokenizer has no such whole word
(ordinary language such as "rugby" rather than a name); parts of a hyphenated or
slashed word ("psilocybin-assisted") are read one by one.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Container

from mscqa.index.lexical import tokenize

_SEPARATOR = re.compile(r":|\s[-\u2013\u2014]+\s|--|;")
_AUX = (
    r"(?:is|are|was|were|does|do|did|can|could|should|will|would|has|have|had|may|might|must|"
    r"shall)"
)
_WH = (
    r"(?:how(?:\s+(?:much|many|often|long|far|well|effective|safe|common))?|what|which|why|when|"
    r"where|who|whom)"
)
_DETERMINER = r"(?:the|a|an|any|some|all|its|their|his|her|our|my|your|this|that|these|those)"
_LEADING_SUBJECT = re.compile(
    rf"^\s*(?:{_WH}(?:\s+[\w'-]+){{0,3}}?\s+)?{_AUX}\s+(?:{_DETERMINER}\s+)?([\w'-]+)", re.I
)
# "What are the common side effects of the mpox vaccine?": a question about a property of
# something asks about that something, the complement of the property's "of"
_PROPERTY_OF = re.compile(
    rf"^\s*(?:what|which)\s+(?:is|are|was|were)\s+(?:the\s+)?(?:[\w'-]+\s+){{1,3}}?"
    rf"(?:of|for)\s+(?:{_DETERMINER}\s+)?([\w'-]+)",
    re.I,
)
# "Is there evidence that X ...?", "Is it safe to take X ...?": the "there" or "it" stands for
# what follows, whose first word is the subject
_EXPLETIVE = re.compile(
    rf"^\s*(?:(?:is|are|was|were)\s+there|does\s+it|do\s+they)\s+(?:any\s+|some\s+|a\s+|an\s+)?"
    r"(?:(?:good\s+|strong\s+|clinical\s+|scientific\s+)?(?:evidence|data|proof|research|"
    r"studies|trials?|role|benefit|link|association|place|need)\s+"
    r"(?:that|for|of|on|about|between|with|to)\s+)"
    rf"(?:{_DETERMINER}\s+)?([\w'-]+)|"
    r"^\s*(?:is|was)\s+it\s+(?:\w+\s+){1,2}?to\s+(?:take|use|give|combine|start|get|have|"
    rf"prescribe|mix)\s+(?:{_DETERMINER}\s+)?([\w'-]+)",
    re.I,
)
_PRONOUNS = frozenset(
    [
        *("we", "it", "they", "there", "this", "that", "these", "those", "you", "i", "he"),
        *("she", "one", "anyone", "anything", "someone", "something", "patients", "people"),
    ]
)
_WORD = re.compile(r"[\w'-]+")
PREFIX = 6  # letters a word shares with a corpus word to count as a form of it
MIN_LENGTH = 4  # shorter parts ("T" of "CAR-T", "2" of "HIV1/2") are no names on their own


def subject(question: str) -> str | None:
    """The subject word of ``question``'s question clause, or ``None`` (no auxiliary-led
    clause, or its subject is a pronoun)."""
    for clause in reversed(_SEPARATOR.split(question)):
        text = clause.strip()
        found = _EXPLETIVE.match(text)
        if found:
            return found.group(1) or found.group(2)
        found = _PROPERTY_OF.match(text) or _LEADING_SUBJECT.match(text)
        if found:
            word = found.group(1)
            return None if word.lower() in _PRONOUNS else word
        if any(tokenize(w) for w in _WORD.findall(clause)):
            return None  # the last clause with content is no question clause
    return None


def prefixes(tokens: Collection[str]) -> frozenset[str]:
    """The first ``PREFIX`` letters of every corpus token (its stem), for ``unknown_subject``."""
    return frozenset(t[:PREFIX] for t in tokens)


def unknown_subject(
    question: str,
    corpus_has: Callable[[str], bool],
    corpus_prefixes: Callable[[], Collection[str]],
    model_words: Container[str] = frozenset(),
) -> str:
    """The part of ``question``'s subject that names something the corpus never mentions
    (``corpus_has`` tells whether the corpus has a token; ``corpus_prefixes`` gives its tokens'
    first letters, ``prefixes``, asked for only when a subject is unseen; ``model_words`` the
    embedding model's whole words), or ``""``."""
    word = subject(question)
    if not word:
        return ""
    for part in re.split(r"[-/]", word):
        tokens = tokenize(part)
        if len(part) < MIN_LENGTH or not tokens or any(corpus_has(t) for t in tokens):
            continue
        low = part.lower()
        if (
            low in model_words
            or low[:PREFIX] in corpus_prefixes()
            or _run_together(low, corpus_has)
        ):
            continue
        return part
    return ""


def _run_together(word: str, corpus_has: Callable[[str], bool]) -> bool:
    """Whether ``word`` starts with a corpus word of four letters or more and goes on: two
    words typed as one ("umbilicalcord", "stemcells") are no new name."""
    return any(corpus_has(word[:i]) for i in range(MIN_LENGTH, len(word) - 1))
