"""Domain vocabulary: terms that mean the same thing in MSC writing, understood both ways.

``expand`` appends the missing equivalents of every term a question uses, so "fat stem cells"
also searches for "adipose" and "AD-MSCs", and "GVHD" also finds the article's "GVDH".
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass

# Each group lists interchangeable surface forms (lower case). Order does not matter. The pairs
# the documents define themselves ("... mesenchymal stem cells (BM-MSCs)") are mined at index
# time (``Vocabulary(pairs=...)``), a sentence using a defined short form holds its long form's
# words (``retrieval.sentences``), and an acronym a document uses only written out ("SLE" for
# "systemic lupus erythematosus") is spelt out by its initials (``questions.spelt_out``); so the
# groups for MSCs, SLE and FDA went (dev and dev2 unchanged without them). A group stays where
# it knows more than the documents give: two-letter acronyms (too ambiguous to spell out), the
# article's typo "GVDH" for GVHD, "marrow" and "fat" alone for BM- and AD-MSCs, lay words;
# each of those groups still carries dev2 questions (bench/quality/ablation.py).
SYNONYM_GROUPS: tuple[tuple[str, ...], ...] = (
    ("bm-msc", "bm-mscs", "bone marrow", "bone-marrow", "marrow"),
    ("ad-msc", "ad-mscs", "adsc", "adscs", "adipose", "fat", "fatty tissue", "adipose-derived"),
    ("uc-msc", "uc-mscs", "umbilical cord", "umbilical", "cord tissue", "wharton's jelly"),
    ("gvhd", "gvdh", "graft versus host", "graft-versus-host", "graft vs host"),
    ("oa", "osteoarthritis", "knee arthritis", "joint degeneration"),
    ("ra", "rheumatoid arthritis"),
    ("pd", "parkinson's", "parkinsons", "parkinson", "parkinsonism"),
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


# Words that make a question a question, not what it is about; BM25's stop-word list keeps most
# of them ("what", "how", "does"), but as terms they would count against every sentence.
QUESTION_WORDS = frozenset(
    [
        *("what", "which", "who", "whom", "whose", "when", "where", "why", "how"),
        *("does", "do", "did", "done", "can", "could", "would", "should", "shall", "may"),
        *("might", "must", "will", "has", "have", "had", "is", "are", "was", "were", "be"),
        *("been", "being", "am", "tell", "me", "please", "about", "any", "here", "there"),
        *("know", "explain", "describe", "give", "show", "anything", "something", "thing"),
        *("name", "list", "define", "outline", "say"),
        *("things", "also", "just", "really", "much", "many", "some", "get", "got", "i"),
        *("my", "you", "your", "we", "our", "us", "it", "its", "they", "their", "them"),
    ]
)


@dataclass(frozen=True, slots=True)
class Term:
    """One thing a question asks about: a word, or a phrase the vocabulary knows ("BM-MSCs").

    ``forms`` are token sets; a text mentions the term when it holds every token of any one of
    them (so "BM-MSCs" in a question is found in a sentence that says "bone marrow mesenchymal
    stem cells"). ``weight`` is the sum of the idf of the question's tokens it covers.
    """

    weight: float
    forms: tuple[frozenset[str], ...]

    def found_in(self, tokens: Collection[str]) -> bool:
        return any(all(t in tokens for t in form) for form in self.forms)


class Vocabulary:
    """Interchangeable forms: hand-written domain ``groups`` (every form of a group means every
    other) and abbreviation ``pairs`` the documents define (a short form means each of its long
    forms and the reverse, one step only, so two documents' "PD" do not make Parkinson's disease
    mean peritoneal dialysis).

    Forms are compared as token sequences (``tokenize``: lower-cased, stemmed, stop words out),
    so "BM-MSC", "bm-mscs" and "BM MSCs" are one form.
    """

    def __init__(
        self,
        tokenize: Callable[[str], list[str]],
        groups: Iterable[Iterable[str]] = SYNONYM_GROUPS,
        pairs: Iterable[tuple[str, str]] = (),
    ) -> None:
        self._tokenize = tokenize
        self._equivalent: dict[tuple[str, ...], set[tuple[str, ...]]] = {}
        self._surfaces: dict[tuple[str, ...], list[str]] = {}
        for group in groups:
            forms = [self._add(f) for f in group]
            keys = {f for f in forms if f}
            for key in keys:
                self._equivalent.setdefault(key, set()).update(keys - {key})
        for short, long in pairs:
            a, b = self._add(short), self._add(long)
            if a and b and a != b:
                self._equivalent.setdefault(a, set()).add(b)
                self._equivalent.setdefault(b, set()).add(a)
        self._longest = max((len(k) for k in self._equivalent), default=0)
        self._question_words = {tuple(tokenize(w)) for w in QUESTION_WORDS} - {()}

    def _add(self, form: str) -> tuple[str, ...]:
        key = tuple(self._tokenize(form))
        if len(key) == 1 and len(form.split()) > 1:
            # "used for" or "phase 3" tokenise to one common word ("use", "phase"): matching
            # that word alone would take every question that uses it for this term
            key = ()
        if key:
            surfaces = self._surfaces.setdefault(key, [])
            if form.lower() not in surfaces:
                surfaces.append(form.lower())
        return key

    def __len__(self) -> int:
        return len(self._equivalent)

    def matches(self, tokens: Sequence[str]) -> list[tuple[int, int]]:
        """Spans ``(i, j)`` of ``tokens`` that are known forms, longest first, left to right."""
        out: list[tuple[int, int]] = []
        i = 0
        while i < len(tokens):
            for j in range(min(len(tokens), i + self._longest), i, -1):
                if tuple(tokens[i:j]) in self._equivalent:
                    out.append((i, j))
                    i = j
                    break
            else:
                i += 1
        return out

    def equivalents(self, form: tuple[str, ...]) -> set[tuple[str, ...]]:
        return self._equivalent.get(form, set())

    def expand(self, text: str) -> str:
        """``text`` followed by the equivalent forms it does not already contain."""
        tokens = self._tokenize(text)
        present = {tuple(tokens[i:j]) for i, j in self.matches(tokens)}
        extra: list[str] = []
        for form in dict.fromkeys(tuple(tokens[i:j]) for i, j in self.matches(tokens)):
            for other in sorted(self.equivalents(form)):
                if other not in present:
                    extra.extend(s for s in self._surfaces[other] if s not in extra)
        return f"{text} {' '.join(extra)}" if extra else text

    def terms(self, tokens: Sequence[str], weight: Callable[[str], float]) -> list[Term]:
        """The terms of a question's ``tokens``: each known form (with its equivalents) as one
        term, every other distinct token as a term of its own."""
        out: list[Term] = []
        seen: set[tuple[str, ...]] = set(self._question_words)
        pos = 0
        for i, j in [*self.matches(tokens), (len(tokens), len(tokens))]:
            for t in tokens[pos:i]:
                if (t,) not in seen:
                    seen.add((t,))
                    out.append(Term(weight(t), (frozenset([t]),)))
            form = tuple(tokens[i:j])
            if form and form not in seen:
                seen.add(form)
                forms = [frozenset(form), *(frozenset(o) for o in sorted(self.equivalents(form)))]
                out.append(Term(sum(weight(t) for t in set(form)), tuple(dict.fromkeys(forms))))
            pos = j
        return out


_STATIC: dict[str, Vocabulary] = {}


def _static() -> Vocabulary:
    """The hand-written groups alone, with mscqa's tokenizer (made on first use)."""
    if "v" not in _STATIC:
        from mscqa.index.lexical import tokenize

        _STATIC["v"] = Vocabulary(tokenize)
    return _STATIC["v"]


def expand(question: str) -> str:
    """The question followed by the equivalents (of the hand-written groups) it does not
    already contain.

    >>> expand("Can fat stem cells treat GVHD?")  # doctest: +ELLIPSIS
    'Can fat stem cells treat GVHD? ...adipose...gvdh...'
    """
    return _static().expand(question)
