"""Conversion between the domain types of ``core.types`` and ``assay.v1`` messages.

Used by the servicers in ``server.api``; nothing else sees proto messages. Result listings
take the fast path :func:`add_result_rows`: storage rows straight into the response's
repeated field, in the worker thread that read them, with no domain object in between.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

from google.protobuf import timestamp_pb2
from google.protobuf.internal.containers import RepeatedCompositeFieldContainer

from assay.server.assessment import progress
from assay.server.checks.kit.definition import CheckDefinition
from assay.server.core.types import (
    AssessmentResult,
    HistoryEntry,
    Pillar,
    Run,
    RunScope,
    RunState,
    Severity,
    Source,
    Status,
    StatusCounts,
    Summary,
)
from assay.server.storage.results import ResultRow
from assay.v1 import assessment_pb2 as apb
from assay.v1 import common_pb2 as cpb

PILLARS: dict[Pillar, cpb.Pillar.ValueType] = {
    p: cpb.Pillar.Value(f"PILLAR_{p.name}") for p in Pillar
}
STATUSES: dict[Status, cpb.Status.ValueType] = {
    s: cpb.Status.Value(f"STATUS_{s.name}") for s in Status
}
SEVERITIES: dict[Severity, cpb.Severity.ValueType] = {
    s: cpb.Severity.Value(f"SEVERITY_{s.name}") for s in Severity
}
RUN_STATES: dict[RunState, apb.RunPhase.ValueType] = {
    s: apb.RunPhase.Value(f"RUN_PHASE_{s.name}") for s in RunState
}
SCOPES: dict[RunScope, apb.RunScope.ValueType] = {
    s: apb.RunScope.Value(f"RUN_SCOPE_{s.name}") for s in RunScope
}
SOURCES: dict[Source, apb.InventorySource.ValueType] = {
    s: apb.InventorySource.Value(f"INVENTORY_SOURCE_{s.name}") for s in Source
}

PILLARS_BY_VALUE = {v: k for k, v in PILLARS.items()}
STATUSES_BY_VALUE = {v: k for k, v in STATUSES.items()}
SEVERITIES_BY_VALUE = {v: k for k, v in SEVERITIES.items()}
RUN_STATES_BY_VALUE = {v: k for k, v in RUN_STATES.items()}
SOURCES_BY_VALUE = {v: k for k, v in SOURCES.items()}
# Keyed by the stored text, for rows that skip the domain types.
_STATUS_OF_TEXT: dict[str, cpb.Status.ValueType] = {s.value: v for s, v in STATUSES.items()}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def timestamp(value: datetime | None) -> timestamp_pb2.Timestamp | None:
    if value is None:
        return None
    ts = timestamp_pb2.Timestamp()
    ts.FromDatetime(value.astimezone(UTC))
    return ts


def set_timestamp(ts: timestamp_pb2.Timestamp, value: datetime) -> None:
    """Fill ``ts`` from an aware datetime with integer arithmetic (exact, and cheaper than
    ``FromDatetime``)."""
    delta = value - _EPOCH
    ts.seconds = delta.days * 86_400 + delta.seconds
    ts.nanos = delta.microseconds * 1000


def from_timestamp(ts: timestamp_pb2.Timestamp) -> datetime:
    return ts.ToDatetime(tzinfo=UTC)


def counts(value: StatusCounts) -> cpb.StatusCounts:
    return cpb.StatusCounts(
        passing=value.passing,
        failing=value.failing,
        warning=value.warning,
        skipped=value.skipped,
        error=value.error,
        timeout=value.timeout,
        total=value.total,
    )


def pillar_counts(by_pillar: Mapping[Pillar, StatusCounts]) -> list[apb.PillarCounts]:
    return [
        apb.PillarCounts(pillar=PILLARS[p], counts=counts(c), score=c.score)
        for p, c in sorted(by_pillar.items(), key=lambda item: PILLARS[item[0]])
    ]


def result(value: AssessmentResult) -> apb.AssessmentResult:
    obj = value.object
    return apb.AssessmentResult(
        id=value.id,
        run_id=value.run_id,
        pillar=PILLARS[value.pillar],
        check_id=value.check_id,
        check_name=value.check_name,
        status=STATUSES[value.status],
        severity=SEVERITIES[value.severity],
        object=(
            cpb.ObjectReference(kind=obj.kind, namespace=obj.namespace, name=obj.name)
            if obj
            else None
        ),
        container=value.container,
        message=value.message,
        remediation=value.remediation,
        assessed_at=timestamp(value.assessed_at),
        duration_ms=value.duration_ms,
    )


def add_result_rows(
    target: RepeatedCompositeFieldContainer[apb.AssessmentResult], rows: Iterable[ResultRow]
) -> None:
    """Append one message per stored row to a repeated AssessmentResult field.

    Equal to ``result(row.to_domain())`` field for field (a test holds them together), at
    about half the cost: no domain object, fields set in place inside the parent message.
    """
    statuses = _STATUS_OF_TEXT
    for row in rows:
        check = row.check
        message = target.add(
            id=row.id,
            run_id=row.run_id,
            pillar=PILLARS[check.pillar],
            check_id=check.check_id,
            check_name=check.name,
            status=statuses[row.status],
            severity=SEVERITIES[check.severity],
            container=row.container,
            message=row.message,
            remediation=check.remediation,
            duration_ms=row.duration_ms,
        )
        if row.object_kind is not None:
            ref = message.object
            ref.SetInParent()
            ref.kind = row.object_kind
            ref.namespace = row.object_namespace or ""
            ref.name = row.object_name or ""
        set_timestamp(message.assessed_at, row.assessed_at)


def run(value: Run) -> apb.RunState:
    return apb.RunState(
        run_id=value.run_id,
        state=RUN_STATES[value.state],
        scope=SCOPES[value.scope],
        pillars=[PILLARS[p] for p in value.pillars],
        check_id=value.check_id,
        cluster_id=value.cluster_id,
        requested_at=timestamp(value.requested_at),
        started_at=timestamp(value.started_at),
        completed_at=timestamp(value.completed_at),
        error=value.error,
        counts=counts(value.counts),
        source=SOURCES[value.source],
        diagnostics=list(value.diagnostics),
        check_count=value.check_count,
        score=value.counts.score,
    )


def summary(value: Summary) -> apb.Summary:
    return apb.Summary(
        run_id=value.run_id or "",
        counts=counts(value.counts),
        pillars=pillar_counts(value.by_pillar),
        by_severity=[
            apb.SeverityCount(severity=SEVERITIES[s], count=n)
            for s, n in sorted(value.by_severity.items(), key=lambda item: item[0].rank)
        ],
        score=value.score,
    )


def history(value: HistoryEntry) -> apb.HistoryEntry:
    return apb.HistoryEntry(
        run_id=value.run_id,
        cluster_id=value.cluster_id,
        state=RUN_STATES[value.state],
        completed_at=timestamp(value.completed_at),
        counts=counts(value.counts),
        pillars=pillar_counts(value.by_pillar),
        score=value.score,
    )


def check_definition(value: CheckDefinition) -> apb.CheckDefinition:
    return apb.CheckDefinition(
        id=value.id,
        pillar=PILLARS[value.pillar],
        name=value.name,
        description=value.description,
        severity=SEVERITIES[value.severity],
        scope=value.scope,
        remediation=value.remediation,
        kinds=list(value.kinds),
    )


def run_event(event: progress.RunEvent) -> apb.RunEvent:
    out = apb.RunEvent(run_id=event.run_id, sequence=event.sequence, at=timestamp(event.at))
    payload = event.payload
    if isinstance(payload, progress.RunStateChanged):
        out.state_changed.CopyFrom(
            apb.RunStateChanged(
                state=RUN_STATES[payload.state],
                error=payload.error,
                diagnostics=list(payload.diagnostics),
                total_checks=payload.total_checks,
            )
        )
    elif isinstance(payload, progress.CheckStarted):
        out.check_started.CopyFrom(
            apb.CheckStarted(
                check_id=payload.check_id,
                check_name=payload.check_name,
                pillar=PILLARS[payload.pillar],
            )
        )
    elif isinstance(payload, progress.CheckFinished):
        out.check_finished.CopyFrom(
            apb.CheckFinished(
                check_id=payload.check_id,
                outcome=STATUSES[payload.outcome],
                counts=counts(payload.counts),
                duration_ms=payload.duration_ms,
                error=payload.error,
                completed_checks=payload.completed_checks,
                total_checks=payload.total_checks,
            )
        )
    else:
        out.run_finished.CopyFrom(run_finished(payload.run, payload.summary))
    return out


def run_finished(run_value: Run, summary_value: Summary) -> apb.RunFinished:
    return apb.RunFinished(run=run(run_value), summary=summary(summary_value))
