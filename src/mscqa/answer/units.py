"""Answer units: a sentence, or a run of adjacent sentences of one passage that belong together.

A sentence that announces what follows ("X also has obvious disadvantages.", "... as follows:",
"the following ...:") says nothing by itself; the sentences that complete it ("For example,
...", "In addition, ...") are the content. Quoting the announcement alone answers nothing, and
quoting "For example, the number of cells is limited" without the claim it illustrates loses
what it is an example of. So a unit is built around each sentence:

- a sentence that *exemplifies* ("For example", "For instance", "Such as", "Specifically",
  "These include") takes the sentence before it (the claim);
- a *pointer* (a colon at the end, "as follows", "the following", or a short sentence that
  ends on an announced plural: "has several advantages.") takes the next sentence, and then
  every following one that continues it ("In addition", "Also", "Moreover", "Second", ...);

at most ``MAX_UNIT`` sentences, never past the passage. The rules read the sentences' own
words, not any document's content, so they hold for any corpus.

A *bare line* (a short line standing alone, not ended as a sentence is: a heading the
extractor did not recognise, a list item) is never a unit by itself.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

MAX_UNIT = 4

_EXEMPLIFIES = re.compile(
    r"^\W*(for example|for instance|e\.g\.|such as|specifically|in particular|namely|"
    r"these include|they include|this includes|including)\b",
    re.IGNORECASE,
)
_CONTINUES = re.compile(
    r"^\W*(for example|for instance|e\.g\.|such as|specifically|in particular|namely|"
    r"in addition|additionally|moreover|furthermore|besides|also|another|other|"
    r"first(ly)?|second(ly)?|third(ly)?|fourth(ly)?|finally|lastly|then|next|"
    r"these include|they include|this includes)\b",
    re.IGNORECASE,
)
_ANNOUNCES = re.compile(
    r"\b(as follows|the following|following (are|is|were|was)|are listed|listed below|below)\b",
    re.IGNORECASE,
)
_PLURALS = (
    "advantages|disadvantages|drawbacks|downsides|limitations|shortcomings|weaknesses|"
    "strengths|benefits|features|characteristics|properties|types|kinds|forms|classes|"
    "categories|steps|stages|phases|reasons|causes|problems|issues|challenges|risks|"
    "applications|uses|indications|effects|functions|roles|ways|methods|approaches|"
    "factors|components|parts|elements|examples|options|sources|differences|similarities"
)
_QUANTIFIERS = (
    "some|several|many|a few|a number of|numerous|various|multiple|certain|obvious|clear|"
    "distinct|important|major|main|key|notable|significant|two|three|four|five|six|both|"
    "its own|their own|the following"
)
_ANNOUNCED_PLURAL = re.compile(
    rf"\b({_QUANTIFIERS})\s+(\w+\s+){{0,2}}({_PLURALS})\s*[.:]?\s*$", re.IGNORECASE
)
_POINTER_WORDS = 16  # an announcing sentence is short: longer ones carry content of their own


_LINE_WORDS = 12


def bare_line(text: str, start: int, end: int) -> bool:
    """Whether ``text[start:end]`` (a sentence of a passage's ``text``) is a short line alone
    on its line that does not end as a statement does: "Bone marrow MSCs (BM-MSCs)", "What
    is a stem cell?". A heading names what follows; it answers nothing."""
    line = text[start:end].strip()
    before = text[:start].rstrip(" \t")
    after = text[end:].lstrip(" \t")
    return (
        (not before or before.endswith("\n"))
        and (not after or after.startswith("\n"))
        and "\n" not in line
        and len(line.split()) <= _LINE_WORDS
        and not line.endswith((".", "!", ";", ":", ","))
    )


def is_pointer(sentence: str) -> bool:
    """Whether ``sentence`` announces content that the next sentences give."""
    text = sentence.strip()
    if text.endswith(":"):
        return True
    short = len(text.split()) <= _POINTER_WORDS
    return short and bool(_ANNOUNCES.search(text) or _ANNOUNCED_PLURAL.search(text))


def exemplifies(sentence: str) -> bool:
    """Whether ``sentence`` illustrates the sentence before it ("For example, ...")."""
    return bool(_EXEMPLIFIES.match(sentence))


def continues(sentence: str) -> bool:
    """Whether ``sentence`` goes on with the one before it ("In addition, ...")."""
    return bool(_CONTINUES.match(sentence))


def unit_around(texts: Sequence[str], i: int) -> tuple[int, int, bool]:
    """The unit of sentence ``i`` among a passage's sentences ``texts``: ``(first, last,
    complete)`` indices (inclusive); ``complete`` is False when the unit ends on a pointer whose
    completion is not in the passage (the next part of the document, if any, is not here)."""
    first = last = i
    if exemplifies(texts[i]) and i > 0:
        first = i - 1
    # a pointer among the unit's sentences takes what completes it
    if not any(is_pointer(texts[j]) for j in range(first, last + 1)):
        return first, last, True
    if is_pointer(texts[last]):
        if last + 1 >= len(texts):
            return first, last, False
        last += 1
    while last + 1 < len(texts) and last - first + 1 < MAX_UNIT and continues(texts[last + 1]):
        last += 1
    return first, last, True
