"""The official ``openai`` client against a real uvicorn server.

The answers come from the real model over the bundled article (``live_server``, a real
``mscqa serve``); auth is checked on an in-process uvicorn server over the tiny corpus.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import openai
import pytest
from openai import OpenAI
from pydantic import SecretStr

from conftest import uvicorn_server
from mscqa.config import Settings
from mscqa.server import create_app
from mscqa.service import QAService
from test_openai_compat import marked_text

pytestmark = pytest.mark.slow
README = Path(__file__).resolve().parents[1] / "README.md"
FDA = "Has the FDA approved a bone marrow MSC product?"
NOT_FOUND = "I couldn't find that in the documents."


@pytest.fixture(scope="module")
def client(live_server: str) -> Iterator[OpenAI]:
    with OpenAI(base_url=f"{live_server}/v1", api_key="sk-anything", max_retries=0) as c:
        yield c


def user(text: str) -> dict[str, str]:
    return {"role": "user", "content": text}


def check_annotations(content: str, annotations: list, payload: dict) -> None:
    """Each annotation slices its sentence out of the content, the sentence is verbatim in the
    cited passage at the offsets its URL names, and every quoted sentence has one."""
    assert annotations, "an answered question has at least one annotation"
    passages = {c["doc_id"]: [] for c in payload["citations"]}
    for c in payload["citations"]:
        passages[c["doc_id"]].append(c)
    for a in annotations:
        assert a.type == "url_citation"
        cite = a.url_citation
        sentence = content[cite.start_index : cite.end_index]
        assert sentence and sentence == sentence.strip()
        url = urlsplit(cite.url)
        assert url.path.startswith("/read/")
        doc_id = url.path.removeprefix("/read/")
        query = {k: int(v[0]) for k, v in parse_qs(url.query).items()}
        (passage,) = [
            c for c in passages[doc_id] if c["start"] <= query["start"] < query["end"] <= c["end"]
        ]
        offset = passage["start"]
        assert passage["text"][query["start"] - offset : query["end"] - offset] == sentence
        assert passage["title"] in cite.title
        page = httpx.get(cite.url, timeout=10)  # the link opens the sentence, highlighted
        assert page.status_code == 200
        assert marked_text(page.text) == " ".join(sentence.split())
    spans = sum(len(c["sentences"]) for c in payload["citations"])
    assert len(annotations) == spans


def test_non_streaming_answer_with_citations(client: OpenAI) -> None:
    completion = client.chat.completions.create(model="mscqa", messages=[user(FDA)])
    assert completion.object == "chat.completion"
    assert completion.id.startswith("chatcmpl-")
    (choice,) = completion.choices
    assert choice.finish_reason == "stop"
    message = choice.message
    assert message.role == "assistant"
    assert message.content and "Prochymal" in message.content
    assert "**Sources**" in message.content
    payload = completion.model_extra["mscqa"]
    assert payload["answered"] is True
    assert message.content.startswith(payload["answer"])
    assert message.annotations is not None
    check_annotations(message.content, message.annotations, payload)


def test_streaming_reassembles_to_the_same_content(client: OpenAI) -> None:
    plain = client.chat.completions.create(model="mscqa", messages=[user(FDA)])
    stream = client.chat.completions.create(model="mscqa", messages=[user(FDA)], stream=True)
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert text == plain.choices[0].message.content
    last = chunks[-1]
    assert last.choices[0].finish_reason == "stop"
    assert all(c.choices[0].finish_reason is None for c in chunks[:-1])
    annotations = (
        openai.types.chat.ChatCompletion.model_validate(
            {
                **plain.model_dump(),
                "choices": [
                    {
                        **plain.choices[0].model_dump(),
                        "message": {
                            **plain.choices[0].message.model_dump(),
                            "annotations": last.choices[0].delta.model_extra["annotations"],
                        },
                    }
                ],
            }
        )
        .choices[0]
        .message.annotations
    )
    assert annotations == plain.choices[0].message.annotations
    assert last.model_extra["mscqa"]["answer"] == plain.model_extra["mscqa"]["answer"]


def test_the_stream_helper_collects_the_annotations(client: OpenAI) -> None:
    with client.chat.completions.stream(model="mscqa", messages=[user(FDA)]) as stream:
        pieces = [e.delta for e in stream if e.type == "content.delta"]
        final = stream.get_final_completion()
    message = final.choices[0].message
    assert "".join(pieces) == message.content
    assert message.annotations
    check_annotations(message.content or "", message.annotations, _payload(client, FDA))


def _payload(client: OpenAI, question: str) -> dict:
    return client.chat.completions.create(model="mscqa", messages=[user(question)]).model_extra[
        "mscqa"
    ]


def test_follow_up_through_messages(client: OpenAI) -> None:
    first = client.chat.completions.create(
        model="mscqa",
        messages=[user("What are the advantages of adipose mesenchymal stem cells?")],
    )
    follow = client.chat.completions.create(
        model="mscqa",
        messages=[
            {"role": "system", "content": "You are a careful assistant."},
            user("What are the advantages of adipose mesenchymal stem cells?"),
            {"role": "assistant", "content": first.choices[0].message.content},
            user("How are they collected?"),
        ],
        temperature=0.2,
        max_tokens=200,
        user="someone",
    )
    message = follow.choices[0].message
    assert "liposuction" in (message.content or "")
    check_annotations(message.content or "", message.annotations or [], follow.model_extra["mscqa"])


def test_abstention(client: OpenAI) -> None:
    completion = client.chat.completions.create(
        model="mscqa", messages=[user("What is the capital of France?")]
    )
    message = completion.choices[0].message
    assert (message.content or "").startswith(NOT_FOUND)
    assert not message.annotations
    assert completion.model_extra["mscqa"]["answered"] is False
    assert completion.model_extra["mscqa"]["citations"] == []


def test_errors_are_raised_as_openai_errors(client: OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as too_long:
        client.chat.completions.create(model="mscqa", messages=[user("x" * 2001)])
    assert too_long.value.status_code == 400
    assert too_long.value.code == "string_above_max_length"
    assert too_long.value.param == "messages[0].content"
    with pytest.raises(openai.BadRequestError) as empty:
        client.chat.completions.create(model="mscqa", messages=[])
    assert empty.value.code == "empty_array"
    with pytest.raises(openai.BadRequestError) as no_user:
        client.chat.completions.create(
            model="mscqa", messages=[{"role": "system", "content": "Be brief."}]
        )
    assert "no user message" in no_user.value.message
    with pytest.raises(openai.NotFoundError) as model:
        client.chat.completions.create(model="gpt-4o", messages=[user(FDA)])
    assert model.value.code == "model_not_found"
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="mscqa", messages=[user("x" * 2001)], stream=True)


def test_models(client: OpenAI) -> None:
    assert [m.id for m in client.models.list()] == ["mscqa"]
    assert client.models.retrieve("mscqa").owned_by == "mscqa"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("gpt-4o")


def readme_snippets() -> list[str]:
    text = README.read_text(encoding="utf-8")
    block = text.split("<!-- openai-snippet:start -->")[1].split("<!-- openai-snippet:end -->")[0]
    return re.findall(r"```python\n(.*?)```", block, re.S)


def test_the_readme_snippets_run(live_server: str, capsys: pytest.CaptureFixture[str]) -> None:
    snippets = readme_snippets()
    assert len(snippets) == 2
    for code in snippets:
        assert "http://127.0.0.1:8000/v1" in code
        exec(compile(code.replace("http://127.0.0.1:8000", live_server), "README", "exec"), {})
    out = capsys.readouterr().out
    assert out.count("Prochymal") >= 2  # both the plain and the streamed answer
    assert "/read/msc-article.md?start=" in out


# --- auth, on a real server with the fake embedder -----------------------------------------------


def test_the_client_authenticates_with_mscqa_api_key(
    tiny_settings: Settings, tiny_service: QAService
) -> None:
    settings = tiny_settings.model_copy(update={"api_key": SecretStr("s3cret-key")})
    with uvicorn_server(create_app(settings, tiny_service), settings) as url:
        with OpenAI(base_url=f"{url}/v1", api_key="s3cret-key", max_retries=0) as good:
            answer = good.chat.completions.create(
                model="mscqa", messages=[user("How are adipose stem cells collected?")]
            )
            assert "liposuction" in (answer.choices[0].message.content or "")
            assert [m.id for m in good.models.list()] == ["mscqa"]
        with OpenAI(base_url=f"{url}/v1", api_key="wrong", max_retries=0) as bad:
            with pytest.raises(openai.AuthenticationError) as refused:
                bad.chat.completions.create(model="mscqa", messages=[user("Hello?")])
            assert refused.value.status_code == 401
            assert refused.value.code == "invalid_api_key"
            with pytest.raises(openai.AuthenticationError):
                bad.models.list()
