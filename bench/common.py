"""Helpers shared by the PubMedQA benchmarks: the data, the corpus folder, the machine, tables."""

from __future__ import annotations

import json
import os
import platform
import statistics
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "bench" / "pubmedqa" / "ori_pqal.json"


def load_pubmedqa(path: Path, limit: int | None = None) -> dict[str, dict[str, Any]]:
    """PubMedQA entries keyed by PubMed id, in file order; the first ``limit`` if given."""
    if not path.is_file():
        raise SystemExit(f"PubMedQA data not found at {path}; pass --data PATH/ori_pqal.json")
    data: dict[str, dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))
    items = list(data.items())
    return dict(items[:limit] if limit else items)


def abstract_markdown(pmid: str, entry: dict[str, Any]) -> str:
    """One abstract as Markdown: a neutral title, then each paragraph under its section label.

    The title is not the question (that would leak it into the document) and ``LONG_ANSWER``
    (the abstract's conclusion, i.e. the answer) is left out.
    """
    parts = ["---", f'title: "PubMed {pmid}"', "---", ""]
    for label, text in zip(entry["LABELS"], entry["CONTEXTS"], strict=True):
        heading = " ".join(label.split()) or "ABSTRACT"
        parts += [f"## {heading}", "", " ".join(text.split()), ""]
    return "\n".join(parts)


def write_corpus(entries: dict[str, dict[str, Any]], folder: Path) -> int:
    """Write ``<pmid>.md`` for every entry into ``folder``; returns the number of paragraphs."""
    folder.mkdir(parents=True, exist_ok=True)
    paragraphs = 0
    for pmid, entry in entries.items():
        (folder / f"{pmid}.md").write_text(abstract_markdown(pmid, entry), encoding="utf-8")
        paragraphs += len(entry["CONTEXTS"])
    return paragraphs


def machine() -> dict[str, Any]:
    """What the figures were measured on, including the load at the time."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "loadavg": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
    }


def save(name: str, results: dict[str, Any]) -> Path:
    """Write ``bench/out/<name>.json`` (git-ignored) so a run can be compared with the next."""
    out = REPO / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.json"
    path.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return path


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (the same definition as ``mscqa.evaluation``)."""
    ordered = sorted(values)
    idx = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[idx]


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain Markdown table (floats with 3 decimals), easy to paste into the README."""

    def cell(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:.3f}"
        return "" if v is None else str(v)

    body = [[cell(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in body)) for i, h in enumerate(headers)]
    lines = [
        "| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |",
        "|" + "|".join("-" * (w + 2) for w in widths) + "|",
    ]
    lines += [
        "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in body
    ]
    return "\n".join(lines)


def copy_to_database(index_dir: Path, url: str) -> str:
    """Write the folder index's served snapshot, unchanged, into the database at ``url`` and
    publish it there: both backends then hold the same vectors and records. Returns its
    version."""
    from mscqa.index.pgstore import PgStore
    from mscqa.index.snapshot import load_current

    snap = load_current(index_dir)
    manifest = {
        k: v for k, v in snap.manifest.items() if k not in {"files", "counts", "format_version"}
    }
    store = PgStore(url, index_dir / "models")
    try:
        with store.writer() as writer:
            writer.write(
                snap.version,
                manifest,
                list(snap.documents.values()),
                snap.chunks,
                snap.dense.reconstruct_n(0, len(snap.chunks)),
                snap.sentences.vectors,
                snap.sentences.owner,
            )
            writer.publish(snap.version, keep=3)
    finally:
        store.close()
    return snap.version
