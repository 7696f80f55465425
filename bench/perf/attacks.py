"""Hostile clients beside normal traffic: do the normal clients still get answers, and fast?

    .venv/bin/python -m bench.perf.attacks [--duration 15] [--clients 8] [--rounds 1]
                                           [--compare REF]

Three phases on one ``mscqa serve`` (its defaults, except no per-IP rate limit: the normal
clients share one address here, as many users behind one proxy would):

* ``alone``: the normal clients alone (the baseline, same server, same run);
* ``slow-body``: 64 sockets from 8 other loopback addresses send ``POST /ask`` heads with
  ``Content-Length: 29`` and then nothing, and reconnect as soon as the server closes one
  (issue #16: 32 such sockets held every question slot, every other client got 503);
* ``big-header``: 50 sockets from 8 other addresses stream one endless header line in 64 KiB
  pieces (up to 16 MB per connection) and reconnect when refused (issue #16: 50 sockets with
  16 MB unfinished headers took the server from 803 to 1,671 MB; one 96 MB header stalled the
  event loop 8.7 s).

The normal clients are ``--clients`` threads, each asking a new question (never cached) over
its own keep-alive connection, then waiting 0.1 s. Reported per phase: their share of 200
answers (a timeout after 10 s or any other status counts as not answered), median and p99
latency, the server's RSS and CPU (event loop, other threads), the machine's busy CPU, and
what the attackers got back (``bench.perf.attackers``, each in its own process). Targets
(issue #16): >= 99% answered and p99 <= 250 ms during each attack.

``--compare REF`` runs the server of git REF too (``main`` before a change; ``ba8aa65^``:
before the hostile-client limits), at the same time as this tree's: each phase runs on one
server then the other, in alternating order, so a change in the machine's load (other work on
a shared machine) hits both alike; ``--rounds N`` repeats that N times and pools the blocks.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import itertools
import os
import shutil
import statistics
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.common import (
    AskClient,
    article_index,
    build,
    machine,
    save,
    server,
    varied_questions,
)
from bench.perf.attackers import SOCKETS, AttackProcess
from bench.perf.cputime import ServerCpu
from bench.perf.rebuild_memory import export_ref

PHASES = ("alone", "slow-body", "big-header")


def normal_traffic(
    url: str, clients: int, duration: float, questions: list[str]
) -> list[tuple[int, float]]:
    """(status, ms) of every question the normal clients asked (status 0: no reply)."""
    results: list[tuple[int, float]] = []
    lock = threading.Lock()
    stop = time.perf_counter() + duration

    def client(n: int) -> None:
        ask = AskClient(url, timeout=10)
        mine = questions[n::clients]
        i = 0
        while time.perf_counter() < stop and i < len(mine):
            started = time.perf_counter()
            try:
                status, ms, _ = ask.ask(mine[i])
            except (OSError, http.client.HTTPException):  # timed out, reset: not answered
                status, ms = 0, (time.perf_counter() - started) * 1000
                ask.close()
                ask = AskClient(url, timeout=10)
            with lock:
                results.append((status, ms))
            i += 1
            time.sleep(0.1)
        ask.close()

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def fresh_questions() -> Iterator[str]:
    """Distinct questions for ever: the varied set, then again with a round number (about
    1,100 distinct ones exist, a run asks more), so the answer cache never answers."""
    base = varied_questions(100_000)
    for n in itertools.count():
        for q in base:
            yield q if n == 0 else f"{q} ({n})"


def rss_mb(pid: int) -> float:
    text = Path(f"/proc/{pid}/status").read_text()
    return int(text.split("VmRSS:")[1].split()[0]) / 1024


@dataclass
class Target:
    """One server under test: its label, index and source tree (None: this one)."""

    label: str
    index_dir: Path
    src: Path | None = None
    raw: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


def one_phase(
    url: str,
    pid: int,
    phase: str,
    clients: int,
    duration: float,
    questions: Iterator[str],
    nice: int = 19,
) -> dict[str, Any]:
    """The normal clients for ``duration`` s beside the attack ``phase``: what they got, the
    server's peak RSS and CPU, the attacker's figures."""
    batch = [next(questions) for _ in range(int(clients * duration * 12))]
    peak = [rss_mb(pid)]
    port = int(url.rsplit(":", 1)[1])
    attack = AttackProcess(phase, port, SOCKETS[phase], nice) if phase in SOCKETS else None
    if attack is not None:
        time.sleep(1.0)  # the attack is in place before the clients start
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.2):
            peak.append(rss_mb(pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    cpu, started, mine = ServerCpu.read(pid), time.perf_counter(), time.process_time()
    try:
        results = normal_traffic(url, clients, duration, batch)
    finally:
        used = ServerCpu.read(pid).since(cpu)
        used["wall_s"] = round(time.perf_counter() - started, 2)
        used["clients_s"] = round(time.process_time() - mine, 2)
        stop.set()
        sampler.join()
        stats = attack.finish() if attack is not None else None
    time.sleep(2.0)  # let the server close what is left before the next phase
    return {"results": results, "peak": max(peak), "cpu": used, "attack": stats}


def summary(raws: list[dict[str, Any]]) -> dict[str, Any]:
    """One phase's figures over its blocks (every block's questions pooled)."""
    results = [r for raw in raws for r in raw["results"]]
    ms = sorted(m for s, m in results if s == 200)
    answered = len(ms)
    cpu = {k: round(sum(raw["cpu"][k] for raw in raws), 2) for k in raws[0]["cpu"]}
    attacks = [raw["attack"] for raw in raws if raw["attack"]]
    attack = None
    if attacks:
        replies: Counter[str] = Counter()
        for a in attacks:
            replies.update(a["replies"])
        attack = {k: sum(a[k] for a in attacks) for k in ("connections_opened", "bytes_sent")}
        attack |= {"sockets": attacks[0]["sockets"], "replies": dict(replies)}
        attack["cpu_s"] = round(sum(a["cpu_s"] for a in attacks), 2)
    return {
        "asked": len(results),
        "answered": answered,
        "answered_share": round(answered / len(results), 4) if results else None,
        "statuses": dict(Counter(str(s) for s, _ in results)),
        "p50_ms": round(statistics.median(ms), 1) if ms else None,
        "p99_ms": round(ms[min(len(ms) - 1, int(0.99 * len(ms)))], 1) if ms else None,
        "server_rss_peak_mb": round(max(raw["peak"] for raw in raws), 1),
        "attack": attack,
        "cpu": cpu | {"cores": os.cpu_count()},
        "blocks": len(raws),
    }


def run_phases(
    targets: list[Target], duration: float, clients: int, rounds: int = 1, nice: int = 19
) -> dict[str, dict[str, dict[str, Any]]]:
    """Every phase on every target's server, all of them running at once, in alternating
    order (target A then B, then B then A...), ``rounds`` times: a change in the machine's load
    hits each server alike. {label: {phase: summary}}."""
    env = {"MSCQA_MAX_CLIENT_CONNECTIONS": "64"}  # the default (bench servers lift it for wrk)
    questions = fresh_questions()
    with contextlib.ExitStack() as stack:
        running = []
        for t in targets:
            extra = env | ({"PYTHONPATH": str(t.src / "src")} if t.src is not None else {})
            url, proc, _ = stack.enter_context(server(t.index_dir, **extra))
            running.append((t, url, proc.pid))
            warm = AskClient(url)
            for _ in range(10):
                warm.ask(next(questions))
            warm.close()
        turn = 0
        for _ in range(rounds):
            for phase in PHASES:
                for t, url, pid in running[:: 1 if turn % 2 == 0 else -1]:
                    block = one_phase(url, pid, phase, clients, duration, questions, nice)
                    t.raw.setdefault(phase, []).append(block)
                turn += 1
    return {t.label: {p: summary(t.raw[p]) for p in PHASES} for t in targets}


def show(label: str, phases: dict[str, dict[str, Any]]) -> bool:
    print(f"  {label}")
    ok = True
    for phase, r in phases.items():
        good = (r["answered_share"] or 0) >= 0.99 and (r["p99_ms"] or 1e9) <= 250
        ok = ok and good
        print(
            f"    {phase:<11} {r['answered']}/{r['asked']} answered "
            f"({100 * (r['answered_share'] or 0):.1f}%), p50 {r['p50_ms']} ms, "
            f"p99 {r['p99_ms']} ms, server RSS peak {r['server_rss_peak_mb']} MB"
            f"{'' if good else '  <- below target'}"
        )
        if r["statuses"].keys() - {"200"}:
            print(f"                statuses: {r['statuses']}")
        if c := r.get("cpu"):
            print(
                f"                CPU: server {c['server_s']} s (event loop {c['event_loop_s']}"
                f" s, other threads {c['threads_s']} s), normal clients {c['clients_s']} s; "
                f"the machine was busy {c['machine_busy_s']} of "
                f"{c['wall_s'] * c['cores']:.1f} core-seconds ({c['machine_kernel_s']} s of them "
                "in the kernel)"
            )
        if r["attack"]:
            a = r["attack"]
            print(
                f"                attack: {a['sockets']} sockets, {a['connections_opened']} "
                f"connections, {a['bytes_sent'] / 1e6:.0f} MB sent, replies {a['replies']}, "
                f"attacker CPU {a['cpu_s']} s (on this machine, beside the server)"
            )
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=15.0, help="seconds per phase block")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=1, help="blocks of each phase per server")
    parser.add_argument("--index-dir", type=Path, default=None, help="reuse an article index")
    parser.add_argument("--compare", metavar="REF", help="also run the server of git REF")
    parser.add_argument(
        "--attacker-nice",
        type=int,
        default=19,
        help="the attackers' nice value (19: only the CPU the server leaves, as a remote "
        "attacker's own machine would; 0: an equal share of this one)",
    )
    args = parser.parse_args()
    targets = [Target("this tree", article_index(args.index_dir))]
    result: dict[str, Any] = {
        "machine": machine(),
        "clients": args.clients,
        "attacker_nice": args.attacker_nice,
    }
    work = Path(tempfile.mkdtemp(prefix="mscqa-attacks-ref-"))
    try:
        if args.compare:
            # The ref's own index (the snapshot format may differ), built by its own code.
            src = export_ref(args.compare, work / "src")
            build(work / "index", PYTHONPATH=str(src / "src"))
            targets.append(Target(f"git {args.compare}", work / "index", src))
        runs = run_phases(targets, args.duration, args.clients, args.rounds, args.attacker_nice)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result |= runs["this tree"]
    if args.compare:
        result["compare"] = {"ref": args.compare} | runs[f"git {args.compare}"]
    print(
        f"\nNormal clients ({args.clients}, a new question each, 0.1 s apart) for "
        f"{args.duration:.0f} s x {args.rounds} beside each attack (targets: >= 99% answered, "
        "p99 <= 250 ms)"
        + ("; the two servers ran at once, phases in alternating order" if args.compare else "")
        + f"; attackers at nice {args.attacker_nice}"
    )
    ok = show("this tree", runs["this tree"])
    if args.compare:
        show(f"git {args.compare}", runs[f"git {args.compare}"])
    print(f"  targets met during every attack: {'yes' if ok else 'NO'}")
    print(f"  load average: {machine()['loadavg']}")
    print(f"\nwrote {save('attacks', result)}")


if __name__ == "__main__":
    main()
