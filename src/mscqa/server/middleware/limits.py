"""Request body size caps, enforced before a body is buffered (pure ASGI middleware).

Why 64 KiB for ``/ask`` by default (``MSCQA_MAX_BODY_KB``): a question is at most 2,000
characters and the chat page sends at most its last 10 history turns, a few KB of answers, so a
real request is a few KB even with every character written as a ``\\u`` escape. The schema
would allow more (50 turns of 8,000 characters) but nobody needs to send that, and the server
would parse it all before the history limits reject it. Uploads to ``/admin/documents`` get
their own cap, ``MSCQA_MAX_UPLOAD_MB``.

A declared ``Content-Length`` over the cap is refused before reading anything; bodies without
one (chunked) or with a false one are counted as they arrive and refused as soon as they pass it.

Bodies must also arrive in time (``MSCQA_BODY_TIMEOUT_S``): a body not complete that long after
its request's head (for an upload: no new piece of it for that long) gets 408 and its connection
closed. Without that, sockets sending a head with ``Content-Length: 29`` and then nothing held
every question slot for as long as they liked. Each deadline is :func:`spread` a little later at
random, so that connections opened in the same instant are not all cut in the same instant.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

UPLOAD_PREFIX = "/admin/documents"


SPREAD = 0.2


def spread(seconds: float) -> float:
    """``seconds`` made up to ``SPREAD`` (20%) longer, at random, for a timeout many connections
    may start together. An attacker opens its sockets at once; with one deadline they all timed
    out in one turn of the event loop, and every reply, close and reconnection of theirs ran
    before any question waiting behind them (64 slow-body sockets: one stall every
    ``MSCQA_BODY_TIMEOUT_S``, bench.perf.attacks). Spread over a second, they interleave with the
    questions. Only ever later: no client gets less time than the setting says.

    >>> 5.0 <= spread(5.0) <= 6.0
    True
    """
    return seconds * (1 + SPREAD * random.random())


class _TooLarge(Exception):
    """Raised from ``receive`` once a streamed body passes the cap."""


class _TooSlow(Exception):
    """Raised from ``receive`` once a body is later than its deadline."""


class BodySizeLimit:
    """Reject request bodies larger than ``max_bytes`` (``upload_bytes`` under /admin/documents).

    >>> app.add_middleware(BodySizeLimit, max_bytes=65536, upload_bytes=2**25)  # doctest: +SKIP
    """

    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int,
        upload_bytes: int,
        framing: int = 64 * 1024,
        timeout: float | None = None,
    ) -> None:
        """``timeout``: seconds a body may take after the head (an upload: between pieces);
        ``None`` = no deadline."""
        if max_bytes < 1:
            raise ValueError(f"max_bytes must be at least 1, got {max_bytes}")
        if upload_bytes < 1:
            raise ValueError(f"upload_bytes must be at least 1, got {upload_bytes}")
        if timeout is not None and timeout <= 0:
            raise ValueError(f"timeout must be positive or None, got {timeout}")
        self.app = app
        self.max_bytes = max_bytes
        self.upload_bytes = upload_bytes
        self.framing = framing  # multipart boundaries and part headers around an upload
        self.timeout = timeout

    def limit_for(self, path: str) -> tuple[int, int]:
        """(bytes allowed, limit named in the error) for a request to ``path``."""
        if _is_upload(path):
            return self.upload_bytes + self.framing, self.upload_bytes
        return self.max_bytes, self.max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit, nominal = self.limit_for(scope.get("path", ""))
        declared = _content_length(scope)
        if declared == -1:
            await _reply(scope, receive, send, 400, "The Content-Length header is not a number.")
            return
        if declared is not None and declared > limit:
            await _too_large(scope, receive, send, nominal)
            return

        received = 0
        refused: int | None = None  # 413 or 408 once the body broke a limit
        started = False
        complete = False
        # An upload may take long as a whole but must keep moving; any other body has one
        # deadline from the moment its head arrived.
        per_piece = _is_upload(scope.get("path", ""))
        deadline = None if self.timeout is None else time.monotonic() + spread(self.timeout)

        async def counting_receive() -> Message:
            nonlocal received, refused, complete, deadline
            if complete or deadline is None:
                message = await receive()
            else:
                try:
                    async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
                        message = await receive()
                except TimeoutError:
                    refused = 408
                    raise _TooSlow from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                complete = not message.get("more_body", False)
                if per_piece and self.timeout is not None:
                    deadline = time.monotonic() + self.timeout
                if received > limit:
                    refused = 413
                    raise _TooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if refused and not started:
                return  # the app's own reply to the cut-off body (often a 400) is replaced below
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            # Frameworks may wrap the error from receive (FastAPI turns it into a 400); either
            # way the cause is the size or the time, so it is answered as such.
            if not refused:
                raise
        if refused == 413 and not started:
            await _too_large(scope, receive, send, nominal)
        elif refused == 408 and not started:
            detail = f"The request body did not arrive within {self.timeout:g} s; send it again."
            await _reply(scope, receive, send, 408, detail)


def _is_upload(path: str) -> bool:
    return path == UPLOAD_PREFIX or path.startswith(UPLOAD_PREFIX + "/")


def _content_length(scope: Scope) -> int | None:
    """The declared length, ``None`` when absent, ``-1`` when it is not a plain number."""
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            text = value.decode("latin-1").strip()
            return int(text) if text.isdigit() and len(text) <= 18 else -1
    return None


def _describe(limit: int) -> str:
    if limit >= 2**20 and limit % 2**20 == 0:
        return f"{limit // 2**20} MiB"
    if limit >= 1024 and limit % 1024 == 0:
        return f"{limit // 1024} KiB"
    return f"{limit} bytes"


async def _too_large(scope: Scope, receive: Receive, send: Send, limit: int) -> None:
    detail = f"The request body is larger than {_describe(limit)}; send a shorter request."
    await _reply(scope, receive, send, 413, detail)


async def _reply(scope: Scope, receive: Receive, send: Send, status: int, detail: str) -> None:
    # Connection: close, so a server does not try to read the rest of a body nobody wants.
    response = JSONResponse({"detail": detail}, status_code=status, headers={"Connection": "close"})
    await response(scope, receive, send)


class LoadGauge:
    """Questions in progress and recent refusals, shared by :class:`ConcurrencyLimit` (which
    counts) and the readiness probes (which report).

    ``shedding`` is true while a question was refused as busy within the last ``window``
    seconds: one refusal is enough for a load balancer to hold new clients back for a moment.

    >>> gauge = LoadGauge(max_inflight=1, clock=lambda: 100.0)
    >>> gauge.refused(); gauge.shedding
    True
    """

    def __init__(
        self, max_inflight: int, window: float = 5.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if max_inflight < 0:
            raise ValueError(f"max_inflight must be >= 0 (0 = no limit), got {max_inflight}")
        if window <= 0:
            raise ValueError(f"window must be positive, got {window}")
        self.max_inflight = max_inflight
        self.window = window
        self.inflight = 0
        self.shed_total = 0
        self._last_shed: float | None = None
        self._clock = clock

    def refused(self) -> None:
        self.shed_total += 1
        self._last_shed = self._clock()

    @property
    def shedding(self) -> bool:
        last = self._last_shed
        return last is not None and self._clock() - last < self.window

    def as_dict(self) -> dict[str, int | bool]:
        return {
            "inflight": self.inflight,
            "max_inflight": self.max_inflight,
            "shedding": self.shedding,
            "shed_total": self.shed_total,
        }


class ConcurrencyLimit:
    """Shed load: at most ``max_inflight`` questions in progress; more get 503 + Retry-After.

    Answers are computed in worker threads; past a point, queueing more only makes every answer
    late (a 2-core machine answers ~150/s). Refusing the excess at once keeps the answers that
    are accepted fast and lets clients retry, and the server recovers as soon as load drops
    (bench/overload.py measures both). All the counting happens on the event loop, so a plain
    integer is safe.

    A question takes its slot only once its whole body has arrived (it is read here first, at
    most ``MSCQA_MAX_BODY_KB`` and within ``MSCQA_BODY_TIMEOUT_S``, both enforced outside this
    middleware): a client that sends a head and then nothing holds no slot.
    """

    def __init__(
        self,
        app: ASGIApp,
        max_inflight: int = 0,
        paths: tuple[str, ...] = ("/ask",),
        gauge: LoadGauge | None = None,
    ) -> None:
        if max_inflight < 0:
            raise ValueError(f"max_inflight must be >= 0 (0 = no limit), got {max_inflight}")
        self.app = app
        self.gauge = gauge or LoadGauge(max_inflight)
        self.paths = paths

    @property
    def inflight(self) -> int:
        return self.gauge.inflight

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        gauge = self.gauge
        if (
            scope["type"] != "http"
            or not gauge.max_inflight
            or scope.get("path") not in self.paths
            or scope.get("method") != "POST"
        ):
            await self.app(scope, receive, send)
            return
        body = await _whole_body(receive)
        if body is None:
            return  # the client left before sending its question
        if gauge.inflight >= gauge.max_inflight:
            gauge.refused()
            response = JSONResponse(
                {"detail": "The server is busy answering other questions; try again in 1 s."},
                status_code=503,
                headers={"Retry-After": "1"},
            )
            await response(scope, receive, send)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        gauge.inflight += 1
        try:
            await self.app(scope, replay, send)
        finally:
            gauge.inflight -= 1


async def _whole_body(receive: Receive) -> bytes | None:
    """The request body, read to its end; ``None`` if the client disconnected first."""
    parts: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        parts.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(parts)
