"""The packaged migrations build exactly the models' schema, idempotently and concurrently,
and carry existing data across (upgrade from the previous head with rows in it, and back)."""

from __future__ import annotations

import dataclasses
import importlib
import threading
from collections import Counter
from datetime import timedelta

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, func, insert, inspect, select, text

from assay.server.core.types import (
    AssessmentResult,
    ObjectRef,
    Pillar,
    ResultId,
    ResultQuery,
    RunId,
    Severity,
    Status,
    StatusCounts,
)
from assay.server.storage import mapping
from assay.server.storage.checks import check_digest
from assay.server.storage.dialect import sqlite_timestamp
from assay.server.storage.engine import alembic_config, create_engine_from_url, migrate
from assay.server.storage.models import Base, CheckRow, RunRow
from assay.server.storage.repository import Repository
from tests.integration.storage.builders import T0, finished, make_result, make_run

TABLES = {
    "runs",
    "assessments",
    "assessment_history",
    "workflow_audit_events",
    "assessment_checks",
    "assessment_counts",
    "server_secrets",
}


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


# -- upgrading a database that holds data ---------------------------------------------------

_OLD_RESULT_COLUMNS = (
    "id, run_id, pillar, check_id, check_name, status, severity, object_kind, "
    "object_namespace, object_name, container, message, remediation, assessed_at, duration_ms"
)


def _old_results() -> list[AssessmentResult]:
    """Results as revision 0002 stored them: metadata repeated in every row, two versions of
    SEC-001 (its remediation text changed between the runs)."""
    results = []
    for run in ("run_1", "run_2"):
        for n in range(12):
            check_id, pillar, severity = [
                ("SEC-001", Pillar.SECURITY, Severity.HIGH),
                ("REL-001", Pillar.RELIABILITY, Severity.MEDIUM),
                ("COST-003", Pillar.COST_OPTIMIZATION, Severity.LOW),
            ][n % 3]
            results.append(
                make_result(
                    run,
                    n,
                    check_id=check_id,
                    check_name=f"name of {check_id}",
                    pillar=pillar,
                    severity=severity,
                    status=[Status.PASSING, Status.FAILING, Status.WARNING, Status.ERROR][n % 4],
                    remediation=f"fix {check_id}" + (" (v2)" if run == "run_2" else ""),
                    object=None if n == 5 else ObjectRef("Pod", f"p{n}", "shop"),
                    assessed_at=T0 + timedelta(minutes=int(run[-1]), seconds=n),
                )
            )
    return results


def _insert_old(connection: Connection, results: list[AssessmentResult]) -> None:
    for run_id in sorted({r.run_id for r in results}):
        run = finished(make_run(run_id, requested_at=T0 + timedelta(minutes=int(run_id[-1]))), [])
        # The run row as revision 0002 knew it (exempted_count came with 0004).
        values = {k: v for k, v in mapping.run_values(run).items() if k != "exempted_count"}
        connection.execute(insert(RunRow), values)
    sqlite = connection.dialect.name == "sqlite"
    rows = [
        {
            "id": r.id,
            "run_id": r.run_id,
            "pillar": r.pillar.value,
            "check_id": r.check_id,
            "check_name": r.check_name,
            "status": r.status.value,
            "severity": r.severity.value,
            "object_kind": r.object.kind if r.object else None,
            "object_namespace": r.object.namespace if r.object else None,
            "object_name": r.object.name if r.object else None,
            "container": r.container,
            "message": r.message,
            "remediation": r.remediation,
            "assessed_at": sqlite_timestamp(r.assessed_at) if sqlite else r.assessed_at,
            "duration_ms": r.duration_ms,
        }
        for r in results
    ]
    names = _OLD_RESULT_COLUMNS.split(", ")
    connection.execute(
        text(
            f"INSERT INTO assessments ({_OLD_RESULT_COLUMNS}) "
            f"VALUES ({', '.join(':' + n for n in names)})"
        ),
        rows,
    )


def _to(engine: Engine, revision: str, *, down: bool = False) -> None:
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        (command.downgrade if down else command.upgrade)(config, revision)


def test_upgrade_from_0002_keeps_every_result_and_counts_them(storage_engine: Engine) -> None:
    _to(storage_engine, "0002")
    results = _old_results()
    with storage_engine.begin() as connection:
        _insert_old(connection, results)

    migrate(storage_engine)

    assert _schema_diff(storage_engine) == []
    repository = Repository(storage_engine)
    for result in results:
        assert repository.get_result(result.id) == result
    listed = repository.list_results(ResultQuery(limit=1000, include_total=True))
    assert sorted(r.id for r in listed.items) == sorted(r.id for r in results)
    assert listed.total == len(results)
    for run_id in ("run_1", "run_2"):
        summary = repository.summary(ResultQuery(run_id=RunId(run_id)))
        mine = [r for r in results if r.run_id == run_id]
        assert summary.counts == StatusCounts.of(r.status for r in mine)
        assert summary.by_severity == {
            Severity(s): n
            for s, n in Counter(r.severity for r in mine if r.status is Status.FAILING).items()
        }
    with storage_engine.connect() as connection:
        versions = connection.execute(select(CheckRow.check_id, CheckRow.digest)).all()
    assert len(versions) == 6  # three checks, each with two remediation texts
    # The running code finds the migrated versions again instead of adding new ones.
    fresh = Repository(storage_engine)
    repository.create_run(make_run("run_3"))
    fresh.add_results(
        [dataclasses.replace(results[0], id=ResultId("asm_new"), run_id=RunId("run_3"))]
    )
    with storage_engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(CheckRow)).scalar_one() == 6
    # A page token can be issued: the migration created the key.
    assert repository.list_results(ResultQuery(limit=2)).next_page_token


def test_downgrade_to_0002_restores_the_rows(storage_engine: Engine) -> None:
    _to(storage_engine, "0002")
    results = _old_results()
    with storage_engine.begin() as connection:
        _insert_old(connection, results)
        before = connection.execute(
            text(f"SELECT {_OLD_RESULT_COLUMNS} FROM assessments ORDER BY id")
        ).all()

    migrate(storage_engine)
    _to(storage_engine, "0002", down=True)

    with storage_engine.connect() as connection:
        after = connection.execute(
            text(f"SELECT {_OLD_RESULT_COLUMNS} FROM assessments ORDER BY id")
        ).all()
    assert after == before


def test_the_migration_digest_is_the_running_code_digest() -> None:
    migration = importlib.import_module(
        "assay.server.storage.migrations.versions.0003_check_versions_counts_keyset"
    )
    fields = ("SEC-001", "security", "high", "Containers run as non-root", "Set it ✓\n")
    assert migration._digest(*fields) == check_digest(
        check_id=fields[0],
        pillar=fields[1],
        severity=fields[2],
        name=fields[3],
        remediation=fields[4],
    )
