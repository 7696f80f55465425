"""Build speed against the baseline, measured in one run, and what each encoder lever buys.

    .venv/bin/python -m bench.perf.build [--limit N] [--sample N] [--skip-quality]

Everything runs in this process with the model loaded, as the baseline is timed (it excludes
its own model load): the builds share one ``BuildCache``, as the admin API's rebuilds do (the
compiled build encoder, unchanged documents' chunks and abbreviations, passages' tokens):

(a) encoders: the same passages and sentences (``--sample`` PubMedQA abstracts, chunked as
    mscqa chunks them) encoded by torch fp32 (sentence-transformers defaults, the baseline's
    encoder), torch bf16, OpenVINO fp32 and OpenVINO bf16 on the model's ONNX export: texts/s
    and the lowest cosine to the torch fp32 vectors;
(b) the article (corpus/msc-article.md): ``build_index`` into an index folder whose model
    export exists but which holds no embeddings (the "model is loaded" case), against the
    baseline embedding the article's fixed 800-character chunks; target <= 2 s;
(c) the 1000 PubMedQA abstracts: ``build_index`` from nothing (the one-time ONNX export, its
    compilation and every embedding), and again with the model ready and no embeddings,
    against the baseline embedding the 3358 PubMedQA paragraphs; target <= 0.5x;
(d) one new document added to that index, then ``build_index`` (only its passages embedded,
    the rest reused); target <= 1 s. The baseline has no incremental path: it re-embeds all;
(e) quality: the dev set (``mscqa eval``) on an article index built by the default build
    encoder and by torch fp32, which must agree within 0.005.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import (
    ARTICLE,
    DEFAULT_DATA,
    DEVSET,
    as_rows,
    load_pubmedqa,
    machine,
    print_table,
    pubmedqa_paragraphs,
    row,
    save,
    write_corpus,
)
from bench.perf.baseline import baseline_embed_seconds

QUALITY_KEYS = ("hit@1", "hit@3", "mrr", "answer_contains_gold", "abstention_recall")


def settings_for(corpus: Path, index_dir: Path, **extra: Any) -> Any:
    from mscqa.config import Settings

    return Settings(corpus_dir=corpus, index_dir=index_dir, **extra)


def timed_build(settings: Any, cache: Any) -> tuple[float, Any]:
    from mscqa.indexing import build_index

    started = time.perf_counter()
    report = build_index(settings, cache=cache)
    return time.perf_counter() - started, report


def forget_embeddings(index_dir: Path) -> None:
    """Remove snapshots and the embedding cache, keep the model export (models/)."""
    for name in ("snapshots", "cache", "CURRENT"):
        path = index_dir / name
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)


def encoder_study(texts: list[str], model_dir: Path) -> list[dict[str, Any]]:
    """(a) texts/s and agreement with torch fp32 for each encoder on the same texts."""
    from mscqa.embedding.onnx_encoder import OnnxEmbedder
    from mscqa.embedding.sentence_transformer import SentenceTransformerEmbedder

    threads = os.cpu_count() or 1
    encoders: list[tuple[str, Any]] = [
        ("torch fp32", SentenceTransformerEmbedder("", threads=threads, precision="fp32")),
        ("torch bf16", SentenceTransformerEmbedder("", threads=threads, precision="bf16")),
        ("openvino fp32", OnnxEmbedder(model_dir, threads=threads, runtime="openvino")),
        (
            "openvino bf16",
            OnnxEmbedder(model_dir, threads=threads, runtime="openvino", precision="bf16"),
        ),
    ]
    out: list[dict[str, Any]] = []
    reference: np.ndarray | None = None
    for label, encoder in encoders:
        encoder.warm_up()
        started = time.perf_counter()
        vectors = encoder.encode(texts)
        seconds = time.perf_counter() - started
        if reference is None:
            reference = vectors
        out.append(
            {
                "encoder": label,
                "seconds": round(seconds, 2),
                "texts_per_s": round(len(texts) / seconds, 1),
                "min_cosine_to_torch_fp32": round(float((vectors * reference).sum(1).min()), 6),
            }
        )
        print(f"  {label}: {seconds:.2f}s for {len(texts)} texts", flush=True)
    return out


def sample_texts(entries: dict[str, Any], folder: Path) -> list[str]:
    from mscqa.config import Settings
    from mscqa.index import dense_text
    from mscqa.indexing import _sentence_table
    from mscqa.ingest.chunker import Chunker
    from mscqa.ingest.loaders import load_corpus

    write_corpus(entries, folder)
    documents = load_corpus(folder).documents
    chunks = [c for d in documents for c in Chunker(Settings().chunk_chars).chunk(d)]
    sentences, _ = _sentence_table(documents, chunks)
    return [dense_text(c) for c in chunks] + sentences


def dev_metrics(settings: Any) -> dict[str, Any]:
    from mscqa.evaluation import evaluate, load_questions
    from mscqa.service import QAService

    service = QAService(settings)
    service.load()
    metrics: dict[str, Any] = evaluate(service, load_questions(DEVSET))["metrics"]
    return metrics


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--limit", type=int, default=None, help="PubMedQA abstracts (all: 1000)")
    ap.add_argument("--sample", type=int, default=150, help="abstracts for the encoder study")
    ap.add_argument("--skip-quality", action="store_true")
    args = ap.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import logging

    logging.basicConfig(level=logging.WARNING)
    from mscqa.embedding.precision import resolve_precision

    results: dict[str, Any] = {"machine": machine(), "precision": resolve_precision("auto")}
    entries = load_pubmedqa(args.data, args.limit)
    from mscqa.indexing import BuildCache

    cache = BuildCache()  # what one process keeps between its builds
    work = Path(tempfile.mkdtemp(prefix="mscqa-build-bench-"))
    try:
        # (c) first: a build from nothing also exports the model that (a) and (b) reuse
        corpus = work / "pubmedqa"
        write_corpus(entries, corpus)
        pqa = settings_for(corpus, work / "pqa-index")
        print("building PubMedQA from nothing", flush=True)
        cold_s, report = timed_build(pqa, cache)
        forget_embeddings(pqa.index_dir)
        print("building PubMedQA with the model ready", flush=True)
        ready_s, _ = timed_build(pqa, cache)
        paragraphs = pubmedqa_paragraphs(
            args.limit and sum(len(e["CONTEXTS"]) for e in entries.values())
        )
        print(f"baseline: embedding {len(paragraphs)} paragraphs", flush=True)
        base_s = baseline_embed_seconds(paragraphs)
        # (d) one more document, model loaded
        extra = next(iter(entries.values()))["LONG_ANSWER"]
        (corpus / "added.md").write_text(f"# Added note\n\n{extra}\n", encoding="utf-8")
        add_s, add_report = timed_build(pqa, cache)
        # (b) the article, model ready
        article = settings_for(ARTICLE.parent, work / "article-index")
        shutil.copytree(pqa.index_dir / "models", article.index_dir / "models")
        article_s, article_report = timed_build(article, cache)
        text = ARTICLE.read_text(encoding="utf-8")
        article_chunks = [text[i : i + 800] for i in range(0, len(text), 800)]
        article_base_s = baseline_embed_seconds(article_chunks)
        # (a) the encoders on the same texts
        sample = dict(list(entries.items())[: args.sample])
        texts = sample_texts(sample, work / "sample")
        model_dir = next((pqa.index_dir / "models").iterdir())
        print(f"encoder study on {len(texts)} passages and sentences", flush=True)
        results["encoders"] = encoder_study(texts, model_dir)
        rows = [
            row(
                "article build, model ready (s)",
                article_s,
                article_base_s,
                "<= 2 s",
                article_s <= 2,
            ),
            row(
                "PubMedQA build, model ready (s)",
                ready_s,
                base_s,
                "<= 0.5x baseline",
                ready_s <= 0.5 * base_s,
            ),
            row("PubMedQA build from nothing, incl. export (s)", cold_s, base_s, "(report)", None),
            row("add one document to PubMedQA (s)", add_s, base_s, "<= 1 s", add_s <= 1),
        ]
        results["builds"] = {
            "pubmedqa": {
                "documents": report.documents,
                "chunks": report.chunks,
                "sentences": report.sentences,
                "texts_embedded": report.embedded,
                "cold_s": cold_s,
                "model_ready_s": ready_s,
                "baseline_paragraphs": len(paragraphs),
                "baseline_s": base_s,
                "add_one_s": add_s,
                "add_one_embedded": add_report.embedded,
            },
            "article": {
                "chunks": article_report.chunks,
                "texts_embedded": article_report.embedded,
                "model_ready_s": article_s,
                "baseline_chunks": len(article_chunks),
                "baseline_s": article_base_s,
            },
        }
        if not args.skip_quality:
            # (e) the default build encoder against torch fp32 on the same article
            torch_dir = settings_for(
                ARTICLE.parent,
                work / "article-torch",
                build_backend="torch",
                build_precision="fp32",
            )
            shutil.copytree(pqa.index_dir / "models", torch_dir.index_dir / "models")
            timed_build(torch_dir, cache)
            ours, ref = dev_metrics(article), dev_metrics(torch_dir)
            results["quality"] = {"default": ours, "torch_fp32": ref}
            for key in QUALITY_KEYS:
                ok = abs(ours[key] - ref[key]) <= 0.005
                rows.append(
                    row(
                        f"dev {key} (baseline: torch fp32 build)",
                        ours[key],
                        ref[key],
                        "within 0.005",
                        ok,
                    )
                )
        results["rows"] = rows
        results["machine_after"] = machine()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("\n## encoders (same texts)")
    for e in results["encoders"]:
        print(
            f"  {e['encoder']:<14} {e['texts_per_s']:>7.1f} texts/s  "
            f"min cosine to torch fp32 {e['min_cosine_to_torch_fp32']:.6f}"
        )
    print_table(f"builds (precision {results['precision']})", as_rows(rows))
    path = save("build", results)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
