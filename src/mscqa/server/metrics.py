"""Prometheus metrics at ``GET /metrics``, one ``CollectorRegistry`` per app (no global state).

Series (all prefixed ``mscqa_``):

- ``http_requests_total{method, route, status}`` and ``http_request_duration_seconds{...}``:
  ``route`` is the route template (``/ask``, ``/static``), never the raw path, and unknown paths
  and methods collapse to ``unmatched`` / ``OTHER`` so clients cannot create series at will.
- ``answers_total{outcome="answered"|"abstained"}``: /ask replies, read from the response body.
- ``index_info{version}``, ``index_documents``, ``index_chunks``, ``index_ready``: the serving
  snapshot, read from the service when scraped.
- ``index_build_duration_seconds``: builds run in this process; code that finishes a build calls
  ``record_build(request.app, seconds)``.
"""

from __future__ import annotations

import hmac
import json
import time
from collections.abc import Iterable

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from fastapi.routing import iter_route_contexts
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client import generate_latest as _generate_latest
from prometheus_client.core import GaugeMetricFamily, InfoMetricFamily, Metric
from prometheus_client.registry import Collector
from pydantic import SecretStr
from starlette.routing import Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mscqa.errors import MscqaError
from mscqa.service import QAService

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "unmatched"
BUILD_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600)
_MAX_ANSWER_BYTES = 4 * 2**20  # larger /ask replies are not parsed for the answered counter


class Metrics:
    """The app's metrics. ``app.state.metrics`` holds one; tests make as many as they like."""

    def __init__(self, service: QAService | None = None) -> None:
        self.registry = CollectorRegistry()
        labels = ("method", "route", "status")
        self.requests = Counter(
            "mscqa_http_requests", "HTTP requests handled.", labels, registry=self.registry
        )
        self.latency = Histogram(
            "mscqa_http_request_duration_seconds",
            "Time from request to the end of the response.",
            labels,
            registry=self.registry,
        )
        self.answers = Counter(
            "mscqa_answers", "Replies to /ask by outcome.", ("outcome",), registry=self.registry
        )
        for outcome in ("answered", "abstained"):
            self.answers.labels(outcome)  # present at 0 before the first question
        self.builds = Histogram(
            "mscqa_index_build_duration_seconds",
            "Duration of index builds run by this process.",
            buckets=BUILD_BUCKETS,
            registry=self.registry,
        )
        if service is not None:
            self.registry.register(_IndexCollector(service))

    def record_build(self, seconds: float) -> None:
        self.builds.observe(max(0.0, seconds))

    def record_answer(self, answered: bool) -> None:
        self.answers.labels("answered" if answered else "abstained").inc()

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        method = method if method in METHODS else "OTHER"
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route, str(status)).observe(seconds)

    def render(self) -> bytes:
        return _generate_latest(self.registry)


def record_build(app: object, seconds: float) -> None:
    """Record a finished build on ``app``'s metrics (a no-op for an app without them)."""
    metrics = getattr(getattr(app, "state", None), "metrics", None)
    if isinstance(metrics, Metrics):
        metrics.record_build(seconds)


class _IndexCollector(Collector):
    def __init__(self, service: QAService) -> None:
        self.service = service

    def collect(self) -> Iterable[Metric]:
        ready = GaugeMetricFamily("mscqa_index_ready", "1 when an index is serving questions.")
        try:
            snapshot = self.service.serving().snapshot
        except MscqaError:
            ready.add_metric([], 0)
            yield ready
            return
        ready.add_metric([], 1)
        yield ready
        yield InfoMetricFamily(
            "mscqa_index", "The serving index snapshot.", value={"version": snapshot.version}
        )
        yield GaugeMetricFamily(
            "mscqa_index_documents",
            "Documents in the serving index.",
            value=len(snapshot.documents),
        )
        yield GaugeMetricFamily(
            "mscqa_index_chunks", "Passages in the serving index.", value=len(snapshot.chunks)
        )


class RouteTemplates:
    """The route template a request's path belongs to.

    The router records the route it picked in ``scope["route"]``; this covers the rest: requests
    answered before routing (408, 413, 429) and mounted apps (``/static``), by the app's route
    paths and mounts. Anything else is ``unmatched``.

    The paths come from the app's routes, not from its OpenAPI schema: building the schema took
    0.2-0.4 s of the event loop, paid by the first request refused before routing (the first
    burst of slow-body 408s in bench.perf.attacks stalled every question that long). The app's
    lifespan calls :meth:`prepare` at start-up; FastAPI resolves its included routers' routes
    lazily, about 50 ms the first time.
    """

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self._known: tuple[frozenset[str], tuple[tuple[str, str], ...]] | None = None

    def prepare(self) -> tuple[frozenset[str], tuple[tuple[str, str], ...]]:
        """Read the app's route paths and mounts (after start-up every route exists)."""
        mounts = tuple((r.path, r.path_format) for r in self.app.routes if isinstance(r, Mount))
        routes = iter_route_contexts(self.app.routes)  # included routers' routes too
        paths = (r.path_format for r in routes if not isinstance(r.original_route, Mount))
        known = (frozenset(p for p in paths if p), mounts)
        self._known = known
        return known

    def __call__(self, scope: Scope) -> str:
        route = scope.get("route")
        template = getattr(route, "path_format", None)
        if isinstance(template, str) and template and not isinstance(route, Mount):
            return template
        paths, mounts = self._known or self.prepare()
        path = str(scope.get("path", ""))
        if path in paths:
            return path
        for prefix, mount_template in mounts:
            if path.startswith(prefix + "/"):
                return mount_template
        return UNMATCHED


class MetricsMiddleware:
    """Counts and times every HTTP request, labelled by route template and status."""

    def __init__(self, app: ASGIApp, metrics: Metrics, templates: RouteTemplates) -> None:
        self.app = app
        self.metrics = metrics
        self.templates = templates

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        method = str(scope.get("method", ""))
        status = 500  # what the client sees when the app raises before responding
        watch_answer = scope.get("path") == "/ask" and method == "POST"
        body: list[bytes] = []
        size = 0

        async def send_wrapper(message: Message) -> None:
            nonlocal status, size
            if message["type"] == "http.response.start":
                status = int(message["status"])
            elif watch_answer and status == 200 and message["type"] == "http.response.body":
                chunk = message.get("body", b"")
                size += len(chunk)
                if size <= _MAX_ANSWER_BYTES:
                    body.append(chunk)
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = self.templates(scope)
            self.metrics.observe(method, route, status, time.perf_counter() - started)
            if watch_answer and status == 200 and size <= _MAX_ANSWER_BYTES:
                self._count_answer(body)

    def _count_answer(self, chunks: list[bytes]) -> None:
        try:
            answered = json.loads(b"".join(chunks)).get("answered")
        except (ValueError, AttributeError):
            return
        if isinstance(answered, bool):
            self.metrics.record_answer(answered)


def make_router(metrics: Metrics, token: SecretStr | None = None) -> APIRouter:
    """``GET /metrics``; with ``token`` (``MSCQA_METRICS_TOKEN``) only for
    ``Authorization: Bearer <token>`` (Prometheus: ``authorization: {credentials: ...}``)."""
    router = APIRouter()
    expected = token.get_secret_value().encode() if token is not None else None

    @router.get("/metrics", include_in_schema=False)
    def prometheus_metrics(request: Request) -> Response:
        if expected is not None:
            scheme, _, given = request.headers.get("authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not given.strip():
                return JSONResponse(
                    {"detail": "Send Authorization: Bearer <MSCQA_METRICS_TOKEN>."},
                    status_code=401,
                    headers={"WWW-Authenticate": "Bearer"},
                )
            if not hmac.compare_digest(given.strip().encode("latin-1", "replace"), expected):
                return JSONResponse({"detail": "Wrong metrics token."}, status_code=403)
        return Response(
            metrics.render(), media_type=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"}
        )

    return router
