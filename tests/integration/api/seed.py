"""Test data written straight through the storage repository, for the query RPC tests."""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from datetime import UTC, datetime, timedelta

from assay.server.assessment.types import (
    AssessmentResult,
    HistoryEntry,
    ObjectRef,
    Pillar,
    ResultId,
    Run,
    RunId,
    RunScope,
    RunState,
    Severity,
    Source,
    Status,
    StatusCounts,
)
from assay.server.storage.repository import Repository

T0 = datetime(2026, 2, 16, 10, 30, 0, tzinfo=UTC)

# (pillar, check id, status, severity) of the results of the first seeded run, oldest first.
ROWS = [
    (Pillar.SECURITY, "SEC-001", Status.PASSING, Severity.CRITICAL),
    (Pillar.SECURITY, "SEC-001", Status.FAILING, Severity.CRITICAL),
    (Pillar.SECURITY, "SEC-003", Status.FAILING, Severity.HIGH),
    (Pillar.RELIABILITY, "REL-001", Status.PASSING, Severity.HIGH),
    (Pillar.RELIABILITY, "REL-005", Status.WARNING, Severity.MEDIUM),
    (Pillar.COST_OPTIMIZATION, "COST-003", Status.SKIPPED, Severity.LOW),
    (Pillar.OPERATIONAL_EXCELLENCE, "OPS-001", Status.ERROR, Severity.LOW),
    (Pillar.SUSTAINABILITY, "SUS-001", Status.TIMEOUT, Severity.LOW),
]


def make_results(
    run_id: RunId, start: datetime, rows: list[tuple[Pillar, str, Status, Severity]]
) -> list[AssessmentResult]:
    out = []
    for i, (pillar, check_id, status, severity) in enumerate(rows):
        at = start + timedelta(seconds=i)
        out.append(
            AssessmentResult(
                id=ResultId(f"asm_{at:%Y%m%d_%H%M%S}_{check_id.lower().replace('-', '')}_{i:06x}"),
                run_id=run_id,
                pillar=pillar,
                check_id=check_id,
                check_name=f"Check {check_id}",
                status=status,
                severity=severity,
                object=ObjectRef(kind="Deployment", namespace="shop", name=f"web-{i}"),
                container="app" if i % 2 else "",
                message=f"{check_id} says {status.value}",
                remediation=f"Fix {check_id}",
                assessed_at=at,
                duration_ms=10 + i,
            )
        )
    return out


def seed_run(
    repository: Repository,
    run_id: str,
    start: datetime,
    rows: list[tuple[Pillar, str, Status, Severity]],
    *,
    cluster_id: str = "prod",
) -> tuple[Run, list[AssessmentResult]]:
    """A finished run with these results and its history row."""
    rid = RunId(run_id)
    run = Run(
        run_id=rid,
        state=RunState.QUEUED,
        scope=RunScope.FULL,
        source=Source.MANIFESTS,
        requested_at=start - timedelta(seconds=5),
        cluster_id=cluster_id,
    )
    repository.create_run(run)
    results = make_results(rid, start, rows)
    repository.add_results(results)
    counts = StatusCounts.of(r.status for r in results)
    per_pillar: dict[Pillar, list[Status]] = defaultdict(list)
    for r in results:
        per_pillar[r.pillar].append(r.status)
    finished = dataclasses.replace(
        run,
        state=RunState.PARTIAL if counts.error or counts.timeout else RunState.COMPLETED,
        started_at=start - timedelta(seconds=1),
        completed_at=start + timedelta(seconds=len(rows)),
        counts=counts,
        check_count=len({r.check_id for r in results}),
    )
    repository.finish_run(
        finished,
        HistoryEntry(
            run_id=rid,
            cluster_id=cluster_id,
            state=finished.state,
            completed_at=finished.completed_at or start,
            counts=counts,
            by_pillar={p: StatusCounts.of(s) for p, s in per_pillar.items()},
        ),
    )
    return finished, results
