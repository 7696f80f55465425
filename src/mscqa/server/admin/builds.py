"""Index builds for the admin API in a child process, so the server never keeps a build's memory.

>>> worker = BuildWorker(idle_s=60)                       # doctest: +SKIP
>>> report = worker.build(settings, 1, print, tag="job-1")   # doctest: +SKIP
>>> worker.kill("job-1")  # from another thread: that build dies unpublished   # doctest: +SKIP

A build loads its own passage encoder (OpenVINO, compiled) and allocates its working arrays.
Run in the server, that memory stayed after the first rebuild: the encoder is cached for the
next build and freed arenas are not returned (RSS 330 -> 784 MB in issue #16). ``BuildWorker``
runs ``indexing.build_index`` in ``python -m mscqa.server.admin.builds`` instead: a new
interpreter (``subprocess``, which execs; never a ``fork`` of a process running torch and
OpenVINO threads) that reads one JSON request per build on stdin and writes progress and the
result as JSON lines. It stays ``MSCQA_BUILD_WORKER_IDLE_S`` seconds after a build for the next
one (a curator adding files one at a time gets the warm encoder and the chunk reuse), then its
stdin is closed, it exits and its memory goes back to the system. The server only loads the
snapshot the worker published, through the store (folder or PostgreSQL), as any replica does.

Cancelling kills the worker (SIGKILL): a snapshot is published atomically and the writer lock
dies with its holder (a file lock; a PostgreSQL session lock), so the old snapshot keeps
serving and the next build needs no cleanup (the kill -9 cases of tests/test_faults.py).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO, Any

from pydantic import SecretStr

from mscqa.config import Settings
from mscqa.errors import MscqaError
from mscqa.indexing import BuildCache, BuildReport, Progress, build_index
from mscqa.ingest.loaders import Skipped

log = logging.getLogger(__name__)


class BuildFailed(MscqaError):
    """The build in the worker process raised; the message is the one the job shows."""


class WorkerGone(MscqaError):
    """The worker process ended before it reported (killed by a cancel, or crashed)."""


def encode_settings(settings: Settings) -> dict[str, Any]:
    """Every setting as plain JSON values (secrets included: the pipe is private)."""

    def plain(value: Any) -> Any:
        if isinstance(value, SecretStr):
            return value.get_secret_value()
        if isinstance(value, Path):
            return str(value)
        if isinstance(value, (list, tuple)):
            return [plain(v) for v in value]
        return value

    return {name: plain(value) for name, value in settings.model_dump().items()}


def decode_settings(data: dict[str, Any]) -> Settings:
    return Settings(**data, _env_file=None)


def encode_report(report: BuildReport) -> dict[str, Any]:
    return dataclasses.asdict(report)


def decode_report(data: dict[str, Any]) -> BuildReport:
    skipped = [Skipped(**s) for s in data.pop("skipped")]
    return BuildReport(**data, skipped=skipped)


class BuildWorker:
    """One build process at a time, started on demand and kept ``idle_s`` seconds after a build.

    ``build`` blocks its caller (a job thread) until the worker reports; ``kill`` from another
    thread makes it raise ``WorkerGone``.
    """

    def __init__(self, idle_s: float) -> None:
        self.idle_s = idle_s
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()
        self._idle: threading.Timer | None = None
        self._tag: str | None = None  # the job whose build the worker is running

    @property
    def pid(self) -> int | None:
        with self._lock:
            proc = self._proc
        return proc.pid if proc is not None and proc.poll() is None else None

    def build(
        self, settings: Settings, threads: int, progress: Progress, tag: str = ""
    ) -> BuildReport:
        """Run one build in the worker; ``tag`` names it for ``kill``."""
        proc = self._acquire(tag)
        assert proc.stdin is not None and proc.stdout is not None
        request = {"settings": encode_settings(settings), "threads": threads}
        try:
            proc.stdin.write(json.dumps(request).encode() + b"\n")
            proc.stdin.flush()
        except OSError:
            pass  # it died (killed): reading its output below says so
        try:
            return self._follow(proc, proc.stdout, progress)
        except WorkerGone:
            self._discard(proc)
            raise
        finally:
            self._release(proc)

    def _follow(self, proc: subprocess.Popen[bytes], out: IO[bytes], progress: Progress) -> Any:
        for line in out:
            message = json.loads(line)
            event = message["event"]
            if event == "progress":
                progress(message["stage"], message["done"], message["total"])
            elif event == "done":
                return decode_report(message["report"])
            elif event == "error":
                raise BuildFailed(message["error"])
        code = proc.wait()
        raise WorkerGone(f"The build process ended (exit status {code}) before it finished.")

    def kill(self, tag: str) -> bool:
        """End the worker if it is running build ``tag`` (abandoned, nothing is published)."""
        with self._lock:
            if self._tag != tag or self._proc is None:
                return False
            proc, self._proc = self._proc, None
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        return True

    def close(self) -> None:
        """Let an idle worker exit (stdin closed); kill one that does not within 5 s."""
        with self._lock:
            proc, self._proc = self._proc, None
            self._cancel_idle()
        if proc is not None:
            _retire(proc)

    # -- the process -------------------------------------------------------------------------

    def _acquire(self, tag: str) -> subprocess.Popen[bytes]:
        with self._lock:
            self._cancel_idle()
            self._tag = tag
            if self._proc is None or self._proc.poll() is not None:
                self._proc = _spawn()
            return self._proc

    def _release(self, proc: subprocess.Popen[bytes]) -> None:
        with self._lock:
            self._tag = None
            if self._proc is not proc:
                return
            if self.idle_s <= 0:
                self._proc = None
                threading.Thread(target=_retire, args=(proc,), daemon=True).start()
                return
            self._idle = threading.Timer(self.idle_s, self._expire, args=(proc,))
            self._idle.daemon = True
            self._idle.start()

    def _expire(self, proc: subprocess.Popen[bytes]) -> None:
        with self._lock:
            if self._proc is not proc:
                return
            self._proc = None
            self._idle = None
        log.info("Build worker %d idle for %.0f s: letting it exit", proc.pid, self.idle_s)
        _retire(proc)

    def _discard(self, proc: subprocess.Popen[bytes]) -> None:
        with self._lock:
            if self._proc is proc:
                self._proc = None
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        _close_pipes(proc)

    def _cancel_idle(self) -> None:
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None


def _spawn() -> subprocess.Popen[bytes]:
    # The environment is inherited; the settings come on stdin (the embedder sets the Hugging
    # Face offline variables itself).
    proc = subprocess.Popen(
        [sys.executable, "-m", "mscqa.server.admin.builds"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        close_fds=True,
    )
    log.info("Started build worker %d", proc.pid)
    return proc


def _retire(proc: subprocess.Popen[bytes]) -> None:
    """Close the worker's stdin (it exits after its build); kill it if it is not gone in 5 s."""
    if proc.stdin is not None:
        with contextlib.suppress(OSError):
            proc.stdin.close()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    _close_pipes(proc)


def _close_pipes(proc: subprocess.Popen[bytes]) -> None:
    for pipe in (proc.stdin, proc.stdout):
        if pipe is not None:
            with contextlib.suppress(OSError):
                pipe.close()


# -- the child ---------------------------------------------------------------------------------


def main() -> None:
    """The worker: one JSON build request per stdin line until stdin closes."""
    # The protocol gets the original stdout; anything a library prints goes to stderr (the
    # server's log) instead of corrupting it.
    channel = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
    os.dup2(2, 1)

    def send(message: dict[str, Any]) -> None:
        channel.write(json.dumps(message) + "\n")

    def progress(stage: str, done: int, total: int) -> None:
        send({"event": "progress", "stage": stage, "done": done, "total": total})

    # what one build keeps for the next in this worker: unchanged documents' chunks and mined
    # abbreviations, the compiled build encoder
    cache = BuildCache()
    for line in sys.stdin.buffer:
        request = json.loads(line)
        settings = decode_settings(request["settings"])
        logging.basicConfig(  # once: the server's level, lines marked as the worker's
            level=settings.log_level.upper(),
            format="%(asctime)s %(levelname)s [build worker] %(name)s: %(message)s",
        )
        try:
            report = build_index(settings, None, progress, threads=request["threads"], cache=cache)
        except MscqaError as exc:
            send({"event": "error", "error": str(exc)})
        except Exception as exc:  # reported to the job, which must always end
            logging.getLogger(__name__).exception("Index build failed")
            send({"event": "error", "error": f"{type(exc).__name__}: {exc}"})
        else:
            send({"event": "done", "report": encode_report(report)})


if __name__ == "__main__":
    main()
