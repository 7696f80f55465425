"""How ``mscqa serve`` runs the app under uvicorn; the tests start their servers with the same
:func:`uvicorn_config`, so what they attack is what ships.

>>> run(uvicorn_config(create_app(settings), settings), settings)   # doctest: +SKIP

What the connection layer enforces, before the app sees a request (the app's own limits, body
size and time, rate, questions in flight, come after):

* **HTTP/1.1 through h11**, not httptools: httptools keeps no limit on a request's head (one
  client sending a 96 MB header stalled the event loop for 8.7 s). A request line longer than
  ``MAX_REQUEST_LINE`` gets 414, a head (request line and headers) larger than
  ``MSCQA_MAX_HEADER_KB`` gets 431, a malformed one 400; each a JSON reply, then the
  connection is closed.
* **A head must arrive in time**: ``MSCQA_BODY_TIMEOUT_S`` after the connection opens, or after
  the previous reply (up to 20% later, :func:`~mscqa.server.middleware.limits.spread`), a
  request whose head is still incomplete gets 408 and is closed (a connection that sent
  nothing is closed without a reply).
* **Open connections per client address** (``MSCQA_MAX_CLIENT_CONNECTIONS``): the next one gets
  429 and is closed at once. The addresses of trusted proxies (``MSCQA_FORWARDED_ALLOW_IPS``) are
  not counted: every client behind them shares their address.
* **Proxy headers only from named proxies**: ``X-Forwarded-For`` is ignored unless
  ``MSCQA_FORWARDED_ALLOW_IPS`` lists the address it comes from (uvicorn trusts 127.0.0.1 by
  default, which let any local client forge its address and escape the per-client limits).
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import sys
from http import HTTPStatus
from typing import Any

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from mscqa.config import Settings
from mscqa.server.connections import ClientConnections, Refusals
from mscqa.server.middleware.limits import spread

MAX_REQUEST_LINE = 8 * 1024  # the usual server limit (nginx, Apache); URLs here are short


def raw_reply(status: int, reason: str, detail: str, extra: dict[str, str] | None = None) -> bytes:
    """A complete JSON HTTP/1.1 reply that closes the connection, for use where no request
    exists to answer through h11 (before one has been read)."""
    body = json.dumps({"detail": detail}).encode()
    headers = {
        "content-type": "application/json",
        "content-length": str(len(body)),
        "connection": "close",
        "x-content-type-options": "nosniff",
        **(extra or {}),
    }
    head = f"HTTP/1.1 {status} {reason}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    return head.encode("latin-1") + b"\r\n" + body


class _QuietLogger:
    """uvicorn's ``uvicorn.error`` logger for one connection without its warning per refused
    request (``Refusals`` summarises them); everything else goes through as it was."""

    def __init__(self, logger: logging.Logger) -> None:
        self._logger = logger

    def __getattr__(self, name: str) -> Any:
        return getattr(self._logger, name)

    def warning(self, msg: object, *args: Any, **kwargs: Any) -> None:
        if msg != _UVICORN_INVALID:
            self._logger.warning(msg, *args, **kwargs)


_UVICORN_INVALID = "Invalid HTTP request received."


class _LimitedConnection(h11.Connection):
    """h11 that also refuses a complete head over the limits (h11 checks only heads that are
    still incomplete, so one that arrives in a single read could be of any size), and
    remembers which status the refusal deserves."""

    def __init__(self, max_head: int) -> None:
        super().__init__(h11.SERVER, max_incomplete_event_size=max_head)
        self.max_head = max_head
        self.refusal: tuple[int, str] | None = None

    def next_event(self) -> Any:
        try:
            event = super().next_event()
        except h11.RemoteProtocolError as exc:
            self.refusal = self._classify(exc)
            raise
        if isinstance(event, h11.Request):
            if len(event.target) + len(event.method) + 10 > MAX_REQUEST_LINE:
                self.refusal = _URI_TOO_LONG
                raise h11.RemoteProtocolError("request line too long", error_status_hint=414)
            size = len(event.target) + sum(len(n) + len(v) + 4 for n, v in event.headers)
            if size > self.max_head:
                self.refusal = _HEADERS_TOO_LARGE
                raise h11.RemoteProtocolError("request head too large", error_status_hint=431)
        return event

    def _classify(self, exc: h11.RemoteProtocolError) -> tuple[int, str]:
        if exc.error_status_hint != 431:
            return _BAD_REQUEST
        pending, _ = self.trailing_data
        first_line_end = pending.find(b"\n", 0, MAX_REQUEST_LINE + 2)
        return _URI_TOO_LONG if first_line_end < 0 else _HEADERS_TOO_LARGE


_BAD_REQUEST = (400, "The request is not valid HTTP/1.1.")
_URI_TOO_LONG = (414, f"The request line is longer than {MAX_REQUEST_LINE // 1024} KiB.")
_HEADERS_TOO_LARGE = (431, "The request headers are too large.")
_TIMEOUT = "The request did not arrive in time; send it again."


class LimitedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with the limits described in the module docstring.

    :func:`limited_protocol` makes a subclass with the limits bound; uvicorn instantiates it per
    connection.
    """

    max_head: int = 32 * 1024
    head_timeout: float = 5.0
    clients: ClientConnections = ClientConnections(0)
    refusals: Refusals = Refusals()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.logger = _QuietLogger(self.logger)  # type: ignore[assignment]
        self.conn = self._limited = _LimitedConnection(self.max_head)
        self._host: str | None = None
        self._head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        host = str(self.client[0]) if self.client else "unknown"
        if not self.clients.admit(host):
            self.refusals.add(429, self.loop)
            transport.write(_refusal(429, self.clients.cap))
            transport.close()
            return
        self._host = host
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_head_timer()
        if self._host is not None:
            self.clients.release(self._host)
            self._host = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        # Waiting for a request's head (IDLE) with some of it received: the clock runs until
        # the head is complete; uvicorn's own keep-alive timer covers a connection that is idle.
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            if self._head_timer is None:
                self._arm_head_timer()
        else:
            self._disarm_head_timer()

    def on_response_complete(self) -> None:
        self._disarm_head_timer()
        super().on_response_complete()

    def send_400_response(self, msg: str) -> None:
        # The same few replies every time, made once (h11's writer and json.dumps per refused
        # connection were most of what a big-header attack cost the event loop); the
        # connection is closed after it, so h11's state no longer matters.
        status, _ = self._limited.refusal or _BAD_REQUEST
        self._limited.refusal = None
        self.refusals.add(status, self.loop)
        self.transport.write(_refusal(status))
        self.transport.close()

    def _arm_head_timer(self) -> None:
        self._disarm_head_timer()
        self._head_timer = self.loop.call_later(spread(self.head_timeout), self._head_timed_out)

    def _disarm_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.transport.is_closing() or self.conn.their_state is not h11.IDLE:
            return
        pending, _ = self.conn.trailing_data
        if pending:
            self.refusals.add(408, self.loop)
            self.transport.write(_refusal(408))
        self.transport.close()


@functools.cache
def _refusal(status: int, cap: int = 0) -> bytes:
    """The reply to a request refused with ``status`` (``cap``: the connection cap, for 429)."""
    reason = HTTPStatus(status).phrase
    if status == 429:
        detail = f"Too many open connections from your address (at most {cap}); retry."
        return raw_reply(429, reason, detail, {"retry-after": "1"})
    details = {408: _TIMEOUT, 414: _URI_TOO_LONG[1], 431: _HEADERS_TOO_LARGE[1]}
    return raw_reply(status, reason, details.get(status, _BAD_REQUEST[1]))


def limited_protocol(max_head: int, head_timeout: float, clients: ClientConnections) -> type:
    """A :class:`LimitedH11Protocol` subclass with these limits (one per server)."""
    if max_head < 1024:
        raise ValueError(f"max_head must be at least 1024 bytes, got {max_head}")
    if head_timeout <= 0:
        raise ValueError(f"head_timeout must be positive, got {head_timeout}")
    attrs = {
        "max_head": max_head,
        "head_timeout": head_timeout,
        "clients": clients,
        "refusals": Refusals(),
    }
    return type("MscqaH11Protocol", (LimitedH11Protocol,), attrs)


def run(config: uvicorn.Config, settings: Settings) -> None:
    """Serve ``config`` until stopped, with the interpreter tuned for a server
    (``MSCQA_SWITCH_INTERVAL_MS``).

    The event loop releases the GIL at every socket call; with questions being answered in
    worker threads it then waits for one of them to give the GIL back, up to the switch interval
    each time (Python's default is 5 ms), several times per request. 1 ms answered 14-19% more
    questions, p50 -20% and p99 -10%, for the same CPU per question (bench.perf.attacks's normal
    clients, two servers in alternating blocks, 2 cores at load 4-7; README, issue #16).
    """
    sys.setswitchinterval(settings.switch_interval_ms / 1000)
    uvicorn.Server(config).run()


def uvicorn_config(
    app: Any, settings: Settings, host: str | None = None, port: int | None = None
) -> uvicorn.Config:
    """The uvicorn configuration ``mscqa serve`` runs ``app`` with."""
    proxies = list(settings.forwarded_allow_ips)
    clients = ClientConnections(settings.max_client_connections, exempt=proxies)
    max_head = settings.max_header_kb * 1024
    return uvicorn.Config(
        app,
        host=host or settings.host,
        port=port or settings.port,
        http=limited_protocol(max_head, settings.body_timeout_s, clients),
        ws="none",  # no WebSocket routes: upgrade requests are plain HTTP requests
        h11_max_incomplete_event_size=max_head,
        proxy_headers=bool(proxies),
        forwarded_allow_ips=proxies or None,
        log_level="warning",
    )
