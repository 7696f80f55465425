"""The role of a section in a structured text, read from its heading.

A scientific abstract or paper is written in the IMRaD order (introduction, methods, results,
and discussion), and its section headings say which part a sentence belongs to: the
"BACKGROUND", "OBJECTIVE", "PATIENTS AND METHODS", "RESULTS" of a structured abstract. The US
National Library of Medicine maps the thousands of labels that journals use onto five
categories, BACKGROUND, OBJECTIVE, METHODS, RESULTS and CONCLUSIONS ("Structured Abstracts in
MEDLINE", https://www.nlm.nih.gov/bsd/policy/structured_abstracts.html); the words below are
the heads of that mapping. A heading that uses none of them (a topic heading such as
"Adipose mesenchymal stem cells", every heading of a text that is no report of a study) has
no role, so nothing changes for such a text.

Which sentence answers a question about a study is most often one of its results: the aim and
background restate what the question asks, the methods say what was done to find out.
"""

from __future__ import annotations

import functools
import re

ROLES = ("background", "methods", "results", "conclusions")

# heading word (singular) -> role
_BACKGROUND = "background introduction context objective aim purpose goal hypothesis rationale"
_METHODS = (
    "method methodology material design setting patient participant subject proband population "
    "sample intervention measurement measure procedure outcome"
)
_WORDS = {
    **dict.fromkeys(_BACKGROUND.split(), "background"),
    **dict.fromkeys(_METHODS.split(), "methods"),
    **dict.fromkeys(["result", "finding", "observation"], "results"),
    **dict.fromkeys(["conclusion", "discussion", "interpretation", "limitation"], "conclusions"),
}
_WORD = re.compile(r"[a-z]+")
# a heading of a structured text is short; a longer one is a topic heading that happens to
# use one of the words ("Methods of isolating bone marrow mesenchymal stem cells")
_MAX_WORDS = 5


@functools.lru_cache(maxsize=4096)
def section_role(heading: str | None) -> str | None:
    """The IMRaD role (one of ``ROLES``) a section heading names, or None.

    >>> section_role("PATIENTS AND METHODS"), section_role("Results"), section_role("Adipose MSCs")
    ('methods', 'results', None)
    """
    if not heading:
        return None
    words = _WORD.findall(heading.lower())
    if not words or len(words) > _MAX_WORDS:
        return None
    # every word must be a role word or a joining one, so that a topic heading ("Results of
    # the Japanese trials") has none; "METHODS AND RESULTS" reports results, otherwise the last
    # role word decides ("AIMS AND BACKGROUND" is background, "OBJECTIVE AND METHODS" methods)
    roles = [_WORDS.get(_singular(w)) for w in words if w not in _JOINING]
    if not roles or None in roles:
        return None
    if "results" in roles:
        return "results"
    return roles[-1]


def _singular(word: str) -> str:
    return word[:-1] if word.endswith("s") and not word.endswith(("ss", "is", "us")) else word


_JOINING = frozenset(
    [
        "and",
        "or",
        "of",
        "the",
        "main",
        "study",
        "primary",
        "secondary",
        "key",
        "principal",
        "summary",
        "data",
        "basic",
        "research",
        "case",
        "clinical",
        "experimental",
    ]
)


# A question about how a study was done ("How was leg perfusion monitored ...?", "Which hearing
# tests were done ...?") is answered by its methods, every other question about it by a
# finding: the question asks about a procedure when it uses a past participle of doing,
# measuring or giving (the verbs with which methods sections report what was done).
_PROCEDURE = re.compile(
    r"\b(used|done|performed|measured|assessed|monitored|recorded|applied|administered|given|"
    r"received?|linked|connected|treated|made|built|collected|obtained|selected|defined|"
    r"calculated|estimated|analy[sz]ed|tested|examined|evaluated|scored|classified|grouped|"
    r"divided|randomi[sz]ed|allocated|recruited|enrolled|included|identified|diagnosed|"
    r"conducted|carried out|designed)\b",
    re.IGNORECASE,
)
# "What geographic units did the study use?", "Which scale did they apply?": the verb's base
# form after the question's "did" (not in a clause of its own: "... who did not use statins")
_DID_PROCEDURE = re.compile(
    r"^\W*(?:what|which)\b(?:\s+[\w'-]+){0,4}?\s+(?:did|do|does)\s+"
    r"(?:(?!(?:who|that|which|not)\b)[\w'-]+\s+){1,8}?(use|employ|apply|measure|assess|monitor|record|"
    r"administer|give|link|collect|obtain|select|define|calculate|estimate|analy[sz]e|test|"
    r"examine|evaluate|score|classify|recruit|enrol|enroll|include|conduct|design)\b",
    re.IGNORECASE,
)
_HOW = re.compile(r"^\W*(?:\w+\W+){0,3}?how (?:was|were|is|are|did|do|does)\b", re.IGNORECASE)
_YES_NO = re.compile(
    r"^\W*(?:\w+,\s*)?(?:did|does|do|is|are|was|were|has|have|had|can|could|will|would|should)\b",
    re.IGNORECASE,
)
_HOW_FINDING = re.compile(
    r"\bhow (?:was|were|is|are|did|do|does)\b.*\b(differ|different|affect|affected|associated|"
    r"related|change|changed|compare|compared|correlate|correlated)\b",
    re.IGNORECASE,
)


def asks_method(question: str) -> bool:
    """Whether ``question`` asks how something was done rather than what was found.

    >>> asks_method("How was leg perfusion monitored during surgery?")
    True
    >>> asks_method("Did Hill-Sachs depth correlate with glenoid bone loss?")
    False
    """
    if _YES_NO.match(question) or _HOW_FINDING.search(question):
        return False  # "Were operations done more often where ...?" asks for a finding
    return bool(
        _HOW.search(question) or _PROCEDURE.search(question) or _DID_PROCEDURE.search(question)
    )
