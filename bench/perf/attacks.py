"""Hostile clients beside normal traffic: do the normal clients still get answers, and fast?

    .venv/bin/python -m bench.perf.attacks [--duration 15] [--clients 8] [--compare REF]

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
latency, the server's RSS, and what the attackers got back. Targets (issue #16): >= 99%
answered and p99 <= 250 ms during each attack. ``--compare REF`` runs the same phases first on
the server of git REF (``ba8aa65^``: before the hostile-client limits).
"""

from __future__ import annotations

import argparse
import errno
import http.client
import itertools
import json
import os
import selectors
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.common import (
    REPO,
    AskClient,
    article_index,
    build,
    machine,
    save,
    server,
    varied_questions,
)
from bench.perf.cputime import ServerCpu
from bench.perf.rebuild_memory import export_ref

ADDRESSES = [f"127.0.0.{i}" for i in range(2, 10)]  # the attackers' own loopback addresses
SLOW_BODY_HEAD = (
    b"POST /ask HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
    b"Content-Length: 29\r\n\r\n"
)
BIG_HEADER_HEAD = b"GET /health HTTP/1.1\r\nHost: bench\r\nX-Filler: "
PIECE = b"a" * 65536
BIG_HEADER_LIMIT = 16 * 1024 * 1024
PHASES = ("alone", "slow-body", "big-header")
SOCKETS = {"slow-body": 64, "big-header": 50}


class Attack:
    """``sockets`` hostile connections of one ``kind``, kept open: each one the server closes
    is replaced at once. One thread, non-blocking sockets."""

    def __init__(self, kind: str, port: int, sockets: int) -> None:
        self.kind, self.port, self.sockets = kind, port, sockets
        self.replies: Counter[str] = Counter()
        self.opened = 0
        self.sent = 0
        self.stop = threading.Event()
        self.selector = selectors.DefaultSelector()
        self.thread = threading.Thread(target=self._run, name=f"attack-{kind}", daemon=True)

    def __enter__(self) -> Attack:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(10)
        for key in list(self.selector.get_map().values()):
            key.fileobj.close()  # type: ignore[union-attr]
        self.selector.close()

    def _open(self, n: int) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind((ADDRESSES[n % len(ADDRESSES)], 0))
        sock.setblocking(False)
        err = sock.connect_ex(("127.0.0.1", self.port))
        if err not in (0, errno.EINPROGRESS):
            sock.close()
            self.replies[f"connect error {errno.errorcode.get(err, err)}"] += 1
            return
        self.opened += 1
        state = {"n": n, "head": False, "sent": 0, "reply": b""}
        self.selector.register(sock, selectors.EVENT_READ | selectors.EVENT_WRITE, state)

    def _close(self, sock: socket.socket, state: dict[str, Any], outcome: str) -> None:
        self.replies[outcome] += 1
        self.selector.unregister(sock)
        sock.close()
        if not self.stop.is_set():
            self._open(state["n"])

    def _run(self) -> None:
        for n in range(self.sockets):
            self._open(n)
        while not self.stop.is_set():
            for key, events in self.selector.select(timeout=0.1):
                sock: socket.socket = key.fileobj  # type: ignore[assignment]
                state: dict[str, Any] = key.data
                try:
                    if events & selectors.EVENT_READ:
                        data = sock.recv(65536)
                        state["reply"] += data
                        if not data:
                            self._close(sock, state, _status(state["reply"]))
                            continue
                    if events & selectors.EVENT_WRITE:
                        self._write(sock, state)
                except OSError as exc:
                    self._close(sock, state, _status(state["reply"]) or type(exc).__name__)

    def _write(self, sock: socket.socket, state: dict[str, Any]) -> None:
        if not state["head"]:
            head = SLOW_BODY_HEAD if self.kind == "slow-body" else BIG_HEADER_HEAD
            sock.sendall(head)  # small: fits the socket buffer
            state["head"] = True
            if self.kind == "slow-body":  # and then nothing: wait for the server
                self.selector.modify(sock, selectors.EVENT_READ, state)
            return
        if state["sent"] >= BIG_HEADER_LIMIT:
            self.selector.modify(sock, selectors.EVENT_READ, state)
            return
        sent = sock.send(PIECE)
        state["sent"] += sent
        self.sent += sent


class AttackProcess:
    """An ``Attack`` in its own process (``--attacker``), so its loop neither shares the GIL
    with the normal clients' threads (which would inflate their measured latency) nor hides
    its CPU cost: it reports the CPU seconds it used."""

    def __init__(self, kind: str, port: int, sockets: int) -> None:
        argv = ["--attacker", kind, str(port), str(sockets)]
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench.perf.attacks", *argv],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=REPO,
        )
        self.stats: dict[str, Any] = {}

    def finish(self) -> dict[str, Any]:
        out, _ = self.proc.communicate(b"", timeout=60)  # stdin closed: it stops and reports
        self.stats = json.loads(out.decode().strip().splitlines()[-1])
        return self.stats


def attacker_main(kind: str, port: int, sockets: int) -> None:
    """The attacker process: attack until stdin closes, then print its figures as JSON."""
    started = time.process_time()
    with Attack(kind, port, sockets) as attack:
        sys.stdin.read()
    print(
        json.dumps(
            {
                "sockets": attack.sockets,
                "connections_opened": attack.opened,
                "bytes_sent": attack.sent,
                "replies": dict(attack.replies),
                "cpu_s": round(time.process_time() - started, 2),
            }
        )
    )


def _status(reply: bytes) -> str:
    """The status code of an HTTP reply, 'closed without a reply' if there is none."""
    if reply.startswith(b"HTTP/"):
        return reply.split(b" ", 2)[1].decode(errors="replace")
    return "closed without a reply"


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


def run_phases(
    index_dir: Path, duration: float, clients: int, src: Path | None
) -> dict[str, dict[str, Any]]:
    env = {"MSCQA_MAX_CLIENT_CONNECTIONS": "64"}  # the default (bench servers lift it for wrk)
    if src is not None:
        env["PYTHONPATH"] = str(src / "src")
    questions = fresh_questions()
    out: dict[str, dict[str, Any]] = {}
    with server(index_dir, **env) as (url, proc, _):
        port = int(url.rsplit(":", 1)[1])
        warm = AskClient(url)
        for _ in range(10):
            warm.ask(next(questions))
        warm.close()
        for phase in PHASES:
            batch = [next(questions) for _ in range(int(clients * duration * 12))]
            peak = [rss_mb(proc.pid)]
            attack = AttackProcess(phase, port, SOCKETS[phase]) if phase in SOCKETS else None
            if attack is not None:
                time.sleep(1.0)  # the attack is in place before the clients start
            sampler_stop = threading.Event()

            def sample(stop: threading.Event = sampler_stop, box: list[float] = peak) -> None:
                while not stop.wait(0.2):
                    box.append(rss_mb(proc.pid))

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            cpu, started, mine = ServerCpu.read(proc.pid), time.perf_counter(), time.process_time()
            try:
                results = normal_traffic(url, clients, duration, batch)
            finally:
                used = ServerCpu.read(proc.pid).since(cpu)
                wall = time.perf_counter() - started
                used["clients_s"] = round(time.process_time() - mine, 2)
                sampler_stop.set()
                sampler.join()
                if attack is not None:
                    attack.finish()
            ms = sorted(m for s, m in results if s == 200)
            answered = sum(1 for s, _ in results if s == 200)
            out[phase] = {
                "asked": len(results),
                "answered": answered,
                "answered_share": round(answered / len(results), 4) if results else None,
                "statuses": dict(Counter(str(s) for s, _ in results)),
                "p50_ms": round(statistics.median(ms), 1) if ms else None,
                "p99_ms": round(ms[min(len(ms) - 1, int(0.99 * len(ms)))], 1) if ms else None,
                "server_rss_peak_mb": round(max(peak), 1),
                "attack": None if attack is None else attack.stats,
                "cpu": used | {"wall_s": round(wall, 2), "cores": os.cpu_count()},
            }
            time.sleep(2.0)  # let the server close what is left before the next phase
    return out


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
                f"{c['wall_s'] * c['cores']:.0f} core-seconds"
            )
        if r["attack"]:
            a = r["attack"]
            print(
                f"                attack: {a['sockets']} sockets, {a['connections_opened']} "
                f"connections, {a['bytes_sent'] / 1e6:.0f} MB sent, replies {a['replies']}, "
                f"attacker CPU {a['cpu_s']} s (on this machine: it competes with the server)"
            )
    return ok


def main() -> None:
    if sys.argv[1:2] == ["--attacker"]:
        attacker_main(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=15.0, help="seconds per phase")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--index-dir", type=Path, default=None, help="reuse an article index")
    parser.add_argument("--compare", metavar="REF", help="first run the server of git REF")
    args = parser.parse_args()
    index_dir = article_index(args.index_dir)
    result: dict[str, Any] = {"machine": machine(), "clients": args.clients}
    if args.compare:
        # The ref's own index (the snapshot format may differ), built by its own code.
        work = Path(tempfile.mkdtemp(prefix="mscqa-attacks-ref-"))
        src = export_ref(args.compare, work / "src")
        build(work / "index", PYTHONPATH=str(src / "src"))
        result["compare"] = {"ref": args.compare} | run_phases(
            work / "index", args.duration, args.clients, src
        )
        shutil.rmtree(work, ignore_errors=True)
    result |= run_phases(index_dir, args.duration, args.clients, None)
    print(
        f"\nNormal clients ({args.clients}, a new question each, 0.1 s apart) for "
        f"{args.duration:.0f} s beside each attack (targets: >= 99% answered, p99 <= 250 ms)"
    )
    ok = show("this tree", {p: result[p] for p in PHASES})
    if args.compare:
        show(f"git {args.compare}", {p: result["compare"][p] for p in PHASES})
    print(f"  targets met during every attack: {'yes' if ok else 'NO'}")
    print(f"  load average: {machine()['loadavg']}")
    print(f"\nwrote {save('attacks', result)}")


if __name__ == "__main__":
    main()
