"""What the OpenAI-compatible API adds to a question: ``/v1/chat/completions`` against ``/ask``.

    .venv/bin/python -m bench.perf.openai_overhead [--questions 300] [--repeats 300] [--json]

One ``mscqa serve`` on the article index with the answer cache off (``MSCQA_CACHE_SIZE=0``),
so every question is computed wherever it arrives: each new question (the dev set, then
PubMedQA questions) is asked through ``POST /ask`` (the baseline), ``POST
/v1/chat/completions`` and the same streamed (``"stream": true``, read to ``data: [DONE]``),
the three in a shuffled order per question, so all three see the same questions and the same
background load. Then a second server with the cache on (the default) and one repeated
question: a cache hit, where the conversion's share of the time is largest. Medians over HTTP
(one keep-alive connection per endpoint, the standard library's client), the median of the
per-question differences, and the ratio; the target is ``/v1`` within 1 ms of ``/ask``.
Last, in process, what building and serialising each reply costs for one answer
(microseconds), without HTTP's noise.
"""

from __future__ import annotations

import http.client
import json
import random
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.common import row, same_run, save, server, summary, table, varied_questions

TARGET_MS = 1.0
KINDS = ("ask", "v1", "v1 stream")
_JSON = {"Content-Type": "application/json", "Authorization": "Bearer unused"}


class Endpoint:
    """One kind of request over its own keep-alive HTTP/1.1 connection."""

    def __init__(self, url: str, kind: str) -> None:
        host, port = url.split("//", 1)[1].rsplit(":", 1)
        self.conn = http.client.HTTPConnection(host, int(port), timeout=60)
        self.kind = kind

    def request(self, question: str) -> tuple[str, bytes]:
        if self.kind == "ask":
            return "/ask", json.dumps({"question": question}).encode()
        body: dict[str, Any] = {
            "model": "mscqa",
            "messages": [{"role": "user", "content": question}],
        }
        if self.kind == "v1 stream":
            body["stream"] = True
        return "/v1/chat/completions", json.dumps(body).encode()

    def ms(self, question: str) -> float:
        """Milliseconds until the whole reply is read (for a stream: through ``[DONE]``)."""
        path, body = self.request(question)
        for attempt in (1, 2):
            started = time.perf_counter()
            try:
                self.conn.request("POST", path, body=body, headers=_JSON)
                response = self.conn.getresponse()
                data = response.read()
            except (http.client.RemoteDisconnected, ConnectionError):
                self.conn.close()  # an idle keep-alive connection the server closed
                if attempt == 2:
                    raise
                continue
            took = (time.perf_counter() - started) * 1000
            if response.status != 200:
                raise RuntimeError(f"{path} returned {response.status}: {data[:200]!r}")
            if self.kind == "v1 stream" and not data.endswith(b"data: [DONE]\n\n"):
                raise RuntimeError(f"the stream did not end with [DONE]: {data[-200:]!r}")
            return took
        raise AssertionError("unreachable")

    def close(self) -> None:
        self.conn.close()


def interleaved(url: str, work: list[str], seed: int) -> dict[str, list[float]]:
    """Every question through every endpoint, in a shuffled order per question."""
    endpoints = {kind: Endpoint(url, kind) for kind in KINDS}
    for endpoint in endpoints.values():  # warm up: first connection, model, code paths
        for q in ("What are mesenchymal stem cells?", "Which MSC products are approved?"):
            endpoint.ms(q)
    times: dict[str, list[float]] = {kind: [] for kind in KINDS}
    order = list(KINDS)
    rng = random.Random(seed)
    for question in work:
        rng.shuffle(order)
        for kind in order:
            times[kind].append(endpoints[kind].ms(question))
    for endpoint in endpoints.values():
        endpoint.close()
    return times


def run(index_dir: Path, n: int, repeats: int) -> dict[str, Any]:
    questions = varied_questions(n)
    with server(index_dir, MSCQA_CACHE_SIZE="0") as (url, _, _):
        new = interleaved(url, questions, seed=0)
    repeated = "How are adipose mesenchymal stem cells collected?"
    with server(index_dir) as (url, _, _):
        cached = interleaved(url, [repeated] * repeats, seed=1)
    return {"new": new, "cached": cached, "questions": len(questions), "repeats": repeats}


def in_process(index_dir: Path, n: int) -> dict[str, float]:
    """Microseconds to turn one answer into each reply's bytes, median of ``n``: ``/ask``'s
    JSON, the chat completion's JSON and the stream's frames."""
    from mscqa.config import Settings
    from mscqa.server.openai.routes import completion_for, stream_frames
    from mscqa.server.schemas import AskResponse
    from mscqa.service import QAService

    settings = Settings(index_dir=index_dir, _env_file=None)
    service = QAService(settings)
    service.load()
    answer = service.ask("How are adipose mesenchymal stem cells collected?")
    base = "http://127.0.0.1:8000"
    limit = settings.max_reply_kb * 1024

    def v1() -> bytes:
        return completion_for(AskResponse.of(answer), base, 0).model_dump_json().encode()

    def stream() -> bytes:
        return b"".join(stream_frames(completion_for(AskResponse.of(answer), base, 0)))

    jobs: dict[str, Callable[[], bytes]] = {
        "ask": lambda: AskResponse.bounded_json(answer, limit),
        "v1": v1,
        "v1 stream": stream,
    }
    times: dict[str, list[float]] = {kind: [] for kind in jobs}
    for _ in range(n // 100):  # alternating blocks of 100
        for kind, job in jobs.items():
            for _ in range(100):
                started = time.perf_counter()
                job()
                times[kind].append((time.perf_counter() - started) * 1e6)
    service.close()
    return {kind: round(statistics.median(v), 1) for kind, v in times.items()}


def rows(result: dict[str, Any]) -> list[list[Any]]:
    out = []
    for part, label in (("new", "new question"), ("cached", "repeated question (cached)")):
        times = result[part]
        base = statistics.median(times["ask"])
        for kind in KINDS:
            median = statistics.median(times[kind])
            paired = statistics.median(
                a - b for a, b in zip(times[kind], times["ask"], strict=True)
            )
            baseline = kind == "ask"
            out.append(
                [
                    f"{label}: {'/ask' if baseline else '/v1/chat/completions'}"
                    + (" streamed" if kind == "v1 stream" else ""),
                    median,
                    summary(times[kind])["p90"],
                    "(baseline)" if baseline else round(median - base, 3),
                    "" if baseline else round(paired, 3),
                    "" if baseline else round(median / base, 3),
                    "" if baseline else f"<= +{TARGET_MS}",
                    "" if baseline else ("yes" if median - base <= TARGET_MS else "NO"),
                ]
            )
    return out


def combined_rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The figures for bench.run_all's combined table: each /v1 median against /ask's."""
    out = []
    for part, label in (("new", "new question"), ("cached", "cached question")):
        base = statistics.median(result[part]["ask"])
        for kind in KINDS[1:]:
            median = statistics.median(result[part][kind])
            out.append(
                row(
                    f"{kind.replace('v1', '/v1/chat/completions')} vs /ask, {label} (ms)",
                    median,
                    base,
                    f"<= /ask + {TARGET_MS} ms",
                    median - base <= TARGET_MS,
                )
            )
    return out


def main() -> None:
    args, result = same_run(__doc__ or "", (300, 300), run, in_process, 3000)
    result["summary"] = {
        part: {kind: summary(v) for kind, v in result[part].items()} for part in ("new", "cached")
    }
    load = " ".join(str(x) for x in result["machine"]["loadavg"])
    print(f"\n## /v1/chat/completions against /ask, same run (ms over HTTP; load average {load})\n")
    headers = ["figure", "median", "p90", "median - /ask", "paired median", "ratio", "target"]
    print(table([*headers, "met"], rows(result)))
    print(
        f"({result['questions']} new questions, each through all three in a shuffled order; "
        f"the cached question {result['repeats']} times)"
    )
    us = result["in_process_us"]
    print(
        f"in process, one answer to reply bytes: /ask {us['ask']} us, chat completion "
        f"{us['v1']} us, stream frames {us['v1 stream']} us (median of 3000 each)"
    )
    result["rows"] = combined_rows(result)
    saved = {k: v for k, v in result.items() if k not in ("new", "cached")}
    save("openai_overhead", saved)
    if args.json:
        print(json.dumps(saved, indent=2))


if __name__ == "__main__":
    main()
