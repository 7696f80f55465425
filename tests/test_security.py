"""HTTP hardening: body size caps, rate limiting, scoped CORS, security headers, request ids,
structured access logs and the offline /docs page."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr, ValidationError

from mscqa.config import Settings
from mscqa.server.app import create_app
from mscqa.server.middleware.limits import BodySizeLimit
from mscqa.server.middleware.ratelimit import TokenBuckets
from mscqa.server.middleware.security import logfmt
from mscqa.service import QAService

QUESTION = {"question": "How are adipose stem cells collected?"}


def make_client(settings: Settings, service: QAService, **changes: Any) -> TestClient:
    return TestClient(create_app(settings.model_copy(update=changes), service))


@pytest.fixture
def client(tiny_settings: Settings, tiny_service: QAService) -> Iterator[TestClient]:
    with make_client(tiny_settings, tiny_service) as c:
        yield c


# --- raw ASGI helpers: see exactly how much of a body the app reads ------------------------------


class Upload:
    """An ASGI ``receive`` that sends ``chunks`` and counts how many were asked for."""

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks
        self.reads = 0

    async def __call__(self) -> dict[str, Any]:
        if self.reads >= len(self.chunks):
            await asyncio.sleep(0)
            return {"type": "http.disconnect"}
        self.reads += 1
        more = self.reads < len(self.chunks)
        return {"type": "http.request", "body": self.chunks[self.reads - 1], "more_body": more}


def call_asgi(
    app: Any, path: str, headers: dict[str, str], upload: Upload, method: str = "POST"
) -> tuple[int, dict[str, str], bytes]:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("10.1.2.3", 5000),
        "server": ("testserver", 80),
    }
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, upload, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    got = {k.decode().lower(): v.decode() for k, v in start["headers"]}
    return start["status"], got, body


# --- body size caps -------------------------------------------------------------------------------


def test_declared_oversized_body_is_refused_before_reading_it(tiny_settings, tiny_service) -> None:
    app = create_app(tiny_settings, tiny_service)
    upload = Upload([b"{" + b" " * 100_000 + b"}"])
    headers = {"content-type": "application/json", "content-length": "100002"}
    status, got, body = call_asgi(app, "/ask", headers, upload)
    assert status == 413
    assert upload.reads == 0
    assert "64 KiB" in json.loads(body)["detail"]
    assert got["x-request-id"] and got["x-content-type-options"] == "nosniff"


def test_streamed_body_without_length_is_cut_off_at_the_cap(tiny_settings, tiny_service) -> None:
    app = create_app(tiny_settings, tiny_service)
    upload = Upload([b"x" * 8192] * 1000)  # 8 MB, chunked, no Content-Length
    status, _, body = call_asgi(app, "/ask", {"content-type": "application/json"}, upload)
    assert status == 413
    assert upload.reads <= 64 * 1024 // 8192 + 1  # stopped reading right after the cap
    assert "larger than 64 KiB" in json.loads(body)["detail"]


def test_false_content_length_does_not_get_past_the_cap(tiny_settings, tiny_service) -> None:
    app = create_app(tiny_settings, tiny_service)
    upload = Upload([b"x" * 8192] * 20)
    headers = {"content-type": "application/json", "content-length": "20"}
    status, _, _ = call_asgi(app, "/ask", headers, upload)
    assert status == 413
    assert upload.reads <= 9


def test_garbage_content_length_is_400(client: TestClient) -> None:
    r = client.post("/ask", content=b"{}", headers={"content-length": "12abc"})
    assert r.status_code == 400
    assert "Content-Length" in r.json()["detail"]


def test_streamed_oversized_body_through_the_client(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"question": "'
        for _ in range(100):
            yield b"a" * 1000
        yield b'"}'

    r = client.post("/ask", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert r.headers["x-request-id"]


def test_bodies_under_the_cap_are_answered(client: TestClient) -> None:
    history = [
        {"role": "user" if i % 2 == 0 else "assistant", "content": "Adipose stem cells? " * 100}
        for i in range(10)
    ]  # what the chat page sends at most: 10 turns, about 20 KB here
    r = client.post("/ask", json={**QUESTION, "history": history})
    assert r.status_code == 200


def test_body_cap_is_configurable(tiny_settings, tiny_service) -> None:
    with make_client(tiny_settings, tiny_service, max_body_kb=1) as c:
        assert c.post("/ask", json={"question": "x" * 1500}).status_code == 413
        assert c.post("/ask", json=QUESTION).status_code == 200


def test_uploads_get_their_own_larger_cap(tiny_settings, tiny_service) -> None:
    app = create_app(tiny_settings.model_copy(update={"max_upload_mb": 1}), tiny_service)
    big = 200 * 1024  # over the /ask cap, under the upload cap
    headers = {"content-type": "multipart/form-data; boundary=x", "content-length": str(big)}
    status, _, _ = call_asgi(app, "/admin/documents", headers, Upload([b"-" * big]))
    assert status != 413
    status, _, _ = call_asgi(app, "/ask", headers, Upload([b"-" * big]))
    assert status == 413
    headers["content-length"] = str(3 * 2**20)
    upload = Upload([b"-" * 2**20] * 3)
    status, _, body = call_asgi(app, "/admin/documents", headers, upload)
    assert status == 413
    assert upload.reads == 0
    assert "larger than 1 MiB" in json.loads(body)["detail"]


def test_body_limit_checks_its_arguments() -> None:
    with pytest.raises(ValueError, match="max_bytes"):
        BodySizeLimit(lambda s, r, c: None, max_bytes=0, upload_bytes=1)  # type: ignore[arg-type,return-value]


# --- rate limiting --------------------------------------------------------------------------------


def test_questions_over_the_limit_get_429_with_retry_after(tiny_settings, tiny_service) -> None:
    with make_client(tiny_settings, tiny_service, rate_limit_per_minute=6, rate_limit_burst=3) as c:
        codes = [c.post("/ask", json=QUESTION).status_code for _ in range(3)]
        assert codes == [200, 200, 200]
        r = c.post("/ask", json=QUESTION)
        assert r.status_code == 429
        wait = int(r.headers["retry-after"])
        assert 1 <= wait <= 10  # one token every 10 s
        assert r.json() == {"detail": f"Too many questions; try again in {wait} s"}
        assert r.headers["x-request-id"]
        # other routes are not limited
        assert all(c.get("/health").status_code == 200 for _ in range(5))


def test_rate_limit_zero_turns_it_off(tiny_settings, tiny_service) -> None:
    with make_client(tiny_settings, tiny_service, rate_limit_per_minute=0, rate_limit_burst=1) as c:
        assert {c.post("/ask", json=QUESTION).status_code for _ in range(40)} == {200}


def test_rate_limit_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MSCQA_RATE_LIMIT_PER_MINUTE", "7")
    monkeypatch.setenv("MSCQA_RATE_LIMIT_BURST", "2")
    settings = Settings(_env_file=None)
    assert (settings.rate_limit_per_minute, settings.rate_limit_burst) == (7, 2)
    assert Settings.model_fields["rate_limit_per_minute"].description


def test_buckets_refill_at_the_configured_rate() -> None:
    buckets = TokenBuckets(per_minute=60, burst=2)
    assert [buckets.take("a", now=0.0) for _ in range(3)] == [0.0, 0.0, 1.0]
    assert buckets.take("b", now=0.0) == 0.0  # clients are independent
    assert buckets.take("a", now=0.5) == pytest.approx(0.5)
    assert buckets.take("a", now=1.0) == 0.0
    assert buckets.take("a", now=1.0) > 0


def test_buckets_memory_is_bounded() -> None:
    buckets = TokenBuckets(per_minute=60, burst=5, max_clients=100)
    for i in range(1000):
        buckets.take(f"10.0.{i // 256}.{i % 256}", now=0.0)
    assert len(buckets) <= 100
    buckets.take("late", now=buckets.idle_after + 1)  # everyone else is idle and full again
    assert len(buckets) == 1


def test_buckets_are_thread_safe() -> None:
    buckets = TokenBuckets(per_minute=1, burst=50)
    granted: list[float] = []
    lock = threading.Lock()

    def hammer() -> None:
        for _ in range(100):
            wait = buckets.take("same", now=0.0)
            with lock:
                granted.append(wait)

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(1 for w in granted if w == 0.0) == 50


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [({"per_minute": 0, "burst": 1}, "per_minute"), ({"per_minute": 1, "burst": 0}, "burst")],
)
def test_buckets_check_their_arguments(kwargs: dict[str, int], name: str) -> None:
    with pytest.raises(ValueError, match=name):
        TokenBuckets(**kwargs)


# --- CORS -----------------------------------------------------------------------------------------

ORIGIN = "https://portal.example.org"
PREFLIGHT = {"Origin": ORIGIN, "Access-Control-Request-Method": "POST"}


def test_cors_is_off_by_default(client: TestClient) -> None:
    r = client.post("/ask", json=QUESTION, headers={"Origin": ORIGIN})
    assert r.status_code == 200
    assert "access-control-allow-origin" not in r.headers
    assert "access-control-allow-origin" not in client.options("/ask", headers=PREFLIGHT).headers


@pytest.mark.parametrize("value", [f"{ORIGIN}, https://other.example", f'["{ORIGIN}"]'])
def test_cors_origins_enable_cors_on_public_routes_only(
    value: str, tiny_settings, tiny_service, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MSCQA_CORS_ORIGINS", value)
    origins = Settings(_env_file=None).cors_origins
    assert ORIGIN in origins
    with make_client(tiny_settings, tiny_service, cors_origins=origins) as c:
        r = c.options(
            "/ask", headers={**PREFLIGHT, "Access-Control-Request-Headers": "content-type"}
        )
        assert r.status_code == 200
        assert r.headers["access-control-allow-origin"] == ORIGIN
        r = c.post("/ask", json=QUESTION, headers={"Origin": ORIGIN})
        assert r.headers["access-control-allow-origin"] == ORIGIN
        assert "x-request-id" in r.headers["access-control-expose-headers"].lower()
        for path in ("/health", "/documents"):
            got = c.get(path, headers={"Origin": ORIGIN}).headers
            assert got["access-control-allow-origin"] == ORIGIN
        # never the admin API, and never an origin not listed
        for path in ("/admin/documents", "/admin/reindex"):
            assert "access-control-allow-origin" not in c.options(path, headers=PREFLIGHT).headers
            assert (
                "access-control-allow-origin"
                not in c.post(path, headers={"Origin": ORIGIN}).headers
            )
        r = c.post("/ask", json=QUESTION, headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in r.headers


def test_bad_cors_origin_names_the_variable() -> None:
    with pytest.raises(ValidationError, match="MSCQA_CORS_ORIGINS"):
        Settings(cors_origins="portal.example.org", _env_file=None)


# --- headers, request ids, logs -------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/docs"])
def test_html_pages_get_a_strict_csp(client: TestClient, path: str) -> None:
    r = client.get(path)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    csp = r.headers["content-security-policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp and "http" not in csp
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "no-referrer"
    assert r.headers["x-frame-options"] == "DENY"
    # no inline script: every <script> has a src
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", r.text)


def test_json_responses_get_nosniff_and_a_request_id(client: TestClient) -> None:
    r = client.get("/health")
    assert r.headers["x-content-type-options"] == "nosniff"
    assert re.fullmatch(r"[0-9a-f]{16}", r.headers["x-request-id"])


def test_docs_are_served_from_local_files(client: TestClient) -> None:
    page = client.get("/docs").text
    urls = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert urls and all(u.startswith("/") and not u.startswith("//") for u in urls)
    for url in urls:
        assert client.get(url).status_code == 200, url
    init = client.get("/docs/init.js")
    assert init.headers["content-type"].startswith("text/javascript")
    assert "/openapi.json" in init.text
    assert client.get("/redoc").status_code == 404  # ReDoc would need a CDN


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("abc-123", True),
        ("x" * 65, False),
        ("has space", False),
        ("caf\u00e9", False),
        ("a\u00b2", False),
    ],
)
def test_request_id_is_echoed_only_when_valid(client: TestClient, sent: str, kept: bool) -> None:
    r = client.get("/livez", headers={"X-Request-ID": sent.encode("latin-1")})
    got = r.headers["x-request-id"]
    assert (got == sent) is kept
    if not kept:
        assert re.fullmatch(r"[0-9a-f]{16}", got)


def test_access_log_is_one_structured_line(client: TestClient, caplog) -> None:
    with caplog.at_level(logging.INFO, logger="mscqa.access"):
        client.get("/health", headers={"X-Request-ID": "req-1"})
        client.get("/nope%0Aforged=1 status=200")
    first, second = (r for r in caplog.records if r.name == "mscqa.access")
    fields = dict(pair.split("=", 1) for pair in first.getMessage().split(" "))
    assert fields["method"] == "GET" and fields["path"] == "/health"
    assert fields["status"] == "200" and fields["request_id"] == "req-1"
    assert float(fields["ms"]) >= 0
    assert first.access["status"] == 200  # type: ignore[attr-defined]
    line = second.getMessage()
    assert "\n" not in line
    assert 'path="/nope\\nforged=1 status=200"' in line
    assert "status=404" in line


def test_logfmt_quotes_what_needs_quoting() -> None:
    assert logfmt({"a": 1, "b": "x y", "c": 'q"', "d": ""}) == 'a=1 b="x y" c="q\\"" d=""'


def test_limits_answer_before_parsing(tiny_settings, tiny_service, monkeypatch) -> None:
    """A 10,000-turn history is refused by its size, before it is parsed or answered.

    (No wall-clock bound: a timed assertion flaked at load 7; bench/ measures speed.)
    """
    history = [{"role": "user", "content": "more?"}] * 10_000
    monkeypatch.setattr(tiny_service, "ask", lambda *a, **k: pytest.fail("the body was answered"))
    with make_client(tiny_settings, tiny_service) as c:
        r = c.post("/ask", json={**QUESTION, "history": history})
    assert r.status_code == 413
    assert r.json()["detail"].startswith("The request body is larger than 64 KiB")  # not a 422


def test_questions_beyond_the_concurrency_limit_get_503() -> None:
    """The (max_inflight + 1)-th question in progress is refused at once; later ones pass."""
    import asyncio

    from mscqa.server.middleware.limits import ConcurrencyLimit

    release = asyncio.Event()
    entered = 0

    async def slow_app(scope, receive, send) -> None:
        nonlocal entered
        entered += 1
        await release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    limiter = ConcurrencyLimit(slow_app, max_inflight=2)

    async def call() -> int:
        sent: list[dict] = []

        async def receive() -> dict:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict) -> None:
            sent.append(message)

        scope = {"type": "http", "method": "POST", "path": "/ask", "headers": []}
        await limiter(scope, receive, send)
        return sent[0]["status"]

    async def scenario() -> list[int]:
        first = [asyncio.create_task(call()) for _ in range(2)]
        await asyncio.sleep(0.01)
        refused = await call()
        release.set()
        done = await asyncio.gather(*first)
        after = await call()
        return [*done, refused, after]

    assert asyncio.run(scenario()) == [200, 200, 503, 200]
    assert entered == 3 and limiter.inflight == 0


# --- body deadlines and question slots (the socket-level attacks are in test_hostile.py) ---------


class Stalled(Upload):
    """Sends ``chunks`` with ``pause`` seconds before each, then stalls forever."""

    def __init__(self, chunks: list[bytes], pause: float = 0.0, more: bool = True) -> None:
        super().__init__(chunks)
        self.pause = pause
        self.more = more

    async def __call__(self) -> dict[str, Any]:
        if self.reads >= len(self.chunks):
            await asyncio.sleep(3600)
        await asyncio.sleep(self.pause)
        self.reads += 1
        last = self.reads == len(self.chunks) and not self.more
        return {"type": "http.request", "body": self.chunks[self.reads - 1], "more_body": not last}


def test_a_body_late_past_the_deadline_gets_408(tiny_settings, tiny_service) -> None:
    app = create_app(tiny_settings.model_copy(update={"body_timeout_s": 0.3}), tiny_service)
    headers = {"content-type": "application/json", "content-length": "29"}
    started = time.monotonic()
    status, got, body = call_asgi(app, "/ask", headers, Stalled([b'{"question": '], pause=0.1))
    assert status == 408
    assert got["connection"] == "close" and got["x-request-id"]
    assert (
        json.loads(body)["detail"] == "The request body did not arrive within 0.3 s; send it again."
    )
    assert time.monotonic() - started < 3  # not the hour the client would have liked


def test_the_deadline_covers_the_whole_body_not_each_piece(tiny_settings, tiny_service) -> None:
    app = create_app(tiny_settings.model_copy(update={"body_timeout_s": 0.5}), tiny_service)
    trickle = Stalled([b" "] * 20, pause=0.1, more=False)  # 2 s in all, 0.1 s per piece
    status, _, _ = call_asgi(app, "/ask", {"content-type": "application/json"}, trickle)
    assert status == 408
    assert trickle.reads < 20


def test_a_body_in_time_is_answered(tiny_settings, tiny_service) -> None:
    app = create_app(tiny_settings.model_copy(update={"body_timeout_s": 2.0}), tiny_service)
    pieces = [b'{"question": "How are adipose', b' stem cells collected?"}']
    status, _, body = call_asgi(
        app, "/ask", {"content-type": "application/json"}, Stalled(pieces, pause=0.2, more=False)
    )
    assert status == 200 and json.loads(body)["answered"]


def test_a_question_takes_its_slot_only_once_its_body_is_complete() -> None:
    from mscqa.server.middleware.limits import ConcurrencyLimit

    seen: list[bytes] = []

    async def app(scope, receive, send) -> None:
        seen.append((await receive())["body"])
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    limiter = ConcurrencyLimit(app, max_inflight=1)
    scope = {"type": "http", "method": "POST", "path": "/ask", "headers": []}

    async def scenario() -> tuple[int, int]:
        stalled = asyncio.create_task(limiter(scope, Stalled([b"{"]), _drop))
        await asyncio.sleep(0.05)
        during = limiter.inflight
        sent: list[dict[str, Any]] = []

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await limiter(scope, Upload([b'{"a": ', b"1}"]), send)
        stalled.cancel()
        return during, sent[0]["status"]

    assert asyncio.run(scenario()) == (0, 200)
    assert seen == [b'{"a": 1}']  # the pieces reach the app as one complete body


async def _drop(message: dict[str, Any]) -> None:
    return None


def test_the_load_gauge_reports_recent_shedding_only() -> None:
    from mscqa.server.middleware.limits import LoadGauge

    now = [100.0]
    gauge = LoadGauge(max_inflight=4, window=5.0, clock=lambda: now[0])
    assert not gauge.shedding
    gauge.refused()
    now[0] += 4.9
    assert gauge.shedding and gauge.as_dict()["shed_total"] == 1
    now[0] += 0.2
    assert not gauge.shedding
    with pytest.raises(ValueError, match="window"):
        LoadGauge(1, window=0)


def test_clients_are_counted_by_address_and_ipv6_by_its_64() -> None:
    from mscqa.server.connections import ClientConnections
    from mscqa.server.middleware.ratelimit import client_key

    assert client_key("10.0.0.1") == "10.0.0.1"
    assert client_key("::ffff:10.0.0.1") == "10.0.0.1"
    assert client_key("2001:db8:1:2:aaaa::1") == client_key("2001:db8:1:2:bbbb::2")
    assert client_key("2001:db8:1:2::1") != client_key("2001:db8:1:3::1")
    clients = ClientConnections(cap=2, exempt=["10.9.0.0/16"])
    assert [clients.admit("2001:db8::1"), clients.admit("2001:db8::2")] == [True, True]
    assert not clients.admit("2001:db8::3") and clients.refused == 1
    assert all(clients.admit("10.9.1.1") for _ in range(5))  # a trusted proxy is not capped
    clients.release("2001:db8::1")
    assert clients.admit("2001:db8::4")
    with pytest.raises(ValueError, match="cap"):
        ClientConnections(cap=-1)


def test_forwarded_allow_ips_are_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MSCQA_FORWARDED_ALLOW_IPS", "10.0.0.1, 192.168.0.0/16")
    assert Settings(_env_file=None).forwarded_allow_ips == ["10.0.0.1", "192.168.0.0/16"]
    with pytest.raises(ValidationError, match="MSCQA_FORWARDED_ALLOW_IPS"):
        Settings(forwarded_allow_ips="proxy.example", _env_file=None)


# --- the Low items of issue #16 -------------------------------------------------------------------


def test_an_overlong_multipart_boundary_is_422_json(tiny_settings, tiny_service) -> None:
    """Before: a 300-character boundary gave a plain-text 500 without security headers."""
    settings = tiny_settings.model_copy(update={"admin_token": SecretStr("s3cret")})
    with make_client(settings, tiny_service) as c:
        for length in (71, 300):
            boundary = "b" * length
            r = c.post(
                "/admin/documents",
                content=f"--{boundary}\r\n".encode(),
                headers={
                    "Authorization": "Bearer s3cret",
                    "Content-Type": f"multipart/form-data; boundary={boundary}",
                },
            )
            assert r.status_code == 422, r.text
            assert f"{length} characters" in r.json()["detail"]
            assert r.headers["x-request-id"] and r.headers["x-content-type-options"] == "nosniff"


def test_an_unhandled_error_is_a_json_500_with_headers_and_a_logged_status(
    tiny_settings, tiny_service, monkeypatch: pytest.MonkeyPatch, caplog
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(tiny_service, "ask", broken)
    app = create_app(tiny_settings, tiny_service)
    with (
        TestClient(app, raise_server_exceptions=False) as c,
        caplog.at_level(logging.INFO, logger="mscqa"),
    ):
        r = c.post("/ask", json=QUESTION, headers={"X-Request-ID": "req-500"})
    assert r.status_code == 500
    assert r.headers["content-type"] == "application/json"
    assert r.headers["x-request-id"] == "req-500" and r.headers["x-content-type-options"]
    assert "req-500" in r.json()["detail"] and "disk on fire" not in r.text
    access = [rec for rec in caplog.records if rec.name == "mscqa.access"]
    assert access[-1].access["status"] == 500  # type: ignore[attr-defined]
    assert any("disk on fire" in (rec.exc_text or "") for rec in caplog.records)


def test_no_redirect_is_built_from_the_host_header(client: TestClient) -> None:
    """Before: GET /admin/jobs/ with Host: evil.example gave 307 to http://evil.example/..."""
    for path in ("/admin/jobs/", "/health/", "/documents/"):
        r = client.get(path, headers={"Host": "evil.example"}, follow_redirects=False)
        assert r.status_code == 404, (path, r.status_code)
        assert "location" not in r.headers


def test_head_works_on_get_routes(client: TestClient) -> None:
    for path in ("/health", "/livez", "/", "/documents", "/docs", "/static/style.css"):
        got, head = client.get(path), client.head(path)
        assert head.status_code == got.status_code == 200, path
        assert head.content == b""
        assert head.headers["content-type"] == got.headers["content-type"]
        assert head.headers["x-request-id"]
    assert client.head("/ask").status_code == 405
    paths = client.get("/openapi.json").json()["paths"]
    assert not any("head" in operations for operations in paths.values())  # not in the docs


def test_metrics_can_require_a_token(tiny_settings, tiny_service) -> None:
    with make_client(tiny_settings, tiny_service) as c:
        assert c.get("/metrics").status_code == 200  # unset: open, as before
    settings = tiny_settings.model_copy(update={"metrics_token": SecretStr("scrape-me")})
    with make_client(settings, tiny_service) as c:
        assert c.get("/metrics").status_code == 401
        assert c.get("/metrics", headers={"Authorization": "Bearer nope"}).status_code == 403
        ok = c.get("/metrics", headers={"Authorization": "Bearer scrape-me"})
        assert ok.status_code == 200 and "mscqa_http_requests_total" in ok.text
