"""The MCP server over streamable HTTP at ``/mcp``: stateless (any replica answers any
request), plain JSON replies, the SDK's session manager run inside the app's lifespan
(``McpHttp.running``), DNS-rebinding protection, and the app's ``{"detail"}`` errors reshaped
as JSON-RPC errors for MCP clients.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Callable
from urllib.parse import urlsplit

from mcp.server import MCPServer
from mcp.server.transport_security import TransportSecuritySettings
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from mscqa.config import Settings
from mscqa.server.mcp.tools import build_server
from mscqa.server.metrics import Metrics
from mscqa.server.sources import public_base_url
from mscqa.service import QAService

PATH = "/mcp"
SERVER_ERROR = -32000  # JSON-RPC's range for implementation-defined server errors
_LOOPBACK = ("127.0.0.1", "localhost", "[::1]")


def _reply(status: int, detail: str, headers: dict[str, str]) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


def reshape(status: int, body: bytes, path: str = "") -> tuple[int, bytes] | None:
    """A ``{"detail": ...}`` error reply to ``/mcp`` (no key, too many questions, busy) as a
    JSON-RPC error, which MCP clients show; the SDK's own errors are JSON-RPC already."""
    try:
        data = json.loads(body)
    except ValueError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("detail"), str):
        return None
    error = {"code": SERVER_ERROR, "message": data["detail"], "data": {"status": status}}
    return status, json.dumps({"jsonrpc": "2.0", "id": None, "error": error}).encode()


def transport_security(settings: Settings) -> TransportSecuritySettings:
    """DNS-rebinding protection for ``/mcp``: only requests addressed to this server (its
    public URL, or loopback) are served, so a web page cannot drive the tools through a name
    it points at 127.0.0.1. A server bound to every interface with no MSCQA_PUBLIC_URL cannot
    know its names, and checks none."""
    if settings.host in ("", "0.0.0.0", "::", "[::]") and not settings.public_url:
        return TransportSecuritySettings(enable_dns_rebinding_protection=False)
    public = urlsplit(public_base_url(settings))
    hosts = {public.netloc, public.hostname or public.netloc}
    hosts |= {f"{name}:*" for name in _LOOPBACK} | set(_LOOPBACK)
    origins = {f"{public.scheme}://{public.netloc}", *settings.cors_origins}
    origins |= {f"http://{name}:*" for name in _LOOPBACK}
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=sorted(hosts),
        allowed_origins=sorted(origins),
    )


class McpHttp:
    """The ``/mcp`` endpoint (plain ASGI). ``running()`` belongs in the app's lifespan: it
    builds the MCP server and runs the SDK's session manager for as long as the app runs (a
    manager runs once, so each lifespan gets its own). Stateless, with plain JSON replies."""

    def __init__(
        self, make_server: Callable[[], MCPServer], security: TransportSecuritySettings
    ) -> None:
        self.make_server = make_server
        self.security = security
        self._handler: ASGIApp | None = None

    def route(self) -> Route:
        return Route(PATH, endpoint=self, include_in_schema=False)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        server = self.make_server()
        sdk_app = server.streamable_http_app(
            streamable_http_path=PATH,
            stateless_http=True,
            json_response=True,
            transport_security=self.security,
        )
        handler = next(r.endpoint for r in sdk_app.routes if isinstance(r, Route))
        async with server.session_manager.run():
            self._handler = handler
            try:
                yield
            finally:
                self._handler = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("method") != "POST":
            # GET would open a server-to-client stream and DELETE end a session: a stateless
            # server with nothing to push has neither, and says so as the spec allows (405),
            # rather than holding a silent stream open per GET.
            detail = "POST JSON-RPC messages to /mcp; it keeps no streams or sessions."
            await _reply(405, detail, {"Allow": "POST"})(scope, receive, send)
            return
        handler = self._handler
        if handler is None:  # outside the app's lifespan
            detail = "The MCP endpoint is not running; try again in a few seconds."
            await _reply(503, detail, {"Retry-After": "2"})(scope, receive, send)
            return
        await handler(scope, receive, send)


def http_endpoint(
    service: QAService, settings: Settings, metrics: Metrics | None = None
) -> McpHttp:
    base = public_base_url(settings)
    return McpHttp(
        lambda: build_server(service, settings, base_url=base, metrics=metrics),
        transport_security(settings),
    )
