"""Error replies in the dialect of the API a path belongs to.

Layers that answer before a route runs (the body cap, the rate limit, load shedding, the API
key) reply ``{"detail": ...}``; an OpenAI client expects ``{"error": {...}}`` and an MCP client
a JSON-RPC error. ``ReshapeErrors`` hands each JSON error reply under a prefix to a function
that rewrites it (``mscqa.server.openai.errors.reshape``, ``mscqa.server.mcp.reshape``).
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# (status, body, path) -> (status, body) to send instead, or None to send them as they are
Reshape = Callable[[int, bytes, str], "tuple[int, bytes] | None"]


class ReshapeErrors:
    """Pure ASGI: JSON error replies to paths under ``prefix`` go through ``reshape(status,
    body, path)``, which returns the new status and body (or None to keep them); every other
    reply (all successes, streams included) passes through untouched.

    >>> app.add_middleware(ReshapeErrors, prefix="/v1/", reshape=openai_reshape)  # doctest: +SKIP
    """

    def __init__(self, app: ASGIApp, prefix: str, reshape: Reshape) -> None:
        if not prefix.startswith("/"):
            raise ValueError(f"prefix must be a path starting with /, got {prefix!r}")
        self.app = app
        self.prefix = prefix
        self.reshape = reshape

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not str(scope.get("path", "")).startswith(self.prefix):
            await self.app(scope, receive, send)
            return
        held: Message | None = None
        body: list[bytes] = []

        async def send_wrapper(message: Message) -> None:
            nonlocal held
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                json_error = message["status"] >= 400 and headers.get(
                    "content-type", ""
                ).startswith("application/json")
                if json_error:
                    held = message  # sent with the rewritten body
                    return
            elif held is not None and message["type"] == "http.response.body":
                body.append(message.get("body", b""))
                if message.get("more_body", False):
                    return
                path = str(scope.get("path", ""))
                await _send_error(send, held, self.reshape, b"".join(body), path)
                return
            await send(message)

        await self.app(scope, receive, send_wrapper)


async def _send_error(send: Send, start: Message, reshape: Reshape, body: bytes, path: str) -> None:
    status = int(start["status"])
    shaped = reshape(status, body, path)
    if shaped is not None:
        status, body = shaped
    start = {**start, "status": status}
    headers = MutableHeaders(scope=start)
    headers["content-length"] = str(len(body))
    await send(start)
    await send({"type": "http.response.body", "body": body})
