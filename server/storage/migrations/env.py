"""Alembic environment: runs the revisions against the connection ``migrate`` hands in.

``storage.engine.migrate`` puts an open connection (inside its transaction and, on
PostgreSQL, under its advisory lock) in ``config.attributes["connection"]``. Without one,
for example ``command.upgrade`` with ``sqlalchemy.url`` set, a fresh engine is used, and in
offline mode (``--sql``) the SQL is printed instead of run.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from assay.server.storage.engine import create_engine_from_url
from assay.server.storage.models import Base

config = context.config
target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # Batch mode renders ALTERs SQLite can execute (copy-and-move); PostgreSQL runs the
        # same operations as plain ALTER TABLE, so one revision serves both backends.
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("set config.attributes['connection'] or the sqlalchemy.url option")
    engine = create_engine_from_url(url)
    try:
        with engine.connect() as fresh:
            _run(fresh)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
