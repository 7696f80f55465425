"""A hostile client against a real uvicorn server, over raw sockets.

Every server here is started with ``mscqa.server.uvicorn_config``, the function ``mscqa serve``
uses, so the parser, limits and timeouts under attack are the shipped ones. Attackers connect
from their own loopback addresses (127.0.1.x): the per-client limits see them as other clients,
as they would be on a network, while the probes come from 127.0.0.1.

These tests check outcomes (a status, a closed connection, an answer), never how fast something
was: the load figures are in bench/overload.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from conftest import uvicorn_server
from mscqa.config import Settings
from mscqa.server import create_app
from mscqa.service import QAService
from waiting import wait_until

QUESTION = b'{"question": "How are adipose stem cells collected?"}'


@contextlib.contextmanager
def serve(settings: Settings, service: QAService, **changes: Any) -> Iterator[tuple[str, int]]:
    settings = Settings.model_validate({**settings.model_dump(), **changes})
    with uvicorn_server(create_app(settings, service), settings) as url:
        yield url, int(url.rsplit(":", 1)[1])


Connect = Callable[..., socket.socket]


@pytest.fixture
def connect() -> Iterator[Connect]:
    """``connect(port, source="127.0.0.1")``: a raw socket from ``source``, closed after the
    test whatever happened."""
    opened: list[socket.socket] = []

    def open_one(port: int, source: str = "127.0.0.1", timeout: float = 10.0) -> socket.socket:
        sock = socket.create_connection(
            ("127.0.0.1", port), timeout=timeout, source_address=(source, 0)
        )
        opened.append(sock)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    yield open_one
    for sock in opened:
        sock.close()


def attacker(n: int) -> str:
    """The n-th attacker's own loopback address."""
    return f"127.0.1.{n + 1}"


def read_reply(
    sock: socket.socket, timeout: float = 10.0
) -> tuple[int | None, dict[str, str], bytes]:
    """(status, headers, body) of one reply, reading until the server closes the connection;
    status None if nothing arrived within ``timeout``. Raises if the connection stays open."""
    sock.settimeout(timeout)
    data = b""
    with contextlib.suppress(ConnectionResetError):
        while True:
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                if not data:
                    return None, {}, b""
                raise AssertionError(
                    f"the server kept the connection open: {data[:200]!r}"
                ) from None
            if not chunk:
                break
            data += chunk
    if not data:
        return None, {}, b""
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines[1:] if ": " in line)
    return int(lines[0].split(" ")[1]), headers, body


def ask(url: str) -> int:
    return httpx.post(f"{url}/ask", content=QUESTION, headers=JSON, timeout=10).status_code


JSON = {"content-type": "application/json"}
SLOW_BODY = (
    b"POST /ask HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 29\r\n\r\n"
)


# --- 1. slow bodies ------------------------------------------------------------------------------


def test_slow_bodies_hold_no_question_slot(tiny_settings, tiny_service, connect: Connect) -> None:
    """32 sockets send a question's head and then nothing. Before: every other client got 503
    "busy" for as long as they stayed open. Now no question slot is taken until a body is
    complete, and each of them gets 408 and is closed once MSCQA_BODY_TIMEOUT_S passes."""
    with serve(tiny_settings, tiny_service, body_timeout_s=2.0) as (url, port):
        socks = [connect(port, attacker(i)) for i in range(32)]
        for sock in socks:
            sock.sendall(SLOW_BODY)
        time.sleep(0.3)  # every head is in; the bodies never come
        assert [ask(url) for _ in range(10)] == [200] * 10
        health = httpx.get(f"{url}/health", timeout=10).json()
        assert health["load"]["inflight"] == 0 and health["status"] == "ok"
        replies = [read_reply(sock) for sock in socks]
    for status, headers, body in replies:
        assert status == 408
        assert headers["connection"] == "close"
        assert "did not arrive within 2 s" in json.loads(body)["detail"]


def test_body_and_head_deadlines_are_spread_never_shortened(monkeypatch) -> None:
    """Connections opened together (an attacker's sockets) must not all time out in one turn
    of the event loop: each deadline is up to 20% later at random, never earlier."""
    from mscqa.server.middleware import limits

    deadlines = {limits.spread(5.0) for _ in range(200)}
    assert all(5.0 <= d <= 6.0 for d in deadlines) and max(deadlines) - min(deadlines) > 0.5
    monkeypatch.setattr(limits.random, "random", lambda: 0.0)
    assert limits.spread(5.0) == 5.0


def test_a_slow_upload_is_cut_when_it_stops_moving(
    tiny_settings, tiny_service, connect: Connect
) -> None:
    """An upload may take longer than the timeout as a whole, as long as it keeps moving."""
    boundary = b"b0undary"
    head = (
        b"POST /admin/documents HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer s3cret\r\n"
        b"Content-Type: multipart/form-data; boundary=" + boundary + b"\r\n"
        b"Content-Length: 100000\r\n\r\n"
        b"--" + boundary + b'\r\nContent-Disposition: form-data; name="file"; filename="s.md"'
        b"\r\nContent-Type: text/markdown\r\n\r\n# Slow\n\n"
    )
    with serve(tiny_settings, tiny_service, body_timeout_s=1.0, admin_token="s3cret") as (_, port):
        sock = connect(port)
        sock.sendall(head)
        for _ in range(4):  # 2 s in all, but never 1 s without a piece
            time.sleep(0.5)
            sock.sendall(b"More text about adipose cells. " * 10)
        status, _, body = read_reply(sock)  # and then it stops
    assert status == 408
    assert "did not arrive within 1 s" in json.loads(body)["detail"]
    assert not list(tiny_settings.corpus_dir.glob("s.md"))


def test_a_head_that_never_ends_gets_408(tiny_settings, tiny_service, connect: Connect) -> None:
    with serve(tiny_settings, tiny_service, body_timeout_s=1.0) as (url, port):
        sock = connect(port)
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: 1\r\n")
        status, headers, _ = read_reply(sock)
        idle = connect(port)  # connects and sends nothing: closed without a reply
        assert idle.recv(10) == b""
        assert httpx.get(f"{url}/livez", timeout=10).status_code == 200
    assert status == 408 and headers["connection"] == "close"


def test_open_connections_per_client_are_capped(
    tiny_settings, tiny_service, connect: Connect
) -> None:
    with serve(tiny_settings, tiny_service, max_client_connections=4) as (url, port):
        held = [connect(port, attacker(0)) for _ in range(4)]
        time.sleep(0.2)
        extra = connect(port, attacker(0))
        status, headers, body = read_reply(extra)
        assert status == 429 and headers["retry-after"] == "1"
        assert "at most 4" in json.loads(body)["detail"]
        other = connect(port, attacker(1))  # another client is not affected
        other.sendall(b"GET /livez HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert read_reply(other)[0] == 200
        held.pop().close()  # frees a place, once the server has read the close

        def livez_from_attacker() -> int | None:
            again = connect(port, attacker(0))
            with contextlib.suppress(OSError):  # a refused one may be closed already
                again.sendall(b"GET /livez HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            return read_reply(again)[0]

        # a freed place can be used again: 429 until the server has seen the close (a fixed
        # 0.2 s was a race on a loaded machine), then 200
        wait_until("the freed place to admit a connection", livez_from_attacker, lambda s: s == 200)
        assert ask(url) == 200


def test_shedding_is_reported_by_health_and_readyz(tiny_settings, tiny_service) -> None:
    """While questions are refused as busy, /health says so (200: the server still answers)
    and /readyz is 503, so a load balancer can steer new clients elsewhere."""
    release = threading.Event()
    entered = threading.Event()

    class Slow(QAService):
        def ask(self, *args: Any, **kwargs: Any) -> Any:
            entered.set()
            release.wait(10)
            return super().ask(*args, **kwargs)

    slow = Slow(tiny_settings, tiny_service.embedder)
    slow.load()
    with serve(tiny_settings, slow, max_inflight=1) as (url, _):
        assert httpx.get(f"{url}/readyz", timeout=10).json() == {"ready": True}
        first = threading.Thread(target=ask, args=(url,))
        first.start()
        assert entered.wait(10)
        assert ask(url) == 503
        health = httpx.get(f"{url}/health", timeout=10)
        ready = httpx.get(f"{url}/readyz", timeout=10)
        release.set()
        first.join(10)
    assert health.status_code == 200
    assert health.json()["status"] == "shedding"
    assert health.json()["load"] == {
        "inflight": 1,
        "max_inflight": 1,
        "shedding": True,
        "shed_total": 1,
    }
    assert ready.status_code == 503 and ready.headers["retry-after"]
    assert "busy" in ready.json()["detail"]


# --- 2. header and URL size ----------------------------------------------------------------------


def test_a_huge_header_is_refused_after_a_few_kb(
    tiny_settings, tiny_service, connect: Connect
) -> None:
    """Before: a 96 MB header was read in full and stalled the event loop for 8.7 s. Now the
    head is cut at MSCQA_MAX_HEADER_KB with 431, and the sender is disconnected."""
    with serve(tiny_settings, tiny_service) as (url, port):
        sock = connect(port, attacker(0))
        sock.sendall(b"POST /ask HTTP/1.1\r\nHost: x\r\nX-Big: ")
        sent = 0
        with contextlib.suppress(BrokenPipeError, ConnectionResetError, TimeoutError):
            sock.settimeout(5)
            while sent < 64 * 2**20:
                sock.sendall(b"a" * 65536)
                sent += 65536
        assert sent < 64 * 2**20, "the server kept reading the header"
        status, headers, body = read_reply(sock)
        assert httpx.get(f"{url}/livez", timeout=10).status_code == 200
    assert status == 431
    assert headers["content-type"] == "application/json"
    assert "headers are too large" in json.loads(body)["detail"]


def test_many_large_headers_at_once_are_all_refused(
    tiny_settings, tiny_service, connect: Connect
) -> None:
    with serve(tiny_settings, tiny_service) as (url, port):
        socks = [connect(port, attacker(i)) for i in range(50)]
        for sock in socks:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 200_000)
        statuses = [read_reply(sock)[0] for sock in socks]
        assert ask(url) == 200
    assert statuses == [431] * 50


def test_a_large_head_sent_in_one_piece_gets_431(
    tiny_settings, tiny_service, connect: Connect
) -> None:
    """h11 alone checks only heads still incomplete; one arriving in a single read is checked
    too."""
    headers = b"".join(b"X-Pad-%d: %s\r\n" % (i, b"p" * 1000) for i in range(40))
    with serve(tiny_settings, tiny_service) as (_, port):
        sock = connect(port)
        sock.sendall(b"GET /livez HTTP/1.1\r\nHost: x\r\n" + headers + b"\r\n")
        status, _, _ = read_reply(sock)
    assert status == 431


def test_refused_requests_are_logged_as_a_summary(
    tiny_settings, tiny_service, connect: Connect, caplog: pytest.LogCaptureFixture
) -> None:
    """Before: uvicorn logged "Invalid HTTP request received." for every refused head, a log
    record per connection on the event loop (about 70 a second from one big-header attacker)
    and as many lines in the log. Now the first refusal is logged, the rest summarised."""
    uvicorn_log = logging.getLogger("uvicorn.error")
    uvicorn_log.addHandler(caplog.handler)
    try:
        with caplog.at_level(logging.WARNING), serve(tiny_settings, tiny_service) as (url, port):
            for i in range(20):
                sock = connect(port, attacker(i % 4))
                sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 40_000)
                assert read_reply(sock)[0] == 431
            assert ask(url) == 200
    finally:
        uvicorn_log.removeHandler(caplog.handler)
    messages = [r.getMessage() for r in caplog.records]
    assert "Invalid HTTP request received." not in messages
    assert [m for m in messages if m.startswith("Refused")] == [
        "Refused a request with 431; more are summarised every 10 s"
    ]


def test_the_refusal_summary_counts_by_status(caplog: pytest.LogCaptureFixture) -> None:
    from mscqa.server.connections import Refusals

    async def refuse() -> None:
        loop = asyncio.get_running_loop()
        refusals = Refusals(every=0.05)
        for status in (431, 431, 408, 431, 429):
            refusals.add(status, loop)
        await asyncio.sleep(0.08)  # one summary
        await asyncio.sleep(0.05)  # nothing more to say: the timer stops
        assert refusals.total == 5 and refusals._flush is None

    with caplog.at_level(logging.WARNING, logger="mscqa.server.connections"):
        asyncio.run(refuse())
    assert [r.getMessage() for r in caplog.records] == [
        "Refused a request with 431; more are summarised every 0.05 s",
        "Refused 4 requests in the last 0.05 s: 1 x 408, 1 x 429, 2 x 431",
    ]


@pytest.mark.parametrize("complete", [True, False])
def test_a_long_request_line_gets_414(
    tiny_settings, tiny_service, connect: Connect, complete: bool
) -> None:
    line = b"GET /" + b"a" * (20_000 if complete else 60_000)
    with serve(tiny_settings, tiny_service) as (_, port):
        sock = connect(port)
        sock.sendall(line + (b" HTTP/1.1\r\nHost: x\r\n\r\n" if complete else b""))
        status, _, body = read_reply(sock)
    assert status == 414
    assert "request line is longer than 8 KiB" in json.loads(body)["detail"]


def test_normal_heads_and_urls_still_work(tiny_settings, tiny_service) -> None:
    with serve(tiny_settings, tiny_service) as (url, _):
        cookie = "c=" + "x" * 8000  # a big cookie, well within the limit
        assert httpx.get(f"{url}/livez", headers={"Cookie": cookie}, timeout=10).status_code == 200
        assert httpx.get(f"{url}/documents?" + "q=1&" * 1000, timeout=10).status_code == 200


# --- 7. proxy headers ----------------------------------------------------------------------------


def forwarded_asks(url: str) -> list[int]:
    """The statuses of three questions, each claiming another client in X-Forwarded-For."""
    return [
        httpx.post(
            f"{url}/ask",
            content=QUESTION,
            headers={**JSON, "X-Forwarded-For": f"203.0.113.{i}"},
            timeout=10,
        ).status_code
        for i in range(3)
    ]


def test_x_forwarded_for_is_ignored_unless_the_proxy_is_named(tiny_settings, tiny_service) -> None:
    """Before: uvicorn trusted X-Forwarded-For from 127.0.0.1, so a local client could pick a
    new address per question and never meet the per-client rate limit."""
    limited = {"rate_limit_per_minute": 1, "rate_limit_burst": 2}
    with serve(tiny_settings, tiny_service, **limited) as (url, _):
        codes = forwarded_asks(url)
    assert codes == [200, 200, 429]
    with serve(tiny_settings, tiny_service, forwarded_allow_ips=["127.0.0.1"], **limited) as (
        url,
        _,
    ):
        codes = forwarded_asks(url)
    assert codes == [200, 200, 200]  # behind a named proxy, each client has its own limit


# --- 8. a server killed mid-upload ---------------------------------------------------------------

CHILD_SERVER = """
import sys
from pathlib import Path

import uvicorn

from mscqa.config import Settings
from mscqa.embedding import HashingEmbedder
from mscqa.server import create_app
from mscqa.server.serve import uvicorn_config
from mscqa.service import QAService

corpus, index, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
settings = Settings(
    corpus_dir=Path(corpus), index_dir=Path(index), chunk_chars=200, admin_token="s3cret",
    _env_file=None,
)
app = create_app(settings, QAService(settings, HashingEmbedder(256)))
uvicorn.Server(uvicorn_config(app, settings, "127.0.0.1", port)).run()
"""


def test_a_server_killed_mid_upload_leaves_no_part_for_ever(
    tiny_settings, tiny_service, connect: Connect
) -> None:
    """Before: kill -9 during an upload left .mscqa-upload-*.part in the corpus for ever."""
    import subprocess
    import sys

    from conftest import free_port
    from mscqa.server.admin.uploads import TEMP_PREFIX

    corpus = tiny_settings.corpus_dir
    port = free_port()
    args = [str(corpus), str(tiny_settings.index_dir), str(port)]
    child = subprocess.Popen([sys.executable, "-c", CHILD_SERVER, *args])
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/livez", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                assert child.poll() is None and time.monotonic() < deadline
                time.sleep(0.1)
        sock = connect(port)
        sock.sendall(
            b"POST /admin/documents HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer s3cret\r\n"
            b"Content-Type: multipart/form-data; boundary=zz\r\nContent-Length: 100000\r\n\r\n"
            b'--zz\r\nContent-Disposition: form-data; name="file"; filename="half.md"\r\n\r\n'
            + b"# Half\n\nwritten "
            * 500
        )
        while not list(corpus.glob(f"{TEMP_PREFIX}*.part")):
            assert time.monotonic() < deadline, "the upload never started"
            time.sleep(0.05)
    finally:
        child.kill()  # SIGKILL: no clean-up code runs
        child.wait(10)
    assert list(corpus.glob(f"{TEMP_PREFIX}*.part"))  # what it leaves behind
    settings = Settings.model_validate({**tiny_settings.model_dump(), "admin_token": "s3cret"})
    with TestClient(create_app(settings, tiny_service)):  # the next start sweeps it
        assert not list(corpus.glob(f"{TEMP_PREFIX}*.part"))
    assert not (corpus / "half.md").exists()


# --- the interpreter of a serving process --------------------------------------------------------


def test_serving_sets_a_short_gil_switch_interval(
    tiny_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """mscqa serve's event loop waits up to the switch interval for the GIL after each socket
    call while questions are computed in worker threads: it runs with MSCQA_SWITCH_INTERVAL_MS
    (1 ms; Python's default is 5) — the effect is measured by bench.perf.attacks, not here."""
    import sys

    import mscqa.server.serve as serve_module

    seen: list[float] = []

    class Recorder:
        def __init__(self, config: Any) -> None:
            self.config = config

        def run(self) -> None:
            seen.append(sys.getswitchinterval())

    before = sys.getswitchinterval()
    monkeypatch.setattr(serve_module.uvicorn, "Server", Recorder)
    try:
        for ms in (1.0, 2.5):
            settings = Settings.model_validate(
                {**tiny_settings.model_dump(), "switch_interval_ms": ms}
            )
            serve_module.run(serve_module.uvicorn_config(object(), settings), settings)
    finally:
        sys.setswitchinterval(before)
    assert seen == [0.001, 0.0025]
