"""Index the 1000 PubMedQA abstracts through the admin API of a running `mscqa serve`.

    .venv/bin/python -m bench.perf.api_scale [--limit N] [--data PATH]

Starts a server on the client's article with an admin token, uploads every abstract with
POST /admin/documents, rebuilds with POST /admin/reindex (cold: a new index folder, so every
passage and sentence is embedded by the server's own build), then uploads one more document and
rebuilds again (incremental). Reports upload time, both rebuild times (job start to "done" and
serving), the server's peak RSS (VmHWM) and the index size. The baseline each rebuild is
compared with is the previous step of the same run (cold vs incremental). While the build runs,
/ask is sampled to show that the server keeps answering.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench.common import (
    ARTICLE,
    DEFAULT_DATA,
    abstract_markdown,
    du,
    load_pubmedqa,
    machine,
    save,
    server,
)

TOKEN = "bench-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def du_mb(path: Path) -> float:
    return du(path, apparent=True) / 1e6


def vm_hwm_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def reindex(client: httpx.Client, url: str, probe: str) -> dict[str, Any]:
    started = time.perf_counter()
    r = client.post(f"{url}/admin/reindex", headers=AUTH)
    r.raise_for_status()
    job_id = r.json()["job_id"]
    asks: list[float] = []
    statuses: set[int] = set()
    while True:
        job = client.get(f"{url}/admin/jobs/{job_id}", headers=AUTH).json()
        if job["state"] in ("done", "failed"):
            break
        t = time.perf_counter()
        statuses.add(
            client.post(f"{url}/ask", json={"question": f"{probe} {len(asks)}"}).status_code
        )
        asks.append((time.perf_counter() - t) * 1000)
        time.sleep(0.1)
    if job["state"] != "done":
        raise SystemExit(f"reindex failed: {job['error']}")
    return {
        # wall time as the curator sees it (request to a status poll that says done) and the
        # job's own run time from its timestamps
        "seconds": round(time.perf_counter() - started, 2),
        "job_seconds": round(job["finished"] - job["started"], 2),
        "version": job["version"],
        "ask_during_build_ms_median": round(statistics.median(asks), 1) if asks else None,
        "ask_statuses": sorted(statuses),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--limit", type=int, default=None)
    args = parser.parse_args()
    entries = load_pubmedqa(args.data, args.limit)
    root = Path(tempfile.mkdtemp(prefix="mscqa-api-scale-"))
    corpus, index = root / "corpus", root / "index"
    corpus.mkdir()
    shutil.copy(ARTICLE, corpus / ARTICLE.name)
    result: dict[str, Any] = {"machine": machine(), "documents": len(entries)}
    env = {"MSCQA_CORPUS_DIR": str(corpus), "MSCQA_ADMIN_TOKEN": TOKEN}
    try:
        with server(index, timeout=600, **env) as (url, proc, _), httpx.Client(timeout=60) as c:
            items = list(entries.items())
            started = time.perf_counter()
            for pmid, entry in items[:-1]:
                files = {"file": (f"{pmid}.md", abstract_markdown(pmid, entry).encode())}
                c.post(f"{url}/admin/documents", files=files, headers=AUTH).raise_for_status()
            result["upload_s"] = round(time.perf_counter() - started, 2)
            result["cold"] = reindex(c, url, "What do mesenchymal stem cells treat?")
            result["cold"]["index_mb"] = round(du_mb(index), 1)
            pmid, entry = items[-1]
            files = {"file": (f"{pmid}.md", abstract_markdown(pmid, entry).encode())}
            c.post(f"{url}/admin/documents", files=files, headers=AUTH).raise_for_status()
            result["incremental"] = reindex(c, url, "How are adipose stem cells collected?")
            result["documents_served"] = c.get(f"{url}/health").json()["index"]["documents"]
            result["peak_rss_mb"] = round(vm_hwm_mb(proc.pid), 1)
            result["snapshot_mb"] = round(
                du_mb(index / "snapshots" / (index / "CURRENT").read_text().strip()), 1
            )
    finally:
        shutil.rmtree(root, ignore_errors=True)
    cold, inc = result["cold"], result["incremental"]
    print(f"\nPubMedQA through the admin API: {len(entries)} abstracts + the article")
    print(f"  upload {len(entries) - 1} documents: {result['upload_s']} s")
    print(
        f"  reindex, cold:         {cold['seconds']} s  (/ask during it: median "
        f"{cold['ask_during_build_ms_median']} ms, statuses {cold['ask_statuses']})"
    )
    print(
        f"  + one document, reindex: {inc['seconds']} s (the job itself {inc['job_seconds']} s) "
        f"({inc['seconds'] / cold['seconds']:.2f}x the cold rebuild)"
    )
    print(
        f"  documents served: {result['documents_served']}; server peak RSS "
        f"{result['peak_rss_mb']} MB; snapshot {result['snapshot_mb']} MB, index folder "
        f"{cold['index_mb']} MB"
    )
    print(f"\nwrote {save('api_scale', result)}")


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    main()
