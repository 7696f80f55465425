"""Where a server's CPU went during a benchmark phase, and how busy the whole machine was.

>>> before = ServerCpu.read(pid)                          # doctest: +SKIP
>>> ...  # the phase
>>> ServerCpu.read(pid).since(before)                     # doctest: +SKIP
{'event_loop_s': 1.2, 'threads_s': 9.8, 'server_s': 11.0, 'machine_busy_s': 29.0, ...}

A server's threads by role: the main thread runs uvicorn's event loop (HTTP parsing, the
middleware, serialising replies); the others (Python 3.11 does not name threads for the
kernel, so they are not told apart) are mostly the worker threads that run ``service.ask``
(tokenising, the encoder, which runs in the calling thread on one thread, retrieval,
answering), plus the index watcher and the question log. One core-second per second on the
event loop means it is the bottleneck; the worker threads share the GIL. The machine's
busy CPU seconds (``/proc/stat``, every process) show how much of the box other programs took:
on a 2-core machine shared with other work, a phase's latency says as much about them as
about the server.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")


def _thread_cpu(pid: int) -> dict[int, tuple[str, float]]:
    """tid -> (thread name, user + system CPU seconds so far) for every thread of ``pid``."""
    out: dict[int, tuple[str, float]] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            name = (task / "comm").read_text().strip()
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # the thread ended meanwhile
            continue
        out[int(task.name)] = (name, (int(fields[11]) + int(fields[12])) / TICK)
    return out


def _machine_busy() -> tuple[float, float]:
    """CPU seconds every core spent not idle since boot (all processes, the kernel's too), and
    of those the kernel's (system, interrupts: a loopback attacker's bytes are handled there)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle, iowait
    kernel = values[2] + values[5] + values[6]  # system, irq, softirq
    return (sum(values[:8]) - idle) / TICK, kernel / TICK


@dataclass(frozen=True)
class ServerCpu:
    pid: int
    threads: dict[int, tuple[str, float]] = field(default_factory=dict)
    machine: tuple[float, float] = (0.0, 0.0)

    @classmethod
    def read(cls, pid: int) -> ServerCpu:
        return cls(pid, _thread_cpu(pid), _machine_busy())

    def since(self, before: ServerCpu) -> dict[str, float]:
        """CPU seconds between ``before`` and this reading, by role."""
        roles = {"event_loop_s": 0.0, "threads_s": 0.0}
        for tid, (name, seconds) in self.threads.items():
            used = seconds - before.threads.get(tid, (name, 0.0))[1]
            roles["event_loop_s" if tid == self.pid else "threads_s"] += used
        server = sum(roles.values())
        return {k: round(v, 2) for k, v in roles.items()} | {
            "server_s": round(server, 2),
            "machine_busy_s": round(self.machine[0] - before.machine[0], 2),
            "machine_kernel_s": round(self.machine[1] - before.machine[1], 2),
        }
