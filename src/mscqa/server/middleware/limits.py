"""Request body size caps, enforced before a body is buffered (pure ASGI middleware).

Why 64 KiB for ``/ask`` by default (``MSCQA_MAX_BODY_KB``): a question is at most 2,000
characters and the chat page sends at most its last 10 history turns, a few KB of answers, so a
real request is a few KB even with every character written as a ``\\u`` escape. The schema
would allow more (50 turns of 8,000 characters) but nobody needs to send that, and the server
would parse it all before the history limits reject it. Uploads to ``/admin/documents`` get
their own cap, ``MSCQA_MAX_UPLOAD_MB``.

A declared ``Content-Length`` over the cap is refused before reading anything; bodies without
one (chunked) or with a false one are counted as they arrive and refused as soon as they pass it.
"""

from __future__ import annotations

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

UPLOAD_PREFIX = "/admin/documents"


class _TooLarge(Exception):
    """Raised from ``receive`` once a streamed body passes the cap."""


class BodySizeLimit:
    """Reject request bodies larger than ``max_bytes`` (``upload_bytes`` under /admin/documents).

    >>> app.add_middleware(BodySizeLimit, max_bytes=65536, upload_bytes=2**25)  # doctest: +SKIP
    """

    def __init__(
        self, app: ASGIApp, max_bytes: int, upload_bytes: int, framing: int = 64 * 1024
    ) -> None:
        if max_bytes < 1:
            raise ValueError(f"max_bytes must be at least 1, got {max_bytes}")
        if upload_bytes < 1:
            raise ValueError(f"upload_bytes must be at least 1, got {upload_bytes}")
        self.app = app
        self.max_bytes = max_bytes
        self.upload_bytes = upload_bytes
        self.framing = framing  # multipart boundaries and part headers around an upload

    def limit_for(self, path: str) -> tuple[int, int]:
        """(bytes allowed, limit named in the error) for a request to ``path``."""
        if path == UPLOAD_PREFIX or path.startswith(UPLOAD_PREFIX + "/"):
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
        exceeded = False
        started = False

        async def counting_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    raise _TooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if exceeded and not started:
                return  # the app's own reply to the cut-off body (often a 400) is replaced below
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            # Frameworks may wrap the error from receive (FastAPI turns it into a 400); either
            # way the cause is the size, so it is answered as such.
            if not exceeded:
                raise
        if exceeded and not started:
            await _too_large(scope, receive, send, nominal)


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


class ConcurrencyLimit:
    """Shed load: at most ``max_inflight`` questions in progress; more get 503 + Retry-After.

    Answers are computed in worker threads; past a point, queueing more only makes every answer
    late (a 2-core machine answers ~150/s). Refusing the excess at once keeps the answers that
    are accepted fast and lets clients retry, and the server recovers as soon as load drops
    (bench/overload.py measures both). All the counting happens on the event loop, so a plain
    integer is safe.
    """

    def __init__(self, app: ASGIApp, max_inflight: int, paths: tuple[str, ...] = ("/ask",)) -> None:
        if max_inflight < 0:
            raise ValueError(f"max_inflight must be >= 0 (0 = no limit), got {max_inflight}")
        self.app = app
        self.max_inflight = max_inflight
        self.paths = paths
        self.inflight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or not self.max_inflight
            or scope.get("path") not in self.paths
            or scope.get("method") != "POST"
        ):
            await self.app(scope, receive, send)
            return
        if self.inflight >= self.max_inflight:
            response = JSONResponse(
                {"detail": "The server is busy answering other questions; try again in 1 s."},
                status_code=503,
                headers={"Retry-After": "1"},
            )
            await response(scope, receive, send)
            return
        self.inflight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.inflight -= 1
