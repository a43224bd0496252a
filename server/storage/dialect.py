"""What differs between SQLite and PostgreSQL below the SQLAlchemy layer.

The hot paths (``storage.writes``, ``storage.results``) talk to the driver directly, so they
need what SQLAlchemy's types would otherwise do: the placeholder style, and timestamps in the
form each backend stores (SQLite: naive UTC text that sorts chronologically, exactly as
``models.UTCDateTime`` writes it; PostgreSQL: ``timestamptz``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from sqlalchemy import Connection
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError

from assay.server.storage.models import Base


def dialect_insert(connection: Connection, model: type[Base]) -> postgresql.Insert | sqlite.Insert:
    """An INSERT supporting ON CONFLICT, which plain ``insert()`` cannot express."""
    if connection.dialect.name == "postgresql":
        return postgresql.insert(model)
    return sqlite.insert(model)


def is_sqlite(connection: Connection) -> bool:
    return connection.dialect.name == "sqlite"


def placeholder(connection: Connection) -> str:
    """The driver's positional placeholder: ``?`` (sqlite3) or ``%s`` (psycopg)."""
    return "?" if is_sqlite(connection) else "%s"


def sqlite_timestamp(value: datetime) -> str:
    """An aware datetime as the UTC text SQLite rows hold."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value.isoformat()} given; use an aware UTC time")
    # SQLAlchemy's SQLite DateTime storage format (zero-padded, always with microseconds, so
    # text order is time order): rows written by the ORM and by the driver compare equal.
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def from_sqlite_timestamp(value: str) -> datetime:
    return datetime.fromisoformat(value).replace(tzinfo=UTC)


def to_driver_timestamp(connection: Connection, value: datetime) -> datetime | str:
    """``value`` as the driver binds it for a timestamp column of this backend."""
    if is_sqlite(connection):
        return sqlite_timestamp(value)
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value.isoformat()} given; use an aware UTC time")
    return value


def from_driver_timestamp(value: datetime | str) -> datetime:
    """A timestamp column as the driver returned it, as an aware UTC datetime."""
    if isinstance(value, str):
        return from_sqlite_timestamp(value)
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


@contextmanager
def driver_errors(connection: Connection, statement: str) -> Iterator[None]:
    """Wrap errors raised by the driver itself (code below SQLAlchemy) as SQLAlchemy would,
    so callers see ``IntegrityError``, ``OperationalError``, ... whichever path ran."""
    dbapi_error = connection.dialect.loaded_dbapi.Error
    try:
        yield
    except dbapi_error as exc:
        raise DBAPIError.instance(
            statement, None, exc, dbapi_error, dialect=connection.dialect
        ) from exc


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def epoch(value: datetime | str) -> tuple[int, int]:
    """A timestamp column as the driver returned it, as (seconds, nanoseconds) since the
    epoch: exact integer arithmetic, for the protobuf Timestamp of the read path."""
    moment = from_driver_timestamp(value) if isinstance(value, str) else value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    delta = moment - _EPOCH
    return delta.days * 86_400 + delta.seconds, delta.microseconds * 1000
