"""Index snapshots in PostgreSQL + pgvector: the shared index several servers read.

The same semantics as the folder snapshots (``snapshot.FolderStore``), in database terms::

    mscqa.snapshots           one row per complete snapshot (version, format, manifest)
    mscqa.serving             the pointer row: which snapshot is served
    mscqa.embeddings          the embedding cache, keyed by model fingerprint and text hash
    mscqa_snap_<id>.*         one schema per snapshot (the folder's counterpart; ``pgwrite``)

A build writes a whole snapshot, schema and ``snapshots`` row, in **one transaction**: a build
killed at any point leaves nothing behind. Publishing is one more transaction that moves the
pointer row and sends ``NOTIFY mscqa_index``. A server holds a shared advisory lock (a lease)
on each snapshot it serves; pruning drops only snapshots nobody leases, so a request always
finishes on the snapshot it started with. Reading a snapshot: ``pgsnapshot``.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mscqa.errors import NoIndexError, SnapshotError
from mscqa.index import pgdb, pglexical
from mscqa.index.lexical import Tokens
from mscqa.index.manifest import FIX, FORMAT_VERSION, Manifest
from mscqa.index.pgdb import reachable
from mscqa.index.pgleases import Leases
from mscqa.index.pgrecords import undefined
from mscqa.index.pgsnapshot import PgSnapshot
from mscqa.index.pgwrite import (
    BUILD_MEMORY_MB,
    HNSW_EF_SEARCH,
    PgWriter,
    log_notice,
    schema_of,
    write_snapshot,
)
from mscqa.memo import LastCall

log = logging.getLogger(__name__)

LEASE_GRACE = 10.0  # seconds a replaced snapshot stays leased for requests still on it
LISTEN_RETRY = 5.0  # seconds of polling before LISTEN is tried again after it failed
__all__ = ["PgSnapshot", "PgStore", "PgWriter", "reachable", "schema_of", "write_snapshot"]


class PgStore:
    """Snapshots in one PostgreSQL database: build, publish, load, prune, roll back, watch.

    ``pool`` serves the queries of loaded snapshots; ``leases`` holds this process's leases
    (shared advisory locks on the snapshots it serves) on a connection of its own.
    """

    def __init__(
        self,
        url: str,
        models_dir: Path,
        *,
        pool_size: int = 8,
        tokens: Tokens | None = None,
        build_memory_mb: int = BUILD_MEMORY_MB,
    ) -> None:
        self.url = url
        # the most a build's session lets pgvector's HNSW graph use (``write_snapshot``)
        self.build_memory_mb = build_memory_mb
        self.models_dir = models_dir  # where the build's ONNX exports live (on this machine)
        # the token memo the snapshots it writes tokenise through (``lexical.Tokens``)
        self.tokens: Tokens = tokens if tokens is not None else LastCall()
        self.pool_size = max(1, pool_size)
        self._pool: Any = None
        self.leases = Leases(url)
        self._lock = threading.RLock()
        self._listen: Any = None
        self._listen_retry = 0.0  # monotonic time before which LISTEN is not tried again

    @staticmethod
    def _configure(conn: Any) -> None:
        pgdb.configure(conn)
        conn.execute(f"SET hnsw.ef_search = {HNSW_EF_SEARCH}")
        # HNSW whenever the build made one (as FAISS does above the same size): left to itself
        # the planner scans small tables exactly instead. Every other query of a snapshot is
        # by key, so this costs nothing there, and it saves each question a transaction
        # (BEGIN, SET LOCAL, COMMIT: three round trips).
        conn.execute("SET enable_seqscan = off")

    @property
    def pool(self) -> Any:
        """The query connections, opened on first use (again after ``close``)."""
        with self._lock:
            if self._pool is None:
                from psycopg_pool import ConnectionPool

                self._pool = ConnectionPool(
                    self.url,
                    min_size=1,
                    max_size=self.pool_size,
                    kwargs={"autocommit": True, "application_name": "mscqa", "connect_timeout": 5},
                    configure=self._configure,
                    timeout=2.0,
                    open=False,
                    name="mscqa",
                )
                self._pool.open(wait=False)
            return self._pool

    def connect(self) -> Any:
        return pgdb.connect(self.url)

    def close(self) -> None:
        with self._lock:
            self.leases.close()
            if self._listen is not None:
                with contextlib.suppress(Exception):
                    self._listen.close()
            self._listen = None
            if self._pool is not None:
                self._pool.close()
                self._pool = None

    def check(self) -> None:
        with reachable(self.url), self.pool.connection() as conn:
            conn.execute("SELECT 1")

    # -- the pointer and the list --

    def _read(self, query: str, params: Any = ()) -> list[Any]:
        with reachable(self.url), self.pool.connection() as conn:
            pgdb.check_schema(conn)
            return conn.execute(query, params).fetchall()

    def current_version(self) -> str | None:
        try:
            rows = self._read(
                "SELECT s.version FROM mscqa.serving p JOIN mscqa.snapshots s"
                " ON s.id = p.snapshot_id"
            )
        except NoIndexError:
            return None
        return str(rows[0][0]) if rows else None

    def list_versions(self) -> list[str]:
        try:
            return [
                str(v)
                for (v,) in self._read("SELECT version FROM mscqa.snapshots ORDER BY version")
            ]
        except NoIndexError:
            return []

    def current_manifest(self) -> Manifest | None:
        try:
            rows = self._read(
                "SELECT s.version, s.manifest FROM mscqa.serving p JOIN mscqa.snapshots s"
                " ON s.id = p.snapshot_id"
            )
        except NoIndexError:
            return None
        if not rows:
            return None
        try:
            return Manifest.from_json(rows[0][1], str(rows[0][0]))
        except SnapshotError:
            return None  # as the folder store: a manifest it cannot read is none

    # -- writing --

    def where(self) -> str:
        return pgdb.redact(self.url)

    @contextlib.contextmanager
    def writer(self, wait: bool = False) -> Iterator[PgWriter]:
        """Migrate the schema and hold the one-builder lock for the duration of a build."""
        conn = self.connect()
        conn.add_notice_handler(log_notice)  # pgvector says when its graph outgrows memory
        try:
            with reachable(self.url):
                # a build killed in the middle of a long statement (an HNSW index, say) is
                # noticed by the server within a second: its transaction and locks go
                conn.execute("SET client_connection_check_interval = '1s'")
                conn.commit()
                pgdb.migrate(conn)
            with pgdb.writer_lock(conn, self.url, wait=wait):
                yield PgWriter(self, conn)
        finally:
            with contextlib.suppress(Exception):
                conn.close()

    # -- reading --

    def load(self, version: str, *, expect_model: str | None = None) -> PgSnapshot:
        rows = self._read(
            "SELECT id, format, manifest FROM mscqa.snapshots WHERE version = %s", (version,)
        )
        if not rows:
            raise SnapshotError(f"index snapshot {version} does not exist; {FIX}")
        snapshot_id, fmt, data = rows[0]
        return self._load(int(snapshot_id), int(fmt), data, expect_model)

    def _load(
        self, snapshot_id: int, fmt: int, data: dict[str, Any], expect_model: str | None
    ) -> PgSnapshot:
        version = data.get("version")
        if fmt != FORMAT_VERSION:
            raise SnapshotError(
                f"index snapshot {version} has format {fmt}, this version of mscqa reads "
                f"format {FORMAT_VERSION}; {FIX}"
            )
        manifest = Manifest.from_json(data, str(version))
        if manifest.storage is None or manifest.storage.lexical != pglexical.LEXICAL:
            raise SnapshotError(
                f"index snapshot {version} was written by an older mscqa, without BM25's "
                f"impact lists; {FIX}"
            )
        manifest.check_model(expect_model)
        try:
            return PgSnapshot(self, snapshot_id, manifest)
        except undefined() as exc:
            raise SnapshotError(f"index snapshot {version} is incomplete ({exc}); {FIX}") from exc

    def load_current(self, *, expect_model: str | None = None) -> PgSnapshot:
        """The served snapshot, leased first so that no build drops it while this process
        serves it (``retire`` ends the lease). If it is damaged, the newest good older one."""
        rows = self._read(
            "SELECT s.id, s.version FROM mscqa.serving p JOIN mscqa.snapshots s"
            " ON s.id = p.snapshot_id"
        )
        if not rows:
            raise NoIndexError(
                f"No index yet in the database {pgdb.redact(self.url)}; run `mscqa index` "
                "(or `mscqa serve`, which builds one)."
            )
        current_id, current = int(rows[0][0]), str(rows[0][1])
        try:
            return self._leased(current_id, expect_model)
        except SnapshotError as first:
            older = self._read(
                "SELECT id, version FROM mscqa.snapshots WHERE version < %s ORDER BY version DESC",
                (current,),
            )
            for snapshot_id, version in older:
                try:
                    snapshot = self._leased(int(snapshot_id), expect_model)
                except SnapshotError:
                    continue
                log.error("%s; serving the previous snapshot %s instead", first, version)
                return snapshot
            raise

    def _leased(self, snapshot_id: int, expect_model: str | None) -> PgSnapshot:
        self._lease(snapshot_id)
        try:
            # a build may have replaced and dropped it between reading the pointer and the lease
            rows = self._read(
                "SELECT format, manifest FROM mscqa.snapshots WHERE id = %s", (snapshot_id,)
            )
            if not rows:
                raise SnapshotError(f"the served index snapshot was just replaced; {FIX}")
            return self._load(snapshot_id, int(rows[0][0]), rows[0][1], expect_model)
        except BaseException:
            self.retire(snapshot_id, grace=0.0)
            raise

    # -- leases --

    def _lease(self, snapshot_id: int) -> None:
        self.leases.take(snapshot_id)

    def retire(self, snapshot: Any, grace: float = LEASE_GRACE) -> None:
        """End this process's lease on a snapshot it no longer serves, after ``grace`` seconds
        (requests that started on it finish first)."""
        snapshot_id = snapshot if isinstance(snapshot, int) else getattr(snapshot, "id", None)
        if snapshot_id is not None:
            self.leases.retire(snapshot_id, grace)

    def keep_leases(self) -> None:
        """Renew the leases after a lost connection and release the due ones (watcher tick)."""
        self.leases.keep()

    # -- watching --

    def wait_for_change(self, timeout: float, stop: threading.Event) -> None:
        """Return when a build publishes (NOTIFY), after ``timeout`` seconds (the polling
        fallback) or soon after ``stop`` is set."""
        deadline = time.monotonic() + timeout
        while not stop.is_set() and (left := deadline - time.monotonic()) > 0:
            if time.monotonic() < self._listen_retry:
                stop.wait(min(left, 0.5))
                continue
            try:
                conn = self._listen
                if conn is None or conn.closed or conn.broken:
                    conn = self._listen = pgdb.connect(self.url, autocommit=True)
                    conn.execute(f"LISTEN {pgdb.CHANNEL}")
                if any(True for _ in conn.notifies(timeout=min(left, 0.5), stop_after=1)):
                    break
            except Exception as exc:  # database away, or a standby (no LISTEN there): poll
                log.debug("LISTEN failed (%s); polling", exc)
                with contextlib.suppress(Exception):
                    if self._listen is not None:
                        self._listen.close()
                self._listen = None
                self._listen_retry = time.monotonic() + LISTEN_RETRY
        self.keep_leases()
