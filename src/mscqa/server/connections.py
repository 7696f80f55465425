"""Who is connected to ``mscqa serve``, and what it refused them: the per-client connection cap
and the summary of refused requests (``serve.LimitedH11Protocol`` uses both, on the event loop).
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from collections import Counter

from mscqa.server.middleware.ratelimit import client_key

log = logging.getLogger(__name__)


class ClientConnections:
    """Open connections per client address, at most ``cap`` each (0 = no cap); IPv6 clients
    count by their /64, like the rate limit (:func:`mscqa.ratelimit.client_key`).

    Addresses in ``exempt`` (IPs or networks, or ``"*"``) are never refused.

    >>> clients = ClientConnections(cap=1)
    >>> clients.admit("2001:db8::1"), clients.admit("2001:db8::2"), clients.admit("10.0.0.1")
    (True, False, True)
    """

    def __init__(self, cap: int, exempt: list[str] | tuple[str, ...] = ()) -> None:
        if cap < 0:
            raise ValueError(f"cap must be >= 0 (0 = no cap), got {cap}")
        self.cap = cap
        self.exempt_all = "*" in exempt
        self.networks = [ipaddress.ip_network(e, strict=False) for e in exempt if e != "*"]
        self.open: Counter[str] = Counter()
        self.refused = 0

    def exempt(self, host: str) -> bool:
        if self.exempt_all:
            return True
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False  # a Unix socket path or the like: counted under that name
        return any(address in network for network in self.networks)

    def admit(self, host: str) -> bool:
        """Count one more connection from ``host``; False (and not counted) when over the cap."""
        key = client_key(host)
        if self.cap and self.open[key] >= self.cap and not self.exempt(host):
            self.refused += 1
            return False
        self.open[key] += 1
        return True

    def release(self, host: str) -> None:
        key = client_key(host)
        self.open[key] -= 1
        if self.open[key] <= 0:
            del self.open[key]


class Refusals:
    """The requests a server refused at the connection layer (400, 408, 414, 429, 431), logged
    as a summary: the first one at once, then at most one line per ``every`` seconds with the
    counts by status. A line per refusal (uvicorn's "Invalid HTTP request received.") cost the
    event loop a log record for each of the ~70 connections a second one big-header attacker
    opens (bench.perf.attacks), and filled the log with them."""

    def __init__(self, every: float = 10.0) -> None:
        self.every = every
        self.counts: Counter[int] = Counter()
        self.total = 0
        self._flush: asyncio.TimerHandle | None = None

    def add(self, status: int, loop: asyncio.AbstractEventLoop) -> None:
        self.total += 1
        if self._flush is None:
            log.warning(
                "Refused a request with %d; more are summarised every %g s", status, self.every
            )
            self._flush = loop.call_later(self.every, self._summarise, loop)
        else:
            self.counts[status] += 1

    def _summarise(self, loop: asyncio.AbstractEventLoop) -> None:
        if not self.counts:
            self._flush = None
            return
        counts = ", ".join(f"{n} x {status}" for status, n in sorted(self.counts.items()))
        log.warning(
            "Refused %d requests in the last %g s: %s", self.counts.total(), self.every, counts
        )
        self.counts.clear()
        self._flush = loop.call_later(self.every, self._summarise, loop)
