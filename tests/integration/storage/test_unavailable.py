"""A database that cannot be reached surfaces as errors.Unavailable, with the cause chained."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import URL, Engine
from sqlalchemy.exc import OperationalError

from assay.server.core.errors import Unavailable
from assay.server.core.types import ResultQuery
from assay.server.storage.engine import create_engine_from_url, migrate
from assay.server.storage.repository import Repository
from tests.integration.storage.backends import postgres_schema_url
from tests.integration.storage.builders import make_run


@pytest.fixture
def closed_port_engine() -> Iterator[Engine]:
    # Nothing listens on port 1: the connection is refused at once.
    engine = create_engine_from_url("postgresql://postgres@127.0.0.1:1/assay")
    yield engine
    engine.dispose()


def test_postgres_down_is_unavailable(closed_port_engine: Engine) -> None:
    repository = Repository(closed_port_engine)

    with pytest.raises(Unavailable) as raised:
        repository.ping()
    assert isinstance(raised.value.__cause__, OperationalError)

    with pytest.raises(Unavailable):
        repository.list_results(ResultQuery())
    with pytest.raises(Unavailable):
        repository.create_run(make_run())


def test_migrating_an_unreachable_database_is_unavailable(closed_port_engine: Engine) -> None:
    with pytest.raises(Unavailable):
        migrate(closed_port_engine)


def test_sqlite_file_that_cannot_be_opened_is_unavailable(tmp_path: Path) -> None:
    # The path is a directory, so SQLite cannot open it as a database file.
    engine = create_engine_from_url(f"sqlite:///{tmp_path}")
    try:
        with pytest.raises(Unavailable) as raised:
            Repository(engine).ping()
        assert isinstance(raised.value.__cause__, OperationalError)
    finally:
        engine.dispose()


def test_sqlite_directory_that_cannot_be_created_is_unavailable(tmp_path: Path) -> None:
    # Under a regular file, no directory can be created (not even by root).
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")

    with pytest.raises(Unavailable) as raised:
        create_engine_from_url(f"sqlite:///{blocker}/data/assay.db")
    assert isinstance(raised.value.__cause__, OSError)


@pytest.mark.postgres
def test_repository_recovers_when_postgres_drops_its_connections(
    postgres_test_database: URL,
) -> None:
    engine = create_engine_from_url(postgres_schema_url(postgres_test_database))
    try:
        migrate(engine)
        repository = Repository(engine)
        repository.ping()  # a pooled connection now exists
        repository.create_run(make_run("run-0"))
        repository.get_run("run-0")  # and one in the read pool
        with engine.connect() as connection:
            connection.exec_driver_sql(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )

        # Reads retry once on a fresh connection; writes are pinged before use (the pool
        # notices the dead connection and replaces it): no error reaches callers.
        assert repository.get_run("run-0") == make_run("run-0")
        repository.create_run(make_run())
        assert repository.get_run("run-1") == make_run()
    finally:
        engine.dispose()
