"""Text extraction from PDF, HTML and DOCX files, isolated in a subprocess.

Every file is parsed by ``python -m mscqa.ingest.extract.worker`` in its own process group, with a
wall-clock timeout enforced here and an address-space limit (RLIMIT_AS) and a CPU-time limit set
by the child on itself before it imports a parser. A hostile or broken file (PDF/zip/HTML bomb,
absurd nesting, truncated or encrypted document) therefore costs at most ``timeout_s`` and
``memory_mb`` and ends as an :class:`ExtractionError` whose ``reason`` names the problem; it can
never hang or exhaust the caller.

Markdown and plain text are not handled here.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mscqa.errors import MscqaError
from mscqa.ingest.extract.text import fmt_size

SUPPORTED_SUFFIXES: frozenset[str] = frozenset({".html", ".htm", ".pdf", ".docx"})

_PACKAGE_PARENT = str(Path(__file__).resolve().parents[3])
_STDERR_TAIL = 4096


@dataclass(frozen=True)
class Extracted:
    """Clean text of one document plus character offsets of its sections and pages.

    ``text`` separates paragraphs with a blank line (``"\\n\\n"``); headings are paragraphs of
    their own. ``sections`` holds ``(heading, start, end)`` where ``text[start:end]`` is the body
    under the heading (up to the next heading of the same or a higher level, so sections nest).
    ``pages`` (PDF only) holds ``(page_number, start, end)``, page numbers starting at 1; pages
    without text are left out.
    """

    title: str | None
    text: str
    sections: tuple[tuple[str, int, int], ...]
    pages: tuple[tuple[int, int, int], ...]
    # HTML only: ``(start, end)`` of blocks the markup marks as site chrome (kept in ``text``)
    chrome: tuple[tuple[int, int], ...] = ()


class ExtractionError(MscqaError):
    """A file could not be extracted. ``reason`` is short and human-readable."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _tail(fh: Any) -> str:
    fh.seek(0, os.SEEK_END)
    size = fh.tell()
    fh.seek(max(0, size - _STDERR_TAIL))
    return fh.read().decode("utf-8", errors="replace")


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        proc.kill()


def extract(
    path: Path,
    *,
    timeout_s: float = 20.0,
    max_bytes: int = 50 * 1024 * 1024,
    memory_mb: int = 1024,
) -> Extracted:
    """Extract text and structure from one HTML, PDF or DOCX file in a sandboxed subprocess.

    Raises :class:`ExtractionError` with a clear ``reason`` for an unsupported suffix, a file
    over ``max_bytes`` (checked before anything is parsed), a parse running past ``timeout_s``
    seconds of wall-clock time, one needing more than ``memory_mb`` of address space, and for
    corrupt, encrypted or text-less (image-only) documents.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise ExtractionError(f"unsupported file type {path.suffix or '(none)'!r}")
    try:
        st = path.stat()
    except OSError as exc:
        raise ExtractionError(f"cannot read file ({exc.strerror or exc})") from None
    if not path.is_file():
        raise ExtractionError("not a regular file")
    if st.st_size > max_bytes:
        raise ExtractionError(f"file too large ({fmt_size(st.st_size)} > {fmt_size(max_bytes)})")
    if st.st_size == 0:
        raise ExtractionError("empty file")

    cpu_s = max(1, math.ceil(timeout_s) + 5)  # backstop should this process die first
    cmd = [
        sys.executable,
        "-m",
        "mscqa.ingest.extract.worker",
        str(path.resolve()),
        str(max_bytes),
        str(memory_mb),
        str(cpu_s),
    ]
    with tempfile.TemporaryFile() as err:
        try:
            proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=err,
                cwd=_PACKAGE_PARENT,  # -m puts the cwd first on sys.path: finds this mscqa
                start_new_session=True,  # own process group, killed as a whole on timeout
                close_fds=True,
            )
        except OSError as exc:
            raise ExtractionError(f"cannot start the extraction worker ({exc})") from None
        try:
            out, _ = proc.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            proc.communicate()
            raise ExtractionError(f"timed out after {timeout_s:g}s") from None
        except BaseException:
            _kill_group(proc)
            proc.communicate()
            raise
        finally:
            # The worker is the group leader; make sure nothing it spawned outlives it.
            if proc.returncode is not None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGKILL)
        stderr = _tail(err) if proc.returncode != 0 or not out else ""

    payload: dict[str, Any] | None = None
    if out:
        try:
            payload = json.loads(out)
        except ValueError:
            payload = None
    if not isinstance(payload, dict):
        raise ExtractionError(_crash_reason(proc.returncode, stderr, memory_mb))
    if not payload.get("ok"):
        raise ExtractionError(str(payload.get("reason") or "extraction failed"))
    try:
        return Extracted(
            title=payload.get("title"),
            text=payload["text"],
            sections=tuple((str(h), int(s), int(e)) for h, s, e in payload["sections"]),
            pages=tuple((int(p), int(s), int(e)) for p, s, e in payload["pages"]),
            chrome=tuple((int(s), int(e)) for s, e in payload.get("chrome", ())),
        )
    except (KeyError, TypeError, ValueError):
        raise ExtractionError("extraction worker returned a malformed answer") from None


def _crash_reason(returncode: int | None, stderr: str, memory_mb: int) -> str:
    if "MemoryError" in stderr or "Cannot allocate memory" in stderr or "bad_alloc" in stderr:
        return f"memory limit exceeded ({memory_mb} MB)"
    if returncode is not None and returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        if name == "SIGXCPU":
            return "CPU time limit exceeded"
        return f"extraction worker crashed ({name}; memory limit {memory_mb} MB?)"
    last = next((ln.strip() for ln in reversed(stderr.splitlines()) if ln.strip()), "")
    detail = f": {last[:200]}" if last else ""
    return f"extraction worker failed (exit code {returncode}){detail}"
