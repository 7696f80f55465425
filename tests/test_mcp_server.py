"""The MCP server through the official ``mcp`` SDK's client: over streamable HTTP at ``/mcp`` on
a real uvicorn server, and over stdio with ``mscqa mcp`` as a desktop client starts it."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client, MCPError, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.types import CallToolResult, TextContent
from pydantic import SecretStr

from conftest import long_passages, uvicorn_server
from mscqa.config import Settings
from mscqa.server import create_app
from mscqa.server.mcp import SearchResult
from mscqa.server.schemas import AskResponse, DocumentsResponse
from mscqa.service import QAService

QUESTION = "How are adipose stem cells collected?"
TOOLS = {"ask", "search", "list_documents"}


def mcp_errors(exc: BaseException) -> list[MCPError]:
    """The MCPErrors inside what the client raised (anyio wraps them in exception groups)."""
    if isinstance(exc, MCPError):
        return [exc]
    if isinstance(exc, BaseExceptionGroup):
        return [e for inner in exc.exceptions for e in mcp_errors(inner)]
    return []


def run(scenario: Callable[[], Awaitable[Any]]) -> Any:
    return anyio.run(scenario)


def text_of(result: CallToolResult) -> str:
    return "\n".join(b.text for b in result.content if isinstance(b, TextContent))


async def check_tools(client: Client) -> None:
    listed = await client.list_tools()
    tools = {t.name: t for t in listed.tools}
    assert set(tools) == TOOLS
    for tool in tools.values():
        assert tool.annotations is not None and tool.annotations.read_only_hint is True
        assert tool.description and tool.title
    ask_schema = tools["ask"].output_schema or {}
    assert set(AskResponse.model_fields) <= set(ask_schema["properties"])
    assert tools["ask"].input_schema["required"] == ["question"]
    assert set(tools["search"].input_schema["properties"]) == {"query", "top_k"}


async def check_ask(client: Client, question: str, expect: str) -> dict[str, Any]:
    result = await client.call_tool("ask", {"question": question})
    assert not result.is_error, text_of(result)
    payload = result.structured_content or {}
    AskResponse.model_validate(payload)
    assert payload["answered"] is True
    assert expect in payload["answer"]
    text = text_of(result)
    assert text.startswith(payload["answer"])
    return payload


# --- streamable HTTP, on a real uvicorn server over the tiny corpus -----------------------------


@pytest.fixture
def mcp_url(tiny_settings: Settings, tiny_service: QAService):  # type: ignore[no-untyped-def]
    with uvicorn_server(create_app(tiny_settings, tiny_service), tiny_settings) as url:
        yield f"{url}/mcp"


def test_http_lists_and_calls_every_tool(mcp_url: str, tiny_service: QAService) -> None:
    async def scenario() -> None:
        async with Client(mcp_url) as client:
            assert client.server_info is not None and client.server_info.name == "mscqa"
            assert client.instructions and "ask" in client.instructions
            await check_tools(client)
            payload = await check_ask(client, QUESTION, "liposuction")
            text = text_of(await client.call_tool("ask", {"question": QUESTION}))
            assert "**Sources**" in text and "/read/adipose.md?start=" in text
            assert payload["citations"][0]["doc_id"] == "adipose.md"

            follow = await client.call_tool(
                "ask",
                {
                    "question": "How are they collected?",
                    "history": [
                        {"role": "user", "content": "Tell me about adipose stem cells"},
                        {"role": "assistant", "content": "Japan has approved them. [1]"},
                    ],
                },
            )
            assert "liposuction" in (follow.structured_content or {})["answer"]

            none = await client.call_tool("ask", {"question": "What is the capital of France?"})
            assert not none.is_error
            assert (none.structured_content or {})["answered"] is False
            assert "Closest passages (not an answer)" in text_of(none)

            found = await client.call_tool("search", {"query": "liposuction", "top_k": 2})
            assert not found.is_error
            passages = SearchResult.model_validate(found.structured_content).passages
            assert 1 <= len(passages) <= 2
            best = passages[0]
            assert best.chunk_id.startswith("adipose.md#") and "liposuction" in best.text
            assert best.end - best.start == len(best.text)
            assert best.url and best.url.endswith(f"?start={best.start}&end={best.end}")

            docs = await client.call_tool("list_documents", {})
            listed = DocumentsResponse.model_validate(docs.structured_content).documents
            assert {d.doc_id for d in listed} == {"adipose.md", "marrow.txt", "nested/cord.md"}

    run(scenario)


@pytest.mark.parametrize(
    ("tool", "arguments", "fragments"),
    [
        ("ask", {"question": ""}, ["question", "empty"]),
        ("ask", {"question": "x" * 2001}, ["question", "2000"]),
        ("ask", {"question": "stem\u202ecells"}, ["text-direction"]),
        ("ask", {}, ["question", "required"]),
        ("ask", {"question": 5}, ["question", "string"]),
        ("ask", {"question": "ok?", "history": [{"role": "system", "content": "x"}]}, ["role"]),
        ("search", {"query": "stem cells", "top_k": 99}, ["top_k", "20"]),
        ("search", {"query": "   "}, ["query", "empty"]),
        ("nonexistent", {}, ["nonexistent"]),
    ],
)
def test_http_bad_arguments_are_tool_errors_a_person_can_act_on(
    mcp_url: str, tool: str, arguments: dict, fragments: list[str]
) -> None:
    async def scenario() -> CallToolResult:
        async with Client(mcp_url) as client:
            return await client.call_tool(tool, arguments)

    result = run(scenario)
    assert result.is_error
    message = text_of(result)
    assert all(f.lower() in message.lower() for f in fragments), message
    assert "Traceback" not in message


def test_http_tools_say_when_there_is_no_index(tmp_path: Path, tiny_corpus, fake_embedder) -> None:
    settings = Settings(corpus_dir=tiny_corpus, index_dir=tmp_path / "none", _env_file=None)
    service = QAService(settings, fake_embedder)

    async def scenario(url: str) -> list[CallToolResult]:
        async with Client(f"{url}/mcp") as client:
            return [
                await client.call_tool("ask", {"question": QUESTION}),
                await client.call_tool("search", {"query": QUESTION}),
                await client.call_tool("list_documents", {}),
            ]

    with uvicorn_server(create_app(settings, service), settings) as url:
        results = anyio.run(scenario, url)
    for result in results:
        assert result.is_error
        assert "mscqa index" in text_of(result)


def _call(url: str, tool: str, arguments: dict[str, Any]) -> bytes:
    """One tools/call as a client sends it, the raw reply body (what the size limit holds)."""
    message = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": tool, "arguments": arguments},
    }
    headers = {
        "Accept": "application/json, text/event-stream",
        "MCP-Protocol-Version": "2025-06-18",
    }
    r = httpx2.post(f"{url}/mcp", json=message, headers=headers, timeout=30)
    assert r.status_code == 200, r.text
    return r.content


def test_http_tool_replies_are_held_to_max_reply_kb(tmp_path: Path, fake_embedder) -> None:
    """Before: the tools sent every passage whole whatever MSCQA_MAX_REPLY_KB said (here ~20
    KiB for ask, ~62 KiB for a search of 20 passages, while /ask kept to 16 KiB)."""
    from mscqa.indexing import build_index

    calls = {
        "ask": {"question": "Where do marker3 cells grow?"},
        "search": {"query": "marker3 cells grow", "top_k": 20},
    }
    bodies: dict[int, dict[str, bytes]] = {}
    for kb in (1024, 16):
        settings = long_passages(tmp_path, kb)
        if kb == 1024:
            build_index(settings, fake_embedder)
        service = QAService(settings, fake_embedder)
        with uvicorn_server(create_app(settings, service), settings) as url:
            bodies[kb] = {tool: _call(url, tool, args) for tool, args in calls.items()}

            async def scenario(url: str = url) -> list[CallToolResult]:
                async with Client(f"{url}/mcp") as client:
                    return [await client.call_tool(t, a) for t, a in calls.items()]

            asked, searched = anyio.run(scenario)
        service.close()
    wide, capped = bodies[1024], bodies[16]
    assert len(wide["ask"]) > 16 * 1024 and len(wide["search"]) > 16 * 1024
    assert all(len(body) <= 16 * 1024 for body in capped.values()), {
        t: len(b) for t, b in capped.items()
    }
    # what the SDK's client gets is still a whole, valid result: the answer with fewer related
    # passages, the best passages first
    assert not asked.is_error and not searched.is_error
    answer = AskResponse.model_validate(asked.structured_content)
    assert answer.answered and answer.citations
    assert text_of(asked).startswith(answer.answer)
    passages = SearchResult.model_validate(searched.structured_content).passages
    full = SearchResult.model_validate(
        json.loads(wide["search"])["result"]["structuredContent"]
    ).passages
    assert 0 < len(passages) < len(full) and passages == full[: len(passages)]
    assert json.loads(text_of(searched)) == searched.structured_content


def test_http_needs_mscqa_api_key_when_set(
    tiny_settings: Settings, tiny_service: QAService
) -> None:
    settings = tiny_settings.model_copy(update={"api_key": SecretStr("s3cret-key")})

    async def with_key(url: str, key: str | None) -> Any:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        async with (
            httpx2.AsyncClient(headers=headers, timeout=30) as http,
            Client(streamable_http_client(url, http_client=http)) as client,
        ):
            return await client.call_tool("ask", {"question": QUESTION})

    with uvicorn_server(create_app(settings, tiny_service), settings) as base:
        url = f"{base}/mcp"
        answered = anyio.run(with_key, url, "s3cret-key")
        assert not answered.is_error and "liposuction" in text_of(answered)
        for key, fragment in ((None, "No API key"), ("wrong", "Incorrect API key")):
            with pytest.raises(BaseException) as refused:
                anyio.run(with_key, url, key)
            (error,) = mcp_errors(refused.value)  # what the client shows the person
            assert fragment in error.error.message and "MSCQA_API_KEY" in error.error.message
        raw = httpx2.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
        assert raw.status_code == 401
        assert raw.headers["www-authenticate"].startswith("Bearer")
        assert raw.json()["error"]["data"] == {"status": 401}


def test_http_refuses_other_host_names(mcp_url: str) -> None:
    # DNS-rebinding protection: a page on another name resolving to 127.0.0.1 gets nothing
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    r = httpx2.post(mcp_url, json=body, headers={"Host": "evil.example.com"})
    assert r.status_code == 421
    r = httpx2.post(mcp_url, json=body, headers={"Origin": "http://evil.example.com"})
    assert r.status_code == 403


def test_mcp_shares_the_question_rate_limit(
    tiny_settings: Settings, tiny_service: QAService
) -> None:
    settings = tiny_settings.model_copy(update={"rate_limit_per_minute": 1, "rate_limit_burst": 1})
    with uvicorn_server(create_app(settings, tiny_service), settings) as base:
        assert httpx2.post(f"{base}/ask", json={"question": QUESTION}).status_code == 200
        r = httpx2.post(f"{base}/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
        assert r.status_code == 429 and r.headers["retry-after"]
        assert "Too many questions" in r.json()["error"]["message"]


# --- stdio: `mscqa mcp`, the real model over the bundled article --------------------------------


@pytest.mark.slow
def test_stdio_mscqa_mcp_lists_and_calls_every_tool(
    real_service: QAService, real_settings: Settings
) -> None:
    command = Path(sys.executable).with_name("mscqa")
    params = StdioServerParameters(
        command=str(command),
        args=["mcp"],
        env={
            "MSCQA_INDEX_DIR": str(real_settings.index_dir),
            "MSCQA_CORPUS_DIR": str(real_settings.corpus_dir),
            "MSCQA_LOG_LEVEL": "WARNING",
            "HF_HUB_OFFLINE": "1",
        },
        cwd=str(Path(os.sep)),  # desktop clients start it anywhere
    )

    async def scenario() -> None:
        async with Client(params) as client:
            await check_tools(client)
            with anyio.fail_after(60):
                while True:  # the index loads in the background
                    result = await client.call_tool(
                        "ask", {"question": "Has the FDA approved a bone marrow MSC product?"}
                    )
                    if not result.is_error or "loading" not in text_of(result):
                        break
                    await anyio.sleep(0.5)
            assert not result.is_error, text_of(result)
            payload = result.structured_content or {}
            assert payload["answered"] and "Prochymal" in payload["answer"]
            # no MSCQA_PUBLIC_URL here: the Sources list names passages instead of linking them
            assert "**Sources**\n- [1] " in text_of(result) and "(`msc-article.md#" in text_of(
                result
            )
            assert "/read/" not in text_of(result)
            for c in payload["citations"]:
                for s in c["sentences"]:
                    sentence = c["text"][s["start"] - c["start"] : s["end"] - c["start"]]
                    assert sentence in payload["answer"]
            found = await client.call_tool("search", {"query": "Prochymal", "top_k": 3})
            assert not found.is_error
            assert any("Prochymal" in p["text"] for p in found.structured_content["passages"])
            docs = await client.call_tool("list_documents", {})
            assert [d["doc_id"] for d in docs.structured_content["documents"]] == ["msc-article.md"]
            bad = await client.call_tool("search", {"query": "MSC", "top_k": 0})
            assert bad.is_error and "top_k" in text_of(bad)

    run(scenario)


def test_docs_say_where_mcp_is(mcp_url: str) -> None:
    spec = httpx2.get(mcp_url.removesuffix("/mcp") + "/openapi.json").json()
    description = spec["info"]["description"]
    assert "POST /mcp" in description and "`search`" in description
    assert "/mcp" not in spec["paths"]  # JSON-RPC: not an OpenAPI operation


def test_the_readme_desktop_config_starts_mscqa_mcp() -> None:
    import json

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    block = readme.split("<!-- mcp-config:start -->")[1].split("<!-- mcp-config:end -->")[0]
    entry = json.loads(block.strip().removeprefix("```json").removesuffix("```"))["mcpServers"][
        "mscqa"
    ]
    assert entry["command"].endswith("/.venv/bin/mscqa") and entry["args"] == ["mcp"]
    names = {f"MSCQA_{name.upper()}" for name in Settings.model_fields}
    assert set(entry["env"]) <= names
    assert all(Path(v).is_absolute() or v.startswith("http") for v in entry["env"].values())
