"""Waiting for a condition in a test that talks to a real server or browser.

A test that sleeps a fixed time and then looks is a race on a slower machine: the write it
waits for lands later (the question log's writer thread, an index swap, a second /feedback
write). ``wait_until`` looks again until the exact condition holds, and when a generous
deadline passes it fails with what it saw last, so a red run says what was missing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

import httpx
import pytest

T = TypeVar("T")

# Long enough for a 2-core CI machine beside a benchmark; it only ever runs out on a failure.
DEADLINE_S = 60.0


def wait_until(
    what: str,
    probe: Callable[[], T],
    done: Callable[[T], bool],
    timeout: float = DEADLINE_S,
    every: float = 0.1,
) -> T:
    """Call ``probe`` until ``done`` holds for what it returned, and return that. Past
    ``timeout`` seconds fail, naming ``what`` was awaited and showing the last value seen,
    e.g. ``wait_until("the rebuild", lambda: job(url, id), lambda j: j["state"] == "done")``.
    """
    deadline = time.monotonic() + timeout
    while True:
        seen = probe()
        if done(seen):
            return seen
        if time.monotonic() > deadline:
            pytest.fail(f"waited {timeout:g} s for {what}; last seen: {seen!r}"[:4000])
        time.sleep(every)


def finished_job(
    url: str, job_id: str, headers: dict[str, str], timeout: float = 300.0
) -> dict[str, Any]:
    """The rebuild job ``job_id`` of the server at ``url`` once it has ended (done, failed or
    cancelled): ``GET /admin/jobs/{job_id}`` with the admin ``headers``."""

    def job() -> dict[str, Any]:
        found: dict[str, Any] = httpx.get(
            f"{url}/admin/jobs/{job_id}", headers=headers, timeout=30
        ).json()
        return found

    return wait_until(
        f"rebuild {job_id} to end",
        job,
        lambda j: j["state"] in {"done", "failed", "cancelled"},
        timeout=timeout,
    )
