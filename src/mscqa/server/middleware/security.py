"""ASGI middleware: security headers on every response, a request id, a structured access log
line, and CORS scoped to the public JSON routes."""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Collection

from starlette.datastructures import MutableHeaders
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("mscqa.access")
log_errors = logging.getLogger(__name__)

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'self'"
)
# /docs serves Swagger UI from local files with no inline script (apidocs.py), so it runs under
# the same 'self'-only policy (checked in Chromium, "Try it out" included).
DOCS_CSP = CSP


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = _incoming_id(scope) or uuid.uuid4().hex[:16]
        status = {"code": 0}

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                headers = MutableHeaders(scope=message)
                headers["X-Request-ID"] = request_id
                headers["X-Content-Type-Options"] = "nosniff"
                headers["Referrer-Policy"] = "no-referrer"
                headers["X-Frame-Options"] = "DENY"
                if headers.get("content-type", "").startswith("text/html"):
                    path = scope.get("path", "")
                    docs = path.startswith(("/docs", "/redoc"))
                    headers["Content-Security-Policy"] = DOCS_CSP if docs else CSP
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        except Exception:
            # Anything the app did not turn into a reply: logged with its request id, and
            # answered as JSON with this middleware's headers (Starlette's own handler, outside
            # every middleware, sends plain text without them, and the log said status 0).
            log_errors.exception("Unhandled error (request %s)", request_id)
            if status["code"]:
                raise  # the reply has started: nothing to do but let the server close it
            reply = JSONResponse(
                {"detail": f"Internal server error; quote request id {request_id} to report it."},
                status_code=500,
            )
            await reply(scope, receive, send_wrapper)
        finally:
            fields = {
                "method": scope.get("method"),
                "path": scope.get("path"),
                "status": status["code"],
                "ms": round((time.perf_counter() - started) * 1000, 1),
                "request_id": request_id,
                "client": (scope.get("client") or ("-",))[0],
            }
            log.info("%s", logfmt(fields), extra={"access": fields})


def logfmt(fields: dict[str, object]) -> str:
    """``key=value`` pairs; a value with spaces, quotes, ``=`` or control characters is
    JSON-quoted, so a crafted path cannot forge a second log line."""
    parts = []
    for key, value in fields.items():
        text = str(value)
        plain = bool(text) and text.isprintable() and not any(c in text for c in ' "=\\')
        parts.append(f"{key}={text}" if plain else f"{key}={json.dumps(text)}")
    return " ".join(parts)


def _incoming_id(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"x-request-id":
            text = value.decode("latin-1")
            if 0 < len(text) <= 64 and text.isascii() and text.replace("-", "").isalnum():
                return text
    return None


class ScopedCORS:
    """Starlette's ``CORSMiddleware`` for the given paths only; other paths (``/admin``) get no
    CORS headers, so browsers on other origins cannot call them."""

    def __init__(self, app: ASGIApp, origins: Collection[str], paths: Collection[str]) -> None:
        self.app = app
        self.paths = frozenset(paths)
        self.cors = CORSMiddleware(
            app,
            allow_origins=list(origins),
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type", "X-Request-ID"],
            expose_headers=["X-Request-ID", "Retry-After"],
            max_age=600,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("path") in self.paths:
            await self.cors(scope, receive, send)
        else:
            await self.app(scope, receive, send)
