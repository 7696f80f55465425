"""``HEAD`` on every ``GET`` route: the same status and headers, no body (RFC 9110 9.3.2).

FastAPI registers a route only for the methods it names, so ``HEAD /health`` was 405. Answering
HEAD as GET here, rather than adding HEAD to every route, keeps it out of the OpenAPI schema.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class HeadAsGet:
    """Run a ``HEAD`` request as ``GET`` and drop the body it sends (Content-Length stays)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") != "HEAD":
            await self.app(scope, receive, send)
            return

        async def without_body(message: Message) -> None:
            if message["type"] == "http.response.body" and message.get("body"):
                message = {**message, "body": b""}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, without_body)
