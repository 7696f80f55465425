"""Expected answer types: a question that asks for a figure needs a sentence that gives one.

"In which year did the FDA approve Prochymal?" is not answered by a sentence about Prochymal
that names no year; quoting it would look like an answer while not being one. Only questions
that plainly ask for a year, a count, an amount of money, a dose or another quantity get a type;
every other question is unconstrained.
"""

from __future__ import annotations

import re

_NUMBER = r"(?:\d[\d,.]*|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|hundred|thousand|million|billion|dozen|half|double|doubles|twice)"  # noqa: E501
_HAS_NUMBER = re.compile(rf"\b{_NUMBER}\b", re.IGNORECASE)
_HAS_YEAR = re.compile(r"\b(1[89]\d\d|20\d\d)\b")
_HAS_MONEY = re.compile(
    r"[$€£¥]\s?\d|\b\d[\d,.]*\s?(?:dollars?|usd|euros?|eur|yuan|rmb|yen|pounds?|won)\b",
    re.IGNORECASE,
)
_HAS_DOSE = re.compile(
    rf"\b{_NUMBER}\s?(?:x\s?10\S*\s?)?(?:mg|ml|µg|ug|g|kg|cells?|million cells|units?)\b",
    re.IGNORECASE,
)

_NAME_Q = re.compile(r"\b(names?|named|brand|called|trade ?mark)\b", re.I)
_QUOTED = re.compile(r"[\"\u201c][^\"\u201d]{2,80}[\"\u201d]")
_PROPER = re.compile(r"(?<=[a-z,;:(] )[A-Z][A-Za-z0-9-]+")
_PLACES = frozenset(
    [
        "China",
        "Japan",
        "Korea",
        "South",
        "United",
        "States",
        "America",
        "U.S.",
        "US",
        "Europe",
        "European",
        "Chinese",
        "Japanese",
        "Korean",
        "American",
    ]
)
_YEAR_Q = re.compile(r"\b(which|what) year\b|\bwhen (did|was|were)\b|\bsince when\b", re.I)
_MONEY_Q = re.compile(
    r"\bhow much\b.*\b(cost|costs|price|pay|charge|expensive)\b|\b(cost|price)s? (in|of)\b.*"
    r"\b(dollars?|euros?|yuan|usd)\b|\bexchange rate\b|\bin (us )?dollars\b",
    re.I,
)
_DOSE_Q = re.compile(r"\b(what|which|how much|how many)\b.*\bdos(e|es|age)\b", re.I)
_COUNT_Q = re.compile(r"\bhow many ([a-z-]+)", re.I)
_QUANTITY_Q = re.compile(
    r"\bhow (long|much|far|often|old|large|big|fast)\b|\bwhat (percentage|proportion|rate)\b|"
    r"\b(survival|success|response) rate\b",
    re.I,
)


def expected_type(question: str) -> tuple[str, str | None] | None:
    """``(type, detail)`` for questions asking for a figure, else ``None``.

    Types: ``year``, ``money``, ``dose``, ``count`` (detail = the counted noun), ``quantity``,
    ``name`` (detail = the question, whose own words do not count as the name).
    """
    if _YEAR_Q.search(question):
        return ("year", None)
    if _MONEY_Q.search(question):
        return ("money", None)
    if _DOSE_Q.search(question):
        return ("dose", None)
    if _NAME_Q.search(question):
        return ("name", question)
    m = _COUNT_Q.search(question)
    if m:
        return ("count", m.group(1).lower())
    if _QUANTITY_Q.search(question):
        return ("quantity", None)
    return None


def satisfies(kind: tuple[str, str | None], sentence: str) -> bool:
    """Whether ``sentence`` contains a figure of the expected kind."""
    name, detail = kind
    if name == "year":
        return bool(_HAS_YEAR.search(sentence))
    if name == "money":
        return bool(_HAS_MONEY.search(sentence))
    if name == "dose":
        return bool(_HAS_DOSE.search(sentence))
    if name == "name":
        if _QUOTED.search(sentence):
            return True
        asked = set(re.findall(r"[A-Za-z0-9-]+", (detail or "").lower()))
        return any(w not in _PLACES and w.lower() not in asked for w in _PROPER.findall(sentence))
    if name == "count":
        stem = (detail or "")[:5]
        return bool(re.search(rf"\b{_NUMBER}\s+(?:\S+\s+){{0,2}}{re.escape(stem)}", sentence, re.I))
    return bool(_HAS_NUMBER.search(sentence))
