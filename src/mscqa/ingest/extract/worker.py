"""Child process that parses ONE document and writes the result to stdout as JSON.

Run only by :func:`mscqa.ingest.extract.sandbox.extract`::

    python -m mscqa.ingest.extract.worker PATH MAX_BYTES MEMORY_MB CPU_SECONDS

The parent enforces the wall-clock timeout and kills this process group; this process limits its
own address space (RLIMIT_AS) and CPU time before it imports any parser, so a decompression bomb
or a pathological file fails here with MemoryError or a signal instead of hurting the caller.

Output (one JSON object on stdout, nothing else is ever written there)::

    {"ok": true, "title": str|null, "text": str, "sections": [[h, s, e], ...], "pages": [...]}
    {"ok": false, "reason": "short human-readable reason"}

Only the standard library (and :mod:`mscqa.ingest.extract.text`, which uses nothing else) is
imported at start-up; the parser for the file's format (:mod:`mscqa.ingest.extract.html`,
:mod:`mscqa.ingest.extract.pdf`, :mod:`mscqa.ingest.extract.docx`) and its library are imported
after the limits are set.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mscqa.ingest.extract.text import OutOfMemory, Refused, fmt_size, short_reason

Extractor = Callable[[bytes], dict[str, Any]]


def extractor(suffix: str) -> Extractor | None:
    """The parser for a file suffix (lower case), or None; its module is imported only now."""
    if suffix in (".html", ".htm"):
        from mscqa.ingest.extract.html import extract_html

        return extract_html
    if suffix == ".pdf":
        from mscqa.ingest.extract.pdf import extract_pdf

        return extract_pdf
    if suffix == ".docx":
        from mscqa.ingest.extract.docx import extract_docx

        return extract_docx
    return None


def _limit_resources(memory_mb: int, cpu_s: int) -> None:
    import resource

    def cap(which: int, value: int) -> None:
        _soft, hard = resource.getrlimit(which)
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard)
        resource.setrlimit(which, (value, hard))

    cap(resource.RLIMIT_CORE, 0)
    if cpu_s > 0:
        cap(resource.RLIMIT_CPU, cpu_s)
    if memory_mb > 0:
        cap(resource.RLIMIT_AS, memory_mb * 1024 * 1024)


def run(path: Path, max_bytes: int) -> dict[str, Any]:
    parse = extractor(path.suffix.lower())
    if parse is None:
        raise Refused(f"unsupported file type {path.suffix or '(none)'!r}")
    try:
        with path.open("rb") as fh:
            data = fh.read(max_bytes + 1)
    except OSError as exc:
        raise Refused(f"cannot read file ({exc.strerror or exc})") from None
    if len(data) > max_bytes:
        raise Refused(f"file too large (> {fmt_size(max_bytes)})")
    if not data.strip():
        raise Refused("empty file")
    return parse(data)


def main(argv: list[str]) -> int:
    # Keep the real stdout for the JSON answer only; anything a library prints goes to stderr.
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    if len(argv) != 4:
        out.write(b'{"ok": false, "reason": "bad worker arguments"}')
        return 2
    path, max_bytes, memory_mb, cpu_s = Path(argv[0]), int(argv[1]), int(argv[2]), int(argv[3])
    _limit_resources(memory_mb, cpu_s)
    sys.setrecursionlimit(10_000)

    payload: dict[str, Any] | None = None
    failure = None
    try:
        payload = {"ok": True, **run(path, max_bytes)}
    except OutOfMemory as exc:
        failure = f"memory limit exceeded ({memory_mb} MB) while {exc.doing}"
    except Refused as exc:
        failure = exc.reason
    except MemoryError:
        failure = f"memory limit exceeded ({memory_mb} MB)"
    except RecursionError:
        failure = "document structure too deeply nested"
    except Exception as exc:
        failure = f"extraction failed ({type(exc).__name__}: {short_reason(exc)})"
    if payload is None:
        payload = {"ok": False, "reason": failure}
    out.write(json.dumps(payload, ensure_ascii=True).encode("ascii"))
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
