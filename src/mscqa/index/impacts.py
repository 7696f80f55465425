"""BM25 as impact-ordered posting lists, and its exact top ``k`` without reading whole lists.

A term's BM25 contribution to a passage, ``idf(t) * tf / (tf + k1 * (1 - b + b * dl / avgdl))``,
is fixed once the build knows the corpus. So the build stores it per posting (its *impact*,
the very float32 bm25s computes) twice: each term's list sorted by impact, highest first, and
each passage's own ``(term, impact)`` pairs (a forward index). A question's score of a passage
is then the float32 sum of the impacts of its query tokens, in query order, as bm25s adds them:
the same number to the last bit.

``top_k`` finds the best ``limit`` passages reading only a prefix of each query term's list
(Fagin's threshold algorithm, with random access through the forward index):

1. read the first ``depth`` entries of every query term's list (sorted access);
2. every passage seen has a partial score ``S`` (a lower bound); a term whose list goes on
   bounds what it adds to any passage not in its prefix by its last impact read ``m_t``, so
   a passage's score is at most ``S + sum of m_t over the terms it was not seen in``, and a
   passage seen in no prefix scores at most ``B = sum of m_t``;
3. ``theta`` = the ``limit``-th best partial score. When ``B < theta`` no unseen passage can
   enter the top; the passages whose bound reaches ``theta`` are scored exactly from their
   forward entries and the top is exact. Otherwise ``depth`` grows and step 1 reads on.

A query of rare terms stops at once (their lists are short); one of common terms reads until
the impacts left in their lists are too small to matter. Comparisons keep a relative margin
(``SLACK``) far above float32 rounding, so pruning never drops a passage the exhaustive sum
would rank in the top, ties included (they are broken by passage row, as a stable sort of the
exhaustive scores does).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

# One posting: a passage row (in a term's list) or a term id (in a passage's forward entries),
# and its impact. Little-endian on disk and on the wire.
ENTRY = np.dtype([("id", "<i4"), ("impact", "<f4")])
START_DEPTH = 1024  # entries per term read first (8 KB)
GROWTH = 8  # each further round reads this many times deeper
MAX_RANDOM = 512  # more passages to score exactly than this: read deeper instead
SLACK = 1e-5  # relative margin on every bound (float32 sums err by ~1e-6 at most)
_EMPTY = np.zeros(0, dtype=ENTRY)


@dataclass(frozen=True, slots=True)
class ImpactLists:
    """A corpus's postings both ways, as the build writes them (``from_csc``)."""

    by_term: np.ndarray  # ENTRY: passage rows, each term's run by impact desc, row asc
    term_starts: np.ndarray  # int64 (terms + 1): term t's run is by_term[starts[t]:starts[t+1]]
    by_passage: np.ndarray  # ENTRY: term ids, each passage's run by term id
    passage_starts: np.ndarray  # int64 (passages + 1)

    @classmethod
    def from_csc(
        cls, data: np.ndarray, rows: np.ndarray, term_starts: np.ndarray, passages: int
    ) -> ImpactLists:
        """From bm25s's score matrix (CSC: ``data``/``rows`` of term t in
        ``term_starts[t]:term_starts[t+1]``)."""
        term_starts = np.asarray(term_starts, dtype=np.int64)
        data = np.asarray(data, dtype=np.float32)
        rows = np.asarray(rows, dtype=np.int32)
        term = np.repeat(np.arange(len(term_starts) - 1, dtype=np.int32), np.diff(term_starts))
        order = np.lexsort((rows, -data, term))
        by_term = np.empty(len(data), dtype=ENTRY)
        by_term["id"], by_term["impact"] = rows[order], data[order]
        order = np.lexsort((term, rows))
        by_passage = np.empty(len(data), dtype=ENTRY)
        by_passage["id"], by_passage["impact"] = term[order], data[order]
        counts = np.bincount(rows, minlength=passages)
        passage_starts = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        return cls(by_term, term_starts, by_passage, passage_starts)

    def term(self, t: int) -> np.ndarray:
        return self.by_term[self.term_starts[t] : self.term_starts[t + 1]]

    def passage(self, row: int) -> np.ndarray:
        return self.by_passage[self.passage_starts[row] : self.passage_starts[row + 1]]


class PostingSource(Protocol):
    """Where ``top_k`` reads postings from (the database, or ``ImpactLists`` in tests)."""

    def prefixes(self, terms: Sequence[int], start: int, stop: int) -> dict[int, np.ndarray]:
        """Entries ``start:stop`` of each term's impact-ordered list (fewer at its end)."""
        ...

    def forward(self, rows: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """The ``(term, impact)`` entries of the passages ``rows``, one run after the other
        in the order of ``rows``, and the length of each run."""
        ...


class InMemory:
    """``PostingSource`` over ``ImpactLists`` (tests; the reference for the database's)."""

    def __init__(self, lists: ImpactLists) -> None:
        self.lists = lists
        self.reads = 0  # entries read by sorted access

    def prefixes(self, terms: Sequence[int], start: int, stop: int) -> dict[int, np.ndarray]:
        out = {t: self.lists.term(t)[start:stop] for t in terms}
        self.reads += sum(len(v) for v in out.values())
        return out

    def forward(self, rows: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        runs = [self.lists.passage(int(r)) for r in rows]
        entries = np.concatenate(runs) if runs else _EMPTY
        return entries, np.asarray([len(r) for r in runs], dtype=np.int64)


def top_k(
    query: Sequence[int],
    df: Mapping[int, int],
    limit: int,
    source: PostingSource,
    rows: Sequence[int] = (),
    *,
    depth: int = START_DEPTH,
) -> tuple[np.ndarray, np.ndarray]:
    """The ``limit`` best passages for the query token ids ``query`` (repeats count again, as
    in bm25s) by exact BM25, best first (ties by row), followed by any of ``rows`` not among
    them, all with their exact scores (``rows`` that match no query term score 0).

    ``df[t]`` is the length of term t's list.
    """
    terms = list(dict.fromkeys(int(t) for t in query))
    extra = np.unique(np.asarray(rows, dtype=np.int64))
    if not terms:
        return extra, np.zeros(len(extra), dtype=np.float32)
    weight = {t: sum(1 for q in query if q == t) for t in terms}
    lists = {t: np.zeros(0, dtype=ENTRY) for t in terms}
    read = 0
    while True:
        wanted = [t for t in terms if len(lists[t]) == read < df[t]]
        if wanted:
            for t, part in source.prefixes(wanted, read, depth).items():
                lists[t] = np.concatenate([lists[t], part])
        read = depth
        done = all(len(lists[t]) >= df[t] for t in terms)
        pos, partial, missing, bound = _bounds(lists, df, weight)
        if done:
            candidates = pos
            break
        theta = _kth_largest(partial, limit) * (1 - SLACK)
        if bound < theta:
            reach = partial + missing
            candidates = pos[reach >= theta]
            incomplete = int(np.count_nonzero(missing[reach >= theta] > 0))
            if incomplete <= MAX_RANDOM:
                break
        depth *= GROWTH
    scored, scores = exact(query, lists, df, candidates, extra, source)
    order = np.lexsort((scored, -scores))
    top = order[:limit]
    rest = order[limit:][np.isin(scored[order[limit:]], extra)]
    keep = np.concatenate([top, rest])
    return scored[keep], scores[keep]


def _kth_largest(values: np.ndarray, k: int) -> float:
    """The ``k``-th largest of ``values`` (-inf when there are fewer: nothing can be pruned)."""
    if len(values) < k:
        return float("-inf")
    return float(np.partition(values, len(values) - k)[len(values) - k])


def _bounds(
    lists: dict[int, np.ndarray], df: Mapping[int, int], weight: dict[int, int]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Passages seen so far, their partial scores, the most their unseen terms can add, and
    the most a passage seen nowhere can score."""
    edge = {
        t: float(v["impact"][-1]) if len(v) < df[t] and len(v) else 0.0 for t, v in lists.items()
    }
    bound = sum(weight[t] * edge[t] for t in lists)
    ids = np.concatenate([v["id"] for v in lists.values()]).astype(np.int64)
    gain = np.concatenate([weight[t] * v["impact"].astype(np.float64) for t, v in lists.items()])
    seen = np.concatenate([np.full(len(v), weight[t] * edge[t]) for t, v in lists.items()])
    pos, inv = np.unique(ids, return_inverse=True)
    partial = np.bincount(inv, weights=gain, minlength=len(pos))
    missing = bound - np.bincount(inv, weights=seen, minlength=len(pos))
    return pos, partial, np.maximum(missing, 0.0), bound


def exact(
    query: Sequence[int],
    lists: dict[int, np.ndarray],
    df: Mapping[int, int],
    candidates: np.ndarray,
    extra: np.ndarray,
    source: PostingSource,
) -> tuple[np.ndarray, np.ndarray]:
    """Exact scores of ``candidates`` and ``extra``, summed as bm25s sums them: float32, one
    query token after the other."""
    docs = np.union1d(candidates, extra)
    terms = list(lists)
    column = {t: j for j, t in enumerate(terms)}
    impacts = np.zeros((len(docs), len(terms)), dtype=np.float32)
    known = np.zeros((len(docs), len(terms)), dtype=bool)
    for t, v in lists.items():
        at = np.searchsorted(docs, v["id"])
        hit = (at < len(docs)) & (docs[np.minimum(at, len(docs) - 1)] == v["id"])
        impacts[at[hit], column[t]] = v["impact"][hit]
        known[at[hit], column[t]] = True
    complete = np.array([len(lists[t]) >= df[t] for t in terms], dtype=bool)
    known |= complete  # a passage absent from a whole list has no impact there
    unsure = np.flatnonzero(~known.all(axis=1))
    if len(unsure):
        entries, lengths = source.forward(docs[unsure].tolist())
        owner = np.repeat(unsure, lengths)
        wanted = np.asarray(terms, dtype=np.int64)
        by_id = np.argsort(wanted)
        at = np.searchsorted(wanted[by_id], entries["id"])
        hit = at < len(wanted)
        hit[hit] = wanted[by_id[at[hit]]] == entries["id"][hit]
        impacts[owner[hit], by_id[at[hit]]] = entries["impact"][hit]
    scores = np.zeros(len(docs), dtype=np.float32)
    for t in query:
        scores += impacts[:, column[int(t)]]
    return docs, scores
