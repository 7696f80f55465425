"""Admin rebuilds in a build worker process (mscqa.server.admin.builds), with the real model, on
the folder store and on a real PostgreSQL: the server process only loads what the worker
published, a cancel kills the worker and publishes nothing, the next build needs no cleanup."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mscqa.config import Settings
from mscqa.indexing import build_index
from mscqa.server.admin.builds import BuildWorker, decode_settings, encode_settings
from mscqa.server.admin.jobs import JobManager
from mscqa.service import QAService
from test_jobs import wait

pytestmark = pytest.mark.both_backends


def alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "State:\tZ" not in status


def command_line(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()


@pytest.fixture
def model_service(tiny_settings: Settings) -> Iterator[QAService]:
    """The tiny corpus indexed with the real model, served by a service that loads its own
    encoder (no injected embedder): the way `mscqa serve` runs, so rebuilds use the worker."""
    build_index(tiny_settings)
    service = QAService(tiny_settings)
    service.load()
    try:
        yield service
    finally:
        service.close()


def test_settings_cross_to_the_worker_unchanged(tiny_settings: Settings) -> None:
    fields = tiny_settings.model_dump() | {"admin_token": "a-secret", "chunk_chars": 321}
    settings = Settings(**fields, _env_file=None)
    back = decode_settings(encode_settings(settings))
    assert back.model_dump() == settings.model_dump()
    assert back.admin_token is not None and back.admin_token.get_secret_value() == "a-secret"
    if settings.database_url is not None:
        assert back.database_url is not None
        assert back.database_url.get_secret_value() == settings.database_url.get_secret_value()


def test_api_rebuilds_run_in_a_worker_that_a_cancel_kills(
    model_service: QAService, tiny_settings: Settings
) -> None:
    """One test (the real model loads once per backend): a rebuild, a warm one, a cancelled
    one, the build after it, a failing one."""
    jobs = JobManager(tiny_settings, model_service)
    assert isinstance(jobs.worker, BuildWorker)
    try:
        old = model_service.serving().version
        (tiny_settings.corpus_dir / "jelly.md").write_text(
            "# Wharton jelly\n\nWharton jelly cells are harvested from the umbilical cord.\n"
        )
        job = wait(jobs, jobs.start().id, timeout=180)
        assert job.state == "done", job.error
        assert job.version is not None and job.version > old
        assert model_service.serving().version == job.version
        assert "jelly.md" in documents(model_service)
        # The build ran in the worker, which stays for the next build (MSCQA_BUILD_WORKER_IDLE_S).
        pid = jobs.worker.pid
        assert pid is not None and "mscqa.server.admin.builds" in command_line(pid)
        (tiny_settings.corpus_dir / "jelly.md").unlink()
        warm = wait(jobs, jobs.start().id, timeout=180)
        assert warm.state == "done" and jobs.worker.pid == pid  # the same process
        assert "jelly.md" not in documents(model_service)

        # A cancel kills the worker while it builds; nothing is published.
        old = warm.version
        (tiny_settings.corpus_dir / "cord.md").write_text("# Cord\n\nCord blood cells.\n")
        jobs.worker.close()  # the idle worker exits: the next build starts a new one
        job_id = jobs.start().id
        deadline = time.monotonic() + 60
        while (building := jobs.worker.pid) is None or building == pid:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        cancelled = jobs.cancel(job_id)
        assert (cancelled.state, cancelled.cancel_requested) == ("cancelled", True)
        assert cancelled.version is None
        assert not alive(building)
        assert model_service.serving().version == old
        assert model_service.store.current_version() == old
        assert "cord.md" not in documents(model_service)
        # The killed worker held the writer lock (a file lock / a PostgreSQL session lock): it
        # died with it, and the next build runs without cleanup.
        job = wait(jobs, jobs.start().id, timeout=180)
        assert job.state == "done", job.error
        assert "cord.md" in documents(model_service)
        last, serving = jobs.worker.pid, job.version
    finally:
        jobs.shutdown()
    assert last is not None and not alive(last)  # gone with the server

    # A build that fails in the worker reports its message; with idle 0 the worker exits.
    settings = tiny_settings.model_copy(update={"build_worker_idle_s": 0.0})
    jobs = JobManager(settings, model_service)
    try:
        for path in sorted(settings.corpus_dir.rglob("*"), reverse=True):
            path.unlink() if path.is_file() else path.rmdir()
        job = wait(jobs, jobs.start().id, timeout=180)
        assert job.state == "failed"
        assert job.error and job.error.startswith("No document could be indexed")
        assert model_service.serving().version == serving
        deadline = time.monotonic() + 10
        while jobs.worker is not None and jobs.worker.pid is not None:
            assert time.monotonic() < deadline, "the worker did not exit"
            time.sleep(0.05)
    finally:
        jobs.shutdown()


def documents(service: QAService) -> set[str]:
    return {d["doc_id"] for d in service.documents()}
