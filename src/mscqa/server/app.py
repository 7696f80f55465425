"""``create_app``: the FastAPI application, its lifespan and its error handlers.

>>> from mscqa.server.app import create_app
>>> app = create_app()          # loads the index in the background on startup
>>> # uvicorn.run(app) or: with TestClient(create_app(service=my_service)) as client: ...
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import AsyncIterator, Iterator

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from mscqa import __version__
from mscqa.config import Settings
from mscqa.errors import (
    BuildInProgress,
    FileConflict,
    IndexNotReady,
    InvalidQuestion,
    InvalidUpload,
    JobConflict,
    MscqaError,
    NoIndexError,
    NotFound,
    Overloaded,
    SnapshotError,
    UnsupportedFileType,
    UploadTooLarge,
)
from mscqa.server import api, mcp
from mscqa.server import pages as web
from mscqa.server.admin import routes as admin
from mscqa.server.admin.uploads import ALLOWED_SUFFIXES
from mscqa.server.docs import add_docs
from mscqa.server.metrics import Metrics, MetricsMiddleware, RouteTemplates
from mscqa.server.metrics import make_router as metrics_router
from mscqa.server.middleware.apikey import ApiKeyAuth
from mscqa.server.middleware.head import HeadAsGet
from mscqa.server.middleware.limits import BodySizeLimit, ConcurrencyLimit, LoadGauge
from mscqa.server.middleware.ratelimit import RateLimit
from mscqa.server.middleware.reshape import ReshapeErrors
from mscqa.server.middleware.security import ScopedCORS, SecurityHeaders
from mscqa.server.openai import errors as openai_errors
from mscqa.server.openai import routes as openai
from mscqa.server.questions import QuestionLog
from mscqa.server.questions import admin_router as questions_admin
from mscqa.server.questions import router as feedback_router
from mscqa.server.requests import ask_request_model
from mscqa.service import QAService

log = logging.getLogger(__name__)

_STATUS = {
    InvalidQuestion: 422,
    IndexNotReady: 503,
    NoIndexError: 503,
    Overloaded: 503,
    SnapshotError: 503,
    BuildInProgress: 409,
    InvalidUpload: 422,
    UnsupportedFileType: 415,
    UploadTooLarge: 413,
    FileConflict: 409,
    JobConflict: 409,
    NotFound: 404,
}


# never /admin
CORS_PATHS = ("/ask", "/health", "/documents", "/feedback", "/v1/models", "/v1/chat/completions")
# The routes that answer questions: the same rate and concurrency limits apply to all of them.
QUESTION_ROUTES = (("POST", "/ask"), ("POST", "/v1/chat/completions"), ("POST", mcp.PATH))
# The routes MSCQA_API_KEY guards (path prefixes).
KEYED_PREFIXES = (openai.PREFIX, mcp.PATH)


API_DESCRIPTION = (
    "Three ways in, one answer: `POST /ask` (this API's own JSON); `POST /v1/chat/completions` "
    "and `GET /v1/models`, OpenAI-compatible, for Open WebUI, LibreChat or the `openai` client "
    "(citations as `[n]` markers, a Sources list and `url_citation` annotations); and `POST "
    f"{mcp.PATH}`, a Model Context Protocol server (streamable HTTP, JSON-RPC, "
    "stateless) with the read-only tools `ask`, `search` and `list_documents`, for MCP "
    "clients (it is JSON-RPC, so it is not listed below; `mscqa mcp` serves the same tools on "
    "stdio). With `MSCQA_API_KEY` set, `/v1` and `/mcp` need `Authorization: Bearer <key>`."
)


def _watch(service: QAService, stop: threading.Event, interval: float) -> None:
    """Load the index, then keep checking for a newer snapshot until told to stop."""
    try:
        service.load()
    except MscqaError as exc:  # serving() reports it until a snapshot loads
        log.error("%s", exc)
    while not stop.is_set():
        try:
            # a database store returns early when a build publishes (LISTEN/NOTIFY)
            service.wait_for_change(interval, stop)
            if not stop.is_set():
                service.refresh()
        except Exception:  # keep watching: one bad reload must not end hot swapping
            log.exception("Checking for a new index failed")
            stop.wait(interval)


@contextlib.contextmanager
def watching_index(service: QAService, interval: float) -> Iterator[None]:
    """For the duration of the block: the index loads in a background thread, which then keeps
    checking for a newer snapshot to swap in (the app's lifespan, `mscqa mcp`)."""
    stop = threading.Event()
    watcher = threading.Thread(
        target=_watch, args=(service, stop, interval), name="mscqa-index-watcher", daemon=True
    )
    watcher.start()
    try:
        yield
    finally:
        stop.set()
        watcher.join(timeout=5)


def create_app(settings: Settings | None = None, service: QAService | None = None) -> FastAPI:
    """Build the app. A ``service`` given here is used as is (tests inject one)."""
    settings = settings or Settings()
    service = service or QAService(settings)
    metrics = Metrics(service)
    mcp_http = mcp.http_endpoint(service, settings, metrics)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            with watching_index(service, settings.reload_interval):
                # The question log lives while the app runs: opened here (not at import or in
                # create_app), fed by every answer the service gives, written by its own thread.
                questions = QuestionLog.from_settings(settings)
                questions.start()
                app.state.questions = questions
                service.observers.append(questions.record)
                templates.prepare()  # now, not on the first refused request's turn
                try:
                    async with mcp_http.running():  # the MCP SDK's session manager
                        yield
                finally:
                    service.observers.remove(questions.record)
                    app.state.questions = QuestionLog(None, "off")
                    await run_in_threadpool(questions.close)
        finally:
            service.close()  # after the watcher has stopped

    app = FastAPI(
        title="mscqa",
        version=__version__,
        summary="Questions about mesenchymal stem cells, answered with verbatim cited passages.",
        description=API_DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # apidocs.add_docs serves /docs offline; ReDoc needs a CDN, so none
        redoc_url=None,
        # No "/path/ -> /path" redirects: Starlette builds their Location from the Host header,
        # so anyone could make this server redirect to a site of their choosing.
        redirect_slashes=False,
    )
    templates = RouteTemplates(app)
    app.state.service = service
    app.state.settings = settings
    app.state.metrics = metrics
    app.state.load = gauge = LoadGauge(settings.max_inflight)
    app.state.questions = QuestionLog(None, "off")  # until the lifespan opens the real one

    @app.exception_handler(MscqaError)
    async def _mscqa_error(request: Request, exc: MscqaError) -> JSONResponse:
        status = next((s for cls, s in _STATUS.items() if isinstance(exc, cls)), 500)
        headers = {"Retry-After": "2"} if status == 503 else None
        return JSONResponse({"detail": str(exc)}, status_code=status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": describe_validation(exc)}, status_code=422)

    app.include_router(api.router)
    app.include_router(
        api.ask_router(ask_request_model(settings.max_question_chars, settings.max_history_turns))
    )
    app.include_router(openai.make_router(settings))
    app.router.routes.append(mcp_http.route())
    app.include_router(admin.router)
    app.include_router(feedback_router)
    app.include_router(questions_admin)
    app.include_router(web.make_router(settings.web_dir, upload_suffixes=ALLOWED_SUFFIXES))
    app.mount("/static", StaticFiles(directory=settings.web_dir / "static"), name="static")
    app.include_router(metrics_router(metrics, settings.metrics_token))
    add_docs(app)
    # Added innermost first. SecurityHeaders (outermost) puts its headers and request id on every
    # reply, 413 and 429 included; metrics count those too; CORS headers reach 429 replies.
    app.add_middleware(HeadAsGet)
    app.add_middleware(
        ConcurrencyLimit, gauge=gauge, paths=tuple(path for _, path in QUESTION_ROUTES)
    )
    app.add_middleware(
        BodySizeLimit,
        max_bytes=settings.max_body_kb * 1024,
        upload_bytes=settings.max_upload_mb * 2**20,
        timeout=settings.body_timeout_s,
    )
    # Outside the body cap (a request without the key is refused before its body is read),
    # inside the rate limit (guessing keys costs questions).
    app.add_middleware(ApiKeyAuth, key=settings.api_key, prefixes=KEYED_PREFIXES)
    app.add_middleware(
        RateLimit,
        per_minute=settings.rate_limit_per_minute,
        burst=settings.rate_limit_burst,
        routes=QUESTION_ROUTES,
    )
    # the replies of the layers above (401, 413, 429, 503) in each API's own error shape
    app.add_middleware(ReshapeErrors, prefix=openai.PREFIX, reshape=openai_errors.reshape)
    app.add_middleware(ReshapeErrors, prefix=mcp.PATH, reshape=mcp.reshape)
    if settings.cors_origins:
        app.add_middleware(ScopedCORS, origins=settings.cors_origins, paths=CORS_PATHS)
    app.add_middleware(MetricsMiddleware, metrics=metrics, templates=templates)
    app.add_middleware(SecurityHeaders)
    return app


def describe_validation(exc: RequestValidationError) -> str:
    """One readable sentence per problem: "top_k: Input should be less than or equal to 20"."""
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
        msg = str(err.get("msg", "invalid value")).removeprefix("Value error, ")
        if err.get("type") == "json_invalid":
            msg = "the request body is not valid JSON"
        parts.append(f"{loc}: {msg}" if loc else msg)
    return "; ".join(parts) or "invalid request"
