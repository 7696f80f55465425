"""The JavaScript clients LibreChat's custom endpoints run on, against a real uvicorn server.

``tests/clients/librechat.mjs`` drives ``/v1`` with LangChain's ``ChatOpenAI`` (streamed, as
LibreChat's agents call it, with and without ``stream_options.include_usage``; a follow-up;
``invoke``) and the ``openai`` SDK's stream helper, whose accumulator throws on a stream
without a role or a ``finish_reason``; the packages are pinned in ``tests/clients`` and
installed by ``make clients`` (part of ``make test``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import uvicorn_server
from mscqa.config import Settings
from mscqa.server import create_app
from mscqa.service import QAService

pytestmark = pytest.mark.slow
CLIENTS = Path(__file__).resolve().parent / "clients"
QUESTION = "How are adipose stem cells collected?"
FOLLOW_UP = "And where were they approved?"


def node_clients() -> str:
    node = shutil.which("node")
    if node is None or not (CLIENTS / "node_modules" / "@langchain" / "openai").is_dir():
        if os.environ.get("CI"):
            pytest.fail("node or tests/clients/node_modules missing; `make clients` installs them")
        pytest.skip("the JavaScript clients are not installed (make clients)")
    return node


def run_clients(base: str, *questions: str) -> dict[str, Any]:
    proc = subprocess.run(
        [node_clients(), str(CLIENTS / "librechat.mjs"), base, *questions],
        cwd=CLIENTS,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "NO_PROXY": "127.0.0.1"},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    # nothing reached for the network (LangChain counts tokens with tiktoken, fetched at run
    # time, when it is asked to; the calls LibreChat makes must not need it)
    assert "ENOTFOUND" not in proc.stderr and "fetch failed" not in proc.stderr, proc.stderr
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


def test_langchain_and_the_openai_sdk_read_mscqa_as_librechat_does(
    tiny_settings: Settings, tiny_service: QAService
) -> None:
    with uvicorn_server(create_app(tiny_settings, tiny_service), tiny_settings) as base:
        out = run_clients(base, QUESTION, FOLLOW_UP)
        expected = httpx.post(
            f"{base}/v1/chat/completions",
            json={"model": "mscqa", "messages": [{"role": "user", "content": QUESTION}]},
        ).json()
        follow = httpx.post(
            f"{base}/v1/chat/completions",
            json={
                "model": "mscqa",
                "messages": [
                    {"role": "user", "content": QUESTION},
                    {"role": "assistant", "content": out["langchain"]["text"]},
                    {"role": "user", "content": FOLLOW_UP},
                ],
            },
        ).json()
    content = expected["choices"][0]["message"]["content"]
    assert "liposuction" in content and "**Sources**" in content
    # LangChain's stream, with or without the usage chunk asked for, and its invoke: the text
    # a LibreChat user sees is the answer with its [n] markers and Sources list, whole
    for part in ("langchain", "langchain_usage", "langchain_invoke"):
        assert out[part]["text"] == content, part
    assert out["langchain"]["chunks"] >= 3  # role, the sentences, the Sources list
    assert out["follow_up"]["text"] == follow["choices"][0]["message"]["content"]
    # the SDK's accumulator: role, finish_reason, the annotations of the last delta
    sdk = out["sdk"]
    assert sdk["role"] == "assistant" and sdk["finish_reason"] == "stop"
    assert sdk["content"] == sdk["deltas"] == content
    assert sdk["id"].startswith("chatcmpl-")
    assert sdk["annotations"] == expected["choices"][0]["message"]["annotations"]
    for a in sdk["annotations"]:
        cite = a["url_citation"]
        assert content[cite["start_index"] : cite["end_index"]] in tiny_service_text(expected)
    assert out["models"] == ["mscqa"]
    assert out["error"]["status"] == 400 and out["error"]["name"] == "BadRequestError"
    assert "2000 characters" in out["error"]["message"]


def tiny_service_text(completion: dict[str, Any]) -> str:
    """The cited passages' text, which every quoted sentence must come from verbatim."""
    return "\n".join(c["text"] for c in completion["mscqa"]["citations"])
