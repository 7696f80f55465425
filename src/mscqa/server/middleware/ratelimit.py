"""Per-client rate limiting for ``POST /ask``: an in-memory token bucket per client IP.

Each client has a bucket of ``burst`` tokens that refills at ``per_minute / 60`` tokens a second;
a question takes one token, and a client with none left gets 429 with ``Retry-After``. Memory is
bounded: a bucket idle long enough to have refilled completely is the same as a new one, so it is
dropped, and at most ``max_clients`` buckets are kept (the least recently used go first).

The client is the ASGI ``client`` address (:func:`client_key`: an IPv6 client counts by its /64,
which one host can fill with addresses at will). Behind a reverse proxy, set
``MSCQA_FORWARDED_ALLOW_IPS`` to the proxy's address so that address is the real client's.
"""

from __future__ import annotations

import ipaddress
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Collection
from dataclasses import dataclass

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


class TokenBuckets:
    """Thread-safe token buckets keyed by client; ``take(key)`` returns seconds to wait (0 = go).

    >>> buckets = TokenBuckets(per_minute=60, burst=2)
    >>> [buckets.take("10.0.0.1", now=0.0) for _ in range(3)]
    [0.0, 0.0, 1.0]
    """

    def __init__(
        self,
        per_minute: float,
        burst: int,
        max_clients: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if per_minute <= 0:
            raise ValueError(f"per_minute must be positive, got {per_minute}")
        if burst < 1:
            raise ValueError(f"burst must be at least 1, got {burst}")
        if max_clients < 1:
            raise ValueError(f"max_clients must be at least 1, got {max_clients}")
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self.max_clients = max_clients
        self.idle_after = self.burst / self.rate  # by then an unused bucket is full again
        self._clock = clock
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._buckets)

    def take(self, key: str, now: float | None = None) -> float:
        now = self._clock() if now is None else now
        with self._lock:
            self._evict(now)
            bucket = self._buckets.pop(key, None)
            if bucket is None:
                bucket = _Bucket(self.burst, now)
            else:
                elapsed = max(0.0, now - bucket.updated)
                bucket.tokens = min(self.burst, bucket.tokens + elapsed * self.rate)
                bucket.updated = now
            self._buckets[key] = bucket  # most recently used last
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return 0.0
            return (1.0 - bucket.tokens) / self.rate

    def _evict(self, now: float) -> None:
        buckets = self._buckets
        while buckets:
            key, oldest = next(iter(buckets.items()))
            if len(buckets) < self.max_clients and now - oldest.updated < self.idle_after:
                break
            del buckets[key]


def client_key(host: str) -> str:
    """The key a client address is limited under: the address itself, or for IPv6 its /64
    network (what one subscriber or host gets)."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


class RateLimit:
    """ASGI middleware applying ``TokenBuckets`` to the given (method, path) pairs."""

    def __init__(
        self,
        app: ASGIApp,
        per_minute: int,
        burst: int,
        routes: Collection[tuple[str, str]] = (("POST", "/ask"),),
        max_clients: int = 10_000,
    ) -> None:
        self.app = app
        self.routes = frozenset(routes)
        self.buckets = TokenBuckets(per_minute, burst, max_clients) if per_minute > 0 else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            self.buckets is None
            or scope["type"] != "http"
            or (scope.get("method"), scope.get("path")) not in self.routes
        ):
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        wait = self.buckets.take(client_key(str(client[0])) if client else "unknown")
        if wait <= 0:
            await self.app(scope, receive, send)
            return
        seconds = max(1, math.ceil(wait))
        response = JSONResponse(
            {"detail": f"Too many questions; try again in {seconds} s"},
            status_code=429,
            headers={"Retry-After": str(seconds)},
        )
        await response(scope, receive, send)
