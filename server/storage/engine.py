"""Database engines, schema migrations, and the one mapping of database errors to domain errors.

The composition root calls ``create_engine_from_url(settings.database_url or
default_database_url(), statement_timeout_s=...)`` and then ``migrate(engine)`` once at
start-up, before building a ``Repository``. SQLite (the default, a file in the user's data
directory) and PostgreSQL are supported.

A PostgreSQL call never waits without bound: the server cancels a statement after the
statement timeout (``statement_timeout``, sent as a libpq option on connect), TCP keepalives
notice a peer that vanished, connecting gives up after a connect timeout, and, because a
frozen server (SIGSTOP, a hung host whose kernel still ACKs) enforces none of these, the
client gives up too: every wait of a connection on its server ends a margin after the
statement timeout, and the connection is closed (:class:`BoundedConnection`). Errors leave
storage through :func:`storage_errors` only: unreachable, timed out or lost -> Unavailable,
a value the database cannot store (a NUL, a string too long) -> InvalidArgument; the
messages name neither the host nor the SQL (both are logged).
"""

from __future__ import annotations

import functools
import logging
import math
import sqlite3
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import platformdirs
import psycopg
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import URL, Connection, Engine, create_engine, event, func, make_url, select
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from assay.server.core.errors import FieldViolation, InvalidArgument, Unavailable

log = logging.getLogger(__name__)
RV = TypeVar("RV")

SQLITE_BUSY_TIMEOUT_MS = 5000
# Page cache per connection (KiB); SQLite's default is 2 MiB.
SQLITE_CACHE_KIB = 32 * 1024
# Connections of the PostgreSQL read pool, one per thread of the API's read executor, when
# not given (the server sizes both from its read_threads setting).
READ_POOL_SIZE = 8
# Fail fast instead of the OS TCP timeout (minutes) when a PostgreSQL host is unreachable
# (lowered to the statement timeout when that is shorter).
POSTGRES_CONNECT_TIMEOUT_S = 10
# The server cancels a statement running longer than this (ASSAY_DATABASE_STATEMENT_TIMEOUT).
DEFAULT_STATEMENT_TIMEOUT_S = 30.0
# The client gives up on a server that has not answered this long after the statement
# timeout (so the server's own cancellation, a clean error, normally comes first).
CLIENT_MARGIN_S = 2.0
# Migrations may wait for another replica's (advisory lock) and rewrite big tables.
MIGRATION_TIMEOUT_S = 600.0
# TCP keepalives: an idle connection whose peer vanished is found dead in about a minute.
POSTGRES_KEEPALIVES = {
    "keepalives": 1,
    "keepalives_idle": 30,
    "keepalives_interval": 10,
    "keepalives_count": 3,
}
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


def create_engine_from_url(
    url: str | URL, *, statement_timeout_s: float = DEFAULT_STATEMENT_TIMEOUT_S
) -> Engine:
    """An engine for ``url``; no connection is made yet.

    On PostgreSQL every statement is bounded by ``statement_timeout_s`` (see the module).
    Raises Unavailable when the directory of a SQLite file cannot be created.
    """
    parsed = normalize_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed)
    engine = create_engine(
        parsed,
        pool_pre_ping=True,
        connect_args=_postgres_connect_args(parsed, statement_timeout_s),
    )
    _bound_calls(engine, statement_timeout_s)
    return engine


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
    timeout_s = _statement_timeouts[engine]
    reads = create_engine(
        engine.url,
        pool_size=pool_size,
        max_overflow=0,
        isolation_level="AUTOCOMMIT",
        connect_args=_postgres_connect_args(engine.url, timeout_s),
    )
    _bound_calls(reads, timeout_s)
    event.listen(engine, "engine_disposed", lambda _engine: reads.dispose())
    return reads


_statement_timeouts: weakref.WeakKeyDictionary[Engine, float] = weakref.WeakKeyDictionary()


def _postgres_connect_args(url: URL, statement_timeout_s: float) -> dict[str, Any]:
    """libpq parameters: connect timeout and keepalives (unless the URL sets them), and the
    statement timeout appended to the URL's own ``options``."""
    # libpq counts whole seconds, at least 2; never longer than a statement may take.
    connect_timeout = max(2, min(POSTGRES_CONNECT_TIMEOUT_S, math.ceil(statement_timeout_s)))
    connect_args: dict[str, Any] = {"connect_timeout": connect_timeout}
    connect_args.update(POSTGRES_KEEPALIVES)
    for name in list(connect_args):
        if name in url.query:
            del connect_args[name]
    given = url.query.get("options", "")
    given = " ".join(given) if isinstance(given, tuple) else given
    timeout = f"-c statement_timeout={round(statement_timeout_s * 1000)}"
    connect_args["options"] = f"{given} {timeout}".strip()
    return connect_args


class BoundedConnection(psycopg.Connection[Any]):
    """A psycopg connection whose every wait on the server (a statement, its results, a
    COPY, the pool's pre-ping) ends after ``call_timeout_s``: then the connection is closed
    (its state is unknown) and OperationalError raised, so the pool discards it."""

    call_timeout_s: float | None = None

    def wait(self, gen: Any, interval: float = 0.1, timeout: float | None = None) -> Any:
        limit = self.call_timeout_s if timeout is None else timeout
        started = time.monotonic()
        try:
            return super().wait(gen, interval, limit)
        except psycopg.OperationalError:
            if limit is None or time.monotonic() - started < limit:
                raise
            self.pgconn.finish()
            raise CallTimeout(f"the database did not answer within {limit:g} s") from None


class CallTimeout(psycopg.OperationalError):
    """The server did not answer a call in time (frozen, or the network lost)."""


def _bound_calls(engine: Engine, statement_timeout_s: float) -> None:
    """Every connection ``engine`` opens is a :class:`BoundedConnection`."""
    _statement_timeouts[engine] = statement_timeout_s

    @event.listens_for(engine, "do_connect")
    def _connect(_dialect: Any, _record: Any, cargs: Any, cparams: Any) -> BoundedConnection:
        connection = BoundedConnection.connect(*cargs, **cparams)
        connection.call_timeout_s = statement_timeout_s + CLIENT_MARGIN_S
        return connection


@contextmanager
def _longer_calls(connection: Connection, timeout_s: float) -> Iterator[None]:
    """Within the current transaction, statements of ``connection`` may take ``timeout_s``."""
    driver = connection.connection.driver_connection
    if not isinstance(driver, BoundedConnection):
        yield
        return
    connection.exec_driver_sql(f"SET LOCAL statement_timeout = {round(timeout_s * 1000)}")
    before, driver.call_timeout_s = driver.call_timeout_s, timeout_s + CLIENT_MARGIN_S
    try:
        yield
    finally:
        driver.call_timeout_s = before


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


def _first_line(error: BaseException, limit: int = 200) -> str:
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


@contextmanager
def storage_errors() -> Iterator[None]:
    """Database errors as domain errors, mapped here once for every storage call.

    Unreachable, lost, timed out or locked -> Unavailable; a value the database cannot
    store (a NUL character, a string over its column's length, a number out of range:
    DataError) -> InvalidArgument. The messages say what happened in general terms, never
    the host, the URL or the SQL (the full error is logged). Other errors (constraint
    violations, SQL errors) are bugs or domain conflicts and pass through unchanged.
    """
    try:
        yield
    except DBAPIError as exc:
        if isinstance(exc.orig, psycopg.DataError | sqlite3.DataError):
            reason = _first_line(exc.orig)
            log.info("database refused a value: %s", reason)
            raise InvalidArgument(
                FieldViolation("request", f"a value cannot be stored: {reason}")
            ) from exc
        if _is_connectivity_error(exc):
            log.warning("database unavailable: %s", _first_line(exc.orig or exc, 500))
            raise Unavailable(_unavailable_reason(exc)) from exc
        raise
    except PoolTimeout as exc:
        raise Unavailable("database unavailable: every connection is in use") from exc


def operator_detail(error: BaseException) -> str:
    """For the operator (start-up, logs): the driver's own first line behind a storage
    error (host and port included), else the error's text."""
    cause = error.__cause__
    if isinstance(cause, DBAPIError) and cause.orig is not None:
        return _first_line(cause.orig, 500)
    return str(error)


def _unavailable_reason(exc: DBAPIError) -> str:
    if isinstance(exc.orig, psycopg.errors.QueryCanceled | CallTimeout):
        return "database unavailable: it did not answer in time"
    if isinstance(exc.orig, sqlite3.OperationalError):
        # SQLite's messages are about the local file ("database is locked", "unable to
        # open database file"): nothing remote to hide.
        return f"database unavailable: {_first_line(exc.orig)}"
    return "database unavailable: it cannot be reached (the server log has the cause)"


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
    with (
        storage_errors(),
        write_transaction(engine) as connection,
        _longer_calls(connection, MIGRATION_TIMEOUT_S),
    ):
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
