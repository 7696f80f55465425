"""/ask latency over HTTP against the in-process baseline, and the query encoders themselves.

    .venv/bin/python -m bench.perf.latency [--questions 80] [--part ask,encoder,rebuild] [--json]

ask      ``mscqa serve`` on the article index; new questions (never cached) and one repeated
         question over HTTP (keep-alive, the standard library's client; an httpx client is
         timed too, to show what it adds), in alternating blocks with the baseline's
         in-process questions so both see the same background load; then both again with
         0.1 s of quiet before each question, as chat questions arrive.
encoder  query encode time for torch (1 thread), ONNX fp32 and ONNX int8; agreement of the
         ONNX vectors with sentence-transformers on ~200 varied texts; and batched passage
         encoding (what a build does) for torch and ONNX on PubMedQA paragraphs.
rebuild  /ask on new questions while ``mscqa index`` rebuilds the PubMedQA abstracts in another
         process, against the idle median measured just before, for the default layout
         (OpenVINO: a question alone on every core, overlapping ones on one thread each; the
         build at nice 10) and for the alternatives.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from bench.common import (
    ARTICLE,
    PUBMEDQA,
    PYTHON,
    AskClient,
    article_index,
    as_rows,
    machine,
    print_table,
    pubmedqa_paragraphs,
    row,
    save,
    server,
    server_env,
    stop,
    summary,
    varied_questions,
    write_pubmedqa_corpus,
)
from bench.perf.baseline import Baseline


def httpx_ms(client: httpx.Client, url: str, question: str) -> float:
    started = time.perf_counter()
    response = client.post(f"{url}/ask", json={"question": question})
    took = (time.perf_counter() - started) * 1000
    if response.status_code != 200:
        raise RuntimeError(f"/ask returned {response.status_code}: {response.text[:200]}")
    return took


BLOCK = 25
REWARM = 3
PAUSE_S = 0.3
IDLE_S = 0.1  # the gap before each question of the paced comparison


def part_ask(index_dir: Path, n: int) -> dict[str, Any]:
    rounds = -(-n // BLOCK)  # each round: a block for each of the three
    questions = varied_questions(10 + rounds * 3 * (BLOCK + REWARM) + 2 * BLOCK)
    paced_questions = questions[-2 * BLOCK :]
    warm, questions = questions[:10], questions[10:]
    baseline = Baseline()
    for q in warm[:3]:
        baseline.ask(q)
    ours: list[float] = []
    via_httpx: list[float] = []
    base: list[float] = []
    repeated: list[float] = []
    with server(index_dir) as (url, _, _), httpx.Client(timeout=30) as hx:
        client = AskClient(url)
        for q in warm:
            client.ask_ms(q)
            httpx_ms(hx, url, q)
        # Alternating blocks, so both see the same background load, with a pause after each
        # baseline block: its torch threads spin-wait on both cores for a while after every
        # call (OpenMP), which slowed the server's next answer from 4.4 to 8.5 ms when the two
        # were interleaved one for one. Each block starts with REWARM unmeasured new
        # questions, for both sides alike: the other side's model has just been through the
        # CPU caches. Every third block is the server through httpx (its own questions).
        step = BLOCK + REWARM
        for i, lo in enumerate(range(0, rounds * 3 * step, step)):
            rewarm = questions[lo : lo + REWARM]
            block = questions[lo + REWARM : lo + step]
            if i % 3 == 0:
                for q in rewarm:
                    client.ask_ms(q)
                ours += [client.ask_ms(q) for q in block]
            elif i % 3 == 1:
                for q in rewarm:
                    httpx_ms(hx, url, q)
                via_httpx += [httpx_ms(hx, url, q) for q in block]
            else:
                for q in rewarm:
                    baseline.ask(q)
                for q in block:
                    started = time.perf_counter()
                    baseline.ask(q)
                    base.append((time.perf_counter() - started) * 1000)
            time.sleep(PAUSE_S)
        for _ in range(n):
            repeated.append(client.ask_ms(warm[0]))
        # Paced: each question after IDLE_S of quiet, as chat questions arrive. Both sides
        # then start with caches other tenants of this VM have used meanwhile (~2x slower
        # than back to back, measured); alternating one for one is fair here, as the pause
        # outlasts the baseline's spinning threads.
        paced: list[float] = []
        paced_base: list[float] = []
        for q_ours, q_base in zip(paced_questions[::2], paced_questions[1::2], strict=True):
            time.sleep(IDLE_S)
            paced.append(client.ask_ms(q_ours))
            time.sleep(IDLE_S)
            started = time.perf_counter()
            baseline.ask(q_base)
            paced_base.append((time.perf_counter() - started) * 1000)
        client.close()
    o, h, b, r = summary(ours), summary(via_httpx), summary(base), summary(repeated)
    po, pb = summary(paced), summary(paced_base)
    rows = [
        row("/ask new question, median ms", o["median"], b["median"], "<= 0.6x", None),
        row("/ask new question, p90 ms", o["p90"], b["p90"], "", None),
        row("/ask new question via httpx, median ms", h["median"], b["median"], "", None),
        row("/ask repeated question, median ms", r["median"], b["median"], "<= 3 ms", None),
        row(
            f"/ask new question after {IDLE_S:g} s idle, median ms",
            po["median"],
            pb["median"],
            "(report)",
            None,
        ),
    ]
    rows[0]["ok"] = rows[0]["ratio"] <= 0.6
    rows[3]["ok"] = r["median"] <= 3.0
    return {
        "rows": rows,
        "samples": {
            "ours_new": ours,
            "ours_new_httpx": via_httpx,
            "baseline": base,
            "ours_repeated": repeated,
            "ours_paced": paced,
            "baseline_paced": paced_base,
        },
        "summaries": {
            "ours_new": o,
            "ours_new_httpx": h,
            "baseline": b,
            "ours_repeated": r,
            "ours_paced": po,
            "baseline_paced": pb,
        },
    }


def agreement_texts() -> list[str]:
    article = ARTICLE.read_text(encoding="utf-8")
    sentences = [s for s in re.split(r"(?<=[.!?])\s+", article) if s.strip()]
    texts = [article[i : i + 800] for i in range(0, len(article), 800)]
    texts += ["", "a", "MSC?", "x " * 600, "üñíçødé ✓ 中文 テスト", article]
    texts += varied_questions(80)[20:]
    texts += sentences
    if PUBMEDQA.is_file():
        texts += pubmedqa_paragraphs(200)
    return texts[:200]


def part_encoder(index_dir: Path, n: int, passages: int) -> dict[str, Any]:
    from mscqa.embedding.onnx_encoder import OnnxEmbedder
    from mscqa.embedding.onnx_export import export_onnx
    from mscqa.embedding.precision import resolve_precision
    from mscqa.embedding.sentence_transformer import (
        SentenceTransformerEmbedder,
        model_fingerprint,
        resolve_model,
    )

    source = resolve_model("")
    sha = model_fingerprint(source)
    folders = {
        "fp32": index_dir / "models" / sha[:16],
        "int8": index_dir.parent / "bench-int8-export",
    }
    if not (folders["fp32"] / "model.onnx").is_file():
        export_onnx(Path(source), folders["fp32"], source_sha256=sha)
    export_onnx(Path(source), folders["int8"], source_sha256=sha, quantize=True)
    torch1 = SentenceTransformerEmbedder("", threads=1)
    encoders: dict[str, Any] = {"torch": torch1}
    encoders.update({k: OnnxEmbedder(f, threads=1) for k, f in folders.items()})
    # what the server uses where the CPU has native bf16 (MSCQA_QUERY_PRECISION=auto)
    encoders["openvino"] = OnnxEmbedder(
        folders["fp32"], threads=1, runtime="openvino", precision=resolve_precision("auto")
    )
    texts = agreement_texts()
    reference = torch1.encode(texts)
    agreement: dict[str, dict[str, float]] = {}
    for name in ("fp32", "int8", "openvino"):
        got = encoders[name].encode(texts)
        cos = (got * reference).sum(axis=1)
        agreement[name] = {
            "texts": len(texts),
            "max_abs_diff": float(np.abs(got - reference).max()),
            "min_cosine": float(cos.min()),
            "median_cosine": float(np.median(cos)),
        }
    questions = varied_questions(n + 20)[20:]
    query: dict[str, list[float]] = {k: [] for k in encoders}
    for enc in encoders.values():
        enc.encode(questions[:3])
    for q in questions:  # interleaved: the same background load for all four
        for name, enc in encoders.items():
            started = time.perf_counter()
            enc.encode([q])
            query[name].append((time.perf_counter() - started) * 1000)
    build_s: dict[str, float] = {}
    if PUBMEDQA.is_file() and passages:
        texts = pubmedqa_paragraphs(passages)
        torch_all = SentenceTransformerEmbedder("", threads=2)
        onnx_all = OnnxEmbedder(folders["fp32"], threads=2)
        for name, enc in (("torch", torch_all), ("onnx", onnx_all)):
            enc.encode(texts[:4])
            started = time.perf_counter()
            enc.encode(texts, batch_size=64)
            build_s[name] = time.perf_counter() - started
    med = {k: float(np.median(v)) for k, v in query.items()}
    rows = [
        row("query encode torch 1 thread, median ms", med["torch"], med["torch"], "", None),
        row("query encode ONNX fp32, median ms", med["fp32"], med["torch"], "", None),
        row("query encode ONNX int8, median ms", med["int8"], med["torch"], "", None),
        row(
            "ONNX fp32 min cosine vs ST",
            agreement["fp32"]["min_cosine"],
            None,
            "> 0.9999",
            agreement["fp32"]["min_cosine"] > 0.9999,
        ),
        row("ONNX int8 min cosine vs ST", agreement["int8"]["min_cosine"], None, "", None),
        row(
            f"query encode OpenVINO {encoders['openvino'].precision}, median ms",
            med["openvino"],
            med["torch"],
            "",
            None,
        ),
        row(
            f"OpenVINO {encoders['openvino'].precision} min cosine vs ST",
            agreement["openvino"]["min_cosine"],
            None,
            "> 0.999",
            agreement["openvino"]["min_cosine"] > 0.999,
        ),
    ]
    if build_s:
        rows.append(
            row(
                f"embed {passages} passages ONNX (2 threads), s",
                build_s["onnx"],
                build_s["torch"],
                "keep torch if > 1",
                None,
            )
        )
    return {"rows": rows, "agreement": agreement, "query_ms": query, "build_s": build_s}


def part_rebuild(index_dir: Path, n: int) -> dict[str, Any]:
    """Idle /ask median, then /ask median while a full rebuild runs in another process."""
    work = Path(tempfile.mkdtemp(prefix="mscqa-rebuild-"))
    corpus = work / "pubmedqa"
    write_pubmedqa_corpus(corpus)
    layouts = [
        ("onnx, build nice 10 (default)", {}, {}),
        # every question on one thread, even one alone on the server
        ("onnx 1 thread, build nice 10", {"MSCQA_QUERY_SOLO_THREADS": "1"}, {}),
        # two threads for every question, overlapping or not
        ("onnx 2 threads, build nice 10", {"MSCQA_QUERY_THREADS": "2"}, {}),
        ("onnx, build nice 0", {}, {"MSCQA_BUILD_NICE": "0"}),
        ("torch 1 thread, build nice 10", {"MSCQA_QUERY_BACKEND": "torch"}, {}),
        (
            "torch 1 thread, build nice 0",
            {"MSCQA_QUERY_BACKEND": "torch"},
            {"MSCQA_BUILD_NICE": "0"},
        ),
    ]
    questions = varied_questions(2 * n * len(layouts) + 40)
    rows = []
    details = {}
    used = 20
    for i, (label, serve_env, build_env) in enumerate(layouts):
        with server(index_dir, **serve_env) as (url, _, _):
            client = AskClient(url)
            for q in questions[:5]:
                client.ask_ms(q)
            idle = [client.ask_ms(q) for q in questions[used : used + n]]
            used += n
            env = server_env(
                work / f"index-{i}", MSCQA_CORPUS_DIR=str(corpus), MSCQA_LOG_LEVEL="WARNING"
            )
            env.update(build_env)
            builder = subprocess.Popen(
                [PYTHON, "-m", "mscqa.cli", "index", "--json"],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            try:
                time.sleep(12)  # past imports and corpus loading: into the embedding phase
                busy = []
                for q in questions[used : used + n]:
                    busy.append(client.ask_ms(q))
                used += n
                still_building = builder.poll() is None
            finally:
                stop(builder)
                client.close()
        si, sb = summary(idle), summary(busy)
        r = row(
            f"/ask during rebuild [{label}], median ms", sb["median"], si["median"], "<= 2x", None
        )
        r["ok"] = bool(r["ratio"] is not None and r["ratio"] <= 2.0 and still_building)
        if not still_building:
            r["target"] = "<= 2x (build ended early!)"
        rows.append(r)
        details[label] = {"idle": idle, "busy": busy, "still_building": still_building}
    shutil.rmtree(work, ignore_errors=True)
    return {"rows": rows, "samples": details}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--questions", type=int, default=80)
    parser.add_argument("--passages", type=int, default=400, help="PubMedQA paragraphs, build test")
    parser.add_argument("--part", default="ask,encoder,rebuild")
    parser.add_argument("--index-dir", type=Path, default=None, help="reuse an article index")
    parser.add_argument("--json", action="store_true", help="also print the results as JSON")
    args = parser.parse_args()
    index_dir = article_index(args.index_dir)
    result: dict[str, Any] = {"machine": machine()}
    parts = args.part.split(",")
    if "ask" in parts:
        result["ask"] = part_ask(index_dir, args.questions)
        print_table(
            "/ask latency (baseline: in-process tutorial pipeline)", as_rows(result["ask"]["rows"])
        )
    if "encoder" in parts:
        result["encoder"] = part_encoder(index_dir, args.questions, args.passages)
        print_table("query encoders (baseline: torch)", as_rows(result["encoder"]["rows"]))
    if "rebuild" in parts:
        result["rebuild"] = part_rebuild(index_dir, max(20, args.questions // 2))
        print_table(
            "/ask during a rebuild (baseline: idle median, same server)",
            as_rows(result["rebuild"]["rows"]),
        )
    result["machine_after"] = machine()
    path = save("latency", result)
    if args.json:
        print(json.dumps({k: v for k, v in result.items()}, default=str)[:2000])
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
