"""``/v1`` as Open WebUI uses it, against a real uvicorn server.

Open WebUI itself cannot run in the test suite (a large application with models of its own),
so its side is written out from its source: the body its OpenAI connection sends
(``backend/open_webui/routers/openai.py``: the chat's messages, the model's parameters,
``stream_options.include_usage`` forced on for every stream, a ``cache_control`` mark on the
last message's text part) and the way its middleware reads the stream
(``backend/open_webui/utils/middleware.py``: ``data:`` lines, JSON or ``[DONE]``, ``usage``
when present, ``delta.content`` appended, each ``url_citation`` in ``delta.annotations`` a
source; the chat page then numbers sources by their URL in the order they arrive, and a
``[n]`` in the text opens source n).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from conftest import uvicorn_server
from mscqa.config import Settings
from mscqa.server import create_app
from mscqa.server.openai.routes import completion_for, stream_frames
from mscqa.server.schemas import AskResponse
from mscqa.service import QAService

QUESTION = "How are adipose stem cells collected?"


@pytest.fixture
def base(tiny_settings: Settings, tiny_service: QAService) -> Iterator[str]:
    with uvicorn_server(create_app(tiny_settings, tiny_service), tiny_settings) as url:
        yield url


def openwebui_body(question: str, stream: bool) -> dict[str, Any]:
    """A chat turn as Open WebUI's OpenAI connection posts it."""
    body: dict[str, Any] = {
        "model": "mscqa",
        "messages": [
            {"role": "system", "content": "You are a helpful assistant."},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": question, "cache_control": {"type": "ephemeral"}}
                ],
            },
        ],
        "stream": stream,
        "temperature": 0.8,
        "max_tokens": 2048,
        "top_p": 0.9,
        "reasoning": {"effort": "low"},
        "chat_id": "8c1f3f3a-0d1c-4c4e-9c61-6f1c0b3f4e11",
    }
    if stream:
        body["stream_options"] = {"include_usage": True}
    return body


def read_like_openwebui(lines: Iterator[str]) -> dict[str, Any]:
    """Open WebUI's stream reader, reduced to what it keeps: the content, the sources, the
    usage and errors."""
    content, sources, usages, errors, done = "", [], [], [], False
    for line in lines:
        if not line.strip() or not line.startswith("data:"):
            continue
        data = line[len("data:") :].strip()
        try:
            chunk = json.loads(data)
        except ValueError:
            done = done or data == "[DONE]"
            continue
        assert "event" not in chunk and "selected_model_id" not in chunk
        assert not str(chunk.get("type", "")).startswith("response.")
        usage = chunk.get("usage", {}) or {}
        if usage:
            usages.append(usage)
        choices = chunk.get("choices", [])
        if not choices:
            if chunk.get("error"):
                errors.append(chunk["error"])
            continue
        delta = choices[0].get("delta", {})
        for annotation in delta.get("annotations") or []:
            if annotation.get("type") == "url_citation" and "url_citation" in annotation:
                cite = annotation["url_citation"]
                url = cite.get("url", "")
                sources.append({"name": cite.get("title", url), "url": url})
        if delta.get("content"):
            content += delta["content"]
    return {"content": content, "sources": sources, "usage": usages, "errors": errors, "done": done}


def test_a_streamed_chat_turn_reads_as_in_open_webui(base: str) -> None:
    plain = httpx.post(f"{base}/v1/chat/completions", json=openwebui_body(QUESTION, False))
    assert plain.status_code == 200, plain.text
    completion = plain.json()
    with httpx.stream(
        "POST", f"{base}/v1/chat/completions", json=openwebui_body(QUESTION, True), timeout=30
    ) as r:
        assert r.status_code == 200
        assert "text/event-stream" in r.headers["content-type"]
        seen = read_like_openwebui(r.iter_lines())
    message = completion["choices"][0]["message"]
    assert seen["done"] and not seen["errors"]
    assert seen["content"] == message["content"] and "liposuction" in seen["content"]
    # one source per quoted sentence, each opening its passage in the reader
    assert [s["url"] for s in seen["sources"]] == [
        a["url_citation"]["url"] for a in message["annotations"]
    ]
    assert seen["sources"], "an answer has sources"
    for source in seen["sources"]:  # links name MSCQA_PUBLIC_URL; this server has its own port
        link = urlsplit(source["url"])
        assert httpx.get(f"{base}{link.path}?{link.query}").status_code == 200
    # the page numbers sources by URL as they arrive; [n] in the text opens source n, which
    # must be citation n
    numbered = list(dict.fromkeys(s["url"] for s in seen["sources"]))
    titles = {c["n"]: c["title"] for c in completion["mscqa"]["citations"]}
    markers = {int(n) for n in re.findall(r"\[(\d+)\]", completion["mscqa"]["answer"])}
    for n in markers:
        url = numbered[n - 1]
        source = next(s for s in seen["sources"] if s["url"] == url)
        assert source["name"].startswith(titles[n]), (n, source)
    assert seen["usage"] == []  # no tokens are generated, so none are reported


def test_the_model_list_reads_as_in_open_webui(base: str) -> None:
    models = httpx.get(f"{base}/v1/models", headers={"Authorization": "Bearer sk-1"}).json()
    listed = [{"id": m["id"], "name": m.get("name", m["id"])} for m in models.get("data", [])]
    assert listed == [{"id": "mscqa", "name": "mscqa"}]


def test_each_event_is_one_line_to_any_line_splitter() -> None:
    # Document text may hold U+2028/U+2029/U+0085, which JSON leaves unescaped and Python's
    # str.splitlines (requests.iter_lines(decode_unicode=True), many small clients) treats as
    # line breaks: every event must still read as one data: line.
    text = "Stem cells\u2028are collected\u2029by liposuction\x85here."
    response = AskResponse.model_validate(
        {
            "id": "a1", "index_version": "v1", "answer": f"{text} [1]", "answered": True,
            "confidence": 0.9, "took_ms": 1.0,
            "citations": [
                {"n": 1, "doc_id": "a.md", "title": "A\u2028B", "section": None,
                 "chunk_id": "a.md#0", "text": text, "start": 0, "end": len(text),
                 "score": 1.0, "sentences": [{"start": 0, "end": len(text)}]},
            ],
        }
    )  # fmt: skip
    completion = completion_for(response, "http://127.0.0.1:8000", 0)
    frames = stream_frames(completion)
    joined = b"".join(frames).decode()
    events = [line for line in joined.splitlines() if line]
    assert all(line.startswith("data: ") for line in events)
    chunks = [json.loads(line.removeprefix("data: ")) for line in events[:-1]]
    assert events[-1] == "data: [DONE]"
    content = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)
    assert content == completion.choices[0].message.content
    assert chunks[-1]["mscqa"]["citations"][0]["text"] == text
