"""What the bounded HTTP parser costs: ``mscqa serve``'s h11 protocol with its limits (as
shipped) against uvicorn's httptools parser (what it ran before, with no limit on a request's
head), on the same index, in the same run.

    .venv/bin/python -m bench.perf.parser [--blocks 20] [--block 50]

Both servers run at once (uvloop, the shipped settings otherwise); the client alternates blocks
of ``--block`` requests between them, so a change in the machine's load hits both alike. Each
block times a repeated question (served from the answer cache: almost all of it is HTTP) and new
questions (never cached), over one keep-alive connection per server; the server's CPU time
(/proc) per cached request is printed too, being much less sensitive to a busy machine than
wall-clock time.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.common import (
    OUT,
    PYTHON,
    AskClient,
    article_index,
    free_port,
    machine,
    median,
    percentile,
    save,
    server_env,
    stop,
    varied_questions,
    wait_ready,
)

SERVE = textwrap.dedent(
    """
    import sys, uvicorn
    from mscqa.server import create_app
    from mscqa.config import Settings
    from mscqa.server.serve import uvicorn_config
    settings = Settings()
    config = uvicorn_config(create_app(settings), settings, "127.0.0.1", int(sys.argv[2]))
    if sys.argv[1] == "httptools":
        config.http = "httptools"  # the parser mscqa serve used before
    uvicorn.Server(config).run()
    """
)
PARSERS = ("h11-limited", "httptools")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` and all its threads so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def parser_server(index_dir: Path, parser: str) -> Iterator[tuple[str, int]]:
    port = free_port()
    proc = subprocess.Popen(
        [PYTHON, "-c", SERVE, parser, str(port)],
        env=server_env(index_dir),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, proc, 60)
        yield url, proc.pid
    finally:
        stop(proc)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--blocks", type=int, default=20)
    parser.add_argument("--block", type=int, default=50)
    parser.add_argument("--index-dir", type=Path, default=None, help="reuse an article index")
    args = parser.parse_args()
    index_dir = article_index(args.index_dir)
    fresh = iter(varied_questions(2 * args.blocks * args.block + 10))
    times: dict[str, dict[str, list[float]]] = {p: {"cached": [], "new": []} for p in PARSERS}
    cpu = dict.fromkeys(PARSERS, 0.0)
    with parser_server(index_dir, PARSERS[0]) as a, parser_server(index_dir, PARSERS[1]) as b:
        servers = {PARSERS[0]: a, PARSERS[1]: b}
        clients = {name: AskClient(url) for name, (url, _) in servers.items()}
        for client in clients.values():  # warm up both: model, cache, connection
            for _ in range(20):
                client.ask_ms("What are mesenchymal stem cells?")
            for _ in range(5):
                client.ask_ms(next(fresh))
        for i in range(args.blocks):
            order = PARSERS if i % 2 == 0 else PARSERS[::-1]
            for name in order:
                client, pid = clients[name], servers[name][1]
                before = cpu_seconds(pid)
                for _ in range(args.block):
                    times[name]["cached"].append(client.ask_ms("What are mesenchymal stem cells?"))
                cpu[name] += cpu_seconds(pid) - before
                for _ in range(args.block // 5):
                    times[name]["new"].append(client.ask_ms(next(fresh)))
        for client in clients.values():
            client.close()
    result: dict[str, Any] = {"machine": machine(), "parsers": {}}
    print(f"\nHTTP parser, {args.blocks} alternating blocks (loopback, one keep-alive connection)")
    print(
        f"  {'parser':<12} {'cached median':>14} {'cached p90':>11} {'new median':>11}"
        f" {'server CPU per cached':>22}"
    )
    for name in PARSERS:
        cached, new = times[name]["cached"], times[name]["new"]
        figures = {
            "cached_median_ms": round(median(cached), 3),
            "cached_p90_ms": round(percentile(cached, 90), 3),
            "new_median_ms": round(median(new), 3),
            "server_cpu_ms_per_cached": round(1000 * cpu[name] / len(cached), 3),
            "requests": len(cached) + len(new),
        }
        result["parsers"][name] = figures
        print(
            f"  {name:<12} {figures['cached_median_ms']:>11.3f} ms {figures['cached_p90_ms']:>8.3f}"
            f" ms {figures['new_median_ms']:>8.3f} ms"
            f" {figures['server_cpu_ms_per_cached']:>19.3f} ms"
        )
    ours, before = result["parsers"][PARSERS[0]], result["parsers"][PARSERS[1]]
    extra = ours["cached_median_ms"] - before["cached_median_ms"]
    cpu_extra = ours["server_cpu_ms_per_cached"] - before["server_cpu_ms_per_cached"]
    print(f"  h11 with limits costs {extra:+.3f} ms per request (cached median, same run)")
    print(f"  and {cpu_extra:+.3f} ms of server CPU per request (load-independent)")
    print(f"  load average at the end: {machine()['loadavg']}")
    OUT.mkdir(parents=True, exist_ok=True)
    print(f"\nwrote {save('parser', result)}")


if __name__ == "__main__":
    main()
