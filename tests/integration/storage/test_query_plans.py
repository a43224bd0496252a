"""Every query shape the API offers reads through an index, on SQLite and on PostgreSQL.

Each shape runs for real through the Repository while the statements it sends are recorded;
each recorded SELECT is then explained by the database with the same parameters. A read of
a table of ours must be an index search (or a LIMITed walk along an index), never a scan of
the table, and a single-range listing must take its order from the index (no sort). The
expected index is named per shape, so a planner falling back to a worse index is noticed.

The tables hold a few thousand analysed rows so that PostgreSQL's planner costs them as it
would in production; ``enable_seqscan`` is off so an index that cannot serve a shape shows
up as a sequential scan rather than hiding behind "the table is small".
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Connection, event

from assay.server.core.types import Pillar, ResultQuery, RunId, RunQuery, RunState, Status
from assay.server.storage.engine import create_engine_from_url, migrate
from assay.server.storage.repository import Repository
from assay.server.workflow.audit import AuditEventType, AuditQuery
from tests.integration.storage.backends import postgres_schema_url
from tests.integration.storage.builders import (
    T0,
    finished,
    history_for,
    make_audit_event,
    make_result,
    make_run,
)

CHECKS = [
    ("SEC-001", Pillar.SECURITY),
    ("SEC-002", Pillar.SECURITY),
    ("REL-001", Pillar.RELIABILITY),
    ("PERF-001", Pillar.PERFORMANCE_EFFICIENCY),
    ("COST-001", Pillar.COST_OPTIMIZATION),
    ("OPS-001", Pillar.OPERATIONAL_EXCELLENCE),
    ("SUS-001", Pillar.SUSTAINABILITY),
]
STATUSES = [Status.PASSING, Status.PASSING, Status.PASSING, Status.FAILING, Status.WARNING]
RUNS = 4
Expected = tuple[str, ...]
PER_CHECK = 150
TABLES = (
    "assessments",
    "assessment_counts",
    "assessment_checks",
    "runs",
    "assessment_history",
    "workflow_audit_events",
)


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def seeded(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Repository]:
    """One seeded, analysed database per backend for the whole module (tests only read)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('plans') / 'assay.db'}"
    else:
        url = postgres_schema_url(request.getfixturevalue("postgres_test_database"))
    engine = create_engine_from_url(url)
    try:
        migrate(engine)
        yield _seed(Repository(engine))
    finally:
        engine.dispose()


def _seed(repository: Repository) -> Repository:
    for r in range(RUNS):
        run_id = f"run_{r}"
        start = T0 + timedelta(hours=r)
        run = make_run(run_id, requested_at=start)
        repository.create_run(run)
        results = []
        for c, (check_id, pillar) in enumerate(CHECKS):
            at = start + timedelta(seconds=c + 1)
            results += [
                make_result(
                    run_id,
                    c * PER_CHECK + n,
                    check_id=check_id,
                    pillar=pillar,
                    status=STATUSES[n % len(STATUSES)],
                    assessed_at=at,
                )
                for n in range(PER_CHECK)
            ]
        repository.add_results(results)
        done = finished(run, results, completed_at=start + timedelta(minutes=5))
        repository.finish_run(done, history_for(done, results))
    # Older runs without results, in every end state, so run statistics look lived-in.
    ends = [RunState.COMPLETED, RunState.FAILED, RunState.CANCELLED, RunState.PARTIAL]
    for n in range(60):
        run = make_run(f"old_{n:03d}", requested_at=T0 - timedelta(days=1, minutes=n))
        repository.create_run(run)
        done = finished(run, [], state=ends[n % len(ends)], cluster_id=f"c{n % 3}")
        repository.finish_run(done, history_for(done, []))
    for n in range(300):
        repository.record_audit(
            make_audit_event(
                f"uid-{n}/completed",
                execution_name=f"exec-{n % 30}",
                target=f"Deployment/shop/web-{n % 40}",
                event_type=list(AuditEventType)[n % len(AuditEventType)],
                occurred_at=T0 + timedelta(seconds=n),
            )
        )
    with repository.engine.begin() as connection:
        connection.exec_driver_sql("ANALYZE")
    return repository


@contextmanager
def recorded(repository: Repository) -> Iterator[list[tuple[str, Any]]]:
    statements: list[tuple[str, Any]] = []
    engines = {repository.engine, repository.read_engine}

    def record(
        conn: Connection, cursor: Any, statement: str, parameters: Any, context: Any, many: bool
    ) -> None:
        if statement.lstrip().upper().startswith(("SELECT", "WITH")):
            statements.append((statement, parameters))

    for engine in engines:
        event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", record)


def _token(call: Callable[[str], Any]) -> str:
    token: str = call("").next_page_token
    assert token, "the shape needs a second page to test"
    return token


def _results(repository: Repository, **fields: Any) -> Callable[[str], Any]:
    query = ResultQuery(limit=20, **fields)
    return lambda token: repository.list_result_rows(dataclasses.replace(query, page_token=token))


ONE_RUN = {"run_id": RunId("run_2")}
SINCE = T0 + timedelta(hours=2, seconds=3)

# name -> (the call, given the repository and the page token to use; expected index name)
RESULT_SHAPES: dict[str, tuple[dict[str, Any], str]] = {
    "run": (ONE_RUN, "ix_assessments_listing"),
    "run+pillar": (
        {**ONE_RUN, "pillars": frozenset({Pillar.SECURITY})},
        "ix_assessments_pillar_status_listing",
    ),
    "run+statuses": (
        {**ONE_RUN, "statuses": frozenset({Status.FAILING, Status.WARNING})},
        "ix_assessments_pillar_status_listing",
    ),
    "run+pillar+status": (
        {
            **ONE_RUN,
            "pillars": frozenset({Pillar.RELIABILITY}),
            "statuses": frozenset({Status.PASSING}),
        },
        "ix_assessments_pillar_status_listing",
    ),
    "run+check": ({**ONE_RUN, "check_id": "SEC-002"}, "ix_assessments_check_status_listing"),
    "run+check+status": (
        {**ONE_RUN, "check_id": "SEC-002", "statuses": frozenset({Status.PASSING})},
        "ix_assessments_check_status_listing",
    ),
    "run+since": (
        {**ONE_RUN, "since": T0 + timedelta(hours=2, seconds=5)},
        "ix_assessments_listing",
    ),
    "latest": ({"latest_run_of": "prod"}, "ix_assessments_listing"),
    "latest+pillar": (
        {"latest_run_of": "prod", "pillars": frozenset({Pillar.SECURITY})},
        "ix_assessments_pillar_status_listing",
    ),
    "all": ({}, "ix_assessments_listing"),
    "all+status": (
        {"statuses": frozenset({Status.FAILING})},
        "ix_assessments_pillar_status_listing",
    ),
    "all+check": ({"check_id": "REL-001"}, "ix_assessments_check_status_listing"),
    "all+since": ({"since": SINCE}, "ix_assessments_listing"),
}


def _explain_sqlite(connection: Connection, statement: str, parameters: Any) -> list[str]:
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(f"EXPLAIN QUERY PLAN {statement}", parameters)
        return [str(row[3]) for row in cursor.fetchall()]
    finally:
        cursor.close()


def _sqlite_problems(plan: list[str], expected: Expected, single: bool) -> list[str]:
    problems = []
    for line in plan:
        words = line.split()
        scans_table = len(words) >= 2 and words[0] in ("SCAN", "SEARCH") and words[1] in TABLES
        if scans_table and "INDEX" not in line and "PRIMARY KEY" not in line:
            problems.append(f"table scan: {line}")
    if single and any("TEMP B-TREE FOR ORDER BY" in line for line in plan):
        problems.append("sorts instead of reading the index in order")
    if expected and not any(name in line.split() for name in expected for line in plan):
        problems.append(f"does not use {' or '.join(expected)}")
    return problems


def _explain_postgres(
    connection: Connection, statement: str, parameters: Any, *, only: Expected = ()
) -> dict[str, Any]:
    """The plan PostgreSQL picks; with ``only``, the plan it picks when the other indexes of
    those indexes' tables are gone (dropped inside a transaction that is rolled back), which
    shows that they alone serve the statement."""
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute("BEGIN")
        cursor.execute("SET LOCAL enable_seqscan = off")
        if only:
            # Whatever the costs of this small table, read in index order if it can.
            cursor.execute("SET LOCAL enable_sort = off")
            cursor.execute("SET LOCAL enable_bitmapscan = off")
        for name in only:
            cursor.execute(
                "SELECT i.indexname FROM pg_indexes i JOIN pg_indexes e "
                "ON e.tablename = i.tablename AND e.schemaname = i.schemaname "
                "WHERE e.indexname = %s AND i.indexname != %s "
                "AND i.indexname NOT LIKE 'pk_%%' AND i.indexname NOT LIKE 'uq_%%' "
                "AND i.schemaname = current_schema()",
                (name, name),
            )
            for (other,) in cursor.fetchall():
                if other not in only:
                    cursor.execute(f'DROP INDEX "{other}"')
        cursor.execute(f"EXPLAIN (FORMAT JSON) {statement}", parameters)
        plan: dict[str, Any] = cursor.fetchone()[0][0]["Plan"]
        return plan
    finally:
        cursor.execute("ROLLBACK")
        cursor.close()


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


def _postgres_problems(plan: dict[str, Any], expected: Expected, single: bool) -> list[str]:
    problems = []
    nodes = list(_nodes(plan))
    for node in nodes:
        if node["Node Type"] == "Seq Scan" and node.get("Relation Name") in TABLES:
            problems.append(f"sequential scan of {node['Relation Name']}")
    if single and any(node["Node Type"] in ("Sort", "Incremental Sort") for node in nodes):
        problems.append("sorts instead of reading the index in order")
    if expected and not any(node.get("Index Name") in expected for node in nodes):
        problems.append(f"does not use {' or '.join(expected)}")
    return problems


def _check(
    repository: Repository,
    calls: list[Callable[[], object]],
    *,
    expected: str | Expected,
    on: str = "assessments",
    single_range: bool = True,
) -> None:
    """Run ``calls`` and check the plan of every SELECT that mentions ``on``.

    SQLite's planner is deterministic: it must pick (one of) ``expected``. PostgreSQL's is
    costed and may prefer another index, or a top-N sort of a handful of matches, for this
    data: its own plan must not scan a table, and ``expected`` alone (the table's other
    indexes dropped, sorting discouraged) must serve the statement, in order where the
    statement is one range.
    """
    engine = repository.engine
    with recorded(repository) as statements:
        for call in calls:
            call()
    if isinstance(expected, str):
        # SQLite names a declared primary key's index after the table, not the constraint.
        table = expected.removeprefix("pk_")
        expected = (
            (expected, f"sqlite_autoindex_{table}_1") if expected.startswith("pk_") else (expected,)
        )
    relevant = [(s, p) for s, p in statements if on in s]
    assert relevant, f"no statement read {on}"
    with engine.connect() as connection:
        for statement, parameters in relevant:
            single = single_range and "UNION ALL" not in statement and "LIMIT" in statement
            if connection.dialect.name == "sqlite":
                plan: Any = _explain_sqlite(connection, statement, parameters)
                problems = _sqlite_problems(plan, expected, single)
            else:
                plan = _explain_postgres(connection, statement, parameters)
                problems = _postgres_problems(plan, (), single=False)
                only = _explain_postgres(connection, statement, parameters, only=expected)
                problems += _postgres_problems(only, expected, single)
            assert not problems, f"{statement}\n{parameters}\n{problems}\n{plan}"


@pytest.mark.parametrize("shape", list(RESULT_SHAPES))
def test_result_listing_first_and_deep_pages_use_the_index(seeded: Repository, shape: str) -> None:
    fields, index = RESULT_SHAPES[shape]
    listing = _results(seeded, **fields)
    token = _token(listing)
    _check(seeded, [lambda: listing(""), lambda: listing(token)], expected=index)


@pytest.mark.parametrize(
    "fields",
    [
        ONE_RUN,
        {
            **ONE_RUN,
            "pillars": frozenset({Pillar.SECURITY}),
            "statuses": frozenset({Status.FAILING}),
        },
        {**ONE_RUN, "check_id": "SEC-001"},
        {"latest_run_of": "prod"},
    ],
    ids=["run", "run+pillar+status", "run+check", "latest"],
)
def test_summaries_and_totals_of_a_run_read_the_counts_table(
    seeded: Repository, fields: dict[str, Any]
) -> None:
    query = ResultQuery(**fields)
    _check(
        seeded,
        [lambda: seeded.summary(query), lambda: seeded.list_results(query)],
        expected="pk_assessment_counts",
        on="assessment_counts",
        single_range=False,
    )


def test_a_run_straddling_since_is_counted_through_the_index(seeded: Repository) -> None:
    query = ResultQuery(run_id=RunId("run_2"), since=T0 + timedelta(hours=2, seconds=4))
    _check(
        seeded,
        [lambda: seeded.summary(query)],
        # SQLite may skip-scan the covering check index instead: also a range read.
        expected=("ix_assessments_listing", "ix_assessments_check_status_listing"),
        single_range=False,
    )


def test_single_results_and_the_latest_run_use_indexes(seeded: Repository) -> None:
    some = seeded.list_results(ResultQuery(run_id=RunId("run_1"), limit=1)).items[0]
    _check(seeded, [lambda: seeded.get_result(some.id)], expected="pk_assessments")
    _check(
        seeded,
        [lambda: seeded.list_result_rows(ResultQuery(latest_run_of="prod", limit=1))],
        expected="ix_runs_cluster_id_completed_at_run_id",
        on="FROM runs",
    )
    _check(
        seeded,
        [lambda: seeded.list_result_rows(ResultQuery(since=SINCE, limit=1))],
        expected="ix_runs_completed_at",
        on="FROM runs",
        single_range=False,
    )


RUN_SHAPES: dict[str, tuple[RunQuery, str | Expected]] = {
    "runs": (RunQuery(limit=1), "ix_runs_requested_at_run_id"),
    "runs+since": (RunQuery(limit=1, since=T0 + timedelta(hours=1)), "ix_runs_requested_at_run_id"),
    "runs+state": (
        RunQuery(limit=1, states=frozenset({RunState.COMPLETED})),
        "ix_runs_state_requested_at_run_id",
    ),
    # Several states: one index range each, merged; or (SQLite) the time index, filtered.
    "runs+states": (
        RunQuery(limit=1, states=frozenset({RunState.COMPLETED, RunState.FAILED})),
        ("ix_runs_state_requested_at_run_id", "ix_runs_requested_at_run_id"),
    ),
}


@pytest.mark.parametrize("shape", list(RUN_SHAPES))
def test_run_listing_uses_the_index(seeded: Repository, shape: str) -> None:
    query, index = RUN_SHAPES[shape]
    token = seeded.list_runs(query).next_page_token
    _check(
        seeded,
        [
            lambda: seeded.list_runs(query),
            lambda: seeded.list_runs(dataclasses.replace(query, page_token=token)),
        ],
        expected=index,
        on="FROM runs",
        single_range=shape != "runs+states",
    )


@pytest.mark.parametrize(
    ("fields", "index"),
    [
        ({}, "ix_assessment_history_completed_at_id"),
        ({"cluster_id": "prod"}, "ix_assessment_history_cluster_id_completed_at_id"),
    ],
    ids=["history", "history+cluster"],
)
def test_history_uses_the_index(seeded: Repository, fields: dict[str, Any], index: str) -> None:
    token = seeded.history(limit=1, **fields).next_page_token
    _check(
        seeded,
        [
            lambda: seeded.history(limit=1, **fields),
            lambda: seeded.history(limit=1, page_token=token, **fields),
        ],
        expected=index,
        on="assessment_history",
    )


AUDIT_SHAPES: dict[str, tuple[AuditQuery, str]] = {
    "audit": (AuditQuery(limit=2), "ix_workflow_audit_events_occurred_at"),
    "audit+since": (
        AuditQuery(limit=2, since=T0 + timedelta(seconds=100)),
        "ix_workflow_audit_events_occurred_at",
    ),
    "audit+namespace": (
        AuditQuery(limit=2, execution_namespace="kubernaut-workflows"),
        "ix_workflow_audit_events_namespace",
    ),
    "audit+execution": (
        AuditQuery(limit=2, execution_namespace="kubernaut-workflows", execution_name="exec-3"),
        "ix_workflow_audit_events_execution",
    ),
    "audit+target": (
        AuditQuery(limit=2, target="Deployment/shop/web-7"),
        "ix_workflow_audit_events_target",
    ),
    "audit+type": (
        AuditQuery(limit=2, event_type=AuditEventType.SKIPPED),
        "ix_workflow_audit_events_event_type",
    ),
}


@pytest.mark.parametrize("shape", list(AUDIT_SHAPES))
def test_audit_listing_uses_the_index(seeded: Repository, shape: str) -> None:
    query, index = AUDIT_SHAPES[shape]
    token = seeded.list_audit_events(query).next_page_token
    assert token
    _check(
        seeded,
        [
            lambda: seeded.list_audit_events(query),
            lambda: seeded.list_audit_events(dataclasses.replace(query, page_token=token)),
        ],
        expected=index,
        on="workflow_audit_events",
    )
