"""The /admin HTTP contract: auth, upload, delete, reindex jobs (TestClient, fake embedder)."""

from __future__ import annotations

import hashlib
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

import mscqa.server.admin.jobs
from mscqa.config import Settings
from mscqa.indexing import build_index
from mscqa.server.app import create_app
from mscqa.service import QAService

TOKEN = "s3cret"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
BOUNDARY = "adminTestBoundary"
ENDPOINTS = [
    ("POST", "/admin/documents"),
    ("DELETE", "/admin/documents/adipose.md"),
    ("POST", "/admin/reindex"),
    ("GET", "/admin/jobs"),
    ("GET", "/admin/jobs/abc"),
    ("DELETE", "/admin/jobs/abc"),
]
NOTE = b"# Wharton jelly\n\nWharton jelly cells are harvested from the umbilical cord matrix.\n"


def raw_form(filename: bytes, content: bytes) -> tuple[bytes, dict[str, str]]:
    """A multipart body built by hand, so a file name reaches the server byte for byte."""
    body = (
        f"--{BOUNDARY}\r\n".encode()
        + b'Content-Disposition: form-data; name="file"; filename="'
        + filename
        + b'"\r\nContent-Type: text/markdown\r\n\r\n'
        + content
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )
    return body, {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}", **AUTH}


def listing(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and "index" not in p.relative_to(folder).parts[:1]
    }


def wait_job(client: TestClient, job_id: str, timeout: float = 10.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        job = client.get(f"/admin/jobs/{job_id}", headers=AUTH).json()
        assert 0.0 <= job["progress"] <= 1.0
        if job["state"] in {"done", "failed", "cancelled"}:
            return job
        assert time.monotonic() < deadline, job
        time.sleep(0.02)


@pytest.fixture
def admin_settings(tmp_path: Path, tiny_corpus: Path) -> Settings:
    return Settings(
        corpus_dir=tiny_corpus,
        index_dir=tmp_path / "index",
        chunk_chars=200,
        admin_token=TOKEN,
        max_upload_mb=1,
        cors_origins=["https://app.example"],
        _env_file=None,
    )


@pytest.fixture
def client(admin_settings: Settings, tiny_service: QAService) -> Iterator[TestClient]:
    with TestClient(create_app(admin_settings, tiny_service)) as c:
        yield c


# --- authentication ------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_without_a_configured_token_the_admin_api_is_off(
    tiny_settings: Settings, tiny_service: QAService, method: str, path: str
) -> None:
    assert tiny_settings.admin_token is None
    with TestClient(create_app(tiny_settings, tiny_service)) as c:
        for headers in ({}, AUTH, {"Authorization": "Bearer "}):
            r = c.request(method, path, headers=headers)
            assert r.status_code == 403
            assert r.json()["detail"] == "admin API disabled: set MSCQA_ADMIN_TOKEN"


def test_an_empty_token_setting_also_disables_it() -> None:
    assert Settings(admin_token="  ", _env_file=None).admin_token is None


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_a_missing_token_is_401_and_a_wrong_one_403(
    client: TestClient, method: str, path: str
) -> None:
    r = client.request(method, path)
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"
    for bad in ("Bearer wrong", "Bearer s3cret2", "Bearer S3CRET", "Bearer sécret".encode()):
        r = client.request(method, path, headers={"Authorization": bad})
        assert r.status_code == 403, bad
    for not_bearer in ("Basic czNjcmV0", "s3cret", "Bearer"):
        r = client.request(method, path, headers={"Authorization": not_bearer})
        assert r.status_code == 401, not_bearer


def test_the_token_is_accepted_from_the_header_only(client: TestClient) -> None:
    for query in ("token", "access_token", "admin_token", "authorization"):
        assert client.get(f"/admin/jobs?{query}={TOKEN}").status_code == 401
    client.cookies.set("token", TOKEN)
    client.cookies.set("Authorization", f"Bearer {TOKEN}")
    assert client.get("/admin/jobs").status_code == 401
    client.cookies.clear()
    r = client.get("/admin/jobs", headers={"authorization": f"bearer {TOKEN}"})
    assert r.status_code == 200
    assert r.headers["cache-control"] == "no-store"


def test_no_cors_on_admin_routes(client: TestClient) -> None:
    origin = {"Origin": "https://app.example"}
    preflight = {
        **origin,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization",
    }
    assert "access-control-allow-origin" in client.get("/health", headers=origin).headers
    r = client.options("/admin/reindex", headers=preflight)
    assert "access-control-allow-origin" not in r.headers
    r = client.get("/admin/jobs", headers={**origin, **AUTH})
    assert "access-control-allow-origin" not in r.headers


# --- upload --------------------------------------------------------------------------------


def test_upload_stores_the_file_and_does_not_reindex(
    client: TestClient, admin_settings: Settings
) -> None:
    version = client.get("/health").json()["index"]["version"]
    r = client.post("/admin/documents", files={"file": ("jelly.md", NOTE)}, headers=AUTH)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body == {
        "doc_id": "jelly.md",
        "file": "jelly.md",
        "bytes": len(NOTE),
        "sha256": hashlib.sha256(NOTE).hexdigest(),
        "replaced": False,
        "status": "created",
        "reindex": "POST /admin/reindex",
        "followup_job_id": None,
    }
    assert (admin_settings.corpus_dir / "jelly.md").read_bytes() == NOTE
    assert client.get("/health").json()["index"]["version"] == version
    assert [p.name for p in admin_settings.corpus_dir.iterdir() if p.name.startswith(".")] == []


@pytest.mark.parametrize(
    "name",
    [b"../x.md", b"..\\x.md", b"/etc/x.md", b"a\x00b.md", b"CON.md", b".hidden.md", b"../../x.md"],
)
def test_traversal_names_stay_inside_the_corpus(
    client: TestClient, admin_settings: Settings, tmp_path: Path, name: bytes
) -> None:
    before = listing(tmp_path)
    body, headers = raw_form(name, b"payload")
    r = client.post("/admin/documents", content=body, headers=headers)
    assert r.status_code in {201, 422}, r.text
    after = listing(tmp_path)
    if r.status_code == 201:
        stored = r.json()["file"]
        assert "/" not in stored and "\\" not in stored and not stored.startswith(".")
        assert set(after) - set(before) == {f"corpus/{stored}"}
        assert (admin_settings.corpus_dir / stored).read_bytes() == b"payload"
    else:
        assert after == before
        assert r.json()["detail"]


def test_oversize_uploads_are_413(client: TestClient, admin_settings: Settings) -> None:
    big = b"x" * (admin_settings.max_upload_mb * 1024 * 1024 + 1)
    before = listing(admin_settings.corpus_dir)
    r = client.post("/admin/documents", files={"file": ("big.md", big)}, headers=AUTH)
    assert r.status_code == 413
    assert "MSCQA_MAX_UPLOAD_MB" in r.json()["detail"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it streams
        body, _ = raw_form(b"big.md", big)
        for i in range(0, len(body), 65536):
            yield body[i : i + 65536]

    _, headers = raw_form(b"big.md", b"")
    r = client.post("/admin/documents", content=chunks(), headers=headers)
    assert r.status_code == 413
    assert listing(admin_settings.corpus_dir) == before


def test_a_false_small_content_length_does_not_help(
    client: TestClient, admin_settings: Settings
) -> None:
    body, headers = raw_form(b"big.md", b"x" * (2 * 1024 * 1024))
    r = client.post("/admin/documents", content=body, headers={**headers, "Content-Length": "99"})
    assert r.status_code == 413
    assert not (admin_settings.corpus_dir / "big.md").exists()
    assert [p.name for p in admin_settings.corpus_dir.iterdir() if p.name.startswith(".")] == []


def test_wrong_type_is_415_naming_the_allowed_types(client: TestClient) -> None:
    r = client.post("/admin/documents", files={"file": ("tool.exe", b"MZ")}, headers=AUTH)
    assert r.status_code == 415
    assert ".md" in r.json()["detail"] and ".docx" in r.json()["detail"]


def test_not_multipart_is_422(client: TestClient) -> None:
    r = client.post("/admin/documents", json={"file": "x"}, headers=AUTH)
    assert r.status_code == 422
    assert "multipart/form-data" in r.json()["detail"]


def test_existing_names_conflict_unless_same_or_replaced(
    client: TestClient, admin_settings: Settings
) -> None:
    path = admin_settings.corpus_dir / "adipose.md"
    original = path.read_bytes()
    r = client.post("/admin/documents", files={"file": ("adipose.md", original)}, headers=AUTH)
    assert (r.status_code, r.json()["status"], r.json()["replaced"]) == (200, "unchanged", False)
    r = client.post("/admin/documents", files={"file": ("adipose.md", NOTE)}, headers=AUTH)
    assert r.status_code == 409
    assert "already exists" in r.json()["detail"] and "replace=true" in r.json()["detail"]
    assert path.read_bytes() == original
    r = client.post(
        "/admin/documents?replace=true", files={"file": ("adipose.md", NOTE)}, headers=AUTH
    )
    assert r.status_code == 201 and r.json()["replaced"] is True
    assert path.read_bytes() == NOTE


# --- delete --------------------------------------------------------------------------------


def test_delete_removes_one_file(client: TestClient, admin_settings: Settings, tmp_path: Path):
    before = listing(tmp_path)
    r = client.delete("/admin/documents/nested/cord.md", headers=AUTH)
    assert r.status_code == 200
    assert r.json()["doc_id"] == "nested/cord.md"
    assert r.json()["followup_job_id"] is None  # no rebuild was running: nothing queued
    assert r.json()["reindex"] == "POST /admin/reindex"
    assert set(before) - set(listing(tmp_path)) == {"corpus/nested/cord.md"}
    assert client.delete("/admin/documents/nested/cord.md", headers=AUTH).status_code == 404
    assert client.delete("/admin/documents/missing.md", headers=AUTH).status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        "/admin/documents/%2E%2E/secret.md",
        "/admin/documents/nested/%2E%2E/%2E%2E/secret.md",
        "/admin/documents/%2Fetc%2Fpasswd",
        "/admin/documents/..%5Csecret.md",
        "/admin/documents/.env",
    ],
)
def test_delete_refuses_paths_outside_the_corpus(
    client: TestClient, tmp_path: Path, path: str
) -> None:
    (tmp_path / "secret.md").write_text("keep")
    before = listing(tmp_path)
    r = client.delete(path, headers=AUTH)
    assert r.status_code in {404, 422}
    assert listing(tmp_path) == before


# --- reindex -------------------------------------------------------------------------------


def test_upload_then_reindex_makes_the_document_answerable(
    client: TestClient, admin_settings: Settings
) -> None:
    corpus_before = listing(admin_settings.corpus_dir)
    old = client.get("/health").json()["index"]["version"]
    client.post("/admin/documents", files={"file": ("jelly.md", NOTE)}, headers=AUTH)
    r = client.post("/admin/reindex", headers=AUTH)
    assert r.status_code == 202
    job = wait_job(client, r.json()["job_id"])
    assert job["state"] == "done" and job["error"] is None and job["progress"] == 1.0
    assert job["version"] > old
    assert client.get("/health").json()["index"]["version"] == job["version"]
    assert "jelly.md" in {d["doc_id"] for d in client.get("/documents").json()["documents"]}
    body = client.post("/ask", json={"question": "Where are Wharton jelly cells harvested?"})
    cited = {c["doc_id"] for c in body.json()["citations"] + body.json()["related"]}
    assert "jelly.md" in cited
    corpus_after = listing(admin_settings.corpus_dir)
    assert {k: v for k, v in corpus_after.items() if k != "jelly.md"} == corpus_before
    listed = client.get("/admin/jobs", headers=AUTH).json()["jobs"]
    assert listed[0]["job_id"] == job["job_id"]
    assert client.get("/admin/jobs/nope", headers=AUTH).status_code == 404


def test_concurrent_reindex_requests_never_build_twice(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    running = 0
    peak = 0
    calls = 0
    lock = threading.Lock()
    release = threading.Event()

    def counting_build(*args: Any, **kwargs: Any) -> Any:
        nonlocal running, peak, calls
        with lock:
            calls += 1
            running += 1
            peak = max(peak, running)
        try:
            release.wait(5)
            return build_index(*args, **kwargs)
        finally:
            with lock:
                running -= 1

    monkeypatch.setattr(mscqa.server.admin.jobs, "build_index", counting_build)
    responses: list[Any] = []
    barrier = threading.Barrier(2)

    def request() -> None:
        barrier.wait()
        responses.append(client.post("/admin/reindex", headers=AUTH))

    threads = [threading.Thread(target=request) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    codes = sorted(r.status_code for r in responses)
    assert codes == [202, 409]
    started = next(r for r in responses if r.status_code == 202).json()["job_id"]
    conflict = next(r for r in responses if r.status_code == 409).json()
    assert conflict["job_id"] == started and started in conflict["detail"]
    release.set()
    assert wait_job(client, started)["state"] == "done"
    assert (calls, peak) == (1, 1)


def test_a_failed_rebuild_keeps_the_old_index_serving(
    client: TestClient, admin_settings: Settings
) -> None:
    old = client.get("/health").json()["index"]["version"]
    for name in ("adipose.md", "marrow.txt", "nested/cord.md"):
        assert client.delete(f"/admin/documents/{name}", headers=AUTH).status_code == 200
    job = wait_job(client, client.post("/admin/reindex", headers=AUTH).json()["job_id"])
    assert job["state"] == "failed"
    assert "No document could be indexed" in job["error"]
    assert job["version"] is None
    assert client.get("/health").json()["index"]["version"] == old
    assert client.post("/ask", json={"question": "How are adipose cells collected?"}).json()[
        "answered"
    ]


class HeldBuild:
    """Replaces the jobs' build_index: each build stops after reading the corpus (its "load"
    progress step) until ``release`` is set, so a test can act while it runs."""

    def __init__(self) -> None:
        self.loaded = threading.Event()
        self.release = threading.Event()
        self.calls = 0

    def __call__(self, settings: Settings, embedder: Any, progress: Any, **kw: Any) -> Any:
        self.calls += 1

        def held(stage: str, done: int, total: int) -> None:
            progress(stage, done, total)
            if stage == "load":
                self.loaded.set()
                assert self.release.wait(10)

        return build_index(settings, embedder, held, **kw)


def documents(client: TestClient) -> set[str]:
    return {d["doc_id"] for d in client.get("/documents").json()["documents"]}


def test_a_delete_during_a_rebuild_queues_a_follow_up_that_removes_the_file(
    client: TestClient, admin_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    held = HeldBuild()
    monkeypatch.setattr(mscqa.server.admin.jobs, "build_index", held)
    first = client.post("/admin/reindex", headers=AUTH).json()["job_id"]
    assert held.loaded.wait(10)  # the running build has read adipose.md already
    r = client.delete("/admin/documents/adipose.md", headers=AUTH)
    assert r.status_code == 200
    followup = r.json()["followup_job_id"]
    assert followup and followup != first
    assert followup in r.json()["reindex"] and "may still include adipose.md" in r.json()["reindex"]
    job = client.get(f"/admin/jobs/{followup}", headers=AUTH).json()
    assert (job["state"], job["follows"]) == ("queued", first)
    assert "adipose.md was deleted" in job["reason"]
    # A second delete joins the same follow-up; a reindex request is told to follow it.
    second = client.delete("/admin/documents/marrow.txt", headers=AUTH).json()
    assert second["followup_job_id"] == followup
    conflict = client.post("/admin/reindex", headers=AUTH)
    assert conflict.status_code == 409 and conflict.json()["job_id"] == followup
    held.release.set()
    done = wait_job(client, first)
    assert done["state"] == "done"
    after = wait_job(client, followup)
    assert after["state"] == "done" and after["version"] > done["version"]
    assert held.calls == 2
    assert client.get("/health").json()["index"]["version"] == after["version"]
    assert "adipose.md" not in documents(client) and "marrow.txt" not in documents(client)


def test_a_delete_just_after_a_rebuild_ended_also_gets_a_follow_up(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    jobs = client.app.state.jobs  # type: ignore[attr-defined]
    since = time.time()
    first = wait_job(client, client.post("/admin/reindex", headers=AUTH).json()["job_id"])
    # The build ended while the delete (which began at ``since``) was under way.
    followup = jobs.follow_up(since, "test")
    assert followup is not None and followup.follows is None
    assert wait_job(client, followup.id)["version"] > first["version"]
    assert jobs.follow_up(time.time(), "test") is None


def test_a_running_rebuild_can_be_cancelled(
    client: TestClient, admin_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    held = HeldBuild()
    monkeypatch.setattr(mscqa.server.admin.jobs, "build_index", held)
    old = client.get("/health").json()["index"]["version"]
    (admin_settings.corpus_dir / "jelly.md").write_bytes(NOTE)
    job_id = client.post("/admin/reindex", headers=AUTH).json()["job_id"]
    assert held.loaded.wait(10)
    cancelling = threading.Thread(target=held.release.set)
    threading.Timer(0.2, cancelling.start).start()  # the build reaches its next step later
    r = client.delete(f"/admin/jobs/{job_id}", headers=AUTH)
    assert r.status_code == 200, r.text
    assert (r.json()["state"], r.json()["cancel_requested"]) == ("cancelled", True)
    assert r.json()["version"] is None and r.json()["finished"]
    assert client.get("/health").json()["index"]["version"] == old
    assert "jelly.md" not in documents(client)
    again = client.delete(f"/admin/jobs/{job_id}", headers=AUTH)
    assert again.status_code == 409 and "already ended (cancelled)" in again.json()["detail"]
    assert client.delete("/admin/jobs/nope", headers=AUTH).status_code == 404
    held.release.set()
    assert (
        wait_job(client, client.post("/admin/reindex", headers=AUTH).json()["job_id"])["state"]
        == "done"
    )
    assert "jelly.md" in documents(client)


def test_an_upload_during_a_rebuild_is_added_by_a_follow_up(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: the running build had listed the corpus already, the upload said only "call
    POST /admin/reindex", that call got 409 naming the running build, and once it ended the
    new document was in no snapshot and no build was coming to add it."""
    held = HeldBuild()
    monkeypatch.setattr(mscqa.server.admin.jobs, "build_index", held)
    first = client.post("/admin/reindex", headers=AUTH).json()["job_id"]
    assert held.loaded.wait(10)  # the running build has read the corpus: no jelly.md in it
    r = client.post("/admin/documents", files={"file": ("jelly.md", NOTE)}, headers=AUTH)
    assert r.status_code == 201, r.text
    followup = r.json()["followup_job_id"]
    assert followup and followup != first
    assert followup in r.json()["reindex"] and "may not include jelly.md" in r.json()["reindex"]
    job = client.get(f"/admin/jobs/{followup}", headers=AUTH).json()
    assert (job["state"], job["follows"]) == ("queued", first)
    assert "jelly.md was uploaded" in job["reason"]
    # The curator's reindex is pointed at the build that will add the file, not the running one.
    conflict = client.post("/admin/reindex", headers=AUTH)
    assert conflict.status_code == 409 and conflict.json()["job_id"] == followup
    # Re-sending the same bytes changes nothing and joins the same follow-up.
    again = client.post("/admin/documents", files={"file": ("jelly.md", NOTE)}, headers=AUTH)
    assert again.json()["status"] == "unchanged"
    assert again.json()["followup_job_id"] in (None, followup)
    held.release.set()
    assert wait_job(client, first)["state"] == "done"
    after = wait_job(client, followup)
    assert after["state"] == "done" and held.calls == 2
    assert client.get("/health").json()["index"]["version"] == after["version"]
    assert "jelly.md" in documents(client)


def test_an_upload_before_a_rebuild_read_the_corpus_needs_no_follow_up(
    client: TestClient, admin_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    jobs = client.app.state.jobs  # type: ignore[attr-defined]
    held = HeldBuild()
    monkeypatch.setattr(mscqa.server.admin.jobs, "build_index", held)
    r = client.post("/admin/documents", files={"file": ("jelly.md", NOTE)}, headers=AUTH)
    assert r.json()["followup_job_id"] is None and r.json()["reindex"] == "POST /admin/reindex"
    added = time.time()
    first = client.post("/admin/reindex", headers=AUTH).json()["job_id"]
    assert held.loaded.wait(10)
    # A build that started after the file was in place has it: no second build.
    assert jobs.follow_up(added, "test", added=added) is None
    held.release.set()
    assert wait_job(client, first)["state"] == "done"
    assert "jelly.md" in documents(client) and held.calls == 1


def test_a_queued_follow_up_can_be_cancelled_and_never_runs(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    held = HeldBuild()
    monkeypatch.setattr(mscqa.server.admin.jobs, "build_index", held)
    first = client.post("/admin/reindex", headers=AUTH).json()["job_id"]
    assert held.loaded.wait(10)
    followup = client.delete("/admin/documents/adipose.md", headers=AUTH).json()["followup_job_id"]
    r = client.delete(f"/admin/jobs/{followup}", headers=AUTH)
    assert r.status_code == 200 and r.json()["state"] == "cancelled"
    held.release.set()
    assert wait_job(client, first)["state"] == "done"
    time.sleep(0.2)
    assert held.calls == 1
    assert client.get(f"/admin/jobs/{followup}", headers=AUTH).json()["started"] is None


def test_admin_routes_are_documented(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    upload = paths["/admin/documents"]["post"]
    assert "multipart/form-data" in upload["requestBody"]["content"]
    assert {"/admin/reindex", "/admin/jobs", "/admin/jobs/{job_id}"} <= set(paths)


# --- the documents page --------------------------------------------------------------------


def test_documents_page_is_served_under_the_strict_csp(client: TestClient) -> None:
    r = client.get("/documents/view")
    assert r.status_code == 200
    csp = r.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "unsafe-inline" not in csp
    assert "<script>" not in r.text and " style=" not in r.text
    assert not re.search(r"\son[a-z]+\s*=", r.text, re.IGNORECASE)  # no inline handlers
    assert 'src="/static/documents.js"' in r.text
    js = client.get("/static/documents.js")
    assert js.status_code == 200
    assert not re.search(r"\.(inner|outer)HTML|insertAdjacentHTML|document\.write", js.text)
    assert "sessionStorage" in js.text and "localStorage" not in js.text
    assert 'href="/documents/view"' in client.get("/").text
