"""The HTTP contract of /health, /ask, /documents and the error responses (TestClient)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from mscqa.config import Settings
from mscqa.embedding.hashing import HashingEmbedder
from mscqa.server.app import create_app
from mscqa.service import QAService


@pytest.fixture
def client(tiny_settings: Settings, tiny_service: QAService) -> Iterator[TestClient]:
    with TestClient(create_app(tiny_settings, tiny_service)) as c:
        yield c


def test_health_reports_the_serving_index(client: TestClient, tiny_service: QAService) -> None:
    r = client.get("/health")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok"
    assert body["index"] == {
        "version": tiny_service.serving().version,
        "documents": 3,
        "chunks": len(tiny_service.serving().snapshot.chunks),
    }


def test_health_is_503_until_an_index_exists(tmp_path, tiny_corpus) -> None:
    settings = Settings(corpus_dir=tiny_corpus, index_dir=tmp_path / "none", _env_file=None)
    service = QAService(settings, HashingEmbedder())
    with TestClient(create_app(settings, service)) as c:
        r = c.get("/health")
        assert r.status_code == 503
        assert "mscqa index" in r.json()["detail"]
        r = c.post("/ask", json={"question": "What is liposuction?"})
        assert r.status_code == 503
        assert r.headers["retry-after"]
        assert c.get("/livez").json() == {"status": "alive"}


def test_ask_contract(client: TestClient) -> None:
    r = client.post("/ask", json={"question": "How are adipose stem cells collected?"})
    assert r.status_code == 200
    body = r.json()
    assert set(body) >= {"answer", "answered", "citations", "took_ms", "confidence", "related"}
    assert body["answered"] is True
    assert isinstance(body["took_ms"], float)
    assert 0.0 <= body["confidence"] <= 1.0
    assert "liposuction" in body["answer"]
    for c in body["citations"]:
        assert set(c) >= {
            "n",
            "doc_id",
            "title",
            "section",
            "chunk_id",
            "text",
            "start",
            "end",
            "score",
        }
        assert f"[{c['n']}]" in body["answer"]
        assert c["end"] - c["start"] == len(c["text"])
        assert c["chunk_id"].startswith(c["doc_id"] + "#")
    assert {c["doc_id"] for c in body["citations"]} <= {
        "adipose.md",
        "marrow.txt",
        "nested/cord.md",
    }


def test_ask_with_history_and_top_k(client: TestClient) -> None:
    r = client.post(
        "/ask",
        json={
            "question": "How are they collected?",
            "top_k": 1,
            "history": [
                {"role": "user", "content": "Tell me about adipose stem cells"},
                {
                    "role": "assistant",
                    "content": "Japan has approved adipose stem cell products. [1]",
                },
            ],
        },
    )
    assert r.status_code == 200
    body = r.json()
    assert len(body["citations"]) + len(body["related"]) <= 1


def test_top_k_above_chunk_count_gives_distinct_citations(client: TestClient) -> None:
    body = client.post("/ask", json={"question": "stem cells", "top_k": 20}).json()
    ids = [c["chunk_id"] for c in body["citations"] + body["related"]]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        ({}, "question: Field required"),
        ({"question": ""}, "question"),
        ({"question": "   "}, "question is empty"),
        ({"question": "x" * 2001}, "at most 2000"),
        ({"question": 5}, "valid string"),
        ({"question": "ok?", "top_k": 0}, "top_k"),
        ({"question": "ok?", "top_k": 21}, "top_k"),
        ({"question": "ok?", "top_k": "many"}, "top_k"),
        ({"question": "ok?", "top_k": True}, "top_k"),
        ({"question": "ok?", "top_k": "5"}, "top_k"),
        ({"question": "a\x00b"}, "control"),
        ({"question": "a\u202eb"}, "text-direction"),
        ({"question": "ok?", "history": [{"role": "system", "content": "x"}]}, "role"),
        ({"question": "ok?", "history": [{"role": "user", "content": "x"}] * 51}, "history"),
    ],
)
def test_invalid_requests_get_a_readable_422(client: TestClient, payload, fragment) -> None:
    r = client.post("/ask", json=payload)
    assert r.status_code == 422
    detail = r.json()["detail"]
    assert isinstance(detail, str)
    assert fragment in detail


def test_http_limits_follow_the_settings(tiny_settings: Settings, tiny_service: QAService) -> None:
    """MSCQA_MAX_QUESTION_CHARS / MSCQA_MAX_HISTORY_TURNS set what /ask accepts and documents,
    not the defaults (schemas once hard-coded 2000 and 50)."""
    settings = tiny_settings.model_copy(update={"max_question_chars": 5000, "max_history_turns": 2})
    service = QAService(settings, HashingEmbedder(256))
    service.load()
    question = "How are adipose stem cells collected? " + "x" * 3000
    turn = {"role": "user", "content": "What about fat?"}
    with TestClient(create_app(settings, service)) as c:
        assert c.post("/ask", json={"question": question}).status_code == 200
        r = c.post("/ask", json={"question": "y" * 5001})
        assert r.status_code == 422 and "at most 5000" in r.json()["detail"]
        assert c.post("/ask", json={"question": "ok?", "history": [turn] * 2}).status_code == 200
        r = c.post("/ask", json={"question": "ok?", "history": [turn] * 3})
        assert r.status_code == 422 and "history" in r.json()["detail"]
        schema = c.get("/openapi.json").json()["components"]["schemas"]["AskRequest"]
        assert schema["properties"]["question"]["maxLength"] == 5000
        assert schema["properties"]["history"]["maxItems"] == 2
        # the OpenAI-compatible route applies the same limits
        chat = {"model": "mscqa", "messages": [{"role": "user", "content": question}]}
        assert c.post("/v1/chat/completions", json=chat).status_code == 200
        chat["messages"] = [{"role": "user", "content": "y" * 5001}]
        assert c.post("/v1/chat/completions", json=chat).status_code == 400


def test_the_default_limits_are_the_settings_defaults(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()["components"]["schemas"]["AskRequest"]
    defaults = Settings.model_fields
    assert schema["properties"]["question"]["maxLength"] == defaults["max_question_chars"].default
    assert schema["properties"]["history"]["maxItems"] == defaults["max_history_turns"].default


def test_malformed_json_is_422(client: TestClient) -> None:
    r = client.post("/ask", content=b'{"question": ', headers={"content-type": "application/json"})
    assert r.status_code == 422
    assert "JSON" in r.json()["detail"]


def test_documents_lists_titles_and_chunk_counts(client: TestClient) -> None:
    docs = client.get("/documents").json()["documents"]
    by_id = {d["doc_id"]: d for d in docs}
    assert set(by_id) == {"adipose.md", "marrow.txt", "nested/cord.md"}
    assert by_id["adipose.md"]["title"] == "Adipose MSCs"
    assert by_id["marrow.txt"]["title"] == "Bone marrow notes"
    assert all(d["chunks"] >= 1 for d in docs)


def test_html_pages_carry_security_headers(client: TestClient) -> None:
    r = client.get("/")
    assert r.status_code == 200
    assert "text/html" in r.headers["content-type"]
    csp = r.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "no-referrer"
    assert r.headers["x-request-id"]
    assert "<script>" not in r.text  # no inline script: the page loads /static/app.js
    assert client.get("/static/app.js").status_code == 200


def test_openapi_docs_are_served(client: TestClient) -> None:
    assert client.get("/docs").status_code == 200
    spec = client.get("/openapi.json").json()
    assert "/ask" in spec["paths"]


def test_a_question_being_answered_does_not_block_other_requests(
    tiny_settings: Settings, tiny_service: QAService
) -> None:
    # The model runs in a worker thread: while one question is held inside the encoder, the
    # event loop still answers /livez and /health. (A coroutine route that called the service
    # directly would hang here until the question finished.)
    import asyncio
    import threading

    import httpx

    release = threading.Event()
    inside = threading.Event()
    real_ask = tiny_service.ask

    def held_ask(*args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        inside.set()
        assert release.wait(10), "the test never released the question"
        return real_ask(*args, **kwargs)

    tiny_service.ask = held_ask  # type: ignore[method-assign]
    app = create_app(tiny_settings, tiny_service)

    async def scenario() -> tuple[int, int, int]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            question = asyncio.create_task(
                client.post("/ask", json={"question": "How are adipose stem cells collected?"})
            )
            while not inside.is_set():
                await asyncio.sleep(0.005)
            live = await client.get("/livez")
            health = await client.get("/health")
            assert not question.done()  # still held in the worker thread
            release.set()
            answered = await question
            return live.status_code, health.status_code, answered.status_code

    assert asyncio.run(scenario()) == (200, 200, 200)


# --- replies stay bounded (issue #16, item 4) ----------------------------------------------------


def test_a_huge_file_without_punctuation_is_not_sent_back_whole(
    tiny_settings: Settings, fake_embedder: HashingEmbedder
) -> None:
    """Before: a file with no sentence punctuation was one passage, sent back whole in
    ``related`` for unrelated questions (10 MB of file: a 60-byte question got 10.5 MB)."""
    from mscqa.indexing import build_index

    dump = "Raw dump\n\n" + "lorem ipsum dolor sit amet " * 80_000  # 2.2 MB, no sentence ends
    (tiny_settings.corpus_dir / "dump.txt").write_text(dump)
    build_index(tiny_settings, fake_embedder)
    service = QAService(tiny_settings, fake_embedder)
    service.load()
    with TestClient(create_app(tiny_settings, service)) as c:
        for question in ("lorem ipsum?", "How are adipose stem cells collected?"):
            r = c.post("/ask", json={"question": question, "top_k": 20})
            assert r.status_code == 200
            assert len(r.content) < 32 * 1024, len(r.content)
            body = r.json()
            for cited in body["citations"] + body["related"]:
                assert len(cited["text"]) <= tiny_settings.chunk_chars
    chunks = service.serving().snapshot.chunks
    assert max(len(c.text) for c in chunks) <= tiny_settings.chunk_chars


def _giant_answer(sentence_chars: int, related: int) -> Any:
    """An answer from an old snapshot: one 1 MB passage quoting a sentence in its middle."""
    from mscqa.types import Answer, Chunk, Citation

    text = "x " * 250_000 + "The quoted sentence. " + "y " * 250_000
    text += "z" * max(0, sentence_chars - 20)
    chunk = Chunk("big.md#0", "big.md", 0, "Big", None, 0, len(text), text, "0" * 16, ())
    s = text.index("The quoted")
    quoted = (s, s + 20 + max(0, sentence_chars - 20)) if sentence_chars > 20 else (s, s + 20)
    cited = Citation(1, chunk, 0.9, (quoted,))
    others = tuple(Citation(i + 2, chunk, 0.1) for i in range(related))
    return Answer(text[quoted[0] : quoted[1]] + " [1]", True, 0.9, (cited,), others)


def test_a_citation_of_a_long_passage_is_a_window_around_its_quote() -> None:
    from mscqa.server.schemas import MAX_CITATION_CHARS, AskResponse

    answer = _giant_answer(20, related=2)
    body = AskResponse.of(answer).model_dump()
    cited = body["citations"][0]
    assert cited["truncated"] and len(cited["text"]) <= MAX_CITATION_CHARS
    assert (cited["passage_start"], cited["passage_end"]) == (
        0,
        len(answer.citations[0].chunk.text),
    )
    doc = answer.citations[0].chunk.text
    assert doc[cited["start"] : cited["end"]] == cited["text"]  # start/end: offsets of text
    for span in cited["sentences"]:  # every quoted sentence is in it, verbatim
        sentence = doc[span["start"] : span["end"]]
        assert cited["text"][span["start"] - cited["start"] : span["end"] - cited["start"]] == (
            sentence
        )
    assert cited["start"] < span["start"] and span["end"] < cited["end"]  # with context
    assert not cited["text"].startswith(" ") and not cited["text"].endswith(" ")
    for related in body["related"]:  # nothing quoted: the start of the passage
        assert related["truncated"] and related["start"] == 0
        assert len(related["text"]) <= MAX_CITATION_CHARS


def test_a_reply_over_the_ceiling_loses_related_passages_then_context() -> None:
    import json

    from mscqa.errors import ReplyTooLarge
    from mscqa.server.schemas import AskResponse

    fits = json.loads(AskResponse.bounded_json(_giant_answer(20, related=10), 16 * 1024))
    assert len(fits["related"]) < 10 and fits["citations"][0]["truncated"]
    tight = json.loads(AskResponse.bounded_json(_giant_answer(3000, related=3), 8 * 1024))
    assert tight["related"] == []
    assert tight["citations"][0]["text"] == tight["answer"].removesuffix(" [1]")
    with pytest.raises(ReplyTooLarge, match="MSCQA_MAX_REPLY_KB"):
        AskResponse.bounded_json(_giant_answer(20_000, related=0), 16 * 1024)
