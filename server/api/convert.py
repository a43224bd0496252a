"""Conversion between the domain types of ``core.types`` and ``assay.v1`` messages.

Used by the servicers in ``server.api``; nothing else sees proto messages. Result listings
take the fast path :func:`add_result_rows`: storage rows straight into the response's
repeated field, in the worker thread that read them, with no domain object in between.
"""

from __future__ import annotations

import operator
from collections.abc import Mapping
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
from assay.server.storage.dialect import epoch
from assay.server.storage.mapping import HistoryRecord
from assay.server.storage.results import ResultPage
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
_PILLAR_OF_TEXT: dict[str, cpb.Pillar.ValueType] = {p.value: v for p, v in PILLARS.items()}
_RUN_STATE_OF_TEXT: dict[str, apb.RunPhase.ValueType] = {s.value: v for s, v in RUN_STATES.items()}
_STATUS_ORDER = (*(s.value for s in Status), "exempted")  # StatusCounts' field order
_STATUS_VALUES = operator.itemgetter(*_STATUS_ORDER)
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
    # Fields read once and added here: StatusCounts.total walks the Status enum, which
    # dominated GetHistory's conversion (seven counts per entry).
    p, f, w = value.passing, value.failing, value.warning
    s, e, t = value.skipped, value.error, value.timeout
    return cpb.StatusCounts(
        passing=p,
        failing=f,
        warning=w,
        skipped=s,
        error=e,
        timeout=t,
        total=p + f + w + s + e + t,
        exempted=value.exempted,
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
        exempted=value.exempted,
        origin=(
            apb.SourceLocation(path=value.origin.path, line=value.origin.line)
            if value.origin
            else None
        ),
    )


def add_result_rows(
    target: RepeatedCompositeFieldContainer[apb.AssessmentResult], page: ResultPage
) -> None:
    """Append one message per row of ``page`` to a repeated AssessmentResult field.

    Equal to ``result(...)`` of the domain results field for field (a test holds them
    together), at about half the cost: rows as the driver returned them, no domain object,
    the check's fields looked up once per version and the timestamp converted once per
    distinct time (a check's results share one), fields set in place inside the parent.
    """
    statuses = _STATUS_OF_TEXT
    checks = {
        ref: (PILLARS[c.pillar], c.check_id, c.name, SEVERITIES[c.severity], c.remediation)
        for ref, c in page.checks.items()
    }
    last_at: object = None
    seconds = nanos = 0
    for row in page.rows:
        (
            id_,
            run_id,
            ref,
            status,
            kind,
            namespace,
            name,
            container,
            text,
            at,
            ms,
            exempt,
            origin_path,
            origin_line,
        ) = row
        pillar, check_id, check_name, severity, remediation = checks[ref]
        message = target.add(
            id=id_,
            run_id=run_id,
            pillar=pillar,
            check_id=check_id,
            check_name=check_name,
            status=statuses[status],
            severity=severity,
            container=container,
            message=text,
            remediation=remediation,
            duration_ms=ms,
            exempted=bool(exempt),
        )
        if kind is not None:
            ref_message = message.object
            ref_message.SetInParent()
            ref_message.kind = kind
            ref_message.namespace = namespace or ""
            ref_message.name = name or ""
        if origin_path is not None:
            message.origin.path = origin_path
            message.origin.line = origin_line or 0
        if at != last_at:
            last_at = at
            seconds, nanos = epoch(at)
        stamp = message.assessed_at
        stamp.seconds = seconds
        stamp.nanos = nanos


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


def history_record(record: HistoryRecord) -> apb.HistoryEntry:
    """A stored history row straight to its message (GetHistory's read thread); equal to
    ``history(record.to_domain())`` (a test holds them together)."""
    entry = apb.HistoryEntry(
        run_id=record.run_id,
        cluster_id=record.cluster_id,
        state=_RUN_STATE_OF_TEXT[record.state],
    )
    set_timestamp(entry.completed_at, record.completed_at)
    _fill_counts(entry.counts, record.counts)
    score = _score(record.counts)
    if score is not None:
        entry.score = score
    tallies = [
        (_PILLAR_OF_TEXT[pillar], _in_status_order(tally))
        for pillar, tally in record.by_pillar.items()
    ]
    for pillar, tally in sorted(tallies):
        counts_message = entry.pillars.add(pillar=pillar)
        _fill_counts(counts_message.counts, tally)
        pillar_score = _score(tally)
        if pillar_score is not None:
            counts_message.score = pillar_score
    return entry


def _in_status_order(tally: Mapping[str, int]) -> tuple[int, ...]:
    try:
        values: tuple[int, ...] = _STATUS_VALUES(tally)  # rows store every status
    except KeyError:
        values = tuple(tally.get(status, 0) for status in _STATUS_ORDER)
    return values


def _fill_counts(target: cpb.StatusCounts, values: tuple[int, ...]) -> None:
    p, f, w, s, e, t, x = values
    target.passing, target.failing, target.warning = p, f, w
    target.skipped, target.error, target.timeout = s, e, t
    target.total = p + f + w + s + e + t
    target.exempted = x


def _score(values: tuple[int, ...]) -> float | None:
    return StatusCounts(*values).score


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
