"""Crashes and concurrency: a killed build never damages the serving index, rebuilds under
load serve every request, and only one process builds at a time."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from conftest import BACKENDS, IndexView
from mscqa.config import Settings
from mscqa.embedding.hashing import HashingEmbedder
from mscqa.errors import BuildInProgress, MscqaError, NoIndexError
from mscqa.index import current_version, load_current
from mscqa.indexing import build_index
from mscqa.ingest.loaders import file_sha256
from mscqa.service import QAService

pytestmark = pytest.mark.both_backends

# A child process that builds with the fake embedder and stops (sleeps) at one point of the
# build so the test can SIGKILL it exactly there. The pause is test code patched in from
# outside; the product has no hooks for it.
CHILD = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    import mscqa.embedding.cache as embedcache
    import mscqa.index.pgcopy as pgcopy
    import mscqa.index.pgdb as pgdb
    import mscqa.index.pgstore as pgstore
    import mscqa.index.pgwrite as pgwrite
    import mscqa.index.folder as store
    import mscqa.indexing as indexing
    from mscqa.config import Settings
    from mscqa.embedding.hashing import HashingEmbedder

    corpus, index, point, url = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] or None

    def pause(name, real):
        def wrapper(*args, **kwargs):
            if name == "after":
                result = real(*args, **kwargs)
                print("PAUSED", flush=True); time.sleep(60)
                return result
            print("PAUSED", flush=True); time.sleep(60)
            return real(*args, **kwargs)
        return wrapper

    if point == "embedding":
        HashingEmbedder.encode = pause("before", HashingEmbedder.encode)
    elif point == "writing" and url:
        pgcopy.copy_vectors = pause("before", pgcopy.copy_vectors)  # inside the write transaction
    elif point == "writing":
        import numpy as np
        store.np.save = pause("before", np.save)  # inside the snapshot's vector file
    elif point == "indexing":  # Postgres: after the rows, in the statement making the HNSW
        real_sql = pgdb.in_schema
        def slow(template, schema, **more):
            if template == pgwrite.HNSW_INDEX:
                print("PAUSED", flush=True)
                return real_sql("SELECT pg_sleep(60)", schema)
            return real_sql(template, schema, **more)
        pgdb.in_schema = slow
        pgwrite.write_snapshot.__kwdefaults__["hnsw_above"] = 0
    elif point == "before_publish":
        store.FolderWriter.publish = pause("before", store.FolderWriter.publish)
        pgstore.PgWriter.publish = pause("before", pgstore.PgWriter.publish)
    elif point == "after_publish":
        embedcache.EmbeddingCache.save = pause("before", embedcache.EmbeddingCache.save)
        embedcache.PgEmbeddingCache.save = pause("before", embedcache.PgEmbeddingCache.save)
    settings = Settings(corpus_dir=Path(corpus), index_dir=Path(index), chunk_chars=200,
                        database_url=url, _env_file=None)
    indexing.build_index(settings, HashingEmbedder(256))
    print("DONE", flush=True)
    """
)


def run_and_kill(settings: Settings, point: str) -> None:
    url = settings.database_url.get_secret_value() if settings.database_url else ""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            CHILD,
            str(settings.corpus_dir),
            str(settings.index_dir),
            point,
            url,
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    try:
        line = proc.stdout.readline().strip()
        assert line == "PAUSED", f"child did not reach {point}: {line!r}"
        if point == "indexing":
            time.sleep(0.3)  # the statement is running in the database now
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        proc.stdout.close()


def corpus_hashes(folder: Path) -> dict[str, str]:
    return {p.name: file_sha256(p) for p in sorted(folder.rglob("*")) if p.is_file()}


def kill_points(backend: str) -> list[str]:
    return [
        "embedding",
        "writing",
        *(["indexing"] if backend == "postgres" else []),
        "before_publish",
    ]


@pytest.mark.parametrize(
    ("index_backend", "point"),
    [(backend, point) for backend in BACKENDS for point in kill_points(backend)],
    indirect=["index_backend"],
)
def test_killed_build_leaves_the_old_snapshot_serving(
    tiny_settings: Settings,
    fake_embedder: HashingEmbedder,
    index: IndexView,
    index_backend: str,
    point: str,
) -> None:
    old = build_index(tiny_settings, fake_embedder).version
    before = corpus_hashes(tiny_settings.corpus_dir)
    (tiny_settings.corpus_dir / "extra.md").write_text("# Extra\n\nPlacenta cells are new.\n")
    run_and_kill(tiny_settings, point)

    assert index.current() == old
    snap = index.load()
    assert snap.version == old and "extra.md" not in snap.documents
    service = QAService(tiny_settings, fake_embedder)
    service.load()
    assert service.ask("How are adipose stem cells collected?").answered
    service.close()

    # the next build needs no cleanup and leaves no leftovers of the killed one
    new = build_index(tiny_settings, fake_embedder, wait_for_lock=True).version
    assert new != old and "extra.md" in index.load().documents
    assert index.leftovers() == []
    after = corpus_hashes(tiny_settings.corpus_dir)
    assert {k: v for k, v in after.items() if k != "extra.md"} == before


def test_build_killed_after_the_switch_serves_the_new_snapshot(
    tiny_settings: Settings, fake_embedder: HashingEmbedder, index: IndexView
) -> None:
    old = build_index(tiny_settings, fake_embedder).version
    (tiny_settings.corpus_dir / "extra.md").write_text("# Extra\n\nPlacenta cells are new.\n")
    run_and_kill(tiny_settings, "after_publish")
    snap = index.load()
    assert snap.version != old and "extra.md" in snap.documents
    # the embedding cache was not saved; the next build simply recomputes what it lacks
    report = build_index(tiny_settings, fake_embedder, wait_for_lock=True)
    assert report.chunks == len(index.load().chunks)


def test_first_build_killed_means_no_index_then_a_clean_build(
    tiny_settings: Settings, fake_embedder: HashingEmbedder, index: IndexView
) -> None:
    run_and_kill(tiny_settings, "before_publish")
    with pytest.raises(NoIndexError, match="mscqa index"):
        index.load()
    assert index.versions() != []  # complete but never published
    build_index(tiny_settings, fake_embedder, wait_for_lock=True)
    assert index.load().documents


def test_one_builder_at_a_time_across_processes(
    tiny_settings: Settings, fake_embedder: HashingEmbedder, index: IndexView
) -> None:
    url = tiny_settings.database_url.get_secret_value() if tiny_settings.database_url else ""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path; "
            "from mscqa.index.backends import open_store; from mscqa.config import Settings\n"
            "s = Settings(index_dir=Path(sys.argv[1]), database_url=sys.argv[2] or None,"
            " _env_file=None)\n"
            "with open_store(s).writer():\n"
            "    print('LOCKED', flush=True); time.sleep(60)",
            str(tiny_settings.index_dir),
            url,
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "LOCKED"
        with pytest.raises(BuildInProgress, match=r"writer\.lock|writer lock"):
            build_index(tiny_settings, fake_embedder)
    finally:
        holder.kill()
        holder.wait()
        if holder.stdout:
            holder.stdout.close()
    with index.store.writer(wait=True):  # released when its holder died
        pass


def test_questions_during_repeated_rebuilds_all_succeed(
    tiny_settings: Settings, fake_embedder: HashingEmbedder
) -> None:
    build_index(tiny_settings, fake_embedder)
    service = QAService(tiny_settings, fake_embedder)
    service.load()
    stop = threading.Event()
    errors: list[BaseException] = []
    answers = 0
    versions: set[str] = set()
    lock = threading.Lock()

    def asker(n: int) -> None:
        nonlocal answers
        while not stop.is_set():
            try:
                a = service.ask(f"How are adipose stem cells collected? {n} {answers}")
                assert a.citations or not a.answered
                with lock:
                    answers += 1
                    versions.add(service.serving().version)
            except BaseException as exc:  # every failure counts
                errors.append(exc)
                return

    threads = [threading.Thread(target=asker, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    try:
        for i in range(5):
            (tiny_settings.corpus_dir / f"rebuild-{i}.md").write_text(
                f"# Note {i}\n\nAdipose note number {i} about liposuction.\n"
            )
            build_index(tiny_settings, fake_embedder, wait_for_lock=True)
            service.refresh()
            time.sleep(0.05)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=10)
    service.close()
    assert errors == []
    assert answers > 20
    assert len(versions) >= 3  # the swaps really happened while questions were asked


def test_manifest_records_the_corpus(
    tiny_settings: Settings, fake_embedder, index: IndexView
) -> None:
    report = build_index(tiny_settings, fake_embedder)
    manifest = index.load().manifest
    assert manifest.version == report.version
    assert set(manifest.corpus) == {"adipose.md", "marrow.txt", "nested/cord.md"}
    assert manifest.model.sha256 == fake_embedder.fingerprint()
    assert manifest.chunking["max_chars"] == 200
    assert manifest.counts is not None and manifest.counts.chunks == report.chunks


def test_disk_full_during_a_build(
    small_disk: Path, tiny_corpus: Path, fake_embedder: HashingEmbedder
) -> None:
    settings = Settings(
        corpus_dir=tiny_corpus, index_dir=small_disk / "index", chunk_chars=200, _env_file=None
    )
    old = build_index(settings, fake_embedder).version
    before = corpus_hashes(tiny_corpus)
    big = "\n\n".join(
        f"Paragraph {i} about marrow, adipose tissue and cord number {i}. It goes on." * 3
        for i in range(1500)
    )
    (tiny_corpus / "big.md").write_text(f"# Big\n\n{big}\n")
    with pytest.raises(MscqaError, match="No space left"):
        build_index(settings, fake_embedder)
    assert current_version(settings.index_dir) == old
    assert load_current(settings.index_dir).version == old
    assert not list((settings.index_dir / "snapshots").glob(".tmp-*"))
    assert {k: v for k, v in corpus_hashes(tiny_corpus).items() if k != "big.md"} == before
    (tiny_corpus / "big.md").unlink()
    (tiny_corpus / "small.md").write_text("# Small\n\nA small new note.\n")
    assert build_index(settings, fake_embedder).version != old  # works again once it fits


def test_ask_over_http_during_reindexes_through_the_api(
    tmp_path: Path, tiny_corpus: Path, fake_embedder: HashingEmbedder, database_url: str | None
) -> None:
    """Clients hammer POST /ask while curators upload and reindex three times: zero errors."""
    from fastapi.testclient import TestClient

    from mscqa.server.app import create_app

    settings = Settings(
        corpus_dir=tiny_corpus,
        index_dir=tmp_path / "index",
        chunk_chars=200,
        admin_token="s3cret",
        rate_limit_per_minute=0,
        reload_interval=0.1,
        database_url=database_url,
        _env_file=None,
    )
    build_index(settings, fake_embedder)
    service = QAService(settings, fake_embedder)
    auth = {"Authorization": "Bearer s3cret"}
    statuses: list[int] = []
    stop = threading.Event()
    with TestClient(create_app(settings, service)) as client:
        while client.get("/health").status_code != 200:
            time.sleep(0.05)

        def hammer(n: int) -> None:
            i = 0
            while not stop.is_set():
                i += 1
                r = client.post("/ask", json={"question": f"adipose collection {n} {i}?"})
                statuses.append(r.status_code)

        threads = [threading.Thread(target=hammer, args=(n,)) for n in range(3)]
        for t in threads:
            t.start()
        versions = {client.get("/health").json()["index"]["version"]}
        try:
            for i in range(3):
                files = {"file": (f"note-{i}.md", f"# Note {i}\n\nAdipose note {i}.\n".encode())}
                assert client.post("/admin/documents", files=files, headers=auth).status_code == 201
                job = client.post("/admin/reindex", headers=auth).json()["job_id"]
                deadline = time.monotonic() + 30
                while (state := client.get(f"/admin/jobs/{job}", headers=auth).json())[
                    "state"
                ] not in ("done", "failed"):
                    assert time.monotonic() < deadline
                    time.sleep(0.05)
                assert state["state"] == "done", state
                versions.add(client.get("/health").json()["index"]["version"])
        finally:
            stop.set()
            for t in threads:
                t.join(timeout=10)
    assert len(versions) == 4
    assert len(statuses) > 30
    assert set(statuses) == {200}
