"""Results write path against the database's floor: ``python bench/bench_storage.py [--json]``.

For SQLite (a temporary file) and PostgreSQL (a database of its own, created on the server
given by ``--postgres-url`` and dropped afterwards), each repetition writes ``--rows`` results
of one run twice, into the same migrated schema:

- **ours**: ``Repository.add_results`` with domain ``AssessmentResult`` objects, everything
  included (check versions, row building, counts, commit);
- **floor**: the raw driver given the finished rows, in one transaction: ``sqlite3``
  ``executemany`` with the pragmas the engine sets, psycopg ``COPY``.

It prints rows/s of both, their ratio (ours' time over the floor's, so 1.0 is the floor and
2.0 twice as slow) per database, and ``ratio``, the worse of the two. With ``--json`` the last
line is one JSON object. Medians over ``--repeat`` repetitions (min in ``*_best``).
"""

from __future__ import annotations

import argparse
import json
import platform
import secrets
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import URL, create_engine, make_url

from assay.server.core.ids import ResultIdFactory
from assay.server.core.types import (
    AssessmentResult,
    ObjectRef,
    Pillar,
    Run,
    RunId,
    RunScope,
    RunState,
    Severity,
    Source,
    Status,
)
from assay.server.storage.engine import (
    SQLITE_BUSY_TIMEOUT_MS,
    SQLITE_CACHE_KIB,
    create_engine_from_url,
    migrate,
)
from assay.server.storage.repository import Repository
from assay.server.storage.writes import COLUMNS

DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
CHECKS = 12
_PILLARS = list(Pillar)


def results_of(run_id: RunId, count: int) -> list[AssessmentResult]:
    """``count`` results of one run: CHECKS checks, each sharing its metadata and timestamp
    as the runner's results do."""
    ids = ResultIdFactory()
    start = datetime.now(UTC)
    per_check = -(-count // CHECKS)
    results = []
    for c in range(CHECKS):
        at = start + timedelta(milliseconds=c)
        check_id = f"{_PILLARS[c % len(_PILLARS)].prefix}-{c:03d}"
        for i in range(c * per_check, min(count, (c + 1) * per_check)):
            results.append(
                AssessmentResult(
                    id=ids.new(check_id, at),
                    run_id=run_id,
                    pillar=_PILLARS[c % len(_PILLARS)],
                    check_id=check_id,
                    check_name=f"Containers of workloads follow rule number {c}",
                    status=Status.PASSING if i % 3 else Status.FAILING,
                    severity=Severity.HIGH,
                    object=ObjectRef(kind="Deployment", name=f"web-{i}", namespace=f"ns-{i % 50}"),
                    container="app",
                    message="securityContext.runAsNonRoot is not set on the container",
                    remediation=(
                        "Set securityContext.runAsNonRoot: true on every container and build "
                        "the image so that it runs as an unprivileged user."
                    ),
                    assessed_at=at,
                    duration_ms=120 + c,
                )
            )
    return results


def new_run(repository: Repository, label: str) -> RunId:
    run_id = RunId(f"run_{label}_{time.time_ns()}")
    repository.create_run(
        Run(
            run_id=run_id,
            state=RunState.RUNNING,
            scope=RunScope.FULL,
            source=Source.MANIFESTS,
            requested_at=datetime.now(UTC),
        )
    )
    return run_id


def floor_rows(repository: Repository, results: list[AssessmentResult]) -> list[tuple[Any, ...]]:
    """The rows ours would write, built outside the timing: the floor only inserts."""
    sqlite = repository.engine.dialect.name == "sqlite"
    with repository.engine.connect() as connection:
        refs: dict[str, int] = {
            check_id: ref
            for check_id, ref in connection.exec_driver_sql(
                "SELECT check_id, id FROM assessment_checks"
            )
        }
    rows = []
    for r in results:
        assert r.object is not None
        at = r.assessed_at.replace(tzinfo=None).isoformat(" ", "microseconds")
        rows.append(
            (
                r.id,
                r.run_id,
                refs[r.check_id],
                r.pillar.value,
                r.status.value,
                r.object.kind,
                r.object.namespace,
                r.object.name,
                r.container,
                r.message,
                at if sqlite else r.assessed_at.isoformat(),
                r.duration_ms,
                r.exempted,
                None if r.origin is None else r.origin.path,
                None if r.origin is None else r.origin.line,
            )
        )
    assert not rows or len(rows[0]) == len(COLUMNS), "floor rows lag COLUMNS"
    return rows


def sqlite_floor(path: str, rows: list[tuple[Any, ...]]) -> float:
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        for pragma in (
            f"busy_timeout={SQLITE_BUSY_TIMEOUT_MS}",
            "journal_mode=WAL",
            "synchronous=NORMAL",
            "foreign_keys=ON",
            f"cache_size=-{SQLITE_CACHE_KIB}",
            "temp_store=MEMORY",
        ):
            connection.execute(f"PRAGMA {pragma}")
        marks = ", ".join("?" * len(COLUMNS))
        sql = f"INSERT INTO assessments ({', '.join(COLUMNS)}) VALUES ({marks})"
        began = time.perf_counter()
        connection.execute("BEGIN")
        connection.executemany(sql, rows)
        connection.execute("COMMIT")
        return time.perf_counter() - began
    finally:
        connection.close()


def postgres_floor(url: URL, rows: list[tuple[Any, ...]]) -> float:
    conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo) as connection:
        began = time.perf_counter()
        with (
            connection.cursor() as cursor,
            cursor.copy(f"COPY assessments ({', '.join(COLUMNS)}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row)
        connection.commit()
        return time.perf_counter() - began


def measure(
    repository: Repository, floor: Callable[[list[tuple[Any, ...]]], float], count: int, repeat: int
) -> dict[str, float]:
    # Warm-up: check versions exist and are cached, the schema's pages are in memory.
    warm = new_run(repository, "warm")
    repository.add_results(results_of(warm, min(count, 2_000)))
    ours: list[float] = []
    raw: list[float] = []
    for _ in range(repeat):
        results = results_of(new_run(repository, "ours"), count)
        began = time.perf_counter()
        repository.add_results(results)
        ours.append(time.perf_counter() - began)
        floor_results = results_of(new_run(repository, "floor"), count)
        raw.append(floor(floor_rows(repository, floor_results)))
    return {
        "rows_per_s": round(count / statistics.median(ours)),
        "rows_per_s_best": round(count / min(ours)),
        "floor_rows_per_s": round(count / statistics.median(raw)),
        "floor_rows_per_s_best": round(count / min(raw)),
        "ratio": round(statistics.median(ours) / statistics.median(raw), 2),
    }


def bench_sqlite(count: int, repeat: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as scratch:
        path = str(Path(scratch) / "bench.db")
        engine = create_engine_from_url(f"sqlite:///{path}")
        try:
            migrate(engine)
            return measure(Repository(engine), lambda rows: sqlite_floor(path, rows), count, repeat)
        finally:
            engine.dispose()


def bench_postgres(server: str, count: int, repeat: int) -> dict[str, float]:
    server_url = make_url(server).set(drivername="postgresql+psycopg")
    name = f"assay_bench_{secrets.token_hex(4)}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
        url = server_url.set(database=name)
        engine = create_engine_from_url(url)
        try:
            migrate(engine)
            return measure(
                Repository(engine), lambda rows: postgres_floor(url, rows), count, repeat
            )
        finally:
            engine.dispose()
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=50_000, help="results per repetition")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES, help="server to bench on")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    parser.add_argument("--json", action="store_true", help="end with one JSON line")
    args = parser.parse_args()

    figures: dict[str, Any] = {"rows": args.rows, "repeat": args.repeat}
    backends: dict[str, Callable[[], dict[str, float]]] = {
        "sqlite": lambda: bench_sqlite(args.rows, args.repeat)
    }
    if not args.no_postgres:
        backends["postgres"] = lambda: bench_postgres(args.postgres_url, args.rows, args.repeat)
    for name, run in backends.items():
        result = run()
        for key, value in result.items():
            figures[f"{name}_{key}"] = value
        print(
            f"{name:>9}: ours {result['rows_per_s']:>9,.0f} rows/s   "
            f"floor {result['floor_rows_per_s']:>9,.0f} rows/s   ratio {result['ratio']:.2f}"
        )
    figures["ratio"] = max(figures[f"{name}_ratio"] for name in backends)
    figures["machine"] = f"{platform.machine()} {platform.python_version()}"
    print(f"ratio (ours / floor, worse database): {figures['ratio']:.2f}")
    if args.json:
        print(json.dumps(figures))


if __name__ == "__main__":
    main()
