"""A real `mscqa serve` (uvicorn, real model) answering over real HTTP."""

from __future__ import annotations

import httpx
import pytest

pytestmark = pytest.mark.slow


def test_health_and_ask_over_http(live_server: str) -> None:
    health = httpx.get(f"{live_server}/health", timeout=10)
    assert health.status_code == 200
    assert health.json()["index"]["documents"] == 1
    r = httpx.post(
        f"{live_server}/ask",
        json={"question": "Has the FDA approved a bone marrow MSC product?"},
        timeout=30,
    )
    assert r.status_code == 200
    body = r.json()
    assert body["answered"]
    assert "Prochymal" in body["answer"]
    assert r.headers["x-request-id"]


def test_bad_request_over_http(live_server: str) -> None:
    r = httpx.post(f"{live_server}/ask", json={"question": "ok", "top_k": 99}, timeout=10)
    assert r.status_code == 422
    assert "top_k" in r.json()["detail"]


def test_chat_page_over_http(live_server: str) -> None:
    r = httpx.get(f"{live_server}/", timeout=10)
    assert r.status_code == 200
    assert 'id="ask-form"' in r.text
    assert "default-src 'self'" in r.headers["content-security-policy"]
