"""The hostile clients of ``bench.perf.attacks``, each kind in its own process.

    .venv/bin/python -m bench.perf.attackers KIND PORT SOCKETS NICE   # until stdin closes

``slow-body``: sockets that send a ``POST /ask`` head with ``Content-Length: 29`` and then
nothing; ``big-header``: sockets that stream one endless header line in 64 KiB pieces (up to
16 MB each). Every socket the server closes is replaced at once; on exit the process prints
what it sent, what it got back and the CPU it used, as one JSON line.
"""

from __future__ import annotations

import errno
import json
import os
import selectors
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from typing import Any

from bench.common import REPO

ADDRESSES = [f"127.0.0.{i}" for i in range(2, 10)]  # the attackers' own loopback addresses
SLOW_BODY_HEAD = (
    b"POST /ask HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
    b"Content-Length: 29\r\n\r\n"
)
BIG_HEADER_HEAD = b"GET /health HTTP/1.1\r\nHost: bench\r\nX-Filler: "
PIECE = b"a" * 65536
BIG_HEADER_LIMIT = 16 * 1024 * 1024
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
    """An ``Attack`` in its own process, so its loop neither shares the GIL with the normal
    clients' threads (which would inflate their measured latency) nor hides its CPU cost: it
    reports the CPU seconds it used.

    ``nice`` (19 by default) stands in for the attacker's own machine: on one 2-core box the
    big-header attacker's loop and the kernel's work on its bytes (about 600 MB/s of
    loopback traffic, nearly all of it sent after the server has refused the head) took a
    quarter of the machine (bench figures in the README), which a remote attacker pays on its
    own side. Niced, it gets only the CPU the server and the clients leave; 0 runs it as an
    equal.
    """

    def __init__(self, kind: str, port: int, sockets: int, nice: int = 19) -> None:
        argv = [kind, str(port), str(sockets), str(nice)]
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench.perf.attackers", *argv],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=REPO,
        )
        self.stats: dict[str, Any] = {}

    def finish(self) -> dict[str, Any]:
        out, _ = self.proc.communicate(b"", timeout=60)  # stdin closed: it stops and reports
        self.stats = json.loads(out.decode().strip().splitlines()[-1])
        return self.stats


def attacker_main(kind: str, port: int, sockets: int, nice: int = 0) -> None:
    """The attacker process: attack until stdin closes, then print its figures as JSON."""
    if nice:
        os.nice(nice)
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


if __name__ == "__main__":
    attacker_main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
