"""Abbreviations defined in the documents themselves: "long form (SF)" pairs, mined at index time.

Schwartz & Hearst, "A simple algorithm for identifying abbreviation definitions in biomedical
text" (PSB 2003): a short form in parentheses after its long form (or, rarely, the reverse),
where every letter and digit of the short form occurs in the long form in order, scanning right
to left, and the short form's first character starts a word of the long form. The long form is
at most ``min(len(SF) + 5, 2 * len(SF))`` words. So "graft-versus-host disease (GVHD)" and
"bone marrow mesenchymal stem cells (BM-MSCs)" are found; "Intelligent Enterprise Management
Institute (SMART)" is not (no R before the A), nor is a misspelt "(GVDH)".

One extension: a short form must contain a capital letter or a digit, which keeps ordinary
words in parentheses ("(safety)", "(such as ...)") out.

>>> [(a.short, a.long) for a in mine("tumor necrosis factor-α (TNF-α) and interleukin-1 (IL-1)")]
[('TNF-α', 'tumor necrosis factor-α'), ('IL-1', 'interleukin-1')]
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

_PAREN = re.compile(r"\(([^()\n]{1,60})\)")
# Where a long form cannot reach back past: a sentence end, a clause mark, an earlier bracket.
_CLAUSE = re.compile(r"[.;:!?](?=\s)|[\[\]()\n]")
MAX_SHORT = 10
# How far before a bracket a long form is looked for: it has at most 2 * MAX_SHORT words.
# Looking back to the clause start itself took time quadratic in the text (one rescan from the
# start for every bracket: 4000 "(AB)"s took 8 s; tests/test_linear_time.py).
_LOOKBACK = 1000


@dataclass(frozen=True, slots=True)
class Abbreviation:
    short: str
    long: str


def mine(text: str) -> list[Abbreviation]:
    """Every abbreviation ``text`` defines, in order of first definition, without repeats."""
    found: dict[tuple[str, str], Abbreviation] = {}
    clause_starts = [m.end() for m in _CLAUSE.finditer(text)]
    for m in _PAREN.finditer(text):
        inner = m.group(1).strip()
        before = _clause_before(text, m.start(), clause_starts)
        pair = _definition(inner, before)
        if pair is None and (len(inner.split()) > 2 or len(inner) > MAX_SHORT):
            # the reverse pattern, "SF (long form)": the word before the bracket is the short form
            words = before.split()
            if words:
                pair = _pair(words[-1].strip(",;:"), inner)
        if pair is not None:
            found.setdefault((pair.short.lower(), pair.long.lower()), pair)
    return list(found.values())


def _clause_before(text: str, paren: int, clause_starts: list[int]) -> str:
    """The text from the clause start before ``paren`` (at most ``_LOOKBACK`` characters)."""
    i = bisect.bisect_right(clause_starts, paren) - 1
    start = clause_starts[i] if i >= 0 else 0
    return text[max(start, paren - _LOOKBACK) : paren].rstrip()


def _definition(inner: str, before: str) -> Abbreviation | None:
    short = inner.split(",")[0].split(";")[0].strip()
    if len(short.split()) > 2:
        return None
    words = before.split()
    limit = min(len(short) + 5, 2 * len(short))
    return _pair(short, " ".join(words[-limit:]))


def _pair(short: str, long: str) -> Abbreviation | None:
    if not _is_short_form(short) or not long:
        return None
    found = _match(short, long)
    if found is None:
        return None
    start, used = found
    best = long[start:]
    words = best.split()
    if len(best) <= len(short) or short.lower() in (w.lower() for w in words):
        return None
    if len(words) > min(len(short) + 5, 2 * len(short)):
        return None
    # Every word of the long form gives the short form a character, starts with one of its
    # letters (the right-to-left match may have taken "Drug"'s D from "Administration"), or is a
    # function word: "not undergo PCD" is not what "NPCD" abbreviates.
    letters = {c.lower() for c in short if c.isalnum()}
    pos = start
    for word in words:
        at = long.index(word, pos)
        pos = at + len(word)
        if (
            not any(at <= u < pos for u in used)
            and word[0].lower() not in letters
            and word.lower() not in _FUNCTION_WORDS
        ):
            return None
    return Abbreviation(short, best.strip(" ,;:"))


_FUNCTION_WORDS = frozenset(
    [
        *("a", "an", "and", "as", "at", "by", "de", "for", "from", "in", "into", "of", "on"),
        *("or", "the", "to", "via", "vs", "with"),
    ]
)


def _is_short_form(short: str) -> bool:
    return (
        2 <= len(short) <= MAX_SHORT
        and short[0].isalnum()
        and any(c.isalpha() for c in short)
        and any(c.isupper() or c.isdigit() for c in short)
    )


def best_long_form(short: str, long: str) -> str | None:
    """The shortest end of ``long`` that holds ``short``'s letters and digits in order, the
    first of them at a word start (Schwartz & Hearst's ``findBestLongForm``); else ``None``."""
    found = _match(short, long)
    return None if found is None else long[found[0] :]


def _match(short: str, long: str) -> tuple[int, list[int]] | None:
    """Right to left: where the long form starts and the positions its characters matched."""
    s = len(short) - 1
    i = len(long) - 1
    used: list[int] = []
    while s >= 0:
        c = short[s].lower()
        if not c.isalnum():
            s -= 1
            continue
        while i >= 0 and (long[i].lower() != c or (s == 0 and i > 0 and long[i - 1].isalnum())):
            i -= 1
        if i < 0:
            return None
        used.append(i)
        i -= 1
        s -= 1
    return long.rfind(" ", 0, i + 1) + 1, used
