"""Pytest plugin: storage backends for any test that needs a real database.

Register it once in the root ``conftest.py``::

    pytest_plugins = ["tests.integration.storage.backends"]

Fixtures:

``database_url`` (str)
    Parametrised over ``sqlite`` (a fresh file in ``tmp_path``) and ``postgresql`` (marked
    ``postgres``). Every test gets an empty database: on PostgreSQL a new schema, selected by
    ``search_path``, inside one throw-away database created for the test session.
``storage_engine`` (Engine)
    An engine for ``database_url``, not migrated; disposed after the test.
``repository`` (Repository)
    A ``Repository`` over ``storage_engine`` after ``migrate``.

The PostgreSQL server is ``ASSAY_TEST_POSTGRES_URL`` (a URL of its maintenance database;
default ``postgresql+psycopg://postgres@127.0.0.1:5432/postgres``). When it is unreachable the
PostgreSQL tests fail rather than skip, because CI provides it; deselect them locally with
``-m "not postgres"``.
"""

from __future__ import annotations

import itertools
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import URL, Engine, create_engine, make_url
from sqlalchemy.exc import OperationalError

from assay.server.storage.engine import create_engine_from_url, migrate
from assay.server.storage.repository import Repository

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"

_schema_numbers = itertools.count(1)


@pytest.fixture(scope="session")
def postgres_test_database() -> Iterator[URL]:
    """A PostgreSQL database of its own for this test session, dropped at the end."""
    server = make_url(os.environ.get("ASSAY_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL))
    server = server.set(drivername="postgresql+psycopg")
    name = f"assay_test_{secrets.token_hex(6)}"
    # CREATE/DROP DATABASE cannot run inside a transaction block.
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except OperationalError as exc:
        admin.dispose()
        pytest.fail(
            f"PostgreSQL is not reachable at {server.render_as_string()}: {exc.orig}\n"
            "Start it, set ASSAY_TEST_POSTGRES_URL, or deselect with -m 'not postgres'.",
            pytrace=False,
        )
    try:
        yield server.set(database=name)
    finally:
        with admin.connect() as connection:
            # FORCE: connections a failed test leaked must not keep the database alive.
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def postgres_schema_url(database: URL) -> str:
    """The URL of a new, empty schema in ``database`` (made the connections' search_path)."""
    schema = f"test_{next(_schema_numbers)}"
    engine = create_engine(database, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    finally:
        engine.dispose()
    # Unqualified names (tables, alembic_version) then live in the test's own schema.
    url = database.update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False)


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'assay.db'}"
    database: URL = request.getfixturevalue("postgres_test_database")
    return postgres_schema_url(database)


@pytest.fixture
def storage_engine(database_url: str) -> Iterator[Engine]:
    engine = create_engine_from_url(database_url)
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def repository(storage_engine: Engine) -> Repository:
    migrate(storage_engine)
    return Repository(storage_engine)
