"""Background rebuilds (mscqa.server.admin.jobs.JobManager), tiny corpus, fake embedder."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import mscqa.server.admin.jobs
from mscqa.config import Settings
from mscqa.errors import CorpusError, IndexNotReady, JobConflict
from mscqa.indexing import build_index, writer_lock
from mscqa.server.admin.jobs import Job, JobManager
from mscqa.service import QAService


def wait(jobs: JobManager, job_id: str, timeout: float = 10.0) -> Job:
    deadline = time.monotonic() + timeout
    while True:
        job = jobs.get(job_id)
        assert job is not None
        if not job.active:
            return job
        assert time.monotonic() < deadline, f"job still {job.state}"
        time.sleep(0.01)


def hashes(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in folder.rglob("*")
        if p.is_file()
    }


@pytest.fixture
def jobs(tiny_settings: Settings, tiny_service: QAService) -> Iterator[JobManager]:
    manager = JobManager(tiny_settings, tiny_service)
    yield manager
    manager.shutdown()


class GatedBuild:
    """Wraps build_index: counts calls and overlaps, and holds each build until released."""

    def __init__(self) -> None:
        self.calls = 0
        self.running = 0
        self.max_running = 0
        self.release = threading.Event()
        self.entered = threading.Event()
        self._lock = threading.Lock()

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            self.calls += 1
            self.running += 1
            self.max_running = max(self.max_running, self.running)
        self.entered.set()
        try:
            assert self.release.wait(10)
            return build_index(*args, **kwargs)
        finally:
            with self._lock:
                self.running -= 1


def test_a_rebuild_publishes_and_serves_a_new_version(
    jobs: JobManager, tiny_service: QAService, tiny_settings: Settings
) -> None:
    old = tiny_service.serving().version
    corpus = hashes(tiny_settings.corpus_dir)
    (tiny_settings.corpus_dir / "extra.md").write_text("# Extra\n\nWharton jelly is in the cord.\n")
    job = jobs.start()
    assert job.state in {"queued", "running"}
    done = wait(jobs, job.id)
    assert done.state == "done", done.error
    assert done.progress == 1.0 and done.error is None and done.version
    assert done.version > old
    assert tiny_service.serving().version == done.version  # swapped before "done"
    assert "extra.md" in {d["doc_id"] for d in tiny_service.documents()}
    assert hashes(tiny_settings.corpus_dir) == corpus | {
        "extra.md": hashes(tiny_settings.corpus_dir)["extra.md"]
    }
    assert done.as_dict()["skipped"] == []


def test_progress_rises_through_the_stages(
    jobs: JobManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[float] = []
    real = jobs._progress

    def spy(job_id: str, stage: str, done: int, total: int) -> None:
        real(job_id, stage, done, total)
        job = jobs.get(job_id)
        assert job is not None
        seen.append(job.progress)

    monkeypatch.setattr(jobs, "_progress", spy)
    wait(jobs, jobs.start().id)
    assert seen == sorted(seen) and seen[0] > 0 and seen[-1] < 1


def test_a_second_rebuild_while_one_runs_is_refused(
    jobs: JobManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    gate = GatedBuild()
    monkeypatch.setattr(mscqa.server.admin.jobs, "build_index", gate)
    first = jobs.start()
    assert gate.entered.wait(5)
    with pytest.raises(JobConflict) as caught:
        jobs.start()
    assert caught.value.job_id == first.id
    assert first.id in str(caught.value)
    gate.release.set()
    assert wait(jobs, first.id).state == "done"
    assert wait(jobs, jobs.start().id).state == "done"  # free again once it finished
    assert gate.calls == 2 and gate.max_running == 1


def test_a_failing_build_keeps_the_old_snapshot_serving(
    jobs: JobManager, tiny_service: QAService, tiny_settings: Settings
) -> None:
    old = tiny_service.serving().version
    for path in sorted(tiny_settings.corpus_dir.rglob("*"), reverse=True):
        path.unlink() if path.is_file() else path.rmdir()
    job = wait(jobs, jobs.start().id)
    assert job.state == "failed"
    assert job.error and "No document could be indexed" in job.error
    assert job.version is None
    assert tiny_service.serving().version == old
    assert tiny_service.ask("How are adipose stem cells collected?").answered


def test_a_build_held_by_another_process_fails_with_its_message(
    jobs: JobManager, tiny_settings: Settings
) -> None:
    with writer_lock(tiny_settings.index_dir):
        job = wait(jobs, jobs.start().id)
    assert job.state == "failed"
    assert job.error and "writer.lock" in job.error


def test_an_unexpected_error_fails_the_job_and_frees_the_runner(
    jobs: JobManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(mscqa.server.admin.jobs, "build_index", boom)
    job = wait(jobs, jobs.start().id)
    assert (job.state, job.error) == ("failed", "RuntimeError: disk on fire")
    monkeypatch.undo()
    assert wait(jobs, jobs.start().id).state == "done"


def test_skipped_files_are_reported(jobs: JobManager, tiny_settings: Settings) -> None:
    (tiny_settings.corpus_dir / "broken.pdf").write_bytes(b"not a pdf")
    job = wait(jobs, jobs.start().id)
    assert job.state == "done"
    assert [f for f, _ in job.skipped] == ["broken.pdf"]
    assert job.as_dict()["skipped"][0]["reason"]


def test_only_the_last_jobs_are_kept(
    tiny_settings: Settings, tiny_service: QAService, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(mscqa.server.admin.jobs, "build_index", _raise_corpus_error)
    manager = JobManager(tiny_settings, tiny_service, keep=2)
    ids = [wait(manager, manager.start().id).id for _ in range(3)]
    assert [j.id for j in manager.list()] == [ids[2], ids[1]]
    assert manager.get(ids[0]) is None
    manager.shutdown()


def _raise_corpus_error(*args: Any, **kwargs: Any) -> Any:
    raise CorpusError("empty")


def test_no_job_starts_after_shutdown(jobs: JobManager) -> None:
    jobs.shutdown()
    with pytest.raises(IndexNotReady, match="shutting down"):
        jobs.start()


def test_keep_is_checked(tiny_settings: Settings, tiny_service: QAService) -> None:
    with pytest.raises(ValueError, match="keep"):
        JobManager(tiny_settings, tiny_service, keep=0)
