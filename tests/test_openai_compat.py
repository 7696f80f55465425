"""The OpenAI-compatible API's contract over the tiny corpus (TestClient, fake embedder).

The real ``openai`` client against a real server is in ``tests/test_openai_client.py``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from conftest import long_passages, marked_text
from mscqa.config import Settings
from mscqa.server import create_app
from mscqa.server.openai.errors import reshape
from mscqa.server.sources import public_base_url, read_url
from mscqa.service import QAService

QUESTION = "How are adipose stem cells collected?"
USER = {"role": "user", "content": QUESTION}


@pytest.fixture
def client(tiny_settings: Settings, tiny_service: QAService) -> Iterator[TestClient]:
    with TestClient(create_app(tiny_settings, tiny_service)) as c:
        yield c


def chat(client: TestClient, *messages: dict[str, Any], **params: Any) -> Any:
    return client.post(
        "/v1/chat/completions", json={"model": "mscqa", "messages": list(messages), **params}
    )


def events(text: str) -> list[Any]:
    """The ``data:`` payloads of a text/event-stream body, ``[DONE]`` as a string."""
    out = []
    for block in text.split("\n\n"):
        if block.strip():
            assert block.startswith("data: "), block
            data = block.removeprefix("data: ")
            out.append(data if data == "[DONE]" else json.loads(data))
    return out


def test_models_lists_mscqa(client: TestClient) -> None:
    body = client.get("/v1/models").json()
    assert body["object"] == "list"
    assert [(m["id"], m["object"], m["owned_by"]) for m in body["data"]] == [
        ("mscqa", "model", "mscqa")
    ]
    assert isinstance(body["data"][0]["created"], int)
    assert client.get("/v1/models/mscqa").json() == body["data"][0]
    missing = client.get("/v1/models/gpt-4o")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "model_not_found"


def test_completion_carries_the_ask_answer_in_three_layers(
    client: TestClient, tiny_service: QAService
) -> None:
    ask = client.post("/ask", json={"question": QUESTION}).json()
    r = chat(client, USER)
    assert r.status_code == 200
    body = r.json()
    assert body["object"] == "chat.completion"
    assert body["id"].startswith("chatcmpl-")
    assert body["model"] == "mscqa"
    (choice,) = body["choices"]
    assert choice["finish_reason"] == "stop"
    message = choice["message"]
    assert message["role"] == "assistant"
    content = message["content"]
    # 1. the /ask answer text, then a Markdown list of its sources
    assert content.startswith(ask["answer"] + "\n\n**Sources**\n")
    base = public_base_url(tiny_service.settings)
    for c in ask["citations"]:
        link = read_url(base, c["doc_id"], c["passage_start"], c["passage_end"])
        assert f"- [{c['n']}] [{c['title']} — {c['section']}]({link})" in content
    # 2. one url_citation per quoted sentence, slicing exactly that sentence
    quoted = [
        (
            c["doc_id"],
            s["start"],
            s["end"],
            c["text"][s["start"] - c["start"] : s["end"] - c["start"]],
        )
        for c in ask["citations"]
        for s in c["sentences"]
    ]
    annotations = message["annotations"]
    assert len(annotations) == len(quoted) >= 1
    seen = []
    for a in annotations:
        assert a["type"] == "url_citation"
        cite = a["url_citation"]
        sentence = content[cite["start_index"] : cite["end_index"]]
        doc_id, start, end, _ = next(q for q in quoted if q[3] == sentence)
        assert cite["url"] == read_url(base, doc_id, start, end)
        assert cite["title"] == "Adipose MSCs — Collection"
        seen.append((doc_id, start, end))
    assert sorted(seen) == sorted(q[:3] for q in quoted)
    # 3. the whole /ask payload; the completion is named after its answer
    assert {k: v for k, v in body["mscqa"].items() if k not in ("took_ms", "id")} == {
        k: v for k, v in ask.items() if k not in ("took_ms", "id")
    }
    assert body["id"] == f"chatcmpl-{body['mscqa']['id']}"
    assert body["system_fingerprint"] == ask["index_version"]


def test_annotations_number_sources_as_the_markers_do() -> None:
    # Open WebUI numbers sources in the order annotations arrive; the first sentence of each
    # citation comes first, so its [1], [2] chips open citations 1 and 2.
    from mscqa.server.schemas import AskResponse
    from mscqa.server.sources import quoted_sentences

    passage_1 = "A one. A two."
    passage_2 = "B one."
    response = AskResponse.model_validate(
        {
            "id": "a1",
            "index_version": "v1",
            "answer": "B one. [2] A two. [1] A one. [1]",
            "answered": True,
            "confidence": 0.9,
            "took_ms": 1.0,
            "citations": [
                {"n": 1, "doc_id": "a.md", "title": "A", "section": None, "chunk_id": "a.md#0",
                 "text": passage_1, "start": 0, "end": 13, "score": 1.0,
                 "sentences": [{"start": 0, "end": 6}, {"start": 7, "end": 13}]},
                {"n": 2, "doc_id": "b.md", "title": "B", "section": None, "chunk_id": "b.md#0",
                 "text": passage_2, "start": 0, "end": 6, "score": 0.9,
                 "sentences": [{"start": 0, "end": 6}]},
            ],
        }
    )  # fmt: skip
    quotes = quoted_sentences(response)
    assert [(q.citation.n, response.answer[q.start_index : q.end_index]) for q in quotes] == [
        (1, "A two."),
        (2, "B one."),
        (1, "A one."),
    ]


def test_abstention_is_the_not_found_message_with_the_closest_passages(
    client: TestClient,
) -> None:
    ask = client.post("/ask", json={"question": "What is the capital of France?"}).json()
    assert not ask["answered"]
    body = chat(client, {"role": "user", "content": "What is the capital of France?"}).json()
    message = body["choices"][0]["message"]
    assert message["content"].startswith(ask["answer"])
    assert "**Closest passages (not an answer)**" in message["content"]
    assert message["annotations"] == []
    assert body["mscqa"]["answered"] is False
    assert body["choices"][0]["finish_reason"] == "stop"


def test_replies_are_held_to_max_reply_kb_as_ask_is(tmp_path: Any, fake_embedder: Any) -> None:
    """Before: /v1 sent every related passage whole whatever MSCQA_MAX_REPLY_KB said (here
    ~20 KiB, streamed or not, while /ask's reply to the same question kept to 16 KiB)."""
    from mscqa.indexing import build_index

    question = {"role": "user", "content": "Where do marker3 cells grow?"}
    sizes: dict[int, dict[str, Any]] = {}
    for kb in (1024, 16):
        settings = long_passages(tmp_path, kb)
        if kb == 1024:
            build_index(settings, fake_embedder)
        service = QAService(settings, fake_embedder)
        service.load()
        with TestClient(create_app(settings, service)) as c:
            ask = c.post("/ask", json={"question": question["content"]})
            plain = chat(c, question)
            streamed = chat(c, question, stream=True)
        service.close()
        assert {ask.status_code, plain.status_code, streamed.status_code} == {200}
        sizes[kb] = {"ask": ask, "plain": plain, "streamed": streamed}
    wide, capped = sizes[1024], sizes[16]
    assert len(wide["plain"].content) > 16 * 1024 and len(wide["streamed"].content) > 16 * 1024
    for name in ("ask", "plain", "streamed"):
        assert len(capped[name].content) <= 16 * 1024, name
    body = capped["plain"].json()
    related = body["mscqa"]["related"]
    full = wide["plain"].json()["mscqa"]["related"]
    assert 0 < len(related) < len(full) and related == full[: len(related)]  # from the end
    content = body["choices"][0]["message"]["content"]
    assert body["mscqa"]["answered"] and body["mscqa"]["citations"]
    assert content.count("\n- ") == len(body["mscqa"]["citations"])  # its Sources list
    last = [e for e in events(capped["streamed"].text) if e != "[DONE]"][-1]
    assert last["mscqa"]["related"] == related
    assert (
        "".join(
            e["choices"][0]["delta"].get("content", "")
            for e in events(capped["streamed"].text)
            if e != "[DONE]"
        )
        == content
    )


def test_follow_up_uses_the_earlier_messages_as_history(client: TestClient) -> None:
    messages = [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "Tell me about adipose stem cells"},
        {"role": "assistant", "content": "Japan has approved adipose stem cell products. [1]"},
        {"role": "user", "content": "How are they collected?"},
    ]
    ask = client.post(
        "/ask",
        json={"question": "How are they collected?", "history": messages[1:3]},
    ).json()
    body = chat(client, *messages).json()
    assert body["mscqa"]["answer"] == ask["answer"]
    assert "liposuction" in body["choices"][0]["message"]["content"]


def test_content_parts_and_ignored_roles(client: TestClient) -> None:
    parts = [
        {"type": "text", "text": QUESTION},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
    ]
    body = chat(
        client,
        {"role": "developer", "content": "Answer briefly."},
        {"role": "user", "content": parts, "name": "someone"},
        {"role": "assistant", "content": None, "tool_calls": []},
    ).json()
    assert body["mscqa"]["answered"] is True
    assert "liposuction" in body["mscqa"]["answer"]


def test_long_conversations_keep_only_the_most_recent_turns(
    tiny_settings: Settings, tiny_service: QAService
) -> None:
    settings = tiny_settings.model_copy(update={"max_history_turns": 2, "max_body_kb": 1024})
    turns = [{"role": "user", "content": f"Earlier turn {i} " + "x" * 9000} for i in range(80)]
    with TestClient(create_app(settings, tiny_service)) as c:
        r = chat(c, *turns, USER)
    assert r.status_code == 200, r.text
    assert r.json()["mscqa"]["answered"] is True


@pytest.mark.parametrize(
    "params",
    [
        {"temperature": 0.2, "top_p": 0.9, "max_tokens": 5, "max_completion_tokens": 5},
        {"stop": ["\n"], "user": "someone", "n": 3, "seed": 1, "logprobs": True},
        {"stream_options": {"include_usage": True}, "frequency_penalty": 1, "logit_bias": {}},
        {"tools": [{"type": "function", "function": {"name": "f"}}], "tool_choice": "auto"},
        {"response_format": {"type": "json_object"}, "metadata": {"a": "b"}, "store": False},
        {"stream": None, "presence_penalty": -2, "parallel_tool_calls": True, "unknown": [1]},
    ],
)
def test_parameters_that_do_not_apply_are_ignored(client: TestClient, params: dict) -> None:
    r = chat(client, USER, **params)
    assert r.status_code == 200, r.text
    assert len(r.json()["choices"]) == 1


def test_streaming_reassembles_to_the_non_streaming_content(client: TestClient) -> None:
    plain = chat(client, USER).json()
    r = chat(client, USER, stream=True)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/event-stream")
    assert r.headers["cache-control"] == "no-cache"
    chunks = events(r.text)
    assert chunks[-1] == "[DONE]"
    chunks = chunks[:-1]
    assert len({c["id"] for c in chunks}) == 1
    assert chunks[0]["id"] == f"chatcmpl-{chunks[-1]['mscqa']['id']}"
    assert all(c["object"] == "chat.completion.chunk" and c["model"] == "mscqa" for c in chunks)
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    deltas = [c["choices"][0]["delta"] for c in chunks]
    content = "".join(d.get("content") or "" for d in deltas)
    assert content == plain["choices"][0]["message"]["content"]
    assert len([d for d in deltas if d.get("content")]) >= 2  # answer, then sources
    finishes = [c["choices"][0]["finish_reason"] for c in chunks]
    assert finishes == [None] * (len(chunks) - 1) + ["stop"]
    last = chunks[-1]
    assert (
        last["choices"][0]["delta"]["annotations"] == plain["choices"][0]["message"]["annotations"]
    )
    assert last["mscqa"]["answer"] == plain["mscqa"]["answer"]
    assert all("mscqa" not in c for c in chunks[:-1])


def test_streamed_abstention_has_no_annotations(client: TestClient) -> None:
    r = chat(client, {"role": "user", "content": "What is the capital of France?"}, stream=True)
    chunks = events(r.text)[:-1]
    assert chunks[-1]["choices"][0]["delta"] == {}
    assert chunks[-1]["mscqa"]["answered"] is False


@pytest.mark.parametrize(
    ("body", "code", "param", "fragment"),
    [
        ({"model": "mscqa", "messages": []}, "empty_array", "messages", "empty array"),
        ({"model": "mscqa"}, "missing_required_parameter", "messages", "Field required"),
        (
            {"messages": [{"role": "system", "content": "Be brief."}]},
            "invalid_value",
            "messages",
            "no user message",
        ),
        (
            {"messages": [USER, {"role": "user", "content": "x" * 2001}]},
            "string_above_max_length",
            "messages[1].content",
            "at most 2000",
        ),
        (
            {"messages": [{"role": "user", "content": "   "}]},
            "invalid_value",
            "messages[0].content",
            "(the last user message) is empty",
        ),
        (
            {"messages": [{"role": "user", "content": "stem\u202ecells"}]},
            "invalid_value",
            "messages[0].content",
            "text-direction",
        ),
        (
            {"messages": [{"role": "user", "content": "a\x00b"}, USER]},
            "invalid_value",
            "messages[0].content",
            "control",
        ),
        (
            {"messages": [{"role": "wizard", "content": "hi"}]},
            "invalid_value",
            "messages[0].role",
            "Input should be",
        ),
        ({"messages": "hello"}, "invalid_value", "messages", "valid list"),
        ({"messages": [USER], "stream": [True]}, "invalid_value", "stream", "boolean"),
    ],
)
def test_invalid_requests_are_400_in_openai_shape(
    client: TestClient, body: dict, code: str, param: str, fragment: str
) -> None:
    r = client.post("/v1/chat/completions", json=body)
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert (error["code"], error["param"]) == (code, param)
    assert fragment in error["message"]


def test_malformed_json_and_wrong_content_type_are_400(client: TestClient) -> None:
    for raw, content_type in ((b'{"messages": ', "application/json"), (b"[1, 2]", "text/plain")):
        r = client.post("/v1/chat/completions", content=raw, headers={"content-type": content_type})
        assert r.status_code == 400, r.text
        assert r.json()["error"]["type"] == "invalid_request_error"
    assert (
        client.post(
            "/v1/chat/completions",
            content=b'{"messages": ',
            headers={"content-type": "application/json"},
        ).json()["error"]["code"]
        == "invalid_json"
    )


def test_another_model_is_404_model_not_found(client: TestClient) -> None:
    r = client.post("/v1/chat/completions", json={"model": "gpt-4o", "messages": [USER]})
    assert r.status_code == 404
    error = r.json()["error"]
    assert (error["code"], error["param"]) == ("model_not_found", "model")
    assert "`gpt-4o`" in error["message"] and "/v1/models" in error["message"]


def test_unknown_paths_and_methods_answer_in_openai_shape(client: TestClient) -> None:
    r = client.get("/v1/embeddings")
    assert r.status_code == 404
    assert "/v1/chat/completions" in r.json()["error"]["message"]
    r = client.get("/v1/chat/completions")
    assert r.status_code == 405
    assert r.json()["error"]["code"] == "method_not_allowed"


def test_index_not_ready_is_503_in_openai_shape(tmp_path, tiny_corpus, fake_embedder) -> None:
    settings = Settings(corpus_dir=tiny_corpus, index_dir=tmp_path / "none", _env_file=None)
    service = QAService(settings, fake_embedder)
    with TestClient(create_app(settings, service)) as c:
        r = chat(c, USER)
    assert r.status_code == 503
    assert r.headers["retry-after"]
    error = r.json()["error"]
    assert (error["type"], error["code"]) == ("server_error", "index_not_ready")
    assert "mscqa index" in error["message"]


def test_rate_limit_applies_to_chat_completions_with_ask(
    tiny_settings: Settings, tiny_service: QAService
) -> None:
    settings = tiny_settings.model_copy(update={"rate_limit_per_minute": 1, "rate_limit_burst": 2})
    with TestClient(create_app(settings, tiny_service)) as c:
        assert c.post("/ask", json={"question": QUESTION}).status_code == 200
        assert chat(c, USER).status_code == 200
        r = chat(c, USER)  # the bucket is shared with /ask
        assert r.status_code == 429
        assert int(r.headers["retry-after"]) >= 1
        error = r.json()["error"]
        assert (error["type"], error["code"]) == ("rate_limit_error", "rate_limit_exceeded")
        assert c.post("/ask", json={"question": QUESTION}).status_code == 429
        assert c.get("/v1/models").status_code == 200  # only questions are limited


def test_oversized_body_is_413_in_openai_shape(client: TestClient) -> None:
    r = chat(client, {"role": "user", "content": "x" * 70_000})
    assert r.status_code == 413
    assert r.json()["error"]["code"] == "request_too_large"
    assert "64 KiB" in r.json()["error"]["message"]


def test_concurrency_limit_is_shared_with_ask(
    tiny_settings: Settings, tiny_service: QAService
) -> None:
    # One question held inside the service: with MSCQA_MAX_INFLIGHT=1 a chat completion that
    # arrives meanwhile is refused at once, in OpenAI's shape, and answered after.
    import asyncio
    import threading

    import httpx

    release, inside = threading.Event(), threading.Event()
    real_ask = tiny_service.ask

    def held_ask(*args: Any, **kwargs: Any) -> Any:
        inside.set()
        assert release.wait(10), "the test never released the question"
        return real_ask(*args, **kwargs)

    tiny_service.ask = held_ask  # type: ignore[method-assign]
    app = create_app(tiny_settings.model_copy(update={"max_inflight": 1}), tiny_service)
    payload = {"messages": [USER]}

    async def scenario() -> tuple[int, httpx.Response, int]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            held = asyncio.create_task(client.post("/ask", json={"question": QUESTION}))
            while not inside.is_set():
                await asyncio.sleep(0.005)
            refused = await client.post("/v1/chat/completions", json=payload)
            release.set()
            first = await held
            after = await client.post("/v1/chat/completions", json=payload)
            return first.status_code, refused, after.status_code

    first, refused, after = asyncio.run(scenario())
    assert (first, refused.status_code, after) == (200, 503, 200)
    assert refused.headers["retry-after"] == "1"
    error = refused.json()["error"]
    assert (error["type"], error["code"]) == ("server_error", "server_busy")


def test_reshape_leaves_openai_bodies_and_non_json_alone() -> None:
    assert reshape(400, b'{"error": {"message": "x"}}') is None
    assert reshape(500, b"Internal Server Error") is None
    status, body = reshape(422, b'{"detail": "bad"}') or (0, b"")
    assert status == 400
    assert json.loads(body)["error"] == {
        "message": "bad",
        "type": "invalid_request_error",
        "code": "invalid_value",
        "param": None,
    }


# --- auth --------------------------------------------------------------------------------------


@pytest.fixture
def keyed(tiny_settings: Settings, tiny_service: QAService) -> Iterator[TestClient]:
    settings = tiny_settings.model_copy(update={"api_key": SecretStr("s3cret-key")})
    with TestClient(create_app(settings, tiny_service)) as c:
        yield c


def test_any_key_or_none_is_accepted_without_mscqa_api_key(client: TestClient) -> None:
    for headers in ({}, {"Authorization": "Bearer sk-anything"}, {"Authorization": "Basic x"}):
        assert client.get("/v1/models", headers=headers).status_code == 200
        assert chat(client, USER).status_code == 200


@pytest.mark.parametrize(
    ("headers", "fragment"),
    [
        ({}, "No API key"),
        ({"Authorization": "Bearer wrong"}, "Incorrect API key"),
        ({"Authorization": "s3cret-key"}, "No API key"),
        ({"Authorization": "Basic s3cret-key"}, "No API key"),
        ({"Authorization": "Bearer s3cret-key-and-more"}, "Incorrect API key"),
    ],
)
def test_mscqa_api_key_is_required_on_v1(keyed: TestClient, headers: dict, fragment: str) -> None:
    for r in (
        keyed.get("/v1/models", headers=headers),
        keyed.post("/v1/chat/completions", json={"messages": [USER]}, headers=headers),
        keyed.post("/v1/chat/completions", content=b"{", headers=headers),  # before the body
    ):
        assert r.status_code == 401
        assert r.headers["www-authenticate"].startswith("Bearer")
        error = r.json()["error"]
        assert (error["type"], error["code"]) == ("invalid_request_error", "invalid_api_key")
        assert fragment in error["message"] and "MSCQA_API_KEY" in error["message"]


def test_the_right_key_is_accepted_and_other_routes_need_none(keyed: TestClient) -> None:
    auth = {"Authorization": "Bearer s3cret-key"}
    assert keyed.get("/v1/models", headers=auth).status_code == 200
    assert keyed.post("/v1/chat/completions", json={"messages": [USER]}, headers=auth).json()[
        "mscqa"
    ]["answered"]
    assert (
        keyed.get("/v1/models", headers={"authorization": "bearer s3cret-key"}).status_code == 200
    )
    assert keyed.post("/ask", json={"question": QUESTION}).status_code == 200
    assert keyed.get("/health").status_code == 200


def test_blank_api_key_means_no_key() -> None:
    assert Settings(api_key="  ", _env_file=None).api_key is None


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("https://qa.example.org/", True),
        ("http://10.0.0.5:8000/mscqa", True),
        ("qa.example.org", False),
    ],
)
def test_public_url_is_checked(value: str, ok: bool) -> None:
    if ok:
        assert Settings(public_url=value, _env_file=None).public_url == value.rstrip("/")
    else:
        with pytest.raises(ValueError, match="MSCQA_PUBLIC_URL"):
            Settings(public_url=value, _env_file=None)


@pytest.mark.parametrize(
    ("changes", "base"),
    [
        ({}, "http://127.0.0.1:8000"),
        ({"host": "0.0.0.0", "port": 9000}, "http://127.0.0.1:9000"),
        ({"host": "::1"}, "http://[::1]:8000"),
        ({"host": "qa.local"}, "http://qa.local:8000"),
        ({"public_url": "https://qa.example.org/mscqa"}, "https://qa.example.org/mscqa"),
    ],
)
def test_links_use_the_public_url_never_the_host_header(
    tiny_settings: Settings, tiny_service: QAService, changes: dict, base: str
) -> None:
    settings = Settings(**{**tiny_settings.model_dump(), **changes}, _env_file=None)
    assert public_base_url(settings) == base
    with TestClient(create_app(settings, tiny_service)) as c:
        body = c.post(
            "/v1/chat/completions",
            json={"messages": [USER]},
            headers={"Host": "evil.example.com", "X-Forwarded-Host": "evil.example.com"},
        ).json()
    urls = [a["url_citation"]["url"] for a in body["choices"][0]["message"]["annotations"]]
    assert urls and all(u.startswith(base + "/read/") for u in urls)
    assert "evil" not in body["choices"][0]["message"]["content"]


def test_read_url_quotes_the_document_id() -> None:
    assert (
        read_url("http://h", "nested/a b#1.md", 3, 9)
        == "http://h/read/nested/a%20b%231.md?start=3&end=9"
    )


def test_openapi_documents_the_v1_routes(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    assert {"/v1/models", "/v1/models/{model}", "/v1/chat/completions"} <= set(paths)
    post = paths["/v1/chat/completions"]["post"]
    assert "text/event-stream" in post["responses"]["200"]["content"]
    assert "422" not in post["responses"]
    assert {"400", "401", "404", "413", "429", "503"} <= set(post["responses"])
    assert "/ask" in paths and "422" in paths["/ask"]["post"]["responses"]  # /ask unchanged


def test_answers_through_v1_are_counted_in_metrics(client: TestClient) -> None:
    chat(client, USER)
    chat(client, {"role": "user", "content": "What is the capital of France?"}, stream=True)
    text = client.get("/metrics").text
    assert 'mscqa_answers_total{outcome="answered"} 1.0' in text
    assert 'mscqa_answers_total{outcome="abstained"} 1.0' in text
    assert 'route="/v1/chat/completions"' in text


def test_links_open_the_cited_text_in_the_reader(client: TestClient, tiny_service) -> None:
    body = chat(client, USER).json()
    base = public_base_url(tiny_service.settings)
    message = body["choices"][0]["message"]
    for a in message["annotations"]:
        cite = a["url_citation"]
        page = client.get(cite["url"].removeprefix(base))
        assert page.status_code == 200
        sentence = message["content"][cite["start_index"] : cite["end_index"]]
        assert marked_text(page.text) == " ".join(sentence.split())
    for c in body["mscqa"]["citations"]:
        page = client.get(read_url("", c["doc_id"], c["passage_start"], c["passage_end"]))
        assert page.status_code == 200
        assert marked_text(page.text) == " ".join(c["text"].split())


def test_parts_that_could_not_be_read_follow_the_sources() -> None:
    # A client that shows only text (LibreChat, a plain openai script, an MCP agent) would
    # otherwise never learn that an image or table in the documents matches the question.
    from mscqa.server.schemas import AskResponse
    from mscqa.server.sources import sources_markdown

    response = AskResponse.model_validate(
        {
            "id": "a1", "index_version": "v1", "answer": "I couldn't find that in the documents.",
            "answered": False, "confidence": 0.1, "took_ms": 1.0, "citations": [],
            "unreadable": [{"doc_id": "msc-article.md", "title": "MSC products",
                            "section": "Table 1: approved products", "start": 10, "end": 42}],
        }
    )  # fmt: skip
    linked = sources_markdown(response, "http://127.0.0.1:8000")
    assert linked == (
        "\n\n**Could not be read** (an image or a table in the document; open it to see)\n"
        "- [MSC products — Table 1: approved products]"
        "(http://127.0.0.1:8000/read/msc-article.md?start=10&end=42)"
    )
    assert "(`msc-article.md`, characters 10-42)" in sources_markdown(response, None)
    assert sources_markdown(response.model_copy(update={"unreadable": []}), None) == ""
