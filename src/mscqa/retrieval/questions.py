"""What a question's own text says: the names it uses, its sub-questions, the corpus's subjects.

Pure functions of the question and the snapshot's vocabulary, used by the retriever: the
capitalised names in a question (``NAME``), where a compound question splits into parts
("What is X, and how is Y done?"), and which words name something the documents are about
(abbreviations they define and their long forms, words of their section headings).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from mscqa.index import IndexSnapshot
from mscqa.index.lexical import tokenize
from mscqa.retrieval.subject import subject
from mscqa.retrieval.vocabulary import QUESTION_WORDS, Term

NAME = re.compile(r"\b[A-Za-z]*[A-Z][A-Za-z0-9'-]*")
# What makes a capitalised word no name: the pronoun "I" ("I've", "I'm"), and a sentence's
# first word, the question's own or one after a full stop, colon or question mark before it
# ("My sister has lupus. Do they ...?": "Do" is no name)
_PRONOUN_I = re.compile(r"I(?:'[a-z]{1,2})?$")
_SENTENCE_END = re.compile(r"(?:^|[.?!:;])[\s\"'(\[]*$")
_NOT_ALNUM = re.compile(r"[^a-z0-9]+")


def capitalised_words(question: str) -> list[tuple[str, bool]]:
    """The question's capitalised words (``NAME``) each with whether it opens a sentence, less
    the pronoun "I" and its contractions (capitalised wherever they stand).

    >>> capitalised_words("My sister has lupus. Do MSCs help? I've read so.")
    [('My', True), ('Do', True), ('MSCs', False)]
    """
    out = []
    for m in NAME.finditer(question):
        word = m.group()
        if _PRONOUN_I.match(word):
            continue
        out.append((word, bool(_SENTENCE_END.search(question, 0, m.start()))))
    return out


def squashed(name: str) -> str:
    """``name`` in lower case with letters and digits only, so that the spellings of one short
    form meet: "IL-1", "IL1" and "il 1" are all ``"il1"``."""
    return _NOT_ALNUM.sub("", name.lower())


_WORD = re.compile(r"[A-Za-z][A-Za-z'-]*")
# the short words a title leaves in lower case ("Outcome Feedback within Emergency Medicine")
_TITLE_LOWER = frozenset(
    [
        *("with", "from", "into", "onto", "upon", "than", "versus", "within", "without"),
        *("between", "among", "after", "before", "during", "through", "under", "over"),
        *("about", "against", "across"),
    ]
)
_TITLE_WORDS = 4  # fewer capitalised words than this do not tell a title from names
# Where a compound question splits: another question mark, a semicolon, or "and"/a comma
# followed by a new question word ("..., and how is it collected?") or "and" followed by a
# command ("Explain X and name Y").
_QUESTION_WORD = (
    r"(?:what|how|which|why|where|who|whom|whose|when|is|are|was|were|does|do|did|can|could|"
    r"has|have|had|should|will|would)\b"
)
# a word in more than this share of the passages is the corpus's common ground, not a subject
SUBJECT_MAX_DF = 0.3
_QUESTION_TOKENS = frozenset(t for w in QUESTION_WORDS for t in tokenize(w))
# an ask can also be a command coordinated with another one ("Explain X and name Y")
# the most parts of a compound question that get a piece each
MAX_PARTS = 4
_COMMAND = r"(?:explain|describe|name|list|give|say|define|outline|summari[sz]e)\b"
_PARTS = re.compile(
    rf"\?\s+|;\s*|,?\s+(?:and|but|or)\s+(?={_QUESTION_WORD}|{_COMMAND})"
    rf"|,\s+(?={_QUESTION_WORD})",
    re.I,
)


# Words that point at the documents in general ("according to the text", "in the article",
# "what does the passage say ..."): every passage is in "the article", so they are no content
# words, but they count as terms that no sentence holds and pull the question's vector toward
# passages that mention an article. A named part of it ("according to the closing note") is
# content and stays.
_DOCUMENT = (
    r"(?:text|texts|article|articles|document|documents|passage|passages|paper|report|source|"
    r"sources|author|authors|writer|editor)"
)
_FILLER = re.compile(
    rf"\b(?:according to|based on|as (?:stated|said|mentioned|described|reported|written) in|"
    rf"in|from|within)\s+(?:the|this|these|your|those)\s+(?:given\s+|provided\s+)?{_DOCUMENT}"
    rf"(?:\s+(?:provided|given|above|below|here))?\b\s*,?|"
    rf"\b(?:does|do|did)\s+(?:the|this)\s+{_DOCUMENT}\s+(?:say|says|mention|state|tell|claim|"
    rf"suggest|report|describe|explain)\b|"
    rf"\b(?:that|which)\s+(?:the|this)\s+{_DOCUMENT}\s+(?:mentions|says|states|describes|"
    rf"lists|gives|reports)\b",
    re.I,
)


def drop_filler(question: str) -> str:
    """``question`` without the phrases that point at the documents in general ("according
    to the text", "in the article", "what does the passage say ..."), so that they do not count
    as words to match; the question itself when nothing else would be left.

    >>> drop_filler("According to the article, how are fat MSCs collected?")
    'how are fat MSCs collected?'
    >>> drop_filler("What does the text say about the risks?")
    'What about the risks?'
    """
    stripped = _FILLER.sub(" ", question)
    if stripped == question:
        return question
    stripped = re.sub(r"\s{2,}", " ", stripped).strip(" ,")
    stripped = re.sub(r"\s+([?.,!])", r"\1", stripped)
    return stripped if _WORD.search(stripped) else question


def subject_terms(question: str, terms: Sequence[Term]) -> frozenset[int]:
    """The indices of ``terms`` (the question's) that hold its subject word (``subject``): a
    word, or a phrase one of whose forms has the word ("MSC" in "MSC products")."""
    word = subject(question)
    if not word:
        return frozenset()
    tokens = set(tokenize(word))
    return frozenset(i for i, t in enumerate(terms) if any(tokens & form for form in t.forms))


def question_parts(question: str, terms: list[Term]) -> tuple[frozenset[int], ...]:
    """The terms of each sub-question of a compound question ("What is X, and how is Y
    done?"), as indices of ``terms``; empty for a question of one part. A part repeated is one
    part, and only the first ``MAX_PARTS`` count: an answer quotes a few pieces, and the
    answerer weighs its parts' candidates together (a product over the parts)."""
    pieces = [p for p in _PARTS.split(question) if p and p.strip()]
    if len(pieces) < 2:
        return ()
    out: dict[frozenset[int], None] = {}
    for piece in pieces:
        words = set(tokenize(piece))
        idx = frozenset(i for i, t in enumerate(terms) if words & t.forms[0])
        if idx:
            out[idx] = None
            if len(out) == MAX_PARTS:
                break
    return tuple(out) if len(out) > 1 else ()


# a part of a compound question with less than this share of its term weight in the corpus
# is about something the documents do not hold
PART_KNOWN = 0.5


def answerable_terms(
    terms: list[Term], parts: tuple[frozenset[int], ...], known: Callable[[Term], bool]
) -> list[Term]:
    """``terms`` without those of the parts of a compound question that the documents do not
    hold (less than ``PART_KNOWN`` of the part's weight in terms ``known`` says the corpus
    has): "What is Prochymal, and what does Zqvex cost?" is judged on its first part, so the
    part no passage can answer neither sinks the answer to the other (the share of the
    question the corpus knows) nor is padded with a near piece. With no parts, or no part
    the documents hold, ``terms`` as they are."""
    if not parts:
        return terms
    absent: set[int] = set()
    for part in parts:
        total = sum(terms[i].weight for i in part)
        held = sum(terms[i].weight for i in part if known(terms[i]))
        if total and held / total < PART_KNOWN:
            absent |= part
    kept = set().union(*parts) - absent
    if not absent or not kept:
        return terms
    return [t for i, t in enumerate(terms) if i not in absent or i in kept]


def in_title_case(question: str) -> bool:
    """Whether ``question`` is written as a title: after its first word, every word of four
    letters or more (the short words titles leave in lower case aside) is capitalised, and
    there are at least ``_TITLE_WORDS`` of them. "Assessing Patient Reported Outcomes ...: Are
    We Measuring the Same Thing?" is; "Has the European Medicines Agency approved MSCs?" is not.
    In a title a capital marks every word, so it does not mark a name.
    """
    words = [w for w in _WORD.findall(question)[1:] if len(w) >= 4]
    words = [w for w in words if w.lower() not in _TITLE_LOWER]
    return len(words) >= _TITLE_WORDS and all(w[0].isupper() for w in words)


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


# An acronym in a question: three to six capitals (a plural "s" aside), "GVHD", "SLE", "CARs";
# not a piece of a hyphenated name ("CAR-T", "IL-1"), which its initials do not spell
ACRONYM = re.compile(r"(?<![\w-])([A-Z]{3,6})s?(?![\w-])")
_LONG_WORD = re.compile(r"[A-Za-z][A-Za-z']*")
# the small words an acronym's letters skip ("Food and Drug Administration" is FDA)
_SKIPPED = frozenset(["of", "and", "the", "for", "in", "on", "to", "with", "a", "an", "by"])


def spelt_out(acronym: str, texts: list[str]) -> str | None:
    """The phrase of ``texts`` whose words' initials spell ``acronym``, if exactly one does
    ("graft-versus-host disease" for "GVHD", "systemic lupus erythematosus" for "SLE"):
    the long form of an abbreviation the text never defines, written out where it is used.

    Words are split at hyphens, the small words of ``_SKIPPED`` are passed over, and every
    word spelling a letter has three letters or more. Several different phrases, or none:
    None. Two letters spell too many phrases ("OA": "observed after"), so an acronym has
    three or more."""
    letters = acronym.lower()
    if not 3 <= len(letters) <= 6:
        return None
    shortest = 3
    found: dict[str, str] = {}
    for text in texts:
        words = [m for m in _LONG_WORD.finditer(text) if m.group(0).lower() not in _SKIPPED]
        initials = "".join(m.group(0)[0].lower() for m in words)
        at = initials.find(letters)
        while at >= 0:
            run = words[at : at + len(letters)]
            if all(len(m.group(0)) >= shortest for m in run):
                phrase = text[run[0].start() : run[-1].end()]
                found.setdefault(" ".join(tokenize(phrase)), phrase)
            at = initials.find(letters, at + 1)
    return next(iter(found.values())) if len(found) == 1 else None
