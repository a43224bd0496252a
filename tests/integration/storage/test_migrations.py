"""The packaged migrations build exactly the models' schema, idempotently and concurrently."""

from __future__ import annotations

import threading

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect

from assay.server.storage.engine import alembic_config, create_engine_from_url, migrate
from assay.server.storage.models import Base

TABLES = {"runs", "assessments", "assessment_history", "workflow_audit_events"}


def _schema_diff(engine: Engine) -> list[object]:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))


def _current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def _head() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def test_migrated_schema_matches_the_models(storage_engine: Engine) -> None:
    # Sanity check that the comparison sees tables at all: an empty database differs.
    assert _schema_diff(storage_engine)

    migrate(storage_engine)

    assert _schema_diff(storage_engine) == []
    assert set(inspect(storage_engine).get_table_names()) >= TABLES
    assert _current_revision(storage_engine) == _head()


def test_migrate_twice_is_a_no_op(storage_engine: Engine) -> None:
    migrate(storage_engine)
    migrate(storage_engine)

    assert _current_revision(storage_engine) == _head()
    assert _schema_diff(storage_engine) == []


def test_two_processes_migrating_at_once_both_succeed(database_url: str) -> None:
    engines = [create_engine_from_url(database_url) for _ in range(2)]
    start = threading.Barrier(len(engines))
    errors: list[BaseException] = []

    def start_up(engine: Engine) -> None:
        start.wait()
        try:
            migrate(engine)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=start_up, args=(engine,)) for engine in engines]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert _current_revision(engines[0]) == _head()
    finally:
        for engine in engines:
            engine.dispose()


def test_downgrade_to_base_and_upgrade_again(storage_engine: Engine) -> None:
    migrate(storage_engine)
    config = alembic_config()
    with storage_engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "base")

    assert not TABLES & set(inspect(storage_engine).get_table_names())

    migrate(storage_engine)
    assert _schema_diff(storage_engine) == []
