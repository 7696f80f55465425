"""Retrieval quality on PubMedQA: does mscqa find the abstract each question was written about?

    .venv/bin/python -m bench.quality.pubmedqa [--limit N] [--json] [--data PATH] [--index-dir DIR]

Each of the 1000 PubMedQA abstracts becomes ``<pmid>.md`` (a neutral title, each paragraph
under its ``## LABEL`` heading, no ``LONG_ANSWER``); the index is built with mscqa's real
pipeline and every question goes through ``QAService.explain(question, 5)``. A hit is a
retrieved passage of the question's own abstract; hit@k and MRR@5 count the first one. Then
every question is asked again through ``QAService.ask`` as ``POST /ask`` does: the answer's
first citation should come from the question's abstract, and none of these answerable
questions should be refused.

In the same run, on the same passages, vectors and questions, the baselines (plain bm25s,
plain dense cosine, naive RRF k=60) and a set of clearly labelled experiments are scored from
mscqa's own building blocks (``LexicalIndex``, the snapshot's vectors, ``mscqa.retrieval.fusion``,
``Retriever`` with other parameters). Parameters that an experiment tunes are also scored
two-fold (tuned on one half of the questions, measured on the other) so a sweep's winner is
not just fitted to these 1000 questions.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import (
    DEFAULT_DATA,
    finish,
    load_pubmedqa,
    machine,
    median,
    percentile,
    progress_logger,
    table,
    write_corpus,
)
from mscqa.config import Settings
from mscqa.index import Snapshot, load_current
from mscqa.index.lexical import LexicalIndex
from mscqa.indexing import build_index
from mscqa.retrieval.fusion import rrf, weighted
from mscqa.retrieval.retriever import Retriever
from mscqa.retrieval.vocabulary import expand
from mscqa.service import QAService

K = 5  # passages asked for, as the service's default top_k
TARGET = {"hit@1": 0.975, "hit@3": 0.99}
ANSWER_TARGET = {"first_citation": 0.975, "refused": 0.005}  # issue 11, through /ask
PRODUCT_OWNER = {  # measured by the product owner on the same data (paragraph-level)
    "bm25s": (0.941, 0.973),
    "dense": (0.971, 0.987),
    "rrf": (0.963, 0.983),
}


# -- metrics --------------------------------------------------------------------------------


def metrics(ranks: Sequence[int | None]) -> dict[str, float]:
    """hit@1/3/5 and MRR@5 from the 1-based rank of the first relevant passage (None: missed)."""
    n = max(1, len(ranks))
    return {
        "hit@1": sum(r is not None and r <= 1 for r in ranks) / n,
        "hit@3": sum(r is not None and r <= 3 for r in ranks) / n,
        "hit@5": sum(r is not None and r <= 5 for r in ranks) / n,
        "mrr": sum(1 / r for r in ranks if r is not None and r <= K) / n,
    }


def first_rank(doc_ids: Sequence[str], gold: str) -> int | None:
    return next((i + 1 for i, d in enumerate(doc_ids[:K]) if d == gold), None)


class Scores:
    """Per-question score arrays over the snapshot's passages, and how to rank them."""

    def __init__(self, snapshot: Snapshot, gold: list[str]) -> None:
        self.chunk_doc = [c.doc_id for c in snapshot.chunks]
        doc_ids = list(dict.fromkeys(self.chunk_doc))  # chunks are stored document by document
        self.doc_ids = doc_ids
        self.doc_row = {d: i for i, d in enumerate(doc_ids)}
        self.chunk_doc_row = np.array([self.doc_row[d] for d in self.chunk_doc])
        self.doc_start = np.searchsorted(self.chunk_doc_row, np.arange(len(doc_ids)))
        self.gold = gold
        self.gold_row = np.array([self.doc_row.get(g, -1) for g in gold])

    def passage_ranks(self, fused: np.ndarray) -> list[int | None]:
        """Rank passages by score (as the Retriever does): rank of the first gold passage."""
        order = np.argsort(-fused, axis=1, kind="stable")[:, :K]
        docs = self.chunk_doc_row[order]
        out: list[int | None] = []
        for row, gold in zip(docs, self.gold_row, strict=True):
            where = np.flatnonzero(row == gold)
            out.append(int(where[0]) + 1 if len(where) else None)
        return out

    def capped_ranks(self, fused: np.ndarray, cap: int, pool: int = 50) -> list[int | None]:
        """Rank passages by score but keep at most ``cap`` per document in the top ``K``.

        When fewer documents than that are among the best ``pool`` passages, the list is
        filled with the skipped passages in score order, so a one-document corpus still gets
        ``K`` passages (the client's corpus is one article).
        """
        order = np.argsort(-fused, axis=1, kind="stable")[:, :pool]
        out: list[int | None] = []
        for row, gold in zip(self.chunk_doc_row[order], self.gold_row, strict=True):
            picked = diversify(list(row), cap)
            where = [i for i, d in enumerate(picked[:K]) if d == gold]
            out.append(where[0] + 1 if where else None)
        return out

    def doc_scores(self, fused: np.ndarray, how: str) -> np.ndarray:
        """Aggregate passage scores per document: ``max``, ``top2`` (sum of best two) or ``sum``."""
        if how == "max":
            return np.maximum.reduceat(fused, self.doc_start, axis=1)
        if how == "sum":
            return np.add.reduceat(fused, self.doc_start, axis=1)
        if how == "top2":
            ends = [*self.doc_start[1:], fused.shape[1]]
            out = np.empty((fused.shape[0], len(self.doc_start)), dtype=np.float64)
            for d, (lo, hi) in enumerate(zip(self.doc_start, ends, strict=True)):
                part = np.sort(fused[:, lo:hi], axis=1)
                out[:, d] = part[:, -1] + (part[:, -2] if hi - lo > 1 else 0.0)
            return out
        raise ValueError(f"unknown aggregation {how!r}")

    def doc_ranks(self, doc_scores: np.ndarray) -> list[int | None]:
        """Rank documents (their best passage stands for them): rank of the gold document."""
        order = np.argsort(-doc_scores, axis=1, kind="stable")[:, :K]
        out: list[int | None] = []
        for row, gold in zip(order, self.gold_row, strict=True):
            where = np.flatnonzero(row == gold)
            out.append(int(where[0]) + 1 if len(where) else None)
        return out


def diversify(docs: list[Any], cap: int) -> list[Any]:
    """Positions re-ordered so no document has more than ``cap`` of the first ``K``.

    ``docs`` is the document of each passage in score order; returns the same items re-ordered
    (kept ones first, then the skipped ones in their order).
    """
    kept: list[Any] = []
    skipped: list[Any] = []
    count: dict[Any, int] = {}
    for d in docs:
        if len(kept) < K and count.get(d, 0) < cap:
            kept.append(d)
            count[d] = count.get(d, 0) + 1
        else:
            skipped.append(d)
    return kept + skipped


def minmax_rows(x: np.ndarray) -> np.ndarray:
    """Each row divided by its maximum (the normalisation ``fusion.weighted`` gives BM25)."""
    top = x.max(axis=1, keepdims=True)
    return np.divide(x, top, out=np.zeros_like(x), where=top > 0)


def weighted_rows(dense: np.ndarray, lexical: np.ndarray, alpha: float) -> np.ndarray:
    """``mscqa.retrieval.fusion.weighted`` applied row by row."""
    return np.stack([weighted(d, lex, alpha) for d, lex in zip(dense, lexical, strict=True)])


def rrf_rows(*lists: np.ndarray, k: int = 60) -> np.ndarray:
    """``mscqa.retrieval.fusion.rrf`` row by row; more than two lists are summed
    pairwise-compatibly."""
    if len(lists) == 2:
        return np.stack([rrf(a, b, k) for a, b in zip(*lists, strict=True)])
    out = np.zeros(lists[0].shape, dtype=np.float64)
    for scores in lists:
        order = np.argsort(-scores, axis=1, kind="stable")
        ranks = np.empty_like(order)
        np.put_along_axis(ranks, order, np.arange(1, scores.shape[1] + 1)[None, :], axis=1)
        out += np.where(scores > 0, 1.0 / (k + ranks), 0.0)
    return out


def mscqa_dense(
    dense: np.ndarray, best_sentence: np.ndarray, sentence_weight: float, candidates: int
) -> np.ndarray:
    """The Retriever's dense half: top ``candidates`` cosines, blended with the best sentence."""
    out = np.zeros_like(dense)
    top = np.argpartition(-dense, min(candidates, dense.shape[1] - 1), axis=1)[:, :candidates]
    np.put_along_axis(out, top, np.take_along_axis(dense, top, axis=1), axis=1)
    touched = out != 0
    blend = (1 - sentence_weight) * out + sentence_weight * best_sentence
    return np.where(touched, blend, out)


# -- the run -------------------------------------------------------------------------------


def run_service(service: QAService, questions: list[str], gold: list[str]) -> dict[str, Any]:
    """Every question through ``QAService.explain``: ranks, abstentions and latency."""
    ranks: list[int | None] = []
    latencies: list[float] = []
    abstained = 0
    for question, g in zip(questions, gold, strict=True):
        started = time.perf_counter()
        retrieval, answer = service.explain(question, K)
        latencies.append((time.perf_counter() - started) * 1000)
        ranks.append(first_rank([h.chunk.doc_id for h in retrieval.hits], g))
        abstained += not answer.answered
    return {
        "ranks": ranks,
        "metrics": metrics(ranks),
        "abstained": abstained / max(1, len(questions)),
        "latency_ms_p50": median(latencies),
        "latency_ms_p95": percentile(latencies, 95),
    }


def run_answers(service: QAService, questions: list[str], gold: list[str]) -> dict[str, Any]:
    """Every question through ``QAService.ask``, as ``POST /ask`` calls it (default top_k, no
    history): does the answer's first citation come from the question's abstract, and how many
    of these answerable questions are refused."""
    first = refused = 0
    latencies: list[float] = []
    for question, g in zip(questions, gold, strict=True):
        answer = service.ask(question)
        latencies.append(answer.took_ms)
        refused += not answer.answered
        first += bool(answer.citations) and answer.citations[0].chunk.doc_id == g
    n = max(1, len(questions))
    return {
        "first_citation_hit": first / n,
        "refused": refused / n,
        "took_ms_p50": median(latencies),
        "loadavg": [round(x, 2) for x in os.getloadavg()],
    }


def run_retriever(retriever: Retriever, questions: list[str], gold: list[str]) -> list[int | None]:
    return [
        first_rank([h.chunk.doc_id for h in retriever.search(q, K).hits], g)
        for q, g in zip(questions, gold, strict=True)
    ]


def score_matrices(
    snapshot: Snapshot, retriever: Retriever, questions: list[str]
) -> dict[str, np.ndarray]:
    """Every question against every passage, with and without the Retriever's query rewriting.

    ``dense``/``lexical`` use the raw question (the plain baselines); ``*_m`` use the question
    as the Retriever sees it (spelling corrected; BM25 also on the synonym expansion).
    """
    embedder = retriever.embedder
    corrected = [retriever.speller.correct(q) for q in questions]
    n = len(snapshot.chunks)
    chunk_vecs = snapshot.dense.reconstruct_n(0, n)
    sent_vecs = snapshot.sentences.vectors
    starts = snapshot.sentence_start[:-1]
    if np.any(np.diff(snapshot.sentence_start) == 0):
        raise SystemExit("a passage without sentences; the best-sentence experiment needs one")
    out: dict[str, np.ndarray] = {}
    for suffix, texts in (("", questions), ("_m", corrected)):
        qv = embedder.encode(texts)
        out["dense" + suffix] = (qv @ chunk_vecs.T).astype(np.float32)
        best = np.empty((len(texts), n), dtype=np.float32)
        for lo in range(0, len(texts), 128):
            sims = sent_vecs @ qv[lo : lo + 128].T  # (n_sentences, batch)
            best[lo : lo + 128] = np.maximum.reduceat(sims, starts, axis=0).T
        out["sentence" + suffix] = best
    out["lexical"] = np.stack([snapshot.lexical.scores(q) for q in questions])
    out["lexical_m"] = np.stack([snapshot.lexical.scores(expand(q)) for q in corrected])
    doc_texts = [d.text for d in snapshot.documents.values()]
    doc_lex = LexicalIndex.build(doc_texts)
    out["doc_lexical"] = np.stack([doc_lex.scores(q) for q in questions])
    return out


def two_fold(family: dict[str, list[int | None]]) -> dict[str, Any]:
    """Pick the best config on one half of the questions, score it on the other, and swap.

    Best = highest hit@1, then hit@3, then MRR. Returns the pooled held-out metrics and picks.
    """
    labels = list(family)
    n = len(next(iter(family.values())))
    halves = [list(range(0, n, 2)), list(range(1, n, 2))]

    def key(label: str, idx: list[int]) -> tuple[float, ...]:
        m = metrics([family[label][i] for i in idx])
        return (m["hit@1"], m["hit@3"], m["mrr"])

    held: list[int | None] = [None] * n
    picks = []
    for tune, test in (halves, halves[::-1]):
        best = max(labels, key=lambda lab, idx=tune: key(lab, idx))
        picks.append(best)
        for i in test:
            held[i] = family[best][i]
    return {"picks": picks, "metrics": metrics(held)}


def paired(ranks: Sequence[int | None], base: Sequence[int | None]) -> dict[str, int]:
    """Questions a variant gets right that mscqa misses (gain) and the reverse (loss), @1 and @3."""
    out = {}
    for k in (1, 3):
        ok = [r is not None and r <= k for r in ranks]
        was = [r is not None and r <= k for r in base]
        out[f"gain@{k}"] = sum(a and not b for a, b in zip(ok, was, strict=True))
        out[f"loss@{k}"] = sum(b and not a for a, b in zip(ok, was, strict=True))
    return out


def _delta(v: dict[str, Any]) -> str:
    d = v.get("vs_mscqa")
    if not d:
        return ""
    return f"+{d['gain@1']}-{d['loss@1']} / +{d['gain@3']}-{d['loss@3']}"


def best_of(family: dict[str, list[int | None]]) -> str:
    return max(family, key=lambda lab: tuple(metrics(family[lab]).values()))


def experiments(
    s: Scores, m: dict[str, np.ndarray], alpha: float, sentence_weight: float, candidates: int
) -> dict[str, dict[str, list[int | None]]]:
    """Families of labelled variants, each a mapping label -> per-question ranks."""
    fam: dict[str, dict[str, list[int | None]]] = {}
    dense, lex, sent = m["dense"], m["lexical"], m["sentence"]
    dense_m, lex_m, sent_m = m["dense_m"], m["lexical_m"], m["sentence_m"]
    alphas = [round(a, 2) for a in np.arange(0.0, 1.0001, 0.1)]
    weights = [0.0, 0.25, 0.5, 0.75, 1.0]

    # E1: fusion.weighted on the plain cosine and plain BM25, alpha swept.
    fam["E1 weighted(dense, bm25)"] = {
        f"alpha={a}": s.passage_ranks(weighted_rows(dense, lex, a)) for a in alphas
    }
    # E2: the Retriever's own pipeline (spelling, synonyms, top-50 dense candidates blended
    # with the best sentence, weighted fusion) with its alpha and sentence_weight swept.
    fam["E2 Retriever(alpha, sentence_weight)"] = {
        f"alpha={a} sw={w}": s.passage_ranks(
            weighted_rows(mscqa_dense(dense_m, sent_m, w, candidates), lex_m, a)
        )
        for a in alphas[4:]
        for w in weights
    }
    fam["E2b Retriever(candidates) at the default alpha and sentence_weight"] = {
        f"candidates={c}": s.passage_ranks(
            weighted_rows(mscqa_dense(dense_m, sent_m, sentence_weight, c), lex_m, alpha)
        )
        for c in (20, 50, 100, 200, len(s.chunk_doc))
    }
    # E3: max-sentence dense: a passage scores as its best sentence, or a blend with its own
    # cosine over all passages (no top-50 cut), alone and fused with BM25.
    blends = {w: (1 - w) * dense + w * sent for w in weights}
    fam["E3a dense/sentence blend, no BM25"] = {
        f"sw={w}": s.passage_ranks(blends[w]) for w in weights
    }
    fam["E3b weighted(dense/sentence blend, bm25)"] = {
        f"alpha={a} sw={w}": s.passage_ranks(weighted_rows(blends[w], lex, a))
        for a in alphas[5:]
        for w in weights
    }
    fam["E3c rrf(dense, sentence, bm25)"] = {
        f"k={k}": s.passage_ranks(rrf_rows(dense, sent, lex, k=k)) for k in (10, 30, 60)
    }
    # E4: a hit is per document, so rank documents by an aggregate of their passages' scores
    # and return the best passage of each of the best documents (one passage per document).
    current = weighted_rows(mscqa_dense(dense_m, sent_m, sentence_weight, candidates), lex_m, alpha)
    fam["E4a doc aggregate of the current Retriever scores"] = {
        how: s.doc_ranks(s.doc_scores(current, how)) for how in ("max", "top2", "sum")
    }
    fam["E4b doc max of weighted(dense/sentence blend, bm25)"] = {
        f"alpha={a} sw={w}": s.doc_ranks(s.doc_scores(weighted_rows(blends[w], lex, a), "max"))
        for a in alphas[5:]
        for w in weights
    }
    # E4d: the Retriever's pipeline, swept as in E2, with at most ``cap`` passages per
    # document in the top K (cap=1 is "best passage of the best documents").
    fam["E4d Retriever(alpha, sentence_weight) + per-document cap"] = {
        f"alpha={a} sw={w} cap={cap}": s.capped_ranks(
            weighted_rows(mscqa_dense(dense_m, sent_m, w, candidates), lex_m, a), cap
        )
        for a in alphas[5:]
        for w in weights
        for cap in (1, 2)
    }
    # E4c: whole-abstract BM25 (one BM25 row per document) fused with the documents' best
    # dense/sentence blend.
    doc_lex = minmax_rows(m["doc_lexical"])
    fam["E4c doc max dense/sentence + whole-abstract bm25"] = {
        f"alpha={a} sw={w}": s.doc_ranks(a * s.doc_scores(blends[w], "max") + (1 - a) * doc_lex)
        for a in alphas[5:]
        for w in weights
    }
    return fam


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="PubMedQA ori_pqal.json")
    ap.add_argument("--limit", type=int, default=None, help="only the first N abstracts")
    ap.add_argument("--json", action="store_true", help="print the results as JSON")
    ap.add_argument(
        "--index-dir",
        type=Path,
        default=None,
        help="keep the index (and its embedding cache) here; a rerun then reuses embeddings",
    )
    ap.add_argument("--no-experiments", action="store_true", help="service and baselines only")
    ap.add_argument(
        "--confirm",
        action="append",
        default=None,
        metavar="'alpha=A sw=W [cap=C]'",
        help="also run this configuration end to end (repeatable; default: the README's "
        "recommendation, 'alpha=0.8 sw=0.5 cap=1')",
    )
    args = ap.parse_args(argv)
    args.confirm = args.confirm or ["alpha=0.8 sw=0.5 cap=1"]
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("bm25s").setLevel(logging.WARNING)
    entries = load_pubmedqa(args.data, args.limit)
    before = machine()
    with tempfile.TemporaryDirectory(prefix="mscqa-pubmedqa-") as tmp:
        corpus = Path(tmp) / "corpus"
        paragraphs = write_corpus(entries, corpus)
        index_dir = args.index_dir or Path(tmp) / "index"
        settings = Settings(corpus_dir=corpus, index_dir=index_dir)
        log_progress("building the index")
        report = build_index(settings)  # loads the model with all cores, as `mscqa index`
        log_progress(
            f"built in {report.seconds:.1f}s ({report.embedded} embedded, {report.reused} reused)"
        )
        service = QAService(settings)  # its own 1-thread embedder, as `mscqa serve`
        service.load()
        questions = [e["QUESTION"] for e in entries.values()]
        gold = [f"{pmid}.md" for pmid in entries]
        log_progress(f"asking {len(questions)} questions through QAService.explain")
        load_at_start = [round(x, 2) for x in os.getloadavg()]
        served = run_service(service, questions, gold)
        served["loadavg"] = [load_at_start, [round(x, 2) for x in os.getloadavg()]]
        log_progress(f"asking {len(questions)} questions through QAService.ask (as /ask does)")
        answers = run_answers(service, questions, gold)
        snapshot = load_current(index_dir)
        # the encoder the service uses for questions (an ONNX export when the index has one)
        query_embedder = service.encoders.for_snapshot(snapshot)
        retriever = Retriever(snapshot, query_embedder)
        parts = latency_parts(retriever, questions[:200])
        scores = Scores(snapshot, gold)
        log_progress("scoring every question against every passage")
        m = score_matrices(snapshot, retriever, questions)
        m["doc_lexical"] = m["doc_lexical"][:, _doc_order(snapshot, scores)]
        defaults = (retriever.alpha, retriever.sentence_weight, retriever.candidates)
        replica = scores.passage_ranks(
            weighted_rows(
                mscqa_dense(m["dense_m"], m["sentence_m"], *defaults[1:]),
                m["lexical_m"],
                defaults[0],
            )
        )
        agree = sum(a == b for a, b in zip(replica, served["ranks"], strict=True)) / len(gold)
        baselines = {
            "bm25s (plain)": scores.passage_ranks(m["lexical"]),
            "dense MiniLM (plain)": scores.passage_ranks(m["dense"]),
            "naive RRF k=60": scores.passage_ranks(rrf_rows(m["dense"], m["lexical"])),
            "mscqa QAService.explain": served["ranks"],
        }
        results: dict[str, Any] = {
            "machine": before,
            "corpus": {
                "documents": report.documents,
                "paragraphs": paragraphs,
                "chunks": report.chunks,
                "sentences": report.sentences,
            },
            "build": {
                "seconds": round(report.seconds, 2),
                "embedded": report.embedded,
                "reused": report.reused,
            },
            "service": {k: v for k, v in served.items() if k != "ranks"},
            "answers": answers,
            "latency_parts_ms": parts,
            "query_embedder": type(query_embedder).__name__,
            "replica_agreement": agree,
            "baselines": {k: metrics(v) for k, v in baselines.items()},
            "target": TARGET,
            "product_owner": PRODUCT_OWNER,
        }
        if not args.no_experiments:
            log_progress("running the experiments")
            fams = experiments(scores, m, *defaults)
            base = served["ranks"]
            results["experiments"] = {
                name: {
                    "variants": {
                        lab: metrics(r) | {"vs_mscqa": paired(r, base)} for lab, r in fam.items()
                    },
                    "best": best_of(fam),
                    "two_fold": two_fold(fam) if len(fam) > 1 else None,
                }
                for name, fam in fams.items()
            }
            exps = results["experiments"]
            labels = {
                "E2 best": exps["E2 Retriever(alpha, sentence_weight)"]["best"],
                "E4d best": exps["E4d Retriever(alpha, sentence_weight) + per-document cap"][
                    "best"
                ],
            } | {f"--confirm {i + 1}": label for i, label in enumerate(args.confirm)}
            confirmed = confirm(labels, snapshot, query_embedder, questions, gold)
            results["confirmed"] = {
                name: {
                    "label": c["label"],
                    "metrics": c["metrics"] | {"vs_mscqa": paired(c["ranks"], base)},
                }
                for name, c in confirmed.items()
            }
        results["machine_after"] = machine()
        results["retriever_defaults"] = dict(
            zip(("alpha", "sentence_weight", "candidates"), defaults, strict=True)
        )
    return finish("pubmedqa", results, render, as_json=args.json)


def _doc_order(snapshot: Snapshot, scores: Scores) -> list[int]:
    """Columns of the whole-abstract BM25 (documents.json order) in ``scores.doc_ids`` order."""
    position = {d: i for i, d in enumerate(snapshot.documents)}
    return [position[d] for d in scores.doc_ids]


def latency_parts(retriever: Retriever, questions: list[str]) -> dict[str, Any]:
    """Median milliseconds of two parts of every search: spelling correction, query encoding."""
    speller, encode = [], []
    for q in questions:
        t0 = time.perf_counter()
        retriever.speller.correct(q)
        t1 = time.perf_counter()
        retriever.embedder.encode([q])
        speller.append((t1 - t0) * 1000)
        encode.append((time.perf_counter() - t1) * 1000)
    return {
        "speller_p50": median(speller),
        "speller_p95": percentile(speller, 95),
        "encode_p50": median(encode),
        "encode_p95": percentile(encode, 95),
        "loadavg": [round(x, 2) for x in os.getloadavg()],
        "questions": len(questions),
    }


def confirm(
    labels: dict[str, str],
    snapshot: Snapshot,
    embedder: Any,
    questions: list[str],
    gold: list[str],
) -> dict[str, Any]:
    """Re-run configurations end to end through a real ``Retriever`` with those parameters.

    ``labels`` maps a name to ``"alpha=A sw=W [cap=C]"``. With a cap, ``Retriever.search``
    returns 50 passages and the per-document cap picks the top ``K``, which is what the
    recommended change would do inside the Retriever.
    """
    out = {}
    for name, label in labels.items():
        params = dict(part.split("=") for part in label.split())
        alpha, weight = float(params["alpha"]), float(params["sw"])
        cap = int(params["cap"]) if "cap" in params else None
        retriever = Retriever(snapshot, embedder, alpha=alpha, sentence_weight=weight)
        log_progress(f"confirming {label} end to end")
        ranks: list[int | None] = []
        for q, g in zip(questions, gold, strict=True):
            docs = [h.chunk.doc_id for h in retriever.search(q, 50 if cap else K).hits]
            ranks.append(first_rank(diversify(docs, cap) if cap else docs, g))
        out[name] = {"label": label, "metrics": metrics(ranks), "ranks": ranks}
    return out


log_progress = progress_logger("pubmedqa")


def render(r: dict[str, Any]) -> str:
    cols = ["hit@1", "hit@3", "hit@5", "mrr"]
    c, b, sv, lp = r["corpus"], r["build"], r["service"], r["latency_parts_ms"]
    out = [
        f"PubMedQA retrieval — {r['machine']['date']}, {r['machine']['cores']} cores "
        f"({r['machine']['cpu']}), load {r['machine']['loadavg']} -> "
        f"{r['machine_after']['loadavg']}",
        f"corpus: {c['documents']} abstracts, {c['paragraphs']} paragraphs -> {c['chunks']} "
        f"passages, {c['sentences']} sentences",
        f"build_index: {b['seconds']:.1f}s ({b['embedded']} embedded, {b['reused']} reused)",
        f"QAService.explain: latency p50 {sv['latency_ms_p50']:.1f} ms, p95 "
        f"{sv['latency_ms_p95']:.1f} ms; abstained on {sv['abstained']:.1%} of the questions",
        f"  (load {sv['loadavg'][0]} -> {sv['loadavg'][1]}); parts, median ms over "
        f"{lp.get('questions', 200)} questions: spelling correction "
        f"{lp['speller_p50']:.2f} (p95 {lp['speller_p95']:.2f}), "
        f"query encoding {lp['encode_p50']:.1f} (p95 {lp['encode_p95']:.1f})",
        f"QAService.ask (as /ask): first citation from the question's abstract "
        f"{r['answers']['first_citation_hit']:.3f} (target >= {ANSWER_TARGET['first_citation']}; "
        f"retrieval rank alone hit@1 {r['baselines']['mscqa QAService.explain']['hit@1']:.3f}), "
        f"refused {r['answers']['refused']:.1%} (target <= {ANSWER_TARGET['refused']:.1%}); "
        f"median {r['answers']['took_ms_p50']:.1f} ms",
        f"vectorised replica of the Retriever agrees with QAService on "
        f"{r['replica_agreement']:.1%} of the ranks",
        "",
        "Baselines (same passages, vectors and questions; a hit = a passage of the question's "
        "own abstract; MRR@5)",
        table(["method", *cols], [[k, *(v[c] for c in cols)] for k, v in r["baselines"].items()]),
        f"target: hit@1 >= {TARGET['hit@1']}, hit@3 >= {TARGET['hit@3']}; product owner "
        "(paragraph passages): " + ", ".join(f"{k} {a}/{z}" for k, (a, z) in PRODUCT_OWNER.items()),
    ]
    if r.get("experiments"):
        out += [
            "",
            "Experiments (mscqa's building blocks, not its code path). 'vs mscqa' = questions "
            "gained-lost against QAService at hit@1 / hit@3 (paired, same questions).",
        ]
    for name, exp in r.get("experiments", {}).items():
        rows = [[lab, *(v[c] for c in cols), _delta(v)] for lab, v in exp["variants"].items()]
        if len(rows) > 12:  # big grids: the five best variants and the Retriever's defaults
            d = r.get("retriever_defaults", {})
            current = f"alpha={d.get('alpha')} sw={d.get('sentence_weight')}"
            best = sorted(rows, key=lambda row: row[1:5], reverse=True)[:5]
            rows = best + [
                row for row in rows if row not in best and str(row[0]).startswith(current)
            ]
        out += ["", f"{name}   (best: {exp['best']})"]
        out.append(table(["variant", *cols, "vs mscqa @1 / @3"], rows))
        if exp["two_fold"]:
            tf = exp["two_fold"]
            out.append(
                "  two-fold (tuned on one half, scored on the other): "
                + " ".join(f"{c} {tf['metrics'][c]:.3f}" for c in cols)
                + f"; picks {tf['picks']}"
            )
    if r.get("confirmed"):
        out += ["", "Winners re-run end to end through a real Retriever with those parameters:"]
        rows = [
            [
                f"{name.split()[0]}: {c['label']}",
                *(c["metrics"][k] for k in cols),
                _delta(c["metrics"]),
            ]
            for name, c in r["confirmed"].items()
        ]
        out.append(table(["variant", *cols, "vs mscqa @1 / @3"], rows))
    return "\n".join(out)


if __name__ == "__main__":
    sys.exit(main())
