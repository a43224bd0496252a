"""Finished runs written straight through the storage repository, for the query RPC tests.

Built from the storage tests' builders, so both suites make domain objects the same way.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from assay.server.core.types import (
    AssessmentResult,
    ObjectRef,
    Pillar,
    ResultId,
    Run,
    RunState,
    Severity,
    Status,
)
from assay.server.settings import Settings
from assay.server.storage.repository import Repository
from tests.integration.storage.builders import finished, history_for, make_result, make_run

T0 = datetime(2026, 2, 16, 10, 30, 0, tzinfo=UTC)
# The cluster id of a server started with default settings: its result queries read the
# latest run of this cluster unless told otherwise.
CLUSTER = Settings().cluster_id

Row = tuple[Pillar, str, Status, Severity]

# (pillar, check id, status, severity) of the results of the first seeded run, oldest first.
ROWS: list[Row] = [
    (Pillar.SECURITY, "SEC-001", Status.PASSING, Severity.CRITICAL),
    (Pillar.SECURITY, "SEC-001", Status.FAILING, Severity.CRITICAL),
    (Pillar.SECURITY, "SEC-003", Status.FAILING, Severity.HIGH),
    (Pillar.RELIABILITY, "REL-001", Status.PASSING, Severity.HIGH),
    (Pillar.RELIABILITY, "REL-005", Status.WARNING, Severity.MEDIUM),
    (Pillar.COST_OPTIMIZATION, "COST-003", Status.SKIPPED, Severity.LOW),
    (Pillar.OPERATIONAL_EXCELLENCE, "OPS-001", Status.ERROR, Severity.LOW),
    (Pillar.SUSTAINABILITY, "SUS-001", Status.TIMEOUT, Severity.LOW),
]


def seed_run(
    repository: Repository,
    run_id: str,
    start: datetime,
    rows: list[Row],
    *,
    cluster_id: str = CLUSTER,
) -> tuple[Run, list[AssessmentResult]]:
    """A finished run with one result per row (a second apart from ``start``) and its
    history row; partial when a row is an error or a timeout."""
    run = make_run(run_id, requested_at=start - timedelta(seconds=5), cluster_id=cluster_id)
    repository.create_run(run)
    results = [
        make_result(
            run_id,
            i,
            id=ResultId(f"asm_{start:%Y%m%d_%H%M%S}_{check_id.lower().replace('-', '')}_{i:06x}"),
            pillar=pillar,
            check_id=check_id,
            check_name=f"Check {check_id}",
            status=status,
            severity=severity,
            object=ObjectRef(kind="Deployment", namespace="shop", name=f"web-{i}"),
            container="app" if i % 2 else "",
            message=f"{check_id} says {status.value}",
            remediation=f"Fix {check_id}",
            assessed_at=start + timedelta(seconds=i),
        )
        for i, (pillar, check_id, status, severity) in enumerate(rows)
    ]
    repository.add_results(results)
    partial = any(r.status in (Status.ERROR, Status.TIMEOUT) for r in results)
    done = finished(
        run,
        results,
        state=RunState.PARTIAL if partial else RunState.COMPLETED,
        completed_at=start + timedelta(seconds=len(rows)),
    )
    repository.finish_run(done, history_for(done, results))
    return done, results
