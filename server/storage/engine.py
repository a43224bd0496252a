"""Database engines, schema migrations, and the mapping of connectivity errors to Unavailable.

The composition root calls ``create_engine_from_url(settings.database_url or
default_database_url())`` and then ``migrate(engine)`` once at start-up, before building a
``Repository``. SQLite (the default, a file in the user's data directory) and PostgreSQL are
supported.
"""

from __future__ import annotations

import functools
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import platformdirs
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import URL, Connection, Engine, create_engine, event, func, make_url, select
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from assay.server.core.errors import Unavailable

SQLITE_BUSY_TIMEOUT_MS = 5000
# Page cache per connection (KiB); SQLite's default is 2 MiB.
SQLITE_CACHE_KIB = 32 * 1024
# Connections of the PostgreSQL read pool: one per thread of the API's read executor.
READ_POOL_SIZE = 8
# Fail fast instead of the OS TCP timeout (minutes) when a PostgreSQL host is unreachable.
POSTGRES_CONNECT_TIMEOUT_S = 10
MIGRATIONS_DIR = Path(__file__).resolve().with_name("migrations")
# Key of the PostgreSQL advisory lock serialising migrations of replicas starting together;
# an arbitrary constant ("assay" in ASCII) that no other lock user in the database picks.
_MIGRATION_LOCK_KEY = 0x6173736179
# Connection execution option asking the SQLite BEGIN hook for a write lock up front.
_BEGIN_IMMEDIATE = "assay_sqlite_begin_immediate"


def default_database_url() -> str:
    """The SQLite file used when no database URL is configured."""
    path = Path(platformdirs.user_data_dir("assay")) / "assay.db"
    return f"sqlite:///{path}"


def normalize_url(url: str | URL) -> URL:
    """Parse ``url``, pointing plain ``postgresql://`` (and ``postgres://``) at psycopg 3."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise ValueError(f"unsupported database {parsed.drivername!r}: use sqlite or postgresql")
    return parsed


def create_engine_from_url(url: str | URL) -> Engine:
    """An engine for ``url``; no connection is made yet.

    Raises Unavailable when the directory of a SQLite file cannot be created.
    """
    parsed = normalize_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed)
    return create_engine(parsed, pool_pre_ping=True, connect_args=_postgres_connect_args(parsed))


def reader_engine(engine: Engine, *, pool_size: int = READ_POOL_SIZE) -> Engine:
    """An engine for single-statement reads beside ``engine``; disposed along with it.

    On PostgreSQL its connections run in autocommit (no BEGIN/COMMIT round trips around a
    SELECT) and are not pinged before each use (one round trip more): a read that meets a
    connection the server dropped fails with ``connection_invalidated`` and is retried by
    the Repository. Writes keep ``engine``, pinged, in transactions. On SQLite the engine
    itself is returned: a transaction costs no round trip there.
    """
    if engine.dialect.name != "postgresql":
        return engine
    reads = create_engine(
        engine.url,
        pool_size=pool_size,
        max_overflow=0,
        isolation_level="AUTOCOMMIT",
        connect_args=_postgres_connect_args(engine.url),
    )
    event.listen(engine, "engine_disposed", lambda _engine: reads.dispose())
    return reads


def _postgres_connect_args(url: URL) -> dict[str, Any]:
    connect_args: dict[str, Any] = {}
    if "connect_timeout" not in url.query:
        connect_args["connect_timeout"] = POSTGRES_CONNECT_TIMEOUT_S
    return connect_args


def _sqlite_engine(url: URL) -> Engine:
    database = url.database or ""
    if database and database != ":memory:" and not url.query.get("uri"):
        directory = Path(database).expanduser().parent
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise Unavailable(f"cannot create database directory {directory}: {exc}") from exc
    # No pool_pre_ping: a file connection cannot go stale, and it would add a query per use.
    engine = create_engine(url)

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from the sqlite3 module (it would skip BEGIN before
        # SELECT and DDL); the "begin" hook below issues it, so every transaction is real.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            # First, so that even switching the journal mode waits for other connections.
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            # WAL lets readers proceed while a run writes; NORMAL sync is durable with WAL
            # except for the last commits on power loss, and several times faster.
            _enable_wal(cursor)
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            # Memory only, no durability trade: a bigger page cache keeps the result
            # indexes' hot pages during bulk inserts, and temporary b-trees (sorts, unions)
            # stay off the disk.
            cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
            cursor.execute("PRAGMA temp_store=MEMORY")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        immediate = connection.get_execution_options().get(_BEGIN_IMMEDIATE, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def _enable_wal(cursor: Any) -> None:
    """Switch the file to WAL, waiting out a concurrent switch.

    Entering WAL needs an exclusive lock, and SQLite answers "database is locked" at once
    instead of calling the busy handler when another connection is doing the same (two
    replicas or test workers opening a new file together); wait here as the busy timeout
    would.
    """
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    delay = 0.002
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 0.1)


def _is_connectivity_error(exc: DBAPIError) -> bool:
    return exc.connection_invalidated or isinstance(exc, OperationalError | InterfaceError)


@contextmanager
def unavailable_on_connection_error() -> Iterator[None]:
    """Re-raise a lost or refused database connection (or a locked SQLite file) as Unavailable.

    Other database errors (constraint violations, SQL errors) are bugs or domain conflicts
    and pass through unchanged.
    """
    try:
        yield
    except DBAPIError as exc:
        if _is_connectivity_error(exc):
            raise Unavailable(f"database unavailable: {exc.orig or exc}") from exc
        raise


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """A transaction that will write: on SQLite it takes the write lock when it begins.

    A deferred SQLite transaction that reads first and writes later cannot wait for the lock
    in WAL mode: if another connection committed in between, its upgrade fails at once with
    "database is locked" (busy timeout or not). Taking the lock up front makes it wait.
    """
    with engine.connect() as connection:
        if connection.dialect.name == "sqlite":
            connection.execution_options(**{_BEGIN_IMMEDIATE: True})
        with connection.begin():
            yield connection


def alembic_config() -> Config:
    """An alembic configuration for the packaged migrations (no alembic.ini needed).

    To run against a connection, set ``config.attributes["connection"]`` first; otherwise
    ``config.set_main_option("sqlalchemy.url", url)``.
    """
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def migrate(engine: Engine) -> None:
    """Upgrade the schema to the newest revision; a no-op when it is already there.

    The whole upgrade is one transaction. On PostgreSQL it first takes a transaction-scoped
    advisory lock, so replicas starting together migrate one after the other and the later
    ones find the schema current; on SQLite ``BEGIN IMMEDIATE`` does the same.
    """
    with unavailable_on_connection_error(), write_transaction(engine) as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(select(func.pg_advisory_xact_lock(_MIGRATION_LOCK_KEY)))
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


@functools.cache
def _head_revisions() -> frozenset[str]:
    return frozenset(ScriptDirectory.from_config(alembic_config()).get_heads())


def schema_is_current(connection: Connection) -> bool:
    """The database's schema is at the newest revision this version ships (readiness)."""
    current = MigrationContext.configure(connection).get_current_heads()
    return frozenset(current) == _head_revisions()
