"""Domain vocabulary: terms that mean the same thing in MSC writing, understood both ways.

``expand`` appends the missing equivalents of every term a question uses, so "fat stem cells"
also searches for "adipose" and "AD-MSCs", and "GVHD" also finds the article's "GVDH".
"""

from __future__ import annotations

import re
from collections.abc import Callable

# Each group lists interchangeable surface forms (lower case). Order does not matter.
SYNONYM_GROUPS: tuple[tuple[str, ...], ...] = (
    ("msc", "mscs", "mesenchymal stem cells", "mesenchymal stromal cells", "msc cells"),
    ("bm-msc", "bm-mscs", "bone marrow", "bone-marrow", "marrow"),
    ("ad-msc", "ad-mscs", "adsc", "adscs", "adipose", "fat", "fatty tissue", "adipose-derived"),
    ("uc-msc", "uc-mscs", "umbilical cord", "umbilical", "cord tissue", "wharton's jelly"),
    ("gvhd", "gvdh", "graft versus host", "graft-versus-host", "graft vs host"),
    ("oa", "osteoarthritis", "knee arthritis", "joint degeneration"),
    ("ra", "rheumatoid arthritis"),
    ("sle", "lupus", "systemic lupus erythematosus"),
    ("pd", "parkinson's", "parkinsons", "parkinson", "parkinsonism"),
    ("fda", "food and drug administration"),
    ("approved", "approval", "authorised", "authorized", "licensed", "legal", "allowed"),
    ("liposuction", "lipo", "fat removal"),
    ("collected", "harvested", "obtained", "extracted", "sampled", "collect", "harvest", "extract"),
    ("disadvantages", "drawbacks", "downsides", "cons", "limitations"),
    ("advantages", "benefits", "pros", "strengths", "upsides"),
    ("indication", "indications", "treat", "treats", "used for", "conditions", "diseases"),
    ("differentiate", "turn into", "become", "develop into"),
    ("china", "chinese"),
    ("japan", "japanese"),
    ("korea", "south korea", "korean"),
    ("usa", "u.s.", "united states", "america", "american"),
    # lay words for the article's technical ones
    ("pain", "painful", "hurt", "hurts", "ache", "sore", "discomfort", "trauma", "ordeal"),
    ("clinical", "clinic", "clinics", "doctors", "physicians", "hospitals"),
    ("cardiovascular", "heart", "cardiac"),
    ("hematopoiesis", "haematopoiesis", "blood formation", "blood production"),
    ("angiogenesis", "blood vessel", "blood vessels", "vessel growth"),
    ("expensive", "costly", "price", "cost", "pricey"),
    ("widespread", "common", "popular", "widely used"),
    ("diabetes", "diabetes mellitus", "diabetic"),
    ("neurons", "nerve cells", "brain cells", "neuron"),
    ("phase iii", "late-stage", "phase 3"),
    ("yield", "number of cells", "cell count"),
)

_FORMS: dict[str, tuple[str, ...]] = {}
for _group in SYNONYM_GROUPS:
    for _form in _group:
        _FORMS[_form] = _group

_PATTERN = re.compile(
    r"(?<![\w-])("
    + "|".join(re.escape(f) for f in sorted(_FORMS, key=len, reverse=True))
    + r")(?![\w-])",
    re.IGNORECASE,
)


def expand(question: str) -> str:
    """The question followed by the equivalents it does not already contain.

    >>> expand("Can fat stem cells treat GVHD?")  # doctest: +ELLIPSIS
    'Can fat stem cells treat GVHD? ad-msc ... gvdh graft versus host graft-versus-host ...'
    """
    present = {m.group(1).lower() for m in _PATTERN.finditer(question)}
    extra: list[str] = []
    seen: set[tuple[str, ...]] = set()
    for m in _PATTERN.finditer(question):
        group = _FORMS[m.group(1).lower()]
        if group in seen:
            continue
        seen.add(group)
        extra.extend(f for f in group if f not in present and f not in extra)
    return f"{question} {' '.join(extra)}" if extra else question


def token_equivalents(
    tokenize: Callable[[str], list[str]], multiword: bool = False
) -> dict[str, frozenset[str]]:
    """Token -> the other tokens that mean the same.

    By default only one-word synonym forms count ("fat" <-> "adipos"); with ``multiword`` the
    tokens of every form do ("american" -> "unit", "state").
    """
    out: dict[str, set[str]] = {}
    for group in SYNONYM_GROUPS:
        singles = {t for f in group if multiword or len(tokenize(f)) == 1 for t in tokenize(f)}
        for token in singles:
            out.setdefault(token, set()).update(singles - {token})
    return {t: frozenset(alts) for t, alts in out.items()}
