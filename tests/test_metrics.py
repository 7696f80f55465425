"""GET /metrics: Prometheus series for requests, answers, the serving index and builds."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from mscqa.config import Settings
from mscqa.embedding.hashing import HashingEmbedder
from mscqa.server.app import create_app
from mscqa.server.metrics import Metrics, record_build
from mscqa.service import QAService

ANSWERABLE = {"question": "How are adipose stem cells collected?"}
OFF_TOPIC = {"question": "What is the capital of France?"}


@pytest.fixture
def client(tiny_settings: Settings, tiny_service: QAService) -> Iterator[TestClient]:
    with TestClient(create_app(tiny_settings, tiny_service)) as c:
        yield c


def samples(client: TestClient) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    r = client.get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    out = {}
    for family in text_string_to_metric_families(r.text):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def value(found: dict, name: str, **labels: str) -> float | None:
    return found.get((name, frozenset(labels.items())))


def test_index_series_describe_the_serving_snapshot(
    client: TestClient, tiny_service: QAService
) -> None:
    index = tiny_service.health()["index"]
    found = samples(client)
    assert value(found, "mscqa_index_ready") == 1
    assert value(found, "mscqa_index_info", version=index["version"]) == 1
    assert value(found, "mscqa_index_documents") == 3
    assert value(found, "mscqa_index_chunks") == index["chunks"]


def test_no_index_reports_not_ready(tmp_path, tiny_corpus) -> None:
    settings = Settings(corpus_dir=tiny_corpus, index_dir=tmp_path / "none", _env_file=None)
    with TestClient(create_app(settings, QAService(settings, HashingEmbedder()))) as c:
        found = samples(c)
    assert value(found, "mscqa_index_ready") == 0
    assert not any(name == "mscqa_index_info" for name, _ in found)


def test_answers_are_counted_by_outcome(client: TestClient) -> None:
    assert value(samples(client), "mscqa_answers_total", outcome="answered") == 0
    assert client.post("/ask", json=ANSWERABLE).json()["answered"] is True
    assert client.post("/ask", json=ANSWERABLE).json()["answered"] is True
    assert client.post("/ask", json=OFF_TOPIC).json()["answered"] is False
    client.post("/ask", json={"question": ""})  # 422: no answer either way
    found = samples(client)
    assert value(found, "mscqa_answers_total", outcome="answered") == 2
    assert value(found, "mscqa_answers_total", outcome="abstained") == 1


def test_requests_are_labelled_by_route_template(client: TestClient) -> None:
    client.post("/ask", json=ANSWERABLE)
    client.post("/ask", json={"question": ""})
    client.get("/static/app.js")
    client.get("/no/such/page-8f3a91")
    client.delete("/admin/documents/some-doc-7731.md")
    client.request("BREW", "/ask")
    found = samples(client)
    count = "mscqa_http_requests_total"
    assert value(found, count, method="POST", route="/ask", status="200") == 1
    assert value(found, count, method="POST", route="/ask", status="422") == 1
    assert value(found, count, method="GET", route="/static/{path}", status="200") == 1
    assert value(found, count, method="GET", route="unmatched", status="404") == 1
    assert value(found, count, method="OTHER", route="/ask", status="405") == 1
    deletes = [labels for name, labels in found if name == count and ("method", "DELETE") in labels]
    assert deletes and all(("route", "/admin/documents/{doc_id}") in ls for ls in deletes)
    # raw paths never become labels
    text = client.get("/metrics").text
    assert "page-8f3a91" not in text and "some-doc-7731" not in text and "BREW" not in text
    hist = "mscqa_http_request_duration_seconds_count"
    assert value(found, hist, method="POST", route="/ask", status="200") == 1


def test_refused_requests_are_counted_on_their_route(tiny_settings, tiny_service) -> None:
    settings = tiny_settings.model_copy(
        update={"rate_limit_per_minute": 1, "rate_limit_burst": 1, "max_body_kb": 1}
    )
    with TestClient(create_app(settings, tiny_service)) as c:
        assert c.post("/ask", json={"question": "x" * 2000}).status_code == 413
        assert c.post("/ask", json=ANSWERABLE).status_code == 429
        found = samples(c)
    count = "mscqa_http_requests_total"
    assert value(found, count, method="POST", route="/ask", status="413") == 1
    assert value(found, count, method="POST", route="/ask", status="429") == 1
    # labelled without building the OpenAPI schema (0.3 s of the event loop, once)
    assert c.app.openapi_schema is None  # type: ignore[attr-defined]


def test_build_durations_are_recorded(client: TestClient) -> None:
    record_build(client.app, 2.5)
    record_build(client.app, 40.0)
    record_build(object(), 1.0)  # an app without metrics: ignored
    found = samples(client)
    assert value(found, "mscqa_index_build_duration_seconds_count") == 2
    assert value(found, "mscqa_index_build_duration_seconds_sum") == 42.5
    assert value(found, "mscqa_index_build_duration_seconds_bucket", le="5.0") == 1


def test_each_app_has_its_own_registry(tiny_settings, tiny_service) -> None:
    first = create_app(tiny_settings, tiny_service)
    second = create_app(tiny_settings, tiny_service)
    assert first.state.metrics.registry is not second.state.metrics.registry
    with TestClient(first) as a, TestClient(second) as b:
        a.post("/ask", json=ANSWERABLE)
        assert value(samples(b), "mscqa_answers_total", outcome="answered") == 0
        assert value(samples(a), "mscqa_answers_total", outcome="answered") == 1


def test_metrics_are_not_in_the_api_schema(client: TestClient) -> None:
    assert "/metrics" not in client.get("/openapi.json").json()["paths"]


def test_metrics_without_a_service_have_no_index_series() -> None:
    text = Metrics().render().decode()
    assert "mscqa_answers_total" in text and "mscqa_index_ready" not in text


def test_builds_through_the_admin_api_are_recorded(tiny_settings, tiny_service) -> None:
    import time

    from fastapi.testclient import TestClient

    from mscqa.server.app import create_app

    settings = Settings(**{**tiny_settings.model_dump(), "admin_token": "s3cret"}, _env_file=None)
    auth = {"Authorization": "Bearer s3cret"}
    with TestClient(create_app(settings, tiny_service)) as client:
        before = client.get("/metrics").text
        job = client.post("/admin/reindex", headers=auth).json()["job_id"]
        deadline = time.monotonic() + 30
        while client.get(f"/admin/jobs/{job}", headers=auth).json()["state"] != "done":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        after = client.get("/metrics").text
    count = [
        line
        for line in after.splitlines()
        if "build" in line and line.endswith(("_count 1.0", "_count 1"))
    ]
    assert count, [line for line in after.splitlines() if "build" in line]
    assert not [line for line in before.splitlines() if "build" in line and "_count 1" in line]
