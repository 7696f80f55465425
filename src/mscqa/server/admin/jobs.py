"""Background index rebuilds for the admin API: one at a time, each in a build worker process.

>>> jobs = JobManager(settings, service)       # doctest: +SKIP
>>> job = jobs.start()  # JobConflict if one is running   # doctest: +SKIP
>>> jobs.get(job.id).state                      # doctest: +SKIP
'running'
>>> jobs.cancel(job.id).state                   # doctest: +SKIP
'cancelled'

The build is ``indexing.build_index`` run by ``builds.BuildWorker`` in a child process, so the
server keeps none of a build's memory; a service with an injected embedder (tests, an embedding
host program) builds in a thread with that embedder instead. The build takes the cross-process
writer lock, so a build started by the CLI makes the job fail with ``BuildInProgress``'s
message. When it succeeds the service swaps to the new snapshot before the job reports
``done``. A cancelled job kills its worker (a thread build stops at its next progress step);
one that had already published reports ``done`` (the cancel came too late). A job's record,
its progress bar and the swap to its snapshot are in ``job.py``.

A corpus file deleted while a build runs may be in that build, and one uploaded after a running
build listed the corpus is not in it (and that curator's ``POST /admin/reindex`` is refused while
it runs), so ``follow_up`` queues one more build that starts when the running one ends (the
delete or upload reply names it).
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from mscqa.config import Settings
from mscqa.errors import IndexNotReady, JobConflict, MscqaError, NotFound
from mscqa.indexing import BuildCache, BuildReport, build_index
from mscqa.server.admin.builds import BuildWorker, WorkerGone
from mscqa.server.admin.job import (
    ENDED,
    BuildCancelled,
    Job,
    conflict,
    forget_ended,
    serve_version,
    stage_progress,
)
from mscqa.service import QAService

log = logging.getLogger(__name__)

CANCEL_WAIT = 10.0


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
        # what one in-process rebuild keeps for the next (unchanged documents' chunks, the
        # build encoder); the worker process keeps its own
        self.build_cache = BuildCache()
        self.keep = keep
        self.on_built = on_built
        # An injected embedder lives in this process only: such a service builds in a thread.
        self.worker = None if service.injected else BuildWorker(settings.build_worker_idle_s)
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._lock = threading.Lock()
        self._active: str | None = None
        self._pending: str | None = None  # a follow-up queued behind the active job
        self._thread: threading.Thread | None = None
        self._closed = False

    def start(self) -> Job:
        """Queue a rebuild and return it; ``JobConflict`` if one is queued or running."""
        with self._lock:
            if self._closed:
                raise IndexNotReady("The server is shutting down; start the rebuild again later.")
            if self._active is not None:
                raise conflict(self._jobs[self._active], self._pending)
            job = Job(uuid.uuid4().hex)
            self._remember(job)
            self._launch(job.id)
            return job

    def follow_up(self, since: float, reason: str, added: float | None = None) -> Job | None:
        """After a corpus change begun at ``since`` (and, for an addition, complete at ``added``;
        ``time.time()``): if a build may not reflect it (``Job.may_lack``), queue one more that
        starts when the running one ends (or now) and return it, or the one already queued;
        ``None`` when no build overlapped."""
        with self._lock:
            if self._closed:
                return None
            if self._pending is not None:
                return self._jobs[self._pending]
            if not any(job.may_lack(since, added) for job in self._jobs.values()):
                return None
            job = Job(uuid.uuid4().hex, follows=self._active, reason=reason)
            self._remember(job)
            if self._active is None:
                self._launch(job.id)
            else:
                self._pending = job.id
            return job

    def cancel(self, job_id: str, wait: float = CANCEL_WAIT) -> Job:
        """Cancel a queued or running rebuild and wait up to ``wait`` s for it to end.

        ``NotFound`` for an unknown job, ``JobConflict`` for one that already ended. The job
        returned is ``cancelled``, or ``done`` when it had already published its snapshot.
        """
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None:
                raise NotFound(f"No rebuild job {job_id}; GET /admin/jobs lists the recent ones.")
            if not job.active:
                raise JobConflict(f"Rebuild job {job_id} already ended ({job.state}).", job_id)
            if job_id == self._pending:  # never started: nothing to stop
                self._pending = None
                self._jobs[job_id] = dataclasses.replace(
                    job, state="cancelled", cancel_requested=True, finished=time.time()
                )
                return self._jobs[job_id]
            self._jobs[job_id] = dataclasses.replace(job, cancel_requested=True)
        log.info("Cancelling index rebuild %s", job_id)
        deadline = time.monotonic() + wait
        while True:
            current = self.get(job_id)
            assert current is not None  # the active job is never forgotten
            if not current.active or time.monotonic() > deadline:
                return current
            if self.worker is not None:
                self.worker.kill(job_id)  # again if the worker was spawned after the last one
            time.sleep(0.02)

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    def list(self) -> list[Job]:
        """Recent jobs, newest first."""
        with self._lock:
            return list(reversed(self._jobs.values()))

    def shutdown(self, timeout: float = 10.0) -> None:
        """Refuse new jobs, drop a queued follow-up, wait up to ``timeout`` s for a running
        build, then cancel it; the build worker exits.

        A build cut short at exit leaves no trace: snapshots are published atomically.
        """
        with self._lock:
            self._closed = True
            if self._pending is not None:
                pending = self._jobs[self._pending]
                self._jobs[pending.id] = dataclasses.replace(
                    pending,
                    state="cancelled",
                    error="The server shut down before this rebuild started.",
                    finished=time.time(),
                )
                self._pending = None
            thread, active = self._thread, self._active
        if thread is not None:
            thread.join(timeout)
            if thread.is_alive() and active is not None:
                log.warning("An index rebuild was still running at shutdown; cancelling it.")
                if self.worker is not None:
                    self.worker.kill(active)
                thread.join(timeout)
        if self.worker is not None:
            self.worker.close()

    # -- the worker ----------------------------------------------------------------------------

    def _remember(self, job: Job) -> None:
        """Add ``job``; forget the oldest ended jobs beyond ``keep`` (call holding the lock)."""
        self._jobs[job.id] = job
        forget_ended(self._jobs, self.keep)

    def _launch(self, job_id: str) -> None:
        """Make ``job_id`` the active job and start its thread (call holding the lock)."""
        self._active = job_id
        self._thread = threading.Thread(
            target=self._run, args=(job_id,), name=f"mscqa-rebuild-{job_id[:8]}", daemon=True
        )
        self._thread.start()

    def _update(self, job_id: str, **changes: Any) -> None:
        with self._lock:
            job = self._jobs.get(job_id)
            if job is not None:
                self._jobs[job_id] = dataclasses.replace(job, **changes)
            if changes.get("state") in ENDED and self._active == job_id:
                self._active = None
                if self._pending is not None and not self._closed:
                    pending, self._pending = self._pending, None
                    self._launch(pending)

    def _progress(self, job_id: str, stage: str, done: int, total: int) -> None:
        value = stage_progress(stage, done, total)
        with self._lock:
            job = self._jobs.get(job_id)
            if job is not None:
                self._jobs[job_id] = dataclasses.replace(
                    job, stage=stage, progress=max(job.progress, min(value, 0.99))
                )

    def _cancelling(self, job_id: str) -> bool:
        job = self.get(job_id)
        return job is not None and job.cancel_requested

    def _build(self, job_id: str) -> BuildReport:
        # The build encoder (OpenVINO by default) on MSCQA_SERVER_BUILD_THREADS at lowered
        # priority: questions keep a core while a rebuild runs.
        threads = self.settings.server_build_threads
        if self.worker is not None:
            return self.worker.build(
                self.settings,
                threads,
                lambda stage, done, total: self._progress(job_id, stage, done, total),
                tag=job_id,
            )

        def progress(stage: str, done: int, total: int) -> None:
            # Up to the start of the write stage nothing is published: stopping is safe.
            if self._cancelling(job_id) and not (stage == "write" and done > 0):
                raise BuildCancelled(f"Rebuild {job_id} was cancelled.")
            self._progress(job_id, stage, done, total)

        return build_index(
            self.settings, self.service.embedder, progress, threads=threads, cache=self.build_cache
        )

    def _run(self, job_id: str) -> None:
        self._update(job_id, state="running", started=time.time())
        try:
            before = self.service.store.current_version()
            if self._cancelling(job_id):
                raise BuildCancelled(f"Rebuild {job_id} was cancelled.")
            report = self._build(job_id)
            self._swap(report.version)
            if self.on_built is not None:
                self.on_built(report.seconds)
        except (BuildCancelled, WorkerGone) as exc:
            if self._cancelling(job_id):
                self._cancelled(job_id, before)
            else:  # the worker died on its own (out of memory, killed by someone else)
                log.warning("Index rebuild %s failed: %s", job_id, exc)
                self._update(job_id, state="failed", error=str(exc), finished=time.time())
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

    def _cancelled(self, job_id: str, before: str | None) -> None:
        """End a cancelled job: ``done`` if its worker was killed after publishing."""
        try:
            now = self.service.store.current_version()
        except MscqaError:
            now = before
        if now is not None and now != before:
            self._swap(now)
            log.info("Index rebuild %s had published %s before it was cancelled", job_id, now)
            self._update(job_id, state="done", progress=1.0, version=now, finished=time.time())
            return
        log.info("Index rebuild %s cancelled; %s keeps serving", job_id, before)
        self._update(job_id, state="cancelled", finished=time.time())

    def _swap(self, version: str) -> None:
        serve_version(self.service, version)
