"""HTTP request bodies: what /ask, /v1/chat/completions and /feedback accept, checked before
anything else runs (pydantic lives at the edges only). A server's question and history limits
come from its Settings through ``ask_request_model``."""

from __future__ import annotations

import functools
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model, field_validator

from mscqa.config import Settings

# NUL, other C0 controls (tab/newline allowed) and the Unicode bidi overrides/isolates.
_FORBIDDEN = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u202a-\u202e\u2066-\u2069]")


_SURROGATE = re.compile(r"[\ud800-\udfff]")


# The defaults of MSCQA_MAX_QUESTION_CHARS and MSCQA_MAX_HISTORY_TURNS; a server's own limits
# come from its Settings through ``ask_request_model``.
MAX_QUESTION_CHARS: int = Settings.model_fields["max_question_chars"].default


MAX_HISTORY_TURNS: int = Settings.model_fields["max_history_turns"].default


MAX_TURN_CHARS = 8000


MAX_COMMENT_CHARS = 2000


# The same rule as _FORBIDDEN, stated in the OpenAPI schema (ECMA-262 syntax) for API clients.
_ALLOWED_PATTERN = r"^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f\u202a-\u202e\u2066-\u2069]*$"


_QUESTION_PATTERN = (
    r"^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f\u202a-\u202e\u2066-\u2069]*"
    r"\S[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f\u202a-\u202e\u2066-\u2069]*$"
)


def _clean(value: str, what: str) -> str:
    if _SURROGATE.search(value):
        raise ValueError(f"{what} contains an invalid character (a lone UTF-16 surrogate)")
    if _FORBIDDEN.search(value):
        raise ValueError(f"{what} contains control or text-direction characters; remove them")
    return value


class HistoryTurn(BaseModel):
    role: Literal["user", "assistant"] = Field(description="Who said it.")
    content: str = Field(
        max_length=MAX_TURN_CHARS,
        description="What was said.",
        json_schema_extra={"pattern": _ALLOWED_PATTERN},
    )

    @field_validator("content")
    @classmethod
    def _content(cls, value: str) -> str:
        return _clean(value, "history content")


def _question_field(max_chars: int) -> Any:
    return Field(
        min_length=1,
        max_length=max_chars,
        description="The question, in plain text (no control or text-direction characters).",
        json_schema_extra={"pattern": _QUESTION_PATTERN},
    )


def _history_field(max_turns: int) -> Any:
    return Field(
        default_factory=list,
        max_length=max_turns,
        description="Earlier turns of the conversation, oldest first, for follow-up questions.",
    )


class AskRequest(BaseModel):
    """The body of ``POST /ask`` at the default limits; a server validates with
    ``ask_request_model`` of its own Settings, so its schema states the limits it enforces."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"question": "How are adipose mesenchymal stem cells collected?"}]
        }
    )

    question: str = _question_field(MAX_QUESTION_CHARS)
    top_k: int | None = Field(
        None, ge=1, le=20, description="Passages to consider (1-20); default from settings."
    )
    history: list[HistoryTurn] = _history_field(MAX_HISTORY_TURNS)

    @field_validator("top_k", mode="before")
    @classmethod
    def _top_k(cls, value: Any) -> Any:
        # JSON Schema's integer takes 5.0, but true or "5" is a client's mistake, not a number
        # of passages (lax pydantic took true as 1 and "5" as 5)
        if isinstance(value, bool | str):
            raise ValueError("top_k must be a whole number from 1 to 20")
        return value

    @field_validator("question")
    @classmethod
    def _question(cls, value: str) -> str:
        value = _clean(value, "question")
        if not value.strip():
            raise ValueError("question is empty; type a question about the documents")
        return value


@functools.cache
def ask_request_model(max_question_chars: int, max_history_turns: int) -> type[AskRequest]:
    """``AskRequest`` with ``MSCQA_MAX_QUESTION_CHARS`` and ``MSCQA_MAX_HISTORY_TURNS`` applied.

    >>> ask_request_model(5000, 2).model_fields["question"].metadata[-1].max_length
    5000
    """
    if (max_question_chars, max_history_turns) == (MAX_QUESTION_CHARS, MAX_HISTORY_TURNS):
        return AskRequest
    model: type[AskRequest] = create_model(
        "AskRequest",
        __base__=AskRequest,
        __doc__=AskRequest.__doc__,
        question=(str, _question_field(max_question_chars)),
        history=(list[HistoryTurn], _history_field(max_history_turns)),
    )
    return model


class FeedbackRequest(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"id": "16c05105827cd26c71b7e19a", "rating": "down"}]}
    )

    id: str = Field(
        description="The answer's id, as /ask gave it (or chatcmpl-<id>).",
        pattern=r"^(chatcmpl-)?[A-Za-z0-9_-]{1,64}$",
    )
    rating: Literal["up", "down"] = Field(description="up: helpful; down: wrong or not useful.")
    comment: str | None = Field(
        None,
        max_length=MAX_COMMENT_CHARS,
        description="What was wrong or missing (optional).",
        json_schema_extra={"pattern": _ALLOWED_PATTERN},
    )

    @field_validator("comment")
    @classmethod
    def _comment(cls, value: str | None) -> str | None:
        return None if value is None else _clean(value, "comment").strip() or None
