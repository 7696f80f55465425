"""Errors of the OpenAI-compatible API in OpenAI's shape: ``{"error": {"message", "type",
"code", "param"}}``, the body the ``openai`` client reads ``message`` and ``code`` from.

Routes under ``/v1`` raise ``OpenAIError``; ``reshape`` (run by the ``ReshapeErrors``
middleware) turns the ``{"detail": ...}`` replies that other layers give before a route runs
(401 no key, 413 body too large, 429 rate limited, 503 busy, 404 no such path) into the same
shape, and reports invalid requests as 400, as OpenAI does.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from starlette.responses import JSONResponse


class OpenAIError(Exception):
    """An error reply in OpenAI's shape; ``type`` follows from the status unless given."""

    def __init__(
        self,
        status: int,
        message: str,
        code: str | None,
        *,
        param: str | None = None,
        type_: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body = error_body(status, message, code, param, type_)
        self.headers = headers

    def response(self) -> JSONResponse:
        return JSONResponse(self.body, status_code=self.status, headers=self.headers)


def error_body(
    status: int, message: str, code: str | None, param: str | None = None, type_: str | None = None
) -> dict[str, Any]:
    if type_ is None:
        type_ = (
            "rate_limit_error"
            if status == 429
            else "server_error"
            if status >= 500
            else "invalid_request_error"
        )
    return {"error": {"message": message, "type": type_, "code": code, "param": param}}


# pydantic names the member of a union it tried ("str", "list[ContentPart]") in an error's loc
_UNION_MEMBER = re.compile(r"^(str|int|float|bool|list\[.*\]|dict\[.*\])$")


def _loc(loc: tuple[Any, ...] | list[Any]) -> tuple[Any, ...]:
    return tuple(p for p in loc if p != "body" and not _UNION_MEMBER.match(str(p)))


def _param(loc: tuple[Any, ...] | list[Any]) -> str:
    """``("body", "messages", 0, "role")`` -> ``messages[0].role``, as OpenAI names parameters."""
    out = ""
    for part in _loc(loc):
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


_CODES = {
    "too_short": "empty_array",
    "string_too_long": "string_above_max_length",
    "missing": "missing_required_parameter",
    "json_invalid": "invalid_json",
}


def invalid_request(
    errors: list[Any], where: Callable[[tuple[Any, ...]], str] = _param
) -> OpenAIError:
    """A 400 for pydantic errors: the most specific problem, named by its parameter."""
    if not errors:
        return OpenAIError(400, "Invalid request.", "invalid_value")
    err = max(errors, key=lambda e: len(_loc(e.get("loc", ()))))  # the deepest one
    kind = str(err.get("type", ""))
    loc = tuple(err.get("loc", ()))
    param = where(loc) or None
    msg = str(err.get("msg", "invalid value")).removeprefix("Value error, ")
    if kind == "json_invalid":
        return OpenAIError(400, "The request body is not valid JSON.", "invalid_json")
    if kind == "too_short" and param == "messages":
        msg = "empty array; send at least one user message"
    elif _loc(loc)[-1:] == ("content",) and any(_UNION_MEMBER.match(str(p)) for p in loc):
        msg = 'it must be a string or a list of parts such as {"type": "text", "text": "..."}'
    if param is None:
        return OpenAIError(400, f"Invalid request: {msg}", _CODES.get(kind, "invalid_value"))
    return OpenAIError(
        400, f"Invalid '{param}': {msg}", _CODES.get(kind, "invalid_value"), param=param
    )


# The code a reply gets when the layer that refused it did not name one.
_STATUS_CODES = {
    400: "invalid_request",
    401: "invalid_api_key",
    404: "not_found",
    405: "method_not_allowed",
    408: "request_timeout",
    413: "request_too_large",
    415: "unsupported_media_type",
    422: "invalid_value",
    429: "rate_limit_exceeded",
    431: "headers_too_large",
    503: "server_busy",
}


def reshape(status: int, body: bytes, path: str = "") -> tuple[int, bytes] | None:
    """``(status, body)`` in OpenAI's shape for a ``{"detail": ...}`` error body, else None."""
    try:
        data = json.loads(body)
    except ValueError:
        return None
    if not isinstance(data, dict) or "detail" not in data or "error" in data:
        return None
    detail = data["detail"]
    message = detail if isinstance(detail, str) else json.dumps(detail)
    if status == 404 and message == "Not Found":
        message = f"There is no {path}: this API has GET /v1/models and POST /v1/chat/completions."
    code = _STATUS_CODES.get(status, "server_error" if status >= 500 else "invalid_request")
    status = 400 if status == 422 else status
    return status, json.dumps(error_body(status, message, code)).encode()
