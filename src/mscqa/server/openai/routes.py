"""The OpenAI-compatible chat API: ``GET /v1/models`` and ``POST /v1/chat/completions``.

A client that speaks OpenAI's chat API (the ``openai`` package, Open WebUI, LibreChat,
LangChain's ``ChatOpenAI``) gets the same answer ``/ask`` gives, with its citations in three
layers: ``[n]`` markers and a Markdown "Sources" list in ``content``; one ``url_citation``
annotation per quoted sentence; the full ``/ask`` payload under ``mscqa``. The last user message
is the question and the earlier user and assistant messages are the history, as ``/ask`` takes
them; errors come back in OpenAI's shape (``{"error": {"message", "type", "code", "param"}}``),
400 for anything wrong with the request.

>>> from openai import OpenAI                                     # doctest: +SKIP
>>> client = OpenAI(base_url="http://127.0.0.1:8000/v1", api_key="unused")  # doctest: +SKIP
>>> client.chat.completions.create(model="mscqa", messages=[...])  # doctest: +SKIP
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from mscqa.config import Settings
from mscqa.errors import IndexNotReady, InvalidQuestion, NoIndexError, SnapshotError
from mscqa.server.api import Service
from mscqa.server.openai.errors import OpenAIError, invalid_request
from mscqa.server.openai.schemas import (
    MODEL_ID,
    Annotation,
    AssistantMessage,
    ChatCompletion,
    ChatCompletionRequest,
    ChatMessage,
    Choice,
    ErrorBody,
    ModelCard,
    ModelList,
    URLCitation,
    stream_event_schema,
)
from mscqa.server.requests import MAX_TURN_CHARS, AskRequest, ask_request_model
from mscqa.server.schemas import AskResponse
from mscqa.server.sources import (
    public_base_url,
    quoted_sentences,
    source_title,
    sources_markdown,
)
from mscqa.types import Turn

PREFIX = "/v1/"
_HISTORY_ROLES = ("user", "assistant")
_SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


class _OpenAIRoute(APIRoute):
    """Replies to errors in OpenAI's shape, request validation included (FastAPI would answer
    those with 422 ``{"detail": ...}``)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except OpenAIError as exc:
                return exc.response()
            except RequestValidationError as exc:
                return invalid_request(list(exc.errors())).response()

        return route


def ask_request(
    messages: list[ChatMessage], max_turns: int, model: type[AskRequest] = AskRequest
) -> AskRequest:
    """The ``/ask`` request for a conversation: the last user message and the turns before it.

    Only the most recent ``max_turns`` user and assistant turns are kept (chat clients send the
    whole conversation; a follow-up needs only the last few), each cut to the length ``/ask``
    accepts. Anything else is checked exactly as ``/ask`` checks it, by ``model`` (the app's
    ``/ask`` body model, with its Settings' limits).
    """
    users = [i for i, m in enumerate(messages) if m.role == "user"]
    if not users:
        raise OpenAIError(
            400,
            "Invalid 'messages': there is no user message; the last one is the question.",
            "invalid_value",
            param="messages",
        )
    last = users[-1]
    if not messages[last].text().strip():
        raise OpenAIError(
            400,
            f"Invalid 'messages[{last}].content': the question (the last user message) is "
            "empty; type a question about the documents.",
            "invalid_value",
            param=f"messages[{last}].content",
        )
    turns = [
        (i, m.role, text)
        for i, m in enumerate(messages[:last])
        if m.role in _HISTORY_ROLES and (text := m.text()).strip()
    ]
    turns = turns[-max_turns:] if max_turns else []
    payload = {
        "question": messages[last].text(),
        "history": [{"role": role, "content": text[:MAX_TURN_CHARS]} for _, role, text in turns],
    }

    def where(loc: tuple[Any, ...]) -> str:
        index = turns[loc[1]][0] if loc[:1] == ("history",) and len(loc) > 1 else last
        return f"messages[{index}].content"

    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        raise invalid_request(list(exc.errors()), where) from None


def completion_for(response: AskResponse, base: str, created: int) -> ChatCompletion:
    annotations = [
        Annotation(
            url_citation=URLCitation(
                start_index=q.start_index,
                end_index=q.end_index,
                title=source_title(q.citation),
                url=q.url(base),
            )
        )
        for q in quoted_sentences(response)
    ]
    content = response.answer + sources_markdown(response, base)
    return ChatCompletion(
        id=f"chatcmpl-{response.id}",
        created=created,
        system_fingerprint=response.index_version,
        choices=[Choice(message=AssistantMessage(content=content, annotations=annotations))],
        mscqa=response,
    )


def stream_frames(completion: ChatCompletion) -> list[bytes]:
    """The completion as server-sent events: the role, the content one sentence at a time (then
    the Sources list), a last chunk with ``finish_reason``, the annotations and ``mscqa``, then
    ``[DONE]``. The content deltas join to exactly the non-streaming content."""
    head = {
        "id": completion.id,
        "object": "chat.completion.chunk",
        "created": completion.created,
        "model": completion.model,
        "system_fingerprint": completion.system_fingerprint,
    }

    def frame(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> bytes:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return sse_event({**head, "choices": [choice], **extra})

    message = completion.choices[0].message
    answer = completion.mscqa.answer
    cuts = []
    for a in message.annotations:
        end = a.url_citation.end_index
        close = answer.find("]", end)  # the end of the sentence's [n] marker
        cuts.append(close + 1 if close >= 0 else end)
    cuts = sorted({c for c in cuts if 0 < c < len(answer)} | {len(answer)})
    pieces, at = [], 0
    for cut in cuts:
        pieces.append(message.content[at:cut])
        at = cut
    pieces.append(message.content[at:])
    last_delta = (
        {"annotations": [a.model_dump() for a in message.annotations]}
        if message.annotations
        else {}
    )
    return [
        frame({"role": "assistant", "content": ""}),
        *(frame({"content": piece}) for piece in pieces if piece),
        frame(last_delta, "stop", mscqa=completion.mscqa.model_dump(mode="json")),
        b"data: [DONE]\n\n",
    ]


# Characters JSON leaves as they are but str.splitlines() breaks lines at (clients that read
# a stream with it, e.g. requests' iter_lines(decode_unicode=True), would cut an event in two).
_LINE_BREAKS = (("\u0085", "\\u0085"), ("\u2028", "\\u2028"), ("\u2029", "\\u2029"))


def sse_event(payload: dict[str, Any]) -> bytes:
    """One server-sent event, ``data: <JSON>`` on a single line whatever the text holds."""
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    for char, escaped in _LINE_BREAKS:  # str.translate would be ~20x slower on an answer
        if char in body:
            body = body.replace(char, escaped)
    return f"data: {body}\n\n".encode()


def model_not_found(model: str) -> OpenAIError:
    return OpenAIError(
        404,
        f"The model `{model}` does not exist; this server answers as `{MODEL_ID}` "
        "(GET /v1/models).",
        "model_not_found",
        param="model",
    )


_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "MSCQA_API_KEY is set and the Bearer key is wrong."},
    "default": {"model": ErrorBody, "description": "Any other error, in OpenAI's shape."},
}
_CHAT_ERRORS: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "A chat.completion, or with stream=true a text/event-stream of "
        "chat.completion.chunk events ending with data: [DONE].",
        "content": {"text/event-stream": {"schema": stream_event_schema()}},
    },
    400: {
        "model": ErrorBody,
        "description": "Invalid request: no messages, no user message, a question over the "
        "length limit, malformed JSON (code and param say which).",
    },
    404: {"model": ErrorBody, "description": "model is not mscqa (code model_not_found)."},
    413: {"model": ErrorBody, "description": "The body is larger than MSCQA_MAX_BODY_KB."},
    429: {"model": ErrorBody, "description": "Too many questions; see Retry-After."},
    503: {"model": ErrorBody, "description": "The index is loading, or the server is busy."},
    **_ERRORS,
}


def make_router(settings: Settings) -> APIRouter:
    router = APIRouter(
        prefix=PREFIX.rstrip("/"), tags=["OpenAI-compatible"], route_class=_OpenAIRoute
    )
    base = public_base_url(settings)
    card = ModelCard(created=int(time.time()))
    ask_model = ask_request_model(settings.max_question_chars, settings.max_history_turns)

    @router.get("/models", response_model=ModelList, responses=_ERRORS)
    async def list_models() -> ModelList:
        """The one model: `mscqa`, the documents' answers."""
        return ModelList(data=[card])

    @router.get("/models/{model}", response_model=ModelCard, responses=_ERRORS)
    async def retrieve_model(model: str) -> ModelCard:
        """`mscqa`, or 404 `model_not_found`."""
        if model != MODEL_ID:
            raise model_not_found(model)
        return card

    @router.post("/chat/completions", response_model=ChatCompletion, responses=_CHAT_ERRORS)
    async def chat_completions(
        body: ChatCompletionRequest, request: Request, service: Service
    ) -> Response:
        """Answer the conversation's last user message, as `POST /ask` does, in OpenAI's chat
        completion format (streamed with `"stream": true`). Parameters that do not apply
        (`temperature`, `max_tokens`, `stop`, `user`, `n`, `stream_options`, `tools`, ...) are
        accepted and ignored."""
        if body.model != MODEL_ID:
            raise model_not_found(body.model)
        ask = ask_request(body.messages, settings.max_history_turns, ask_model)
        history = [Turn(t.role, t.content) for t in ask.history]
        try:
            answer = await run_in_threadpool(service.ask, ask.question, None, history)
        except InvalidQuestion as exc:
            raise OpenAIError(400, str(exc), "invalid_value", param="messages") from None
        except (IndexNotReady, NoIndexError, SnapshotError) as exc:
            raise OpenAIError(
                503, str(exc), "index_not_ready", headers={"Retry-After": "2"}
            ) from None
        created = int(time.time())

        def render(response: AskResponse) -> bytes:
            completion = completion_for(response, base, created)
            if body.stream:
                # The whole answer exists before the first event, so the events go out as one
                # body, not one chunked write each (~3 ms more for a cached answer on a busy
                # machine, bench.perf.openai_overhead); readers split them all the same.
                return b"".join(stream_frames(completion))
            # serialised once, here: FastAPI would validate the returned model again first
            return completion.model_dump_json().encode()

        # held to MSCQA_MAX_REPLY_KB as /ask's reply is (the same passages are dropped first)
        limit = settings.max_reply_kb * 1024
        response, data = AskResponse.bounded(answer, limit, render)
        request.app.state.metrics.record_answer(response.answered)
        if body.stream:
            return Response(data, media_type="text/event-stream", headers=_SSE_HEADERS)
        return Response(data, media_type="application/json")

    return router
