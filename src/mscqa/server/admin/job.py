"""One rebuild job's record, its progress bar and the swap to what it built (for ``jobs``).

>>> job = Job("abc")
>>> (job.state, job.active)
('queued', True)
>>> stage_progress("embed", 1, 2)
0.5

``JobManager`` (``jobs.py``) keeps these records and replaces one on every change: a ``Job`` is
frozen, so a reader (``GET /admin/jobs``) never sees one half updated.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Literal

from mscqa.errors import JobConflict, MscqaError
from mscqa.service import QAService

State = Literal["queued", "running", "done", "failed", "cancelled"]
ENDED = {"done", "failed", "cancelled"}
# Share of the progress bar each build stage ends at (see indexing.Progress).
_STAGES = {"load": (0.0, 0.1), "embed": (0.1, 0.9), "write": (0.9, 0.99)}
SWAP_TIMEOUT = 10.0


class BuildCancelled(MscqaError):
    """A thread build stopped at a progress step because its job was cancelled."""


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
    cancel_requested: bool = False
    follows: str | None = None  # a follow-up: the job it waits for
    reason: str | None = None

    @property
    def active(self) -> bool:
        return self.state in {"queued", "running"}

    def may_lack(self, since: float, added: float | None = None) -> bool:
        """Whether this build may not reflect a corpus change begun at ``since``. A removal
        (``added`` None): it is active or ended since then, so it may still include the file.
        An addition complete at ``added``: it is running and started before then, so it may
        have listed the corpus without the file (one that ended needs nothing: the curator's
        ``POST /admin/reindex`` is not refused then; a queued one lists the corpus later)."""
        if added is None:
            return self.active or (self.finished is not None and self.finished >= since)
        return self.active and self.started is not None and self.started < added

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
            "cancel_requested": self.cancel_requested,
            "follows": self.follows,
            "reason": self.reason,
        }


def conflict(running: Job, pending: str | None) -> JobConflict:
    """Why a rebuild cannot start while ``running`` (and a follow-up ``pending``) is queued."""
    if pending is not None:
        return JobConflict(
            f"A rebuild is {running.state} (job {running.id}) and another is queued "
            f"after it (job {pending}), which will see the corpus as it is "
            f"then; follow it at GET /admin/jobs/{pending}.",
            pending,
        )
    return JobConflict(
        f"A rebuild is already {running.state} (job {running.id}); "
        f"follow it at GET /admin/jobs/{running.id}.",
        running.id,
    )


def forget_ended(jobs: OrderedDict[str, Job], keep: int) -> None:
    """Drop the oldest ended jobs until at most ``keep`` remain (active ones always stay)."""
    for old in list(jobs.values()):
        if len(jobs) <= keep:
            break
        if not old.active:
            del jobs[old.id]


def stage_progress(stage: str, done: int, total: int) -> float:
    """The progress bar's value after ``done`` of ``total`` steps of build ``stage``."""
    low, high = _STAGES.get(stage, (0.0, 0.99))
    return low + (high - low) * (done / total if total else 1.0)


def serve_version(service: QAService, version: str, timeout: float = SWAP_TIMEOUT) -> None:
    """Make ``service`` serve ``version`` (or a newer one) before a job reports done; the
    watcher may be loading it already, in which case ``refresh`` returns at once and we wait
    briefly (at most ``timeout`` s)."""
    deadline = time.monotonic() + timeout
    while True:
        service.refresh()
        try:
            serving = service.serving().version
        except MscqaError:
            serving = None
        if (serving is not None and serving >= version) or time.monotonic() > deadline:
            return
        time.sleep(0.05)
