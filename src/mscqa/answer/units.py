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
extractor did not recognise, a list item) is never a unit by itself. A sentence that *states an
aim* ("To determine whether ...", "We aimed to ...", "... remains unclear") restates what a
study asks, not what it found: the ranker (``answer.ranker``) weighs that.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence

MAX_UNIT = 4
# The sentence tests below are pure functions of a sentence's text, asked again for every unit a
# sentence is part of and for every question that retrieves it: remembered (a question's
# ranking ran ~1.5 ms of regular expressions over the same sentences without it).
_SENTENCE_CACHE = 16384

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
_STUDY = r"(study|work|paper|trial|analysis|review|report|survey|investigation|research)"
_AIMS = re.compile(
    # "To determine whether ...", "to describe variation in ..." (an objective's infinitive)
    r"^\W*to\s+(determine|assess|evaluate|examine|investigate|describe|compare|identify|"
    r"explore|test|study|establish|analy[sz]e|measure|estimate|review|report|characteri[sz]e|"
    r"clarify|ascertain|quantify|define|validate|develop|understand|elucidate|discuss|verify|"
    r"find\s+out|learn|see\s+whether|confirm)\b"
    # "Our aim was to ...", "The purpose of this study is to ..."
    r"|\b(aims?|purpose|objectives?|goals?)\b[^.;]{0,60}?\b(is|was|were|are)\s+to\b"
    r"|\bwe\s+(sought|aimed|set\s+out|hypothesi[sz]ed|(evaluated|examined|investigated|tested|"
    r"assessed|determined)\s+whether)\b"
    # "We evaluated in a randomized trial the hypothesis that ...", "... whether ..."
    r"|\bwe\s+\w+ed\b[^.;]{0,60}?\bthe\s+hypothes[ie]s\b"
    # "This study was designed to ...", "This study therefore prospectively assesses ..."
    rf"|\b(this|the\s+present|the\s+current|our)\s+{_STUDY}\s+(\w+ly\s+|therefore\s+){{0,2}}"
    r"(was\s+designed|was\s+undertaken|aims?|aimed|sought|seeks|intends|assess(es)?|"
    r"evaluates?|examines?|investigates?|explores?|describes?|compares?|addresses)\b"
    # the open question a study sets out to answer, and the premise it questions
    r"|\b(remains?|is|are)\s+(still\s+)?(unknown|unclear|uncertain|controversial|"
    r"not\s+(well\s+)?(known|understood|established|clear))\b"
    r"|\blittle\s+is\s+known\b|\bha(s|ve)\s+yet\s+to\s+be\b"
    r"|\b(little|limited|few|scarce)\s+(\w+\s+)?(data|evidence|studies|information|research)\b"
    r"|\bit\s+is\s+(generally\s+|widely\s+|commonly\s+|often\s+)?(assumed|believed|thought)\b",
    re.IGNORECASE,
)
# a question about the aim itself ("What did the study set out to test?") is answered by one
_ASKS_AIM = re.compile(
    r"\b(aims?|aimed|purpose|objectives?|goals?|hypothes\w*|set\s+out|designed\s+to|"
    r"why\s+(was|were|did)\s+(the|this|they))\b",
    re.IGNORECASE,
)


@functools.lru_cache(maxsize=_SENTENCE_CACHE)
def states_aim(sentence: str) -> bool:
    """Whether ``sentence`` states what a study asks (its aim, or the open question it takes
    up) rather than what it found: "To determine if clinical variables identify ...", "Our aim
    was to assess ...", "... its role in primary rectal cancer remains uncertain." Such a
    sentence shares the question's words and says nothing that answers it."""
    return bool(_AIMS.search(sentence))


def asks_aim(question: str) -> bool:
    """Whether ``question`` asks for an aim itself, so an aim sentence is its answer."""
    return bool(_ASKS_AIM.search(question))


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


@functools.lru_cache(maxsize=_SENTENCE_CACHE)
def is_pointer(sentence: str) -> bool:
    """Whether ``sentence`` announces content that the next sentences give."""
    text = sentence.strip()
    if text.endswith(":"):
        return True
    short = len(text.split()) <= _POINTER_WORDS
    return short and bool(_ANNOUNCES.search(text) or _ANNOUNCED_PLURAL.search(text))


@functools.lru_cache(maxsize=_SENTENCE_CACHE)
def exemplifies(sentence: str) -> bool:
    """Whether ``sentence`` illustrates the sentence before it ("For example, ...")."""
    return bool(_EXEMPLIFIES.match(sentence))


@functools.lru_cache(maxsize=_SENTENCE_CACHE)
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
