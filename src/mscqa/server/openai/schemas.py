"""Bodies of the OpenAI-compatible API (``/v1``), in the shapes the ``openai`` client types.

Requests accept every parameter OpenAI's chat API has: the ones that mean nothing here
(``temperature``, ``max_tokens``, ``stop``, ``user``, ``n``, ``tools``, ...) are ignored, never
refused. Responses carry the full ``/ask`` payload under ``mscqa``, typed by ``AskResponse``
itself, so a field added to ``/ask`` appears here too.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from mscqa.server.schemas import AskResponse

MODEL_ID = "mscqa"
Role = Literal["system", "developer", "user", "assistant", "tool", "function"]


class ContentPart(BaseModel):
    """A part of a message's content; only ``text`` parts are read."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description='"text" (read), or another kind such as "image_url" (ignored).')
    text: str | None = None


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: Role = Field(
        description="The last user message is the question; earlier user and assistant "
        "messages are the conversation; system, developer and tool messages are ignored."
    )
    content: str | list[ContentPart] | None = Field(
        None, description="Text, or a list of content parts whose text parts are joined."
    )

    def text(self) -> str:
        if isinstance(self.content, str):
            return self.content
        return "\n".join(p.text for p in self.content or () if p.type == "text" and p.text)


class ChatCompletionRequest(BaseModel):
    """OpenAI's chat completion request. Other OpenAI parameters are accepted and ignored."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "model": MODEL_ID,
                    "messages": [
                        {"role": "user", "content": "How are adipose stem cells collected?"}
                    ],
                }
            ]
        },
    )

    model: str = Field(
        MODEL_ID,
        description=f'Must be "{MODEL_ID}" (GET /v1/models); another model is 404 '
        "model_not_found, as OpenAI answers.",
        json_schema_extra={"enum": [MODEL_ID]},
    )
    messages: list[ChatMessage] = Field(
        min_length=1,
        description="The conversation, oldest first; it must contain a user message.",
        json_schema_extra={
            "contains": {"type": "object", "properties": {"role": {"const": "user"}}}
        },
    )
    stream: StrictBool | None = Field(  # strict: "yes" or 1 is a mistake, not true
        False, description="true: text/event-stream of chat.completion.chunk objects."
    )


class URLCitation(BaseModel):
    start_index: int = Field(description="Where the quoted sentence starts in content.")
    end_index: int = Field(description="Where it ends: content[start_index:end_index] is it.")
    title: str = Field(description="The document's title and section.")
    url: str = Field(description="The document view with this sentence highlighted.")


class Annotation(BaseModel):
    type: Literal["url_citation"] = "url_citation"
    url_citation: URLCitation


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str = Field(
        description="The /ask answer (verbatim sentences with [n] markers, or the not-found "
        "message), then a Markdown list of its sources."
    )
    refusal: None = None
    annotations: list[Annotation] = Field(
        default_factory=list, description="One url_citation per quoted sentence."
    )


class Choice(BaseModel):
    index: int = 0
    message: AssistantMessage
    finish_reason: Literal["stop"] = "stop"
    logprobs: None = None


class ChatCompletion(BaseModel):
    id: str = Field(description="chatcmpl- and the answer's id (mscqa.id, for POST /feedback).")
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str = MODEL_ID
    system_fingerprint: str | None = Field(None, description="The index snapshot's version.")
    choices: list[Choice]
    usage: None = Field(None, description="Always null: no tokens are generated.")
    mscqa: AskResponse = Field(description="The full /ask response for this question.")


class ChunkDelta(BaseModel):
    role: Literal["assistant"] | None = None
    content: str | None = None
    annotations: list[Annotation] | None = Field(
        None, description="On the last chunk: one url_citation per quoted sentence."
    )


class ChunkChoice(BaseModel):
    index: int = 0
    delta: ChunkDelta
    finish_reason: Literal["stop"] | None = None
    logprobs: None = None


class ChatCompletionChunk(BaseModel):
    """One event of a streamed completion (``data: {...}``); the stream ends ``data: [DONE]``."""

    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str = MODEL_ID
    system_fingerprint: str | None = None
    choices: list[ChunkChoice]
    mscqa: AskResponse | None = Field(None, description="On the last chunk: the /ask response.")


def _inline(node: Any, defs: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            return _inline(defs[ref.removeprefix("#/$defs/")], defs)
        return {k: _inline(v, defs) for k, v in node.items() if k != "$defs"}
    if isinstance(node, list):
        return [_inline(v, defs) for v in node]
    return node


def stream_event_schema() -> dict[str, Any]:
    """One server-sent event of a streamed completion, for the OpenAPI document (3.1: the
    ``schema`` of ``text/event-stream`` describes an event): its ``data`` is a JSON
    ``ChatCompletionChunk`` or ``[DONE]``. Self-contained, without references."""
    chunk = ChatCompletionChunk.model_json_schema()
    content = _inline(chunk, chunk.get("$defs", {}))
    data = {"type": "string", "contentMediaType": "application/json", "contentSchema": content}
    return {
        "type": "object",
        "required": ["data"],
        "properties": {"data": {"anyOf": [{"const": "[DONE]"}, data]}},
    }


class ModelCard(BaseModel):
    id: str = MODEL_ID
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "mscqa"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


class ErrorDetail(BaseModel):
    message: str = Field(description="What is wrong and what to do about it.")
    type: str = Field(description="invalid_request_error, rate_limit_error or server_error.")
    code: str | None = Field(description="e.g. model_not_found, invalid_api_key, empty_array.")
    param: str | None = Field(None, description="The parameter at fault, e.g. messages.")


class ErrorBody(BaseModel):
    error: ErrorDetail
