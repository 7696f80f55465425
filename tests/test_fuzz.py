"""Property-based fuzzing of the HTTP API from its own OpenAPI schema (schemathesis).

Each operation gets up to ``MAX_EXAMPLES`` generated requests, schema-valid and invalid, against
the app over the tiny corpus and the fake embedder, and every reply goes through all of
schemathesis's built-in checks: no 5xx, documented status codes, content types, headers and
bodies, invalid data rejected, valid data accepted.

Written with ``@given`` over ``operation.as_strategy()`` rather than schemathesis's pytest plugin
(``from_fixture``), whose fixture support does not work with pytest 9.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import CHECKS, load_all_checks
from schemathesis.core.transport import Response

from mscqa.config import Settings
from mscqa.embedding.hashing import HashingEmbedder
from mscqa.server.app import create_app
from mscqa.service import QAService

MAX_EXAMPLES = 50

# What the app rejects on purpose but the schema does not say (yet). Each entry names the fix; a
# reply that matches one skips only that check, and only for that reply.
# - /ask: schemas.py rejects C0 controls, bidi overrides and lone surrogates in the question and
#   history, and a blank question, with 422; the schema states it as a "pattern", which the
#   generator does not honour for these strings (and no pattern can express lone surrogates).
# - /admin/jobs: admin.py answers 401/403 without a token but documents only 200.
_REJECTED_TEXT = ("control or text-direction", "invalid character", "question is empty")
# - /v1/chat/completions: the same rules, for the last user message (the question), which no
#   schema can single out: its text must not be blank, too long or hold those characters.
_V1_REJECTED_TEXT = (*_REJECTED_TEXT, "question (the last user message)", "at most 2000")


def known_gaps(method: str, path: str, response: Response) -> set[str]:
    status = response.status_code
    if (method, path) == ("GET", "/admin/jobs") and status in (401, 403):
        return {"status_code_conformance"}
    if (
        (method, path) == ("POST", "/ask")
        and status == 422
        and any(text in response.text for text in _REJECTED_TEXT)
    ):
        return {"positive_data_acceptance"}
    if (
        (method, path) == ("POST", "/v1/chat/completions")
        and status == 400
        and any(text in response.text for text in _V1_REJECTED_TEXT)
    ):
        return {"positive_data_acceptance"}
    return set()


def all_checks() -> list[Callable[..., object]]:
    load_all_checks()
    return list(CHECKS.get_all())


def operations() -> list[tuple[str, str, GenerationMode]]:
    """(method, path, mode) for every documented operation, from a fresh app's schema: valid
    requests for all, invalid ones where the schema allows something to be invalid (not for a
    bare string path parameter, which any string satisfies)."""
    settings_ = Settings(_env_file=None)
    app = create_app(settings_, QAService(settings_, HashingEmbedder()))
    out = []
    for path, ops in app.openapi()["paths"].items():
        for method, op in ops.items():
            out.append((method.upper(), path, GenerationMode.POSITIVE))
            if op.get("requestBody") or any(
                p["in"] != "path"
                or {k: v for k, v in p["schema"].items() if k != "title"} != {"type": "string"}
                for p in op.get("parameters", [])
            ):
                out.append((method.upper(), path, GenerationMode.NEGATIVE))
    return sorted(out)


def test_all_checks_are_loaded() -> None:
    names = {check.__name__ for check in all_checks()}
    assert {"not_a_server_error", "response_schema_conformance", "status_code_conformance"} <= names


@pytest.mark.parametrize(("method", "path", "mode"), operations())
def test_operation_conforms_to_its_schema(
    method: str, path: str, mode: GenerationMode, tiny_settings: Settings, tiny_service: QAService
) -> None:
    # The fuzzer sends many requests a second, and may generate a schema-valid /ask body (50
    # turns of 8,000 characters) past the 64 KiB cap; limits have their own tests.
    fuzz_settings = tiny_settings.model_copy(
        update={"rate_limit_per_minute": 0, "max_body_kb": 10240}
    )
    app = create_app(fuzz_settings, tiny_service)
    operation = schemathesis.openapi.from_asgi("/openapi.json", app)[path][method]
    checks = all_checks()

    @given(case=operation.as_strategy(mode))
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def fuzz(case: schemathesis.Case) -> None:
        response = case.call()
        skip = known_gaps(method, path, response)
        case.validate_response(response, checks=[c for c in checks if c.__name__ not in skip])

    fuzz()


# --- hand-written hostile inputs for /ask ---------------------------------------------------------


@pytest.fixture
def client(tiny_settings: Settings, tiny_service: QAService) -> Iterator[TestClient]:
    with TestClient(create_app(tiny_settings, tiny_service)) as c:
        yield c


def post_raw(client: TestClient, body: bytes, content_type: str = "application/json") -> Any:
    return client.post("/ask", content=body, headers={"content-type": content_type})


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (rb'{"question": "stem \ud800 cells"}', "valid string"),
        (
            rb'{"question": "ok?", "history": [{"role": "user", "content": "a\udfffb"}]}',
            "valid string",
        ),
        (rb'{"question": "stem\u0000cells"}', "control"),
        (b'{"question": "stem\\u202ecells"}', "text-direction"),
        (b'{"question": "stem\\u2066cells"}', "text-direction"),
        (b'{"question": "ok?", "history": [{"role": "user", "content": "a\\u0007"}]}', "control"),
        (b'{"question": ', "JSON"),
        (b"[1, 2, 3]", "valid dictionary"),
        (b"", "Field required"),
        (b'{"question": "ok?", "top_k": 1e400}', "top_k"),
    ],
)
def test_hostile_json_gets_a_readable_422(client: TestClient, body: bytes, fragment: str) -> None:
    r = post_raw(client, body)
    assert r.status_code == 422, r.text
    assert fragment in r.json()["detail"]


def test_wrong_content_type_is_415_not_422(client: TestClient) -> None:
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data"):
        r = post_raw(client, b'{"question": "How are adipose stem cells collected?"}', content_type)
        assert r.status_code == 415, (content_type, r.text)
        assert "Content-Type: application/json" in r.json()["detail"]
    body = b'{"question": "How are adipose stem cells collected?"}'
    for content_type in ("application/json; charset=utf-8", "application/vnd.api+json"):
        r = post_raw(client, body, content_type)
        assert r.status_code == 200, (content_type, r.text)
    r = client.post("/ask", content=body)  # no Content-Type at all
    assert "content-type" not in r.request.headers and r.status_code == 415
    assert "the request has none" in r.json()["detail"]


def test_undecodable_body_is_a_client_error(client: TestClient) -> None:
    r = post_raw(client, b'{"question": "\xff\xfe stem cells"}')
    assert 400 <= r.status_code < 500


@pytest.mark.parametrize("cap_kb", [64, 10240])
def test_ten_thousand_history_turns_are_refused(
    tiny_settings: Settings, tiny_service: QAService, cap_kb: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """By size at the default cap (before the body is read: tests/test_security.py checks
    that), by the history limit when the cap is raised; the service never sees them. (This
    was a timed assertion, flaky on a busy machine; speed belongs to bench/.)"""
    history = [{"role": "user", "content": "And then?"}] * 10_000
    settings = tiny_settings.model_copy(update={"max_body_kb": cap_kb})
    asked: list[object] = []
    monkeypatch.setattr(tiny_service, "ask", lambda *args, **kwargs: asked.append(args))
    with TestClient(create_app(settings, tiny_service)) as c:
        r = c.post("/ask", json={"question": "How are they collected?", "history": history})
    assert r.status_code == (413 if cap_kb == 64 else 422)
    assert "history" in r.json()["detail"] or r.status_code == 413
    assert asked == []


def test_top_k_above_the_chunk_count_cites_each_chunk_once(
    client: TestClient, tiny_service: QAService
) -> None:
    chunks = len(tiny_service.serving().snapshot.chunks)
    assert chunks < 20
    body = client.post("/ask", json={"question": "stem cells", "top_k": 20}).json()
    cited = [c["chunk_id"] for c in body["citations"] + body["related"]]
    assert len(cited) == len(set(cited)) <= chunks
    assert [c["n"] for c in body["citations"]] == list(range(1, len(body["citations"]) + 1))


# --- hand-written hostile inputs for /v1/chat/completions ---------------------------------------


def post_chat(client: TestClient, body: bytes, content_type: str = "application/json") -> Any:
    return client.post("/v1/chat/completions", content=body, headers={"content-type": content_type})


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (rb'{"messages": [{"role": "user", "content": "stem \ud800 cells"}]}', "valid string"),
        (rb'{"messages": [{"role": "user", "content": "stem\u0000cells"}]}', "control"),
        (b'{"messages": [{"role": "user", "content": "stem\\u2066cells"}]}', "text-direction"),
        (
            b'{"messages": [{"role": "user", "content": [{"type": "text", "text": "a\\u202e"}]}]}',
            "text-direction",
        ),
        (b'{"messages": ', "not valid JSON"),
        (b"[1, 2, 3]", "valid dictionary"),
        (b"", "Field required"),
        (b'{"messages": [{"role": "user", "content": 1e400}]}', "messages[0].content"),
        (b'{"messages": [[]]}', "messages[0]"),
        (b'{"messages": [{"role": "user", "content": [{"text": "no type"}]}]}', "type"),
        (b'{"model": ["mscqa"], "messages": [{"role": "user", "content": "ok?"}]}', "model"),
        (b'{"messages": [{"role": "user", "content": {"text": "a dict"}}]}', "a list of parts"),
    ],
)
def test_hostile_chat_bodies_get_a_readable_400(
    client: TestClient, body: bytes, fragment: str
) -> None:
    r = post_chat(client, body)
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["type"] == "invalid_request_error" and error["code"]
    assert fragment in error["message"]


def test_chat_with_a_wrong_content_type_is_refused_not_crashed(client: TestClient) -> None:
    body = b'{"messages": [{"role": "user", "content": "How are adipose stem cells collected?"}]}'
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data"):
        r = post_chat(client, body, content_type)
        assert r.status_code == 400, (content_type, r.text)
        assert isinstance(r.json()["error"]["message"], str)


def test_undecodable_chat_body_is_a_client_error(client: TestClient) -> None:
    r = post_chat(client, b'{"messages": [{"role": "user", "content": "\xff\xfe"}]}')
    assert 400 <= r.status_code < 500
    assert "error" in r.json()


@pytest.mark.parametrize("cap_kb", [64, 10240])
def test_ten_thousand_messages_reach_the_service_as_the_last_turns(
    tiny_settings: Settings, tiny_service: QAService, cap_kb: int
) -> None:
    seen: list[int] = []
    real_ask = tiny_service.ask

    def ask(question: str, top_k: int | None = None, history: Any = ()) -> Any:
        seen.append(len(history))
        return real_ask(question, top_k, history)

    tiny_service.ask = ask  # type: ignore[method-assign]
    messages = [{"role": "user", "content": "And then?"}] * 10_000
    messages.append({"role": "user", "content": "How are adipose stem cells collected?"})
    settings = tiny_settings.model_copy(update={"max_body_kb": cap_kb})
    with TestClient(create_app(settings, tiny_service)) as c:
        r = c.post("/v1/chat/completions", json={"messages": messages})
    # refused by size at the default cap, before the body is parsed; with the cap raised, the
    # service gets the question and only the most recent MSCQA_MAX_HISTORY_TURNS turns
    assert r.status_code == (413 if cap_kb == 64 else 200), r.text
    assert seen == ([] if cap_kb == 64 else [settings.max_history_turns])


@pytest.mark.parametrize("stream", [True, False])
def test_a_completion_conforms_to_its_schema(
    tiny_settings: Settings, tiny_service: QAService, stream: bool
) -> None:
    # The fuzzer's random messages are mostly refused, so it may never see a stream; this
    # request is answered, and every event (the last with mscqa) is checked against the schema.
    app = create_app(tiny_settings, tiny_service)
    operation = schemathesis.openapi.from_asgi("/openapi.json", app)["/v1/chat/completions"]["POST"]
    question = {"role": "user", "content": "How are adipose stem cells collected?"}
    case = operation.Case(
        body={"messages": [question], "stream": stream}, media_type="application/json"
    )
    response = case.call()
    assert response.status_code == 200
    assert response.headers["content-type"][0].startswith(
        "text/event-stream" if stream else "application/json"
    )
    case.validate_response(response, checks=all_checks())


# --- /mcp: JSON-RPC, so not an OpenAPI operation; fuzzed with hypothesis directly ---------------

_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)
_ROLES = st.sampled_from(["user", "assistant", "system"])
_METHODS = st.sampled_from(["tools/call", "tools/list", "initialize", "ping"]) | st.text()
_TOOL_ARGS = st.fixed_dictionaries(
    {},
    optional={
        "question": _JSON | st.text(max_size=3000),
        "query": _JSON | st.text(),
        "top_k": _JSON | st.integers(),
        "history": _JSON
        | st.lists(
            st.fixed_dictionaries({"role": st.sampled_from(["user", "x"]), "content": _JSON})
        ),
    },
)
_MESSAGES = st.one_of(
    _JSON,
    st.fixed_dictionaries(
        {"jsonrpc": st.sampled_from(["2.0", "1.0"]), "id": st.integers() | st.text() | st.none()},
        optional={
            "method": st.sampled_from(["tools/call", "tools/list", "initialize", "ping"])
            | st.text(),
            "params": _JSON
            | st.fixed_dictionaries(
                {"name": st.sampled_from(["ask", "search", "list_documents"]) | st.text()},
                optional={"arguments": _TOOL_ARGS},
            ),
        },
    ),
)


def test_mcp_endpoint_survives_arbitrary_json_rpc(
    tiny_settings: Settings, tiny_service: QAService
) -> None:
    # Never a 5xx or a hang: malformed messages get a JSON-RPC error, bad tool arguments a
    # tool error (isError) in a 200, whatever the protocol-version header says.
    fuzz_settings = tiny_settings.model_copy(
        update={"rate_limit_per_minute": 0, "public_url": "http://testserver"}
    )
    with TestClient(create_app(fuzz_settings, tiny_service)) as client:

        @given(message=_MESSAGES, version=st.sampled_from([None, "2025-11-25", "2026-07-28", "x"]))
        @settings(
            max_examples=MAX_EXAMPLES * 2,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def fuzz(message: Any, version: str | None) -> None:
            headers = {"accept": "application/json, text/event-stream"}
            if version:
                headers["mcp-protocol-version"] = version
            r = client.post("/mcp", json=message, headers=headers)
            assert r.status_code < 500, (message, r.status_code, r.text[:300])
            if r.status_code == 200 and r.content:
                body = r.json()
                assert body.get("jsonrpc") == "2.0", body
                result = body.get("result")
                if isinstance(result, dict) and result.get("isError"):
                    text = " ".join(c.get("text", "") for c in result.get("content", []))
                    assert text and "Traceback" not in text
            elif r.status_code >= 400:  # the SDK answers a missing Content-Type in plain text
                kind = r.headers.get("content-type", "text/plain")
                assert kind.startswith(("application/json", "text/plain")), kind
                assert r.text

        fuzz()
