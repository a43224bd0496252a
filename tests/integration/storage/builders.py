"""Domain objects for storage tests, with defaults so each test states only what it checks."""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from assay.server.core.types import (
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
from assay.server.workflow.audit import AuditEvent, AuditEventType

T0 = datetime(2026, 2, 16, 10, 30, 45, 123456, tzinfo=UTC)


def make_run(run_id: str = "run-1", **changes: Any) -> Run:
    run = Run(
        run_id=RunId(run_id),
        state=RunState.QUEUED,
        scope=RunScope.FULL,
        source=Source.LIVE,
        requested_at=T0,
        cluster_id="prod",
    )
    return dataclasses.replace(run, **changes)


def make_result(run_id: str, n: int, **changes: Any) -> AssessmentResult:
    """Result number ``n`` of a run, assessed ``n`` seconds after T0."""
    result = AssessmentResult(
        id=ResultId(f"asm_{run_id}_{n:05d}"),
        run_id=RunId(run_id),
        pillar=Pillar.SECURITY,
        check_id="SEC001",
        check_name="Containers run as non-root",
        status=Status.PASSING,
        severity=Severity.HIGH,
        object=ObjectRef(kind="Deployment", name=f"web-{n}", namespace="shop"),
        container="app",
        message="runAsNonRoot is set",
        remediation="",
        assessed_at=T0 + timedelta(seconds=n),
        duration_ms=n,
    )
    return dataclasses.replace(result, **changes)


def history_for(run: Run, results: Iterable[AssessmentResult]) -> HistoryEntry:
    """The history row the runner writes for ``run`` after ``results``."""
    per_pillar: defaultdict[Pillar, list[Status]] = defaultdict(list)
    for result in results:
        per_pillar[result.pillar].append(result.status)
    by_pillar = {pillar: StatusCounts.of(statuses) for pillar, statuses in per_pillar.items()}
    assert run.completed_at is not None
    return HistoryEntry(
        run_id=run.run_id,
        cluster_id=run.cluster_id,
        state=run.state,
        completed_at=run.completed_at,
        counts=sum(by_pillar.values(), StatusCounts()),
        by_pillar=by_pillar,
    )


def finished(run: Run, results: Sequence[AssessmentResult], **changes: Any) -> Run:
    """``run`` completed with the counts of ``results``."""
    done = dataclasses.replace(
        run,
        state=RunState.COMPLETED,
        started_at=run.requested_at + timedelta(seconds=1),
        completed_at=run.requested_at + timedelta(minutes=1),
        counts=StatusCounts.of(r.status for r in results),
        check_count=len({r.check_id for r in results}),
    )
    return dataclasses.replace(done, **changes)


def make_audit_event(key: str = "uid-1/pipelinerun_created", **changes: Any) -> AuditEvent:
    event = AuditEvent(
        key=key,
        event_type=AuditEventType.PIPELINERUN_CREATED,
        execution_namespace="kubernaut-workflows",
        execution_name="restart-web",
        execution_uid="uid-1",
        workflow_id="restart-deployment",
        workflow_version="1.2.0",
        target="Deployment/shop/web",
        phase="Running",
        occurred_at=T0,
        reason="Created",
        message="PipelineRun restart-web-abc12 created",
        correlation_id="corr-1",
        payload={"pipelinerun": "restart-web-abc12", "params": {"replicas": 3}, "tags": ["a"]},
    )
    return dataclasses.replace(event, **changes)
