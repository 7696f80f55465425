"""Memory of ``mscqa serve`` across rebuilds through the admin API, and what one costs.

    .venv/bin/python -m bench.perf.rebuild_memory [--rebuilds 20] [--compare d2b79ad]

Starts a server on a copy of the article corpus with an admin token, answers 100 questions
(the README's RSS figure is taken then: the baseline of the same run), then ``--rebuilds``
times uploads one more small document and rebuilds (``POST /admin/reindex``, polled until
done). Reports the server's VmRSS after the first and the last rebuild and once the build
worker's idle time (``MSCQA_BUILD_WORKER_IDLE_S``, 5 s here) has passed, the RSS of its child
processes (the build worker, a document extractor) and their peaks, and the time of a
one-document rebuild as the curator sees it (reindex to "done", which includes the swap): the
first (a worker starting: interpreter, model) and the median of the later (warm) ones.
``--compare REF`` first runs the same on the server of git REF (its ``src/`` via PYTHONPATH):
``d2b79ad`` is the last commit that built inside the server process. With ``--pubmedqa N`` the
corpus is N PubMedQA abstracts instead.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from bench.common import (
    ARTICLE,
    DEFAULT_DATA,
    REPO,
    abstract_markdown,
    build,
    load_pubmedqa,
    machine,
    save,
    server,
    varied_questions,
)

TOKEN = "bench-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def status_mb(pid: int, key: str = "VmRSS") -> float:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    if key + ":" not in text:  # a process exiting (a zombie) has no memory lines
        return 0.0
    return int(text.split(key + ":")[1].split()[0]) / 1024


def children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def command(pid: int) -> str:
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return "?"
    return " ".join(a.decode(errors="replace") for a in argv[:4])[:80]


class WorkerPeak:
    """Samples the server's child processes every 50 ms; keeps the largest RSS seen, by
    command line."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peaks: dict[str, float] = {}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stop.wait(0.05):
            for child in children(self.pid):
                cmd, mb = command(child), status_mb(child)
                if cmd and mb:  # not a process that is exiting
                    self.peaks[cmd] = max(self.peaks.get(cmd, 0.0), mb)

    def close(self) -> dict[str, float]:
        self.stop.set()
        self.thread.join()
        return self.peaks


def rebuild(client: httpx.Client, url: str) -> float:
    started = time.perf_counter()
    r = client.post(f"{url}/admin/reindex", headers=AUTH)
    r.raise_for_status()
    job_id = r.json()["job_id"]
    while True:
        job = client.get(f"{url}/admin/jobs/{job_id}", headers=AUTH).json()
        if job["state"] != "queued" and job["state"] != "running":
            break
        time.sleep(0.02)
    if job["state"] != "done":
        raise RuntimeError(f"rebuild {job_id} ended {job['state']}: {job.get('error')}")
    return time.perf_counter() - started


IDLE_S = 5.0  # MSCQA_BUILD_WORKER_IDLE_S here: the bench waits it out at the end


def measure(work: Path, questions: int, rebuilds: int, src: Path | None = None) -> dict[str, Any]:
    """One server over ``work``/corpus and ``work``/index (``src``: another source tree, run
    with PYTHONPATH=src/src, for the comparison); its memory and rebuild times."""
    env = {
        "MSCQA_CORPUS_DIR": str(work / "corpus"),
        "MSCQA_ADMIN_TOKEN": TOKEN,
        "MSCQA_LOG_LEVEL": "WARNING",
        "MSCQA_BUILD_WORKER_IDLE_S": str(IDLE_S),
    }
    if src is not None:
        env["PYTHONPATH"] = str(src / "src")
    with server(work / "index", **env) as (url, proc, _), httpx.Client(timeout=300) as client:
        for q in varied_questions(questions):
            client.post(f"{url}/ask", json={"question": q}).raise_for_status()
        rss_questions = status_mb(proc.pid)
        peak = WorkerPeak(proc.pid)
        times, rss = [], []
        for i in range(rebuilds):
            note = f"# Note {i}\n\nAdipose note number {i} about liposuction and marrow.\n"
            files = {"file": (f"note-{i}.md", note.encode())}
            client.post(f"{url}/admin/documents", files=files, headers=AUTH).raise_for_status()
            times.append(rebuild(client, url))
            rss.append(status_mb(proc.pid))
        children_at_end = sum(status_mb(c) for c in children(proc.pid))
        ended = time.perf_counter()
        while children(proc.pid) and time.perf_counter() - ended < IDLE_S + 30:
            time.sleep(0.1)
        left = children(proc.pid)
        gone_after = time.perf_counter() - ended
        for q in varied_questions(questions):  # still answering after all that
            client.post(f"{url}/ask", json={"question": q}).raise_for_status()
        return {
            "server_rss_after_questions_mb": round(rss_questions, 1),
            "server_rss_after_first_rebuild_mb": round(rss[0], 1),
            "server_rss_after_last_rebuild_mb": round(rss[-1], 1),
            "server_rss_after_idle_mb": round(status_mb(proc.pid), 1),
            "server_peak_rss_mb": round(status_mb(proc.pid, "VmHWM"), 1),
            "children_rss_after_last_rebuild_mb": round(children_at_end, 1),
            "children_left_after_idle": len(left),
            "children_gone_after_s": None if left else round(gone_after, 1),
            "child_peak_rss_mb": {k: round(v, 1) for k, v in peak.close().items()},
            "first_rebuild_s": round(times[0], 3),
            "later_rebuilds_median_s": round(statistics.median(times[1:]), 3)
            if len(times) > 1
            else None,
            "rss_series_mb": [round(x, 1) for x in rss],
            "rebuild_series_s": [round(x, 3) for x in times],
        }


def export_ref(ref: str, into: Path) -> Path:
    """``src/`` and ``web/`` of git ``ref`` in ``into`` (the server runs it via PYTHONPATH)."""
    into.mkdir()
    archive = subprocess.run(
        ["git", "archive", ref, "src", "web"], check=True, capture_output=True, cwd=REPO
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def report(label: str, questions: int, r: dict[str, Any]) -> None:
    print(f"  {label}")
    print(
        f"    server RSS after {questions} questions (baseline): "
        f"{r['server_rss_after_questions_mb']} MB"
    )
    print(
        f"    after the first rebuild: {r['server_rss_after_first_rebuild_mb']} MB; "
        f"after the last: {r['server_rss_after_last_rebuild_mb']} MB; "
        f"once the worker left: {r['server_rss_after_idle_mb']} MB "
        f"(peak {r['server_peak_rss_mb']} MB)"
    )
    print(
        f"    child processes: {r['children_rss_after_last_rebuild_mb']} MB after the last "
        f"rebuild; all gone {r['children_gone_after_s']} s after it (idle time {IDLE_S:.0f} s)"
    )
    for cmd, mb in r["child_peak_rss_mb"].items():
        print(f"    child peak RSS: {mb} MB  {cmd}")
    print(
        f"    one-document rebuild as the curator sees it: first {r['first_rebuild_s']} s, "
        f"later ones median {r['later_rebuilds_median_s']} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rebuilds", type=int, default=20)
    parser.add_argument("--questions", type=int, default=100)
    parser.add_argument("--pubmedqa", type=int, default=0, help="corpus of N abstracts")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument(
        "--compare",
        metavar="REF",
        help="also run the server of git REF (e.g. d2b79ad: builds inside the server) on a copy",
    )
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="mscqa-rebuild-memory-"))
    corpus = work / "here" / "corpus"
    corpus.mkdir(parents=True)
    if args.pubmedqa:
        for pmid, entry in load_pubmedqa(args.data, args.pubmedqa).items():
            (corpus / f"{pmid}.md").write_text(abstract_markdown(pmid, entry), encoding="utf-8")
    else:
        shutil.copy(ARTICLE, corpus / ARTICLE.name)
    build(work / "here" / "index", corpus)
    result: dict[str, Any] = {"machine": machine(), "rebuilds": args.rebuilds}
    try:
        if args.compare:
            # The same corpus, indexed by the ref's own code (its snapshot format may differ).
            shutil.copytree(work / "here" / "corpus", work / "ref" / "corpus")
            src = export_ref(args.compare, work / "src")
            build(work / "ref" / "index", work / "ref" / "corpus", PYTHONPATH=str(src / "src"))
            result["compare"] = {"ref": args.compare} | measure(
                work / "ref", args.questions, args.rebuilds, src
            )
        result |= measure(work / "here", args.questions, args.rebuilds)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    corpus_name = f"{args.pubmedqa} PubMedQA abstracts" if args.pubmedqa else "the article"
    print(f"\nmscqa serve on {corpus_name}, {args.rebuilds} admin rebuilds of one more document")
    report("this tree (builds in a worker process)", args.questions, result)
    if args.compare:
        report(f"git {args.compare}", args.questions, result["compare"])
    print(f"  load average: {machine()['loadavg']}")
    name = f"rebuild_memory{'_pubmedqa' if args.pubmedqa else ''}"
    print(f"\nwrote {save(name, result)}")


if __name__ == "__main__":
    main()
