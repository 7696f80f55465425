"""Follow-up questions: decide when a question leans on the conversation before it.

"How are they collected?" after a question about adipose MSCs means "How are adipose MSCs
collected?". A question that stands on its own ("What is Prochymal?") is left alone, so history
never makes retrieval of standalone questions worse.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from mscqa.types import Turn

_ANAPHORA = re.compile(
    r"\b(they|them|their|theirs|it|its|this|that|these|those|there|such|the same|"
    r"he|she|one|ones|former|latter)\b",
    re.IGNORECASE,
)
_ELLIPSIS = re.compile(
    r"^\s*(and|also|what about|how about|and what about|what else)\b", re.IGNORECASE
)
# Openers that make a follow-up only when little else is said ("Why?", "Really?", "Any others?").
_SHORT_OPENER = re.compile(r"^\s*(why|how so|really|or|but|any|same)\b", re.IGNORECASE)
_EXISTENTIAL = re.compile(r"\b(is|are|was|were) there\b|\bthere (is|are|was|were)\b", re.I)
_WORD = re.compile(r"[A-Za-z][A-Za-z'-]+")
_FUNCTION_WORDS = frozenset(
    [
        "what",
        "which",
        "who",
        "whom",
        "whose",
        "when",
        "where",
        "why",
        "how",
        "is",
        "are",
        "was",
        "were",
        "do",
        "does",
        "did",
        "can",
        "could",
        "would",
        "should",
        "will",
        "the",
        "a",
        "an",
        "of",
        "in",
        "on",
        "for",
        "to",
        "and",
        "or",
        "with",
        "from",
        "by",
        "about",
        "any",
        "there",
        "it",
        "they",
        "them",
        "this",
        "that",
        "these",
        "those",
        "be",
        "been",
        "being",
        "have",
        "has",
        "had",
        "so",
        "as",
        "at",
        "more",
        "most",
        "less",
        "much",
        "many",
    ]
)


# a question of at most this many content words that names no subject leans on the conversation
SUBJECTLESS_WORDS = 3


def is_follow_up(question: str) -> bool:
    """True when the question needs earlier turns to be understood."""
    content = [w for w in _WORD.findall(question) if w.lower() not in _FUNCTION_WORDS]
    if _ELLIPSIS.search(question):
        return True
    if _SHORT_OPENER.search(question) and len(content) <= 2:
        return True
    if _ANAPHORA.search(_EXISTENTIAL.sub(" ", question)) and len(content) <= 6:
        return True
    return len(content) <= 1


def contextualize(
    question: str,
    history: Sequence[Turn],
    max_user_turns: int = 2,
    *,
    names_subject: bool = True,
) -> str:
    """The text to retrieve with: the question, prefixed by recent user turns if it is a follow-up.

    Only user turns are used: assistant turns are quotes from the corpus, and the user's own
    words carry the topic ("adipose MSCs") the follow-up refers to. ``names_subject=False``
    (the retriever found nothing in the question that the documents are about, see
    ``Retriever.names_subject``) makes a short question a follow-up too: "Was there a clinical
    study?" after a question about arthritis.
    """
    previous = context_turns(question, history, max_user_turns, names_subject=names_subject)
    return " ".join([*previous, question]) if previous else question


def context_turns(
    question: str,
    history: Sequence[Turn],
    max_user_turns: int = 2,
    *,
    names_subject: bool = True,
) -> list[str]:
    """The earlier user turns a follow-up leans on, oldest first (none for a standalone one)."""
    if not history:
        return []
    content = [w for w in _WORD.findall(question) if w.lower() not in _FUNCTION_WORDS]
    short = len(content) <= SUBJECTLESS_WORDS
    if not (is_follow_up(question) or (not names_subject and short)):
        return []
    return _user_turns(history)[-max_user_turns:]


def with_conversation(question: str, history: Sequence[Turn], max_user_turns: int = 2) -> str:
    """``question`` after the conversation's last ``max_user_turns`` user turns, whether or not
    it reads as a follow-up ("" when there are none): the other reading of a question that
    names a subject of its own but may still lean on the turns before it."""
    previous = _user_turns(history)[-max_user_turns:]
    return " ".join([*previous, question]) if previous else ""


def _user_turns(history: Sequence[Turn]) -> list[str]:
    """The user's turns of ``history`` that say something, oldest first."""
    return [t.content for t in history if t.role == "user" and t.content.strip()]
