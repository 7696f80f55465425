"""Serving from PostgreSQL under trouble: a database restart in the middle of traffic, and two
real `mscqa serve` replicas on one database, one of them reindexing."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from conftest import ROOT, free_port, wait_ready
from mscqa.config import Settings
from mscqa.embedding import HashingEmbedder
from mscqa.indexing import build_index
from mscqa.server import create_app
from mscqa.service import QAService
from pgcluster import PgCluster
from waiting import finished_job, wait_until


def test_a_database_restart_mid_traffic_is_a_clear_503_then_answers_again(
    pg_cluster: PgCluster, pg_url: str, tmp_path: Path, tiny_corpus: Path
) -> None:
    settings = Settings(
        corpus_dir=tiny_corpus,
        index_dir=tmp_path / "index",
        chunk_chars=200,
        database_url=pg_url,
        rate_limit_per_minute=0,
        reload_interval=0.2,
        _env_file=None,
    )
    embedder = HashingEmbedder(256)
    version = build_index(settings, embedder).version
    service = QAService(settings, embedder)
    statuses: list[tuple[float, int, str]] = []
    stop = threading.Event()
    with TestClient(create_app(settings, service)) as client:
        wait_until(
            "the index to load", lambda: client.get("/health").status_code, lambda s: s == 200
        )

        def ask(n: int) -> None:
            i = 0
            while not stop.is_set():
                i += 1  # a new question each time: the answer cache cannot hide an outage
                r = client.post("/ask", json={"question": f"adipose collection {n} {i}?"})
                detail = r.json().get("detail", "") if r.status_code != 200 else ""
                statuses.append((time.monotonic(), r.status_code, detail))
                time.sleep(0.01)

        threads = [threading.Thread(target=ask, args=(n,)) for n in range(2)]
        for t in threads:
            t.start()

        def since(start: float) -> list[int]:
            return [s for t0, s, _ in statuses if t0 > start]

        # each phase lasts until it has what the checks below judge (fixed sleeps were a race
        # on a loaded machine): answers before the outage, a 503 during it, answers after it
        try:
            wait_until("answers before the outage", lambda: since(0.0), lambda a: len(a) >= 5)
            down = time.monotonic()
            pg_cluster.stop()
            wait_until("a 503 during the outage", lambda: since(down), lambda a: 503 in a)
            health_down = client.get("/health")
            pg_cluster.start()
            up = time.monotonic()
            while time.monotonic() < up + 30:
                if [s for _, s, _ in statuses[-5:]] == [200] * 5:
                    break
                time.sleep(0.05)
            recovered = time.monotonic()
            wait_until("answers after the outage", lambda: since(recovered), lambda a: len(a) >= 5)
        finally:
            stop.set()
            for t in threads:
                t.join(timeout=10)
            if not pg_cluster.server.get_postmaster_info().is_running():
                pg_cluster.start()
        health_up = client.get("/health")
    service.close()

    counts = Counter(s for _, s, _ in statuses)
    assert set(counts) <= {200, 503}, counts  # never a 500, never a hang
    assert counts[503] > 0 and counts[200] > 0
    during = [d for t0, s, d in statuses if s == 503]
    assert all("database" in d and "cannot be reached" in d for d in during), during[:3]
    assert health_down.status_code == 503
    before = [s for t0, s, _ in statuses if t0 < down]
    assert before and set(before) == {200}
    assert recovered < up + 30, "no answers within 30 s of the database's return"
    after = [s for t0, s, _ in statuses if t0 > recovered]
    assert after and set(after) == {200}, Counter(after)  # back to answering, by itself
    assert health_up.status_code == 200
    assert health_up.json()["index"]["version"] == version  # nothing lost
    assert build_index(settings, embedder).version != version  # and builds work again


@pytest.mark.slow
def test_two_replicas_on_one_database_both_serve_the_new_build_with_no_failed_ask(
    pg_url: str, tmp_path: Path, tiny_corpus: Path, real_service: QAService
) -> None:
    """Replica A takes an upload and reindexes; replica B comes to serve the new snapshot by
    itself, while clients alternating between them see no failed /ask. (How soon B swaps is a
    figure, not a test: ``bench/perf/replicas.py`` measures it beside A's own swap.)"""
    index_dir = tmp_path / "index"
    index_dir.mkdir()
    # this machine's ONNX export of the model, made once by the session's real index
    shutil.copytree(real_service.settings.index_dir / "models", index_dir / "models")
    env = {
        **os.environ,
        "MSCQA_CORPUS_DIR": str(tiny_corpus),  # replicas share the corpus folder
        "MSCQA_INDEX_DIR": str(index_dir),
        "MSCQA_DATABASE_URL": pg_url,
        "MSCQA_ADMIN_TOKEN": "s3cret",
        "MSCQA_RATE_LIMIT_PER_MINUTE": "0",
        "MSCQA_CHUNK_CHARS": "200",
        "HF_HUB_OFFLINE": "1",
    }
    settings = Settings(
        corpus_dir=tiny_corpus,
        index_dir=index_dir,
        chunk_chars=200,
        database_url=pg_url,
        _env_file=None,
    )
    build_index(settings)
    replicas = [start_server(env, tmp_path / f"replica-{name}.log") for name in "AB"]
    try:
        a, b = (url for url, _ in replicas)
        for url, proc in replicas:
            wait_ready(url, proc, proc.log_path)  # type: ignore[attr-defined]
        old = httpx.get(f"{b}/health").json()["index"]["version"]
        results: list[tuple[str, int | str]] = []
        stop = threading.Event()

        def client(n: int) -> None:
            with httpx.Client(timeout=10) as http:
                i = 0
                while not stop.is_set():
                    i += 1
                    url = (a, b)[i % 2]  # no load balancer: clients alternate
                    try:
                        r = http.post(
                            f"{url}/ask", json={"question": f"How is adipose tissue used {n} {i}?"}
                        )
                        results.append((url, r.status_code))
                    except httpx.HTTPError as exc:
                        results.append((url, repr(exc)))

        threads = [threading.Thread(target=client, args=(n,)) for n in range(3)]
        for t in threads:
            t.start()
        try:
            auth = {"Authorization": "Bearer s3cret"}
            note = b"# Placenta\n\nPlacenta-derived stromal cells grow on amnion membranes.\n"
            up = httpx.post(
                f"{a}/admin/documents", files={"file": ("placenta.md", note)}, headers=auth
            )
            assert up.status_code == 201, up.text
            job = httpx.post(f"{a}/admin/reindex", headers=auth).json()["job_id"]
            state = finished_job(a, job, auth, timeout=120)
            assert state["state"] == "done", state
            new = state["version"]
            wait_until(
                "replica B to serve A's new build",
                lambda: httpx.get(f"{b}/health").json()["index"]["version"],
                lambda v: v == new,
            )
            swapped = len(results)
            # traffic goes on across the swap: both replicas answer on the new build too
            wait_until("asks after the swap", lambda: len(results), lambda n: n >= swapped + 10)
        finally:
            stop.set()
            for t in threads:
                t.join(timeout=15)
        answer = httpx.post(f"{b}/ask", json={"question": "What grows on amnion membranes?"})
    finally:
        for _, proc in replicas:
            proc.terminate()
        for _, proc in replicas:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    assert new != old
    failed = [r for r in results if r[1] != 200]
    assert failed == [] and len(results) > 20, (failed[:5], len(results))
    assert {url for url, _ in results} == {a, b}
    assert answer.status_code == 200
    assert any(c["doc_id"] == "placenta.md" for c in answer.json()["citations"])


def start_server(env: dict[str, str], log_path: Path) -> tuple[str, subprocess.Popen[bytes]]:
    port = free_port()
    log = log_path.open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "mscqa.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    log.close()
    proc.log_path = log_path  # type: ignore[attr-defined]
    return f"http://127.0.0.1:{port}", proc
