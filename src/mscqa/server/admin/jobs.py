"""Background index rebuilds for the admin API: one at a time, in a worker thread.

>>> jobs = JobManager(settings, service)       # doctest: +SKIP
>>> job = jobs.start()  # JobConflict if one is running   # doctest: +SKIP
>>> jobs.get(job.id).state                      # doctest: +SKIP
'running'

The build is ``indexing.build_index`` with the service's own embedder (the model is loaded
once). It takes the cross-process writer lock, so a build started by the CLI makes the job
fail with ``BuildInProgress``'s message. When it succeeds the service swaps to the new
snapshot before the job reports ``done``.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from mscqa.config import Settings
from mscqa.errors import IndexNotReady, JobConflict, MscqaError
from mscqa.indexing import build_index
from mscqa.service import QAService

log = logging.getLogger(__name__)

State = Literal["queued", "running", "done", "failed"]
# Share of the progress bar each build stage ends at (see indexing.Progress).
_STAGES = {"load": (0.0, 0.1), "embed": (0.1, 0.9), "write": (0.9, 0.99)}
SWAP_TIMEOUT = 10.0


@dataclass(frozen=True, slots=True)
class Job:
    id: str
    state: State = "queued"
    progress: float = 0.0
    stage: str | None = None
    version: str | None = None
    error: str | None = None
    skipped: tuple[tuple[str, str], ...] = ()
    created: float = field(default_factory=time.time)
    started: float | None = None
    finished: float | None = None

    @property
    def active(self) -> bool:
        return self.state in {"queued", "running"}

    def as_dict(self) -> dict[str, Any]:
        return {
            "job_id": self.id,
            "state": self.state,
            "progress": round(self.progress, 3),
            "stage": self.stage,
            "version": self.version,
            "error": self.error,
            "skipped": [{"file": f, "reason": r} for f, r in self.skipped],
            "created": self.created,
            "started": self.started,
            "finished": self.finished,
        }


class JobManager:
    """Runs index rebuilds one at a time and remembers the last ``keep`` jobs."""

    def __init__(
        self,
        settings: Settings,
        service: QAService,
        keep: int = 20,
        on_built: Callable[[float], None] | None = None,
    ) -> None:
        """``on_built(seconds)`` is called after each successful build (e.g. for metrics)."""
        if keep < 1:
            raise ValueError(f"keep must be >= 1, got {keep}")
        self.settings = settings
        self.service = service
        self.keep = keep
        self.on_built = on_built
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._lock = threading.Lock()
        self._active: str | None = None
        self._thread: threading.Thread | None = None
        self._closed = False

    def start(self) -> Job:
        """Queue a rebuild and return it; ``JobConflict`` if one is queued or running."""
        with self._lock:
            if self._closed:
                raise IndexNotReady("The server is shutting down; start the rebuild again later.")
            if self._active is not None:
                running = self._jobs[self._active]
                raise JobConflict(
                    f"A rebuild is already {running.state} (job {running.id}); "
                    f"follow it at GET /admin/jobs/{running.id}.",
                    running.id,
                )
            job = Job(uuid.uuid4().hex)
            self._jobs[job.id] = job
            while len(self._jobs) > self.keep:
                self._jobs.popitem(last=False)
            self._active = job.id
            self._thread = threading.Thread(
                target=self._run, args=(job.id,), name=f"mscqa-rebuild-{job.id[:8]}", daemon=True
            )
            self._thread.start()
            return job

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    def list(self) -> list[Job]:
        """Recent jobs, newest first."""
        with self._lock:
            return list(reversed(self._jobs.values()))

    def shutdown(self, timeout: float = 10.0) -> None:
        """Refuse new jobs and wait up to ``timeout`` s for a running one.

        A build cut short at exit leaves no trace: snapshots are published atomically.
        """
        with self._lock:
            self._closed = True
            thread = self._thread
        if thread is not None:
            thread.join(timeout)
            if thread.is_alive():
                log.warning("An index rebuild was still running at shutdown; it was abandoned.")

    # -- the worker ----------------------------------------------------------------------------

    def _update(self, job_id: str, **changes: Any) -> None:
        with self._lock:
            job = self._jobs.get(job_id)
            if job is not None:
                self._jobs[job_id] = dataclasses.replace(job, **changes)
            if changes.get("state") in {"done", "failed"} and self._active == job_id:
                self._active = None

    def _progress(self, job_id: str, stage: str, done: int, total: int) -> None:
        low, high = _STAGES.get(stage, (0.0, 0.99))
        value = low + (high - low) * (done / total if total else 1.0)
        with self._lock:
            job = self._jobs.get(job_id)
            if job is not None:
                self._jobs[job_id] = dataclasses.replace(
                    job, stage=stage, progress=max(job.progress, min(value, 0.99))
                )

    def _run(self, job_id: str) -> None:
        self._update(job_id, state="running", started=time.time())
        try:
            # The default build encoder (OpenVINO, compiled once per process) on
            # MSCQA_SERVER_BUILD_THREADS at lowered priority: questions keep a core meanwhile.
            report = build_index(
                self.settings,
                self.service.embedder if self.service.injected else None,
                lambda stage, done, total: self._progress(job_id, stage, done, total),
                threads=self.settings.server_build_threads,
            )
            self._swap(report.version)
            if self.on_built is not None:
                self.on_built(report.seconds)
        except MscqaError as exc:
            log.warning("Index rebuild %s failed: %s", job_id, exc)
            self._update(job_id, state="failed", error=str(exc), finished=time.time())
        except Exception as exc:  # a job must always end, whatever the build raised
            log.exception("Index rebuild %s failed", job_id)
            error = f"{type(exc).__name__}: {exc}"
            self._update(job_id, state="failed", error=error, finished=time.time())
        else:
            skipped = tuple((s.file, s.reason) for s in report.skipped)
            self._update(
                job_id,
                state="done",
                progress=1.0,
                version=report.version,
                skipped=skipped,
                finished=time.time(),
            )

    def _swap(self, version: str) -> None:
        """Serve ``version`` (or a newer one) before reporting done; the watcher may be
        loading it already, in which case ``refresh`` returns at once and we wait briefly."""
        deadline = time.monotonic() + SWAP_TIMEOUT
        while True:
            self.service.refresh()
            try:
                serving = self.service.serving().version
            except MscqaError:
                serving = None
            if (serving is not None and serving >= version) or time.monotonic() > deadline:
                return
            time.sleep(0.05)
