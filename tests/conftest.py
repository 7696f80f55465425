"""Shared fixtures: a tiny corpus with the fake embedder for unit tests, one real index (real
model, bundled article) per session for quality tests, and a real uvicorn server over it."""

from __future__ import annotations

import contextlib
import html
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from mscqa.config import Settings
from mscqa.embedding.hashing import HashingEmbedder
from mscqa.embedding.sentence_transformer import SentenceTransformerEmbedder
from mscqa.index import IndexSnapshot, SnapshotStore
from mscqa.index.backends import open_store
from mscqa.indexing import build_index
from mscqa.service import QAService
from pgcluster import PgCluster

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "corpus"
DATA = Path(__file__).resolve().parent / "data"

TINY_DOCS = {
    "adipose.md": """---
title: Adipose MSCs
date: 2025-01-02
---

# Adipose MSCs

## Collection

Adipose stem cells are collected by liposuction. The procedure uses a small incision.

## Use

Japan has approved adipose stem cell products. China has fewer applications.
""",
    "marrow.txt": """Bone marrow notes

Bone marrow stem cells support hematopoiesis. The U.S. Food and Drug Administration approved
Prochymal for graft-versus-host disease. Bone marrow collection is painful.
""",
    "nested/cord.md": """# Umbilical cord

Umbilical cord stem cells come from allogeneic cord tissue. China uses them more often.
""",
}


_DATA_DIR = tempfile.mkdtemp(prefix="mscqa-test-data-")


def pytest_configure(config: pytest.Config) -> None:
    # Apps made by tests keep their question log in a throwaway folder, never ./data (or a
    # folder the environment names); tests that look at the log give their own data_dir.
    os.environ["MSCQA_DATA_DIR"] = _DATA_DIR


def pytest_unconfigure(config: pytest.Config) -> None:
    shutil.rmtree(_DATA_DIR, ignore_errors=True)


def write_corpus(folder: Path, docs: dict[str, str] = TINY_DOCS) -> Path:
    for name, text in docs.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return folder


@pytest.fixture
def tiny_corpus(tmp_path: Path) -> Path:
    return write_corpus(tmp_path / "corpus")


@pytest.fixture
def fake_embedder() -> HashingEmbedder:
    return HashingEmbedder(256)


# -- the two index backends ------------------------------------------------------------------
#
# A module marked ``pytestmark = pytest.mark.both_backends`` runs each test that uses
# ``tiny_settings`` (or ``index_backend``) twice: on the folder store and on a real PostgreSQL.

BACKENDS = ("folder", "postgres")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "index_backend" in metafunc.fixturenames and metafunc.definition.get_closest_marker(
        "both_backends"
    ):
        # a test that parametrises index_backend itself (jointly with another argument) keeps
        # its own pairs
        own = any(
            "index_backend" in str(m.args[0])
            for m in metafunc.definition.iter_markers("parametrize")
        )
        if not own:
            metafunc.parametrize("index_backend", BACKENDS, indirect=True)


@pytest.fixture
def index_backend(request: pytest.FixtureRequest) -> str:
    return str(getattr(request, "param", "folder"))


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    """One real PostgreSQL 18 + pgvector server for the session (see pgcluster.py)."""
    cluster = PgCluster()
    try:
        yield cluster
    finally:
        cluster.close()


@pytest.fixture
def pg_url(pg_cluster: PgCluster) -> Iterator[str]:
    """A fresh, empty database on the session's server, dropped after the test."""
    url = pg_cluster.create_database()
    try:
        yield url
    finally:
        pg_cluster.drop_database(url)


@pytest.fixture
def database_url(index_backend: str, request: pytest.FixtureRequest) -> str | None:
    return str(request.getfixturevalue("pg_url")) if index_backend == "postgres" else None


@pytest.fixture
def tiny_settings(tmp_path: Path, tiny_corpus: Path, database_url: str | None) -> Settings:
    return Settings(
        corpus_dir=tiny_corpus,
        index_dir=tmp_path / "index",
        chunk_chars=200,
        database_url=database_url,
        _env_file=None,
    )


class IndexView:
    """The index of some settings as a test looks at it, whichever backend holds it."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.store: SnapshotStore = open_store(settings)

    def current(self) -> str | None:
        return self.store.current_version()

    def versions(self) -> list[str]:
        return self.store.list_versions()

    def load(self) -> IndexSnapshot:
        return self.store.load_current()

    def leftovers(self) -> list[str]:
        """What interrupted builds left behind: temporary folders, or snapshot schemas that
        no complete snapshot owns."""
        if self.settings.database_url is None:
            return [p.name for p in (self.settings.index_dir / "snapshots").glob(".tmp-*")]
        from mscqa.index.pgstore import PgStore

        assert isinstance(self.store, PgStore)
        with self.store.pool.connection() as conn:
            rows = conn.execute(
                "SELECT n.nspname FROM pg_namespace n WHERE n.nspname LIKE 'mscqa_snap_%'"
                " AND NOT EXISTS (SELECT 1 FROM mscqa.snapshots s"
                " WHERE 'mscqa_snap_' || s.id = n.nspname)"
            ).fetchall()
        return [r[0] for r in rows]

    def close(self) -> None:
        self.store.close()


@pytest.fixture
def index(tiny_settings: Settings) -> Iterator[IndexView]:
    view = IndexView(tiny_settings)
    try:
        yield view
    finally:
        view.close()


@pytest.fixture
def tiny_service(tiny_settings: Settings, fake_embedder: HashingEmbedder) -> Iterator[QAService]:
    build_index(tiny_settings, fake_embedder)
    service = QAService(tiny_settings, fake_embedder)
    service.load()
    yield service
    service.close()


@pytest.fixture(scope="session")
def real_embedder() -> SentenceTransformerEmbedder:
    embedder = SentenceTransformerEmbedder("", threads=2)
    embedder.warm_up()
    return embedder


@pytest.fixture(scope="session")
def real_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(
        corpus_dir=CORPUS, index_dir=tmp_path_factory.mktemp("real-index"), _env_file=None
    )


@pytest.fixture(scope="session")
def real_service(real_settings: Settings, real_embedder: SentenceTransformerEmbedder) -> QAService:
    """The bundled article indexed with the real model, once per test session.

    Built by the default build encoder (OpenVINO, bf16 where the CPU has it), as `mscqa index`
    builds it, so the quality tests cover the vectors users get; questions use torch fp32.
    """
    build_index(real_settings)
    service = QAService(real_settings, real_embedder)
    service.load()
    return service


@pytest.fixture
def small_disk(tmp_path: Path):
    """A 400 KiB tmpfs: room for a small index or question log, not for a large one (needs
    root to mount)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=400k", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {result.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def marked_text(page: str) -> str:
    """The text the /read page highlights, whitespace collapsed."""
    marks = re.findall(r'<mark class="quoted"[^>]*>(.*?)</mark>', page, re.S)
    return " ".join(html.unescape("".join(marks)).split())


def wait_ready(
    url: str, proc: subprocess.Popen[bytes], log_path: Path, timeout: float = 120.0
) -> None:
    """Wait until the `mscqa serve` ``proc`` at ``url`` answers /health with 200; if it exits
    or ``timeout`` s pass first, raise with the end of its log (``log_path``)."""
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"mscqa serve exited: {log_path.read_text()[-3000:]}")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"mscqa serve did not become ready within {timeout:g} s: "
                f"{log_path.read_text()[-3000:]}"
            )
        time.sleep(0.2)


@contextlib.contextmanager
def mscqa_serve(settings: Settings, **env: str) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """A real `mscqa serve` process over ``settings``' corpus and index (``env``: more
    ``MSCQA_*`` variables), ready to answer; yields the process and its base URL."""
    port = free_port()
    full_env = {
        **os.environ,
        "MSCQA_CORPUS_DIR": str(settings.corpus_dir),
        "MSCQA_INDEX_DIR": str(settings.index_dir),
        "HF_HUB_OFFLINE": "1",
        **env,
    }
    log_path = settings.index_dir.parent / f"serve-{port}.log"
    log_file = log_path.open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "mscqa.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=full_env,
        cwd=ROOT,
        stdout=log_file,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, proc, log_path)
        yield proc, url
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        log_file.close()


@pytest.fixture(scope="session")
def live_server(real_service: QAService, real_settings: Settings) -> Iterator[str]:
    """A real `mscqa serve` process (uvicorn, real model) over the session's real index."""
    with mscqa_serve(real_settings) as (_, url):
        yield url


@contextlib.contextmanager
def uvicorn_server(app: Any, settings: Settings) -> Iterator[str]:
    """``app`` served by a real uvicorn in a thread, configured exactly as ``mscqa serve``
    configures it (``mscqa.server.uvicorn_config``); yields its base URL."""
    import uvicorn

    from mscqa.server.serve import uvicorn_config

    port = free_port()
    server = uvicorn.Server(uvicorn_config(app, settings, "127.0.0.1", port))
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(15)
        if thread.is_alive():
            server.force_exit = True
            thread.join(5)


def long_passages(tmp_path: Path, max_reply_kb: int) -> Settings:
    """Settings over a corpus of ~3,700-character passages (one file, 8 parts, chunk_chars
    4000): an answer with its four related passages, or a search for 20, passes 16 KiB."""
    corpus = tmp_path / "long"
    corpus.mkdir(exist_ok=True)
    parts = [
        f"## Part {k}\n\n"
        + " ".join(
            f"Sentence {i} of part {k} says marker{k} cells grow in plain media." for i in range(60)
        )
        for k in range(8)
    ]
    (corpus / "long.md").write_text("# Long notes\n\n" + "\n\n".join(parts) + "\n")
    return Settings(
        corpus_dir=corpus,
        index_dir=tmp_path / "long-index",
        chunk_chars=4000,
        max_reply_kb=max_reply_kb,
        _env_file=None,
    )
