"""JSON routes: /health, /readyz, /livez, /documents (``router``) and /ask (``ask_router``)."""

# No ``from __future__ import annotations``: FastAPI reads the /ask body annotation, a local of
# ask_router, from the function object itself.

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from starlette.concurrency import run_in_threadpool

from mscqa.errors import NoIndexError, Overloaded
from mscqa.server.requests import AskRequest
from mscqa.server.schemas import (
    AskResponse,
    DocumentsResponse,
    ErrorResponse,
    HealthResponse,
    ReadyResponse,
)
from mscqa.service import QAService
from mscqa.types import Turn


async def get_service(request: Request) -> QAService:
    # async: FastAPI runs a plain-def dependency in its thread pool, one more thread hop per
    # question for an attribute lookup
    service: QAService = request.app.state.service
    return service


Service = Annotated[QAService, Depends(get_service)]
router = APIRouter()
_ERRORS: dict[int | str, dict[str, object]] = {
    422: {"model": ErrorResponse, "description": "The request is invalid; detail says why."},
    503: {"model": ErrorResponse, "description": "The index is loading or does not exist yet."},
}
_ASK_ERRORS: dict[int | str, dict[str, object]] = {
    **_ERRORS,
    400: {"model": ErrorResponse, "description": "The body is not UTF-8 JSON."},
    413: {"model": ErrorResponse, "description": "The body is larger than MSCQA_MAX_BODY_KB."},
    415: {"model": ErrorResponse, "description": "The body is not sent as application/json."},
    429: {"model": ErrorResponse, "description": "Too many questions; see Retry-After."},
}


async def json_body(request: Request) -> None:
    """415 for a body not sent as JSON (a form, plain text, no Content-Type, which FastAPI
    does not parse either), before it is parsed. (async: a plain def costs a thread hop.)"""
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media != "application/json" and not media.endswith("+json"):
        sent = f"not {media}" if media else "the request has none"
        raise HTTPException(
            415, f"Send the question as JSON with Content-Type: application/json ({sent})."
        )


@router.get("/health", response_model=HealthResponse, responses=_ERRORS, tags=["status"])
def health(service: Service, request: Request) -> HealthResponse:
    """200 with the serving index once questions can be answered, else 503. While questions are
    being refused as busy, ``status`` is ``shedding`` (still 200: the server is answering)."""
    load = request.app.state.load.as_dict()
    status = "shedding" if load["shedding"] else "ok"
    return HealthResponse.model_validate({**service.health(), "status": status, "load": load})


@router.get(
    "/readyz",
    response_model=ReadyResponse,
    responses={503: {"model": ErrorResponse, "description": "Loading, no index, or shedding."}},
    tags=["status"],
)
def readyz(service: Service, request: Request) -> ReadyResponse:
    """Readiness for a load balancer: 200 while this server takes new questions; 503 +
    Retry-After while the index loads or is missing, and while it sheds load."""
    service.health()  # raises (503) while there is no index to answer from
    if request.app.state.load.shedding:
        raise Overloaded("The server is refusing questions as busy; try another or retry in 1 s.")
    return ReadyResponse(ready=True)


@router.get("/livez", tags=["status"])
def livez() -> dict[str, str]:
    """Liveness: the process is up (it may still be loading the index)."""
    return {"status": "alive"}


@router.get("/documents", response_model=DocumentsResponse, responses=_ERRORS, tags=["documents"])
def documents(service: Service) -> DocumentsResponse:
    """The documents in the serving index."""
    try:
        docs = service.documents()
    except NoIndexError:
        docs = []
    return DocumentsResponse.model_validate({"documents": docs})


def ask_router(ask_model: type[AskRequest] = AskRequest) -> APIRouter:
    """``POST /ask``, validating bodies with ``ask_model``: the app's Settings' limits
    (``schemas.ask_request_model``), so the limits enforced and documented are the configured
    ones."""
    router = APIRouter()

    @router.post(
        "/ask",
        response_model=AskResponse,
        responses=_ASK_ERRORS,
        tags=["questions"],
        dependencies=[Depends(json_body)],
    )
    async def ask(body: ask_model, service: Service, http: Request) -> Response:  # type: ignore[valid-type]
        """Answer a question with verbatim, cited sentences from the documents (or abstain)."""
        # A coroutine with one explicit hop: the model and retrieval run in a worker thread (the
        # event loop never waits on them), and the response is serialised back on the loop. A
        # plain ``def`` route costs FastAPI a second thread hop, to validate the response there.
        request: AskRequest = body
        history = [Turn(t.role, t.content) for t in request.history]
        answer = await run_in_threadpool(service.ask, request.question, request.top_k, history)
        # Serialised here, once, to hold the reply to MSCQA_MAX_REPLY_KB (see bounded_json).
        limit = http.app.state.settings.max_reply_kb * 1024
        return Response(AskResponse.bounded_json(answer, limit), media_type="application/json")

    return router
