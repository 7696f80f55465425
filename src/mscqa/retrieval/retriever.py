"""Hybrid search over a snapshot: dense (FAISS) and lexical (BM25) fused, plus sentence scores.

>>> retriever = Retriever(snapshot, embedder)                      # doctest: +SKIP
>>> result = retriever.search("How are adipose MSCs collected?", k=5)  # doctest: +SKIP
>>> result.hits[0].chunk.section                                   # doctest: +SKIP
'Adipose mesenchymal stem cells (AD-MSCs)'
"""

from __future__ import annotations

import functools
import math
from collections.abc import Collection, Mapping, Sequence

import numpy as np

from mscqa.answer.expected import country_code, country_forms
from mscqa.embedding.embedder import Embedder
from mscqa.index import IndexSnapshot
from mscqa.index.lexical import tokenize
from mscqa.retrieval.acronyms import initials, with_initials
from mscqa.retrieval.fusion import FUSION_MODES, fuse
from mscqa.retrieval.questions import (
    ACRONYM,
    NAME,
    answerable_terms,
    capitalised_words,
    drop_filler,
    in_title_case,
    question_parts,
    spelt_out,
    squashed,
    subject_terms,
    subject_tokens,
)
from mscqa.retrieval.sentences import SentenceScorer
from mscqa.retrieval.sides import side_parts, side_rows
from mscqa.retrieval.spelling import Speller, english_words, model_words
from mscqa.retrieval.subject import prefixes, unknown_subject
from mscqa.retrieval.vocabulary import SYNONYM_GROUPS, Term, Vocabulary
from mscqa.types import Hit, Retrieval, Unreadable


class Retriever:
    """Hybrid retrieval. Pure given its snapshot and embedder; safe to share between threads."""

    def __init__(
        self,
        snapshot: IndexSnapshot,
        embedder: Embedder,
        *,
        fusion: str = "weighted",
        # 0.75: PubMedQA hit@1/@3 0.978/0.989 at 0.7 -> 0.979/0.992, the article's dev set
        # unchanged, the held-out set's hit@1 0.800 -> 0.833 (bench/README.md, pubmedqa)
        alpha: float = 0.75,
        candidates: int = 50,
        sentence_weight: float = 0.5,
        per_document: int = 1,
        vocabulary: bool = True,
        abbreviations: bool = True,
        document_passages: int = 8,
        subjects: bool = True,
        known_words: bool = True,
        dictionary_words: bool = True,
        continuations: bool = True,
        context_terms: bool = True,
        initials: bool = True,
        acronyms: bool = True,
    ) -> None:
        """``vocabulary`` (the hand-written domain groups), ``abbreviations`` (the ones the
        documents define) and ``document_passages`` (more passages of the best document whose
        sentences are scored) and ``subjects`` (a short question that names no subject is a
        follow-up) and ``known_words`` (the model's whole words are no typos) and
        ``dictionary_words`` (nor are an English dictionary's words) and
        ``continuations`` (a sentence that refers back to the one before it is found by that
        one's words too) and ``context_terms`` (a follow-up's sentences are also scored by the
        words of its conversation) and ``initials`` (an acronym no one defines is found by the
        retrieved passages' phrase whose initials spell it) and ``acronyms`` (the reverse: a run
        of the question's words is found by the undefined short form a passage uses for it,
        ``retrieval.acronyms``) can be switched off for the ablation (bench/quality/ablation.py)."""
        if fusion not in FUSION_MODES:
            raise ValueError(f"fusion must be one of {FUSION_MODES}, got {fusion!r}")
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"alpha must be in [0, 1], got {alpha}")
        self.snapshot = snapshot
        self.embedder = embedder
        self.fusion = fusion
        self.alpha = alpha
        self.candidates = candidates
        self.sentence_weight = sentence_weight
        self.per_document = per_document
        # sentences of up to this many more passages of the best document are scored too: an
        # abstract's answer often sits in another section than the passage that matched best
        self.document_passages = document_passages
        stats = snapshot.term_stats()
        self.sentences = SentenceScorer(
            snapshot, continuations=continuations, abbreviations=abbreviations
        )
        n = max(1, stats.passages)
        self._idf = {t: math.log(1 + (n - f + 0.5) / (f + 0.5)) for t, f in stats.df.items()}
        self._unknown_idf = math.log(1 + (n + 0.5) / 0.5)
        pairs = [(a.short, a.long) for a in snapshot.abbreviations]
        self.vocabulary = Vocabulary(
            tokenize, SYNONYM_GROUPS if vocabulary else (), pairs if abbreviations else ()
        )
        # chunks are stored document by document, so a document's passages are a row range
        self._doc_start: dict[str, tuple[int, int]] = {}
        row = 0
        for doc, count in snapshot.chunk_counts().items():
            self._doc_start[doc] = (row, count)
            row += count
        self.subjects = subjects
        self.context_terms = context_terms
        self.initials = initials
        self._subjects = subject_tokens(snapshot, stats.passages, stats.df)
        self._unreadable: dict[str, list[Unreadable]] = {}
        for part in snapshot.unreadable:
            self._unreadable.setdefault(part.doc_id, []).append(part)
        ordinary = model_words(embedder)
        self.speller = Speller(
            stats.words,
            abbreviations=[a.short for a in snapshot.abbreviations] if abbreviations else (),
            known=ordinary if known_words else frozenset(),
            dictionary=english_words() if dictionary_words else frozenset(),
        )
        self.acronyms = acronyms
        self._ordinary = ordinary
        # each defined abbreviation's two forms as token runs, by their first token
        # (``_definitions``); its short form as letters and digits (``unknown_names``: the
        # tokenizer drops a lone digit, so only these tell "IL1", the corpus's "IL-1", from
        # "IL6", which it never names)
        self._forms: dict[str, list[tuple[tuple[str, ...], tuple[str, str]]]] = {}
        self._defined_shorts = frozenset(squashed(a.short) for a in snapshot.abbreviations)
        self._defined: dict[str, set[tuple[str, ...]]] = {}
        for a in snapshot.abbreviations:
            for form in (tuple(tokenize(a.short)), tuple(tokenize(a.long))):
                if form:
                    self._forms.setdefault(form[0], []).append((form, (a.short, a.long)))
            short = tokenize(a.short)
            if len(short) == 1:
                self._defined.setdefault(short[0], set()).add(tuple(tokenize(a.long)))

    def search(self, query: str, k: int, *, question: str | None = None) -> Retrieval:
        """Top ``k`` chunks for ``query``; sentences of those chunks scored against ``question``.

        ``query`` may carry conversation context; ``question`` (default: ``query``) is what the
        answer's sentences must answer.
        """
        # "according to the text", "in the article": no words to match (``drop_filler``)
        corrected = drop_filler(self.speller.correct(query))
        question = (
            drop_filler(self.speller.correct(question))
            if question and question != query
            else corrected
        )
        query = corrected
        snap = self.snapshot
        n = len(snap.chunks)
        vectors = self.embedder.encode([query, question] if question != query else [query])
        qvec = vectors[0]
        svec = vectors[-1]
        cand = min(n, max(self.candidates, k))
        rows, dense = snap.dense_candidates(qvec, cand) if cand else (_NO_ROWS, _NO_SCORES)
        touched = dense != 0
        if self.sentence_weight and touched.any() and snap.sentence_count:
            # A passage is as relevant as its best sentence, too: long passages that mix
            # topics have diluted vectors, but one of their sentences matches sharply. Only
            # the dense candidates' sentences are scored (cost independent of corpus size).
            best = self._best_sentence(rows[touched], qvec)
            dense = dense.copy()
            dense[touched] = (1 - self.sentence_weight) * dense[touched] + (
                self.sentence_weight * best
            )
        # Every row of the snapshot, or (a backend that returns only its best lexical rows,
        # and the dense candidates' scores) the dense candidates and those: the first
        # max(k, candidates) of the fused order are the same, as a row in neither scores 0
        # densely and below them lexically.
        lex_rows, lex_scores = snap.lexical_scores(
            self.vocabulary.expand(query), max(k, self.candidates), rows=rows.tolist()
        )
        universe = np.arange(n) if lex_rows is None else np.union1d(rows, lex_rows)
        dense_u = np.zeros(len(universe), dtype=np.float32)
        dense_u[np.searchsorted(universe, rows)] = dense
        if lex_rows is None:
            lexical = lex_scores
        else:
            lexical = np.zeros(len(universe), dtype=np.float32)
            lexical[np.searchsorted(universe, lex_rows)] = lex_scores
        fused = fuse(self.fusion, dense_u, lexical, self.alpha)
        ranked = np.argsort(-fused, kind="stable")
        order = self._diverse(universe[ranked], min(k, n))
        at = {int(universe[i]): int(i) for i in ranked[: max(k, self.candidates)]}
        hits = tuple(
            Hit(r, chunk, float(fused[at[r]]), float(dense_u[at[r]]), float(lexical[at[r]]))
            for r, chunk in zip(order, snap.chunks_at(order), strict=True)
        )
        more = self._document_rows(hits, {r: float(fused[i]) for r, i in at.items()})
        spelt = self._spelt_out(question, hits, more)
        tokens = tokenize(question)
        own_terms = self.terms(question, spelt, tokens)
        if self.acronyms:
            own_terms = self._with_acronyms(tokens, own_terms, hits, more)
        ctx_terms = self.terms(query, spelt)
        q_terms = own_terms + (
            self._context_terms(own_terms, ctx_terms) if query != question else []
        )
        parts = question_parts(question, q_terms)
        if query == question:
            # a compound question is judged on the parts the documents hold (questions.py);
            # its terms are the question's own, as ``parts`` index them
            ctx_terms = answerable_terms(ctx_terms, parts, lambda t: t.found_in(self._idf.keys()))
        sides = side_parts(question, q_terms)
        if sides and hits:
            more = more + self._side_rows(sides, q_terms, hits, more, fused, at)
        top_tokens = set().union(*(snap.chunk_tokens(h.row) for h in hits[:3])) if hits else set()
        top_dense = float(dense_u.max()) if len(universe) else 0.0
        return Retrieval(
            query=query,
            hits=hits,
            sentences=self.sentences.score(hits, more, svec, qvec, q_terms),
            top_dense=max(top_dense, 0.0) if len(universe) < n else top_dense,
            coverage=self._share(ctx_terms, top_tokens),
            known=self._share(ctx_terms, self._idf.keys()),
            corrected=question,
            unknown_names=tuple(
                n for n in self.unknown_names(question) if tuple(tokenize(n)) not in spelt
            ),
            unknown_subject=unknown_subject(
                question,
                lambda t: self._known([t]) or (t,) in spelt,
                lambda: self._prefixes,
                self.speller.known,
            ),
            terms=tuple(t.weight for t in q_terms),
            parts=parts,
            sides=sides,
            unreadable=self._unreadable_parts(hits, q_terms),
            subject_terms=subject_terms(question, own_terms),
            defined=self._definitions(tokens),
        )

    def _definitions(self, tokens: Sequence[str]) -> tuple[tuple[str, str], ...]:
        """The abbreviations the documents define whose short or long form the question's
        ``tokens`` hold, as ``(short, long)``, in order of use, without repeats."""
        out: dict[tuple[str, str], None] = {}
        for i, token in enumerate(tokens):
            for form, pair in self._forms.get(token, ()):
                if tuple(tokens[i : i + len(form)]) == form:
                    out[pair] = None
        return tuple(out)

    def _side_rows(
        self,
        sides: tuple[frozenset[int], ...],
        terms: list[Term],
        hits: Sequence[Hit],
        more: list[tuple[int, float]],
        fused: np.ndarray,
        at: dict[int, int],
    ) -> list[tuple[int, float]]:
        """The best document's passages not yet scored that hold a side of a comparison
        (``sides.side_rows``), with their fused scores (0 for one the search did not score)."""
        first, count = self._doc_start.get(hits[0].chunk.doc_id, (0, 0))
        taken = {h.row for h in hits} | {r for r, _ in more}
        rest = [r for r in range(first, first + count) if r not in taken]
        rest.sort(key=lambda r: -float(fused[at[r]]) if r in at else 0.0)
        found = side_rows(sides, terms, rest, self.snapshot.chunk_tokens)
        return [(r, float(fused[at[r]]) if r in at else 0.0) for r in found]

    def _context_terms(self, own: list[Term], context: list[Term]) -> list[Term]:
        """The terms of a follow-up's conversation that the question itself does not use, at
        ``CONTEXT_WEIGHT`` of their weight: "Why would doctors pick them?" after a question
        about adipose MSCs asks about adipose MSCs, so a sentence that names them holds more of
        what is asked than one about another cell type's clinical use."""
        if not self.context_terms:
            return []
        asked = {t.forms for t in own}
        return [Term(t.weight * CONTEXT_WEIGHT, t.forms) for t in context if t.forms not in asked]

    def _with_acronyms(
        self,
        tokens: list[str],
        terms: list[Term],
        hits: Sequence[Hit],
        more: list[tuple[int, float]],
    ) -> list[Term]:
        """``terms`` (of the question's ``tokens``) where a run of the question's words is also
        found by the undefined abbreviation a retrieved passage uses for it
        (``retrieval.acronyms``)."""
        passages = [
            self.snapshot.chunk_tokens(r) for r in [h.row for h in hits] + [r for r, _ in more]
        ]

        def present(word: str) -> bool:
            return any(word in words for words in passages)

        return with_initials(terms, initials(tokens, present, self._ordinary, self._defined))

    def _best_sentence(self, rows: np.ndarray, vec: np.ndarray) -> np.ndarray:
        """Best sentence cosine of each passage in ``rows`` (a passage with none scores -1)."""
        return self.snapshot.best_sentences(rows, vec)

    def _diverse(self, order: np.ndarray, k: int) -> list[int]:
        """The first ``k`` of ``order`` with at most ``per_document`` passages per document,
        filled up in score order when fewer documents qualify.

        Measured on PubMedQA (bench/pubmedqa.py): a cap of one passage per document raised
        hit@3 from 0.986 to 0.989 and lost no question; a single-document corpus is unchanged.
        """
        if not self.per_document:
            return [int(r) for r in order[:k]]
        doc_of = self.snapshot.doc_of
        kept: list[int] = []
        skipped: list[int] = []
        count: dict[str, int] = {}
        for r in order[: max(k, self.candidates)]:
            doc = doc_of(int(r))
            if count.get(doc, 0) < self.per_document:
                kept.append(int(r))
                count[doc] = count.get(doc, 0) + 1
                if len(kept) == k:
                    return kept
            else:
                skipped.append(int(r))
        return (
            (kept + skipped)[:k] if len(kept) + len(skipped) >= k else [int(r) for r in order[:k]]
        )

    def unknown_names(self, question: str) -> tuple[str, ...]:
        """Names in the question (capitalised words after the first) the corpus never uses.

        "Has the European Medicines Agency approved...?" asks about something the documents do
        not mention, however similar the rest of the question is to a passage. In a question
        written as a title (``in_title_case``) only a word capitalised otherwise than a title
        capitalises it ("HIV1", "iPSCs", "Lloyd-Davies") is a name: "Are We Measuring the Same
        Thing?" names no "Thing".
        """
        titled = in_title_case(question)
        out = []
        for word, first in capitalised_words(question):
            if (first or titled) and word[1:].islower():
                continue  # an ordinary capitalised first word, or any word of a title
            tokens = tokenize(word)
            if not tokens or self._known(tokens) or self._named_country(word):
                continue
            if squashed(word) in self._defined_shorts:
                continue  # "IL1" where a document defines "IL-1"
            out.append(word)
        return tuple(out)

    def _named_country(self, word: str) -> bool:
        """Whether ``word`` names a country (``expected.country_code``) that the corpus names
        in some form: "US" where the documents say "United States" (every word of the form
        is a corpus word) is no unknown name, whatever passages this question retrieves."""
        code = country_code(word)
        if code is None:
            return False
        # its names, not its codes: "TUR" would be any corpus's "TUR" (a resection)
        names = (f for f in country_forms(code) if not f.isupper() and "." not in f)
        forms = (tokenize(form) for form in names)
        return any(form and all(t in self._idf for t in form) for form in forms)

    @functools.cached_property
    def _prefixes(self) -> frozenset[str]:
        """The corpus tokens' first letters (``retrieval.subject``), built on first use."""
        return prefixes(self._idf.keys())

    def _known(self, tokens: list[str]) -> bool:
        """Whether the corpus uses any of ``tokens``, or a form the vocabulary equates with
        them or with one of them."""
        if any(t in self._idf for t in tokens):
            return True
        forms = {tuple(tokens), *((t,) for t in tokens)}
        return any(
            all(t in self._idf for t in other)
            for form in forms
            for other in self.vocabulary.equivalents(form)
        )

    def terms(
        self,
        text: str,
        spelt: Mapping[tuple[str, ...], frozenset[str]] | None = None,
        tokens: list[str] | None = None,
    ) -> list[Term]:
        """The question's terms (words, and phrases the vocabulary knows), idf-weighted; an
        acronym of ``spelt`` (``_spelt_out``) is also found by its long form's words.
        ``tokens``: ``text`` already tokenised."""
        terms = self.vocabulary.terms(tokenize(text) if tokens is None else tokens, self._idf_of)
        if not spelt:
            return terms
        return [
            Term(t.weight, (*t.forms, spelt[key]))
            if (key := tuple(sorted(t.forms[0]))) in spelt
            else t
            for t in terms
        ]

    def _spelt_out(
        self, question: str, hits: Sequence[Hit], more: Sequence[tuple[int, float]]
    ) -> dict[tuple[str, ...], frozenset[str]]:
        """The question's acronyms that neither the corpus nor the vocabulary knows, each with
        the words of the one phrase of the retrieved passages whose initials spell it
        (``questions.spelt_out``: "GVHD" where they say "graft-versus-host disease")."""
        if not self.initials:
            return {}
        asked = [
            a
            for a in dict.fromkeys(ACRONYM.findall(question))
            if (key := tuple(tokenize(a))) and not self._known(list(key))
        ]
        if not asked:
            return {}
        texts = [h.chunk.text for h in hits]
        texts += [c.text for c in self.snapshot.chunks_at([r for r, _ in more])]
        out = {}
        for a in asked:
            phrase = spelt_out(a, texts)
            if phrase and (words := frozenset(tokenize(phrase))):
                out[tuple(tokenize(a))] = words
        return out

    def _unreadable_parts(
        self, hits: Sequence[Hit], terms: list[Term]
    ) -> tuple[tuple[Unreadable, float], ...]:
        """The unreadable parts of the hits' documents, each with the share of the question's
        terms that it is known by: its heading, the heading before it, and the sentence just
        before it (which often announces it: "... as follows:")."""
        total = sum(t.weight for t in terms)
        out = []
        for doc in dict.fromkeys(h.chunk.doc_id for h in hits):
            for part in self._unreadable.get(doc, ()):
                heading = self.sentences.heading_tokens
                words = heading(part.section) | heading(part.context)
                row = self._row_of(part.after)
                if row is not None and (sentences := self.sentences.tokens_of(row)):
                    words = words | sentences[-1]
                found = sum(t.weight for t in terms if t.found_in(words))
                out.append((part, found / total if total else 0.0))
        return tuple(out)

    def names_subject(self, question: str) -> bool:
        """Whether the question names something the documents are about: a capitalised name
        (after its first word), an abbreviation a document defines or its long form, or a word
        of a section heading; the corpus's most common words ("stem", "cells" in an MSC
        article) do not count. "Was there a clinical study?" names none."""
        if not self.subjects:
            return True
        if any(i > 0 or w[1:] != w[1:].lower() for i, w in enumerate(NAME.findall(question))):
            return True
        return any(t in self._subjects for t in tokenize(question))

    def _row_of(self, chunk_id: str | None) -> int | None:
        """The row of chunk ``chunk_id`` (``<doc_id>#<n>``: the n-th passage of its document)."""
        doc, _, n = (chunk_id or "").rpartition("#")
        first, count = self._doc_start.get(doc, (0, 0))
        return first + int(n) if n.isdigit() and int(n) < count else None

    def _idf_of(self, token: str) -> float:
        return self._idf.get(token, self._unknown_idf)

    def _share(self, terms: list[Term], present: Collection[str]) -> float:
        """idf-weighted share of the question's terms found in ``present`` (a token set)."""
        total = sum(t.weight for t in terms)
        if not total:
            return 0.0
        return sum(t.weight for t in terms if t.found_in(present)) / total

    def _document_rows(
        self, hits: Sequence[Hit], fused: dict[int, float]
    ) -> list[tuple[int, float]]:
        """The best document's other passages with their fused scores (0 for one the search
        did not score), best first, at most ``document_passages``."""
        if not hits or not self.document_passages:
            return []
        taken = {h.row for h in hits}
        first, count = self._doc_start.get(hits[0].chunk.doc_id, (0, 0))
        rows = [(r, fused.get(r, 0.0)) for r in range(first, first + count) if r not in taken]
        rows.sort(key=lambda rs: -rs[1])
        return rows[: self.document_passages]


# A follow-up's conversation words count for this share of their weight in its sentences'
# scores: the question's own words say what is asked, the conversation only what about
# (at 1.0 the article's dev follow-up "And what about the ones from fat?" lost its answer).
CONTEXT_WEIGHT = 0.5
_NO_ROWS = np.zeros(0, dtype=np.int64)
_NO_SCORES = np.zeros(0, dtype=np.float32)
