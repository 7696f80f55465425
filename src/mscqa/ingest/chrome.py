"""What a line of site chrome looks like on its own: the cue labels and patterns that
``ingest.boilerplate`` judges each line by (see its docstring for the grounds).

Every pattern runs in linear time: anchored at the line's start with possessive quantifiers, or
bounded, or run only on short lines.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Set

# Labels of navigation lines (lower case, spaces collapsed).
NAVIGATION_LABELS = frozenset(
    {
        "prev", "previous", "next", "newer", "older", "previous article", "next article",
        "previous post", "next post", "previous page", "next page", "share", "share this",
        "share on", "tags", "tag", "tagged", "tagged with", "category", "categories",
        "filed under", "posted in", "related", "related articles", "related posts",
        "related news", "related stories", "recommended", "recommended reading", "see also",
        "read more", "more", "up next", "return", "back", "print", "follow us",
    }
)  # fmt: skip
# Labels of page-template fields: only a date, time or number follows them.
FIELD_LABELS = frozenset(
    {
        "date", "release date", "released", "released on", "release time", "publish date",
        "published", "published on", "publication date", "publish time", "posted", "posted on",
        "post date", "updated", "last updated", "updated on", "last modified", "modified",
        "time", "views", "view count", "reads", "hits", "clicks", "comments", "likes",
    }
)  # fmt: skip
_MAX_LABEL_CHARS = 30
_MAX_FIELD_VALUE_CHARS = 40
_MAX_NOTICE_CHARS = 300
_MAX_CONTEXT_WORDS = 5

HEADING = re.compile(r"[ \t]*#{1,6}[ \t]")
_BULLET = re.compile(r"[ \t]*+(?:[-*+\u2022\u00b7|>\u00bb\u203a\u00ab\u2039]+[ \t]*+)*+")
_LABELLED = re.compile(r"([^\W\d_][^\W\d_ '\u2019-]*+(?:[ '\u2019-][^\W\d_]++)*+)[ \t]*+[:\uff1a]")
_ARROWED = re.compile(
    r"(?:previous|prev|next|older|newer)[ \t]++(?:post|article|page|story|entry|item)s?\b",
    re.IGNORECASE,
)
_PHRASE = re.compile(
    r"(?:(?:return|back|go[ \t]++back|skip|jump)[ \t]++to(?:[ \t]++the)?[ \t]++"
    r"(?:list|top|home(?:[ \t]*+page)?|index|menu|(?:main[ \t]++)?content|navigation|search|"
    r"results|overview|previous[ \t]++page|(?:article|news|post)s?(?:[ \t]++list)?)|"
    r"(?:read|see|load|show|view)[ \t]++(?:more|all)|top[ \t]++of[ \t]++(?:the[ \t]++)?page)\b",
    re.IGNORECASE,
)
_NOTICE = re.compile(
    r"\u00a9|\(c\)[ \t]*+\d{4}|\ball rights reserved\b|\bcopyright\b[^.!?]{0,80}\d{4}|"
    r"\b(?:site|website|we)\b[^.!?]{0,40}\bcookies\b|\bcookie[ \t]++(?:policy|settings|consent)\b",
    re.IGNORECASE,
)
_MONTHS = (
    r"jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
    r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?|am|pm|utc|gmt"
)
# A date, a time or a count: digits, separators and month names only.
_FIELD_VALUE = re.compile(
    rf"(?:[\d\s,./:\-\u5e74\u6708\u65e5]|\b(?:{_MONTHS})\b\.?)++", re.IGNORECASE
)
_DIGIT = re.compile(r"\d")
_NOTICE_WORDS = ("\u00a9", "(c)", "reserved", "copyright", "cookie")
_SENTENCE_MARKS = ".!?;:\u3002\uff01\uff1f"
_CLOSERS = "\"'\u201d\u2019)]"
_SPACES = re.compile(r"\s+")


def classify_line(line: str, other_titles: Set[str] = frozenset()) -> str | None:
    """The ground on which one line (no newline) is boilerplate by itself, or ``None``."""
    if HEADING.match(line):
        return None
    reason, value = judge_line(line)
    if (
        reason is None
        and other_titles
        and (line_key(line) in other_titles or value in other_titles)
    ):
        return "link"
    return "navigation" if reason == "labelled" else reason


def judge_line(line: str) -> tuple[str | None, str]:
    """``line``'s ground without other documents, and the key of its value if it is labelled.

    Two grounds are weak, a line's place must confirm them (``ingest.boilerplate``):
    "labelled" (a navigation label: "Next: wash the cells" is also a protocol's step) and
    "field" ("Date: 12 March" is also a clinical note's)."""
    text = _BULLET.sub("", line, count=1).strip()
    if not text:
        return None, ""
    if (_ARROWED.match(text) or _PHRASE.match(text)) and _short_phrase(text):
        return "navigation", ""
    labelled = _LABELLED.match(text)
    value = ""
    if labelled and len(labelled.group(1)) <= _MAX_LABEL_CHARS:
        label = _SPACES.sub(" ", labelled.group(1)).lower()
        rest = text[labelled.end() :].strip()
        if _is_navigation_label(label):
            return "labelled", ""
        if (
            label in FIELD_LABELS
            and len(rest) <= _MAX_FIELD_VALUE_CHARS
            and _FIELD_VALUE.fullmatch(rest)
            and _DIGIT.search(rest)
        ):
            return "field", ""
        value = line_key(rest)
    if len(text) <= _MAX_NOTICE_CHARS and _notice(text):
        return "notice", value
    return None, value


def _is_navigation_label(label: str) -> bool:
    if label in NAVIGATION_LABELS:
        return True
    # One swap of two adjacent letters ("Prve" for "Prev"): a typo, not another word; a
    # substitution would turn "text" into "next".
    if " " in label or len(label) < 4:
        return False
    return any(
        label[:i] + label[i + 1] + label[i] + label[i + 2 :] in NAVIGATION_LABELS
        for i in range(len(label) - 1)
    )


def _notice(text: str) -> bool:
    low = text.lower()
    return any(w in low for w in _NOTICE_WORDS) and bool(_NOTICE.search(text))


def ends_sentence(text: str) -> bool:
    return text.rstrip().rstrip(_CLOSERS)[-1:] in tuple(_SENTENCE_MARKS)


def _short_phrase(text: str) -> bool:
    return len(text.split()) <= 6 and not ends_sentence(text)


def bare(text: str) -> bool:
    """A short line with no sentence punctuation: a bare link, a label, a heading."""
    return len(text.split()) <= _MAX_CONTEXT_WORDS and not ends_sentence(text)


def line_key(text: str) -> str:
    """A line as repetition compares it: NFKC, case-folded, whitespace collapsed."""
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text)
    return " ".join(text.casefold().split())
