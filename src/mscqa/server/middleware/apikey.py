"""``MSCQA_API_KEY``: the Bearer key the OpenAI-compatible API and the MCP endpoint require.

OpenAI clients always send ``Authorization: Bearer <key>``; with no key configured any key (or
none) is accepted, so they work out of the box on a laptop. With a key set, a request to a
guarded path without it gets 401 before its body is read. Keys are compared in constant time.
"""

from __future__ import annotations

import hmac
from collections.abc import Collection

from pydantic import SecretStr
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send


def bearer_token(scope: Scope) -> str | None:
    """The token of an ``Authorization: Bearer`` header, or None."""
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            return token.strip() if scheme.lower() == "bearer" else None
    return None


class ApiKeyAuth:
    """Pure ASGI: requests whose path starts with one of ``prefixes`` need the key.

    >>> app.add_middleware(ApiKeyAuth, key=key, prefixes=("/v1/", "/mcp"))  # doctest: +SKIP
    """

    def __init__(self, app: ASGIApp, key: SecretStr | None, prefixes: Collection[str]) -> None:
        if not prefixes:
            raise ValueError("prefixes must name at least one path prefix")
        self.app = app
        self.key = key.get_secret_value().encode() if key is not None else None
        self.prefixes = tuple(prefixes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            self.key is None
            or scope["type"] != "http"
            or scope.get("method") == "OPTIONS"  # CORS preflights carry no credentials
            or not str(scope.get("path", "")).startswith(self.prefixes)
        ):
            await self.app(scope, receive, send)
            return
        token = bearer_token(scope)
        if token is not None and hmac.compare_digest(token.encode(), self.key):
            await self.app(scope, receive, send)
            return
        message = (
            "Incorrect API key: send the key set in MSCQA_API_KEY as 'Authorization: Bearer <key>'."
            if token
            else "No API key: send the key set in MSCQA_API_KEY as 'Authorization: Bearer <key>'."
        )
        # {"detail"} as every layer here; ReshapeErrors puts it in the API's own error shape
        response = JSONResponse(
            {"detail": message},
            status_code=401,
            headers={"WWW-Authenticate": 'Bearer realm="mscqa"'},
        )
        await response(scope, receive, send)
