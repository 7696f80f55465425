"""PostgreSQL plumbing for the shared index: connections (outages as ``DatabaseUnavailable``),
versioned migrations, and the advisory locks that play the part of the folder backend's
``writer.lock`` (``pgcopy`` has the vector values and bulk COPY).

>>> conn = connect("postgresql://mscqa@db/mscqa")     # doctest: +SKIP
>>> migrate(conn)  # the versions just applied          # doctest: +SKIP
[1]

Everything here is about the database, nothing about snapshots (``pgstore`` owns those).
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Iterator
from typing import Any

from mscqa.errors import BuildInProgress, DatabaseUnavailable, MscqaError
from mscqa.index import pgcopy

log = logging.getLogger(__name__)

SCHEMA = "mscqa"
# Advisory lock keys: (NAMESPACE, WRITER) is the one-builder-at-a-time lock; (NAMESPACE, id) held
# shared by every server that serves snapshot ``id`` (a "lease": pruning skips leased ones).
NAMESPACE = 0x6D736371  # "mscq"
WRITER = 0
MIGRATE = -1
CHANNEL = "mscqa_index"  # NOTIFY channel: the payload is the version just published

# The schema's history. Append a migration, never edit one that has shipped: ``migrate`` applies
# the ones a database lacks, in order, in one transaction, and records each in schema_version.
MIGRATIONS: list[tuple[int, str, str]] = [
    (
        1,
        "snapshots, the serving pointer and the embedding cache",
        """
        CREATE EXTENSION IF NOT EXISTS vector;
        CREATE TABLE mscqa.snapshots (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            version text NOT NULL UNIQUE,
            format integer NOT NULL,
            manifest jsonb NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now()
        );
        CREATE TABLE mscqa.serving (
            only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
            snapshot_id bigint REFERENCES mscqa.snapshots (id),
            changed_at timestamptz NOT NULL DEFAULT now()
        );
        INSERT INTO mscqa.serving (snapshot_id) VALUES (NULL);
        CREATE TABLE mscqa.embeddings (
            model text NOT NULL,
            key text NOT NULL,
            vector vector NOT NULL,
            PRIMARY KEY (model, key)
        );
        """,
    ),
]
MIGRATIONS.append(
    (
        2,
        "the question log and feedback of every server (server/questions)",
        """
        CREATE TABLE mscqa.questions (
            id text PRIMARY KEY,
            at double precision NOT NULL,
            question text NOT NULL,
            normalised text NOT NULL,
            context text,
            answered boolean NOT NULL,
            confidence double precision NOT NULL,
            index_version text NOT NULL,
            answer text,
            passage text
        );
        CREATE INDEX questions_at ON mscqa.questions (at);
        CREATE INDEX questions_group ON mscqa.questions (answered, normalised, at);
        CREATE TABLE mscqa.feedback (
            answer_id text PRIMARY KEY REFERENCES mscqa.questions (id) ON DELETE CASCADE,
            at double precision NOT NULL,
            rating text NOT NULL CHECK (rating IN ('up', 'down')),
            comment text
        );
        CREATE INDEX feedback_rating ON mscqa.feedback (rating, at);
        """,
    )
)
LATEST = MIGRATIONS[-1][0]


def redact(url: str) -> str:
    """``url`` without its password, for messages and logs."""
    return re.sub(r"(://[^:/@]*):[^@/]*@", r"\1:***@", url)


def unavailable(url: str, exc: BaseException) -> DatabaseUnavailable:
    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return DatabaseUnavailable(
        f"The index database ({redact(url)}) cannot be reached ({reason}); "
        "answers resume as soon as it is back."
    )


def connect(url: str, *, autocommit: bool = False, timeout: float = 5.0) -> Any:
    """A psycopg connection with pgvector values as numpy arrays (once the extension exists)."""
    import psycopg

    try:
        conn = psycopg.connect(
            url,
            autocommit=autocommit,
            connect_timeout=max(1, round(timeout)),
            application_name="mscqa",
        )
    except psycopg.OperationalError as exc:
        raise unavailable(url, exc) from exc
    configure(conn)
    return conn


def configure(conn: Any) -> None:
    """Register the vector type on ``conn`` (a no-op until migration 1 created the extension).

    Also the pool's ``configure`` callback, so it must leave the connection idle.
    """
    from psycopg.types import TypeInfo

    info = TypeInfo.fetch(conn, "vector")
    if not conn.autocommit:
        conn.rollback()
    if info is None:
        return
    info.register(conn)
    pgcopy.register_vectors(conn.adapters, info.oid)


@contextlib.contextmanager
def reachable(url: str) -> Iterator[None]:
    """Database outages become ``DatabaseUnavailable`` (503, "try again"), never a 500."""
    import psycopg
    import psycopg_pool

    try:
        yield
    except (psycopg.OperationalError, psycopg_pool.PoolTimeout) as exc:
        raise unavailable(url, exc) from exc


def in_schema(template: str, schema: str, **more: Any) -> Any:
    """``template`` as SQL with ``{s}`` the quoted schema name (and ``more`` placeholders)."""
    from psycopg import sql

    return sql.SQL(template).format(s=sql.Identifier(schema), **more)


# -- migrations ----------------------------------------------------------------------------------


def schema_version(conn: Any) -> int:
    """The newest migration applied to this database (0: none, not even the bookkeeping)."""
    row = conn.execute("SELECT to_regclass('mscqa.schema_version') IS NOT NULL").fetchone()
    if not row[0]:
        return 0
    version = conn.execute("SELECT coalesce(max(version), 0) FROM mscqa.schema_version").fetchone()
    return int(version[0])


def migrate(conn: Any) -> list[int]:
    """Apply the migrations this database lacks, all in one transaction. Returns their numbers.

    Concurrent callers (two builds starting at once) are serialised by an advisory lock; the
    second one finds nothing left to do. A failure rolls back every step of this call.
    """
    applied: list[int] = []
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s, %s)", (NAMESPACE, MIGRATE))
        # The migrations' own bookkeeping: the one table that must exist before any migration.
        conn.execute("CREATE SCHEMA IF NOT EXISTS mscqa")
        conn.execute(
            "CREATE TABLE IF NOT EXISTS mscqa.schema_version ("
            " version integer PRIMARY KEY, name text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        current = schema_version(conn)
        if current > LATEST:
            raise MscqaError(
                f"The index database has schema version {current}, newer than this mscqa "
                f"understands ({LATEST}); upgrade mscqa."
            )
        for number, name, statements in MIGRATIONS:
            if number <= current:
                continue
            conn.execute(statements)
            conn.execute(
                "INSERT INTO mscqa.schema_version (version, name) VALUES (%s, %s)", (number, name)
            )
            applied.append(number)
    if applied:
        log.info("Migrated the index database to schema version %d", LATEST)
        configure(conn)  # the vector type exists now
    return applied


def check_schema(conn: Any) -> None:
    """Refuse a database whose schema is older or newer than this code (readers never migrate)."""
    current = schema_version(conn)
    if current == LATEST:
        return
    from mscqa.errors import NoIndexError

    if current < LATEST:
        raise NoIndexError(
            f"The index database has schema version {current}, this mscqa needs {LATEST}; "
            "run `mscqa index` to migrate it and build an index."
        )
    raise MscqaError(
        f"The index database has schema version {current}, newer than this mscqa understands "
        f"({LATEST}); upgrade mscqa."
    )


# -- locks ----------------------------------------------------------------------------------------


@contextlib.contextmanager
def writer_lock(conn: Any, url: str, wait: bool = False) -> Iterator[None]:
    """One builder at a time on this database, across processes and machines.

    A session-level advisory lock on ``conn``: it goes with the connection, so a build killed
    at any point releases it.
    """
    if wait:
        conn.execute("SELECT pg_advisory_lock(%s, %s)", (NAMESPACE, WRITER))
    else:
        row = conn.execute("SELECT pg_try_advisory_lock(%s, %s)", (NAMESPACE, WRITER)).fetchone()
        if not row[0]:
            conn.rollback()
            raise BuildInProgress(
                f"Another build holds the index database's writer lock ({redact(url)}); "
                "wait for it to finish."
            )
    if not conn.autocommit:
        conn.commit()
    try:
        yield
    finally:
        with contextlib.suppress(Exception):  # a dead connection has released it already
            if not conn.autocommit:
                conn.rollback()
            conn.execute("SELECT pg_advisory_unlock(%s, %s)", (NAMESPACE, WRITER))
            if not conn.autocommit:
                conn.commit()
