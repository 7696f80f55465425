"""Leases: the shared advisory locks a server holds on the PostgreSQL snapshots it serves.

A build prunes only snapshots nobody leases (``pg_try_advisory_xact_lock`` in ``PgWriter.prune``),
so a request always finishes on the snapshot it started with. The locks live on one connection
of their own; when it is lost (the database restarted), the next use takes the live ones again.
"""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Any

from mscqa.errors import DatabaseUnavailable
from mscqa.index import pgdb


class Leases:
    """This process's leases, by snapshot id; thread-safe."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._conn: Any = None
        self._held: dict[int, float | None] = {}  # snapshot id -> release time (None: live)
        self._lock = threading.RLock()

    def take(self, snapshot_id: int) -> None:
        """Lease ``snapshot_id`` until ``retire`` (again live if it was being retired)."""
        with self._lock, pgdb.reachable(self.url):
            self._release_due()
            if self._held.get(snapshot_id, 0.0) is None:
                return
            conn = self._connection()
            if snapshot_id not in self._held:
                conn.execute(
                    "SELECT pg_advisory_lock_shared(%s, %s)", (pgdb.NAMESPACE, snapshot_id)
                )
            self._held[snapshot_id] = None

    def retire(self, snapshot_id: int, grace: float) -> None:
        """Release the lease on ``snapshot_id`` after ``grace`` seconds."""
        with self._lock:
            if snapshot_id in self._held:
                self._held[snapshot_id] = time.monotonic() + grace
            self._release_due()

    def keep(self) -> None:
        """Renew the leases after a lost connection and release the due ones."""
        with self._lock, contextlib.suppress(DatabaseUnavailable, Exception):
            if self._held:
                self._connection()
            self._release_due()

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                with contextlib.suppress(Exception):
                    self._conn.close()
            self._conn = None
            self._held.clear()

    def _release_due(self) -> None:
        now = time.monotonic()
        for snapshot_id, due in list(self._held.items()):
            if due is not None and due <= now:
                del self._held[snapshot_id]
                with contextlib.suppress(Exception):
                    self._connection().execute(
                        "SELECT pg_advisory_unlock_shared(%s, %s)", (pgdb.NAMESPACE, snapshot_id)
                    )

    def _connection(self) -> Any:
        conn = self._conn
        if conn is not None and not conn.closed and not conn.broken:
            return conn
        conn = self._conn = pgdb.connect(self.url, autocommit=True)
        for snapshot_id in self._held:
            conn.execute("SELECT pg_advisory_lock_shared(%s, %s)", (pgdb.NAMESPACE, snapshot_id))
        return conn
