"""Rows of the small tables (runs, history, audit events) to and from domain objects.

Used by the Repository; the results table has its own write and read paths
(``storage.writes``, ``storage.results``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy.engine import RowMapping

from assay.server.core.types import (
    HistoryEntry,
    Pillar,
    Run,
    RunId,
    RunScope,
    RunState,
    Source,
    Status,
    StatusCounts,
)
from assay.server.workflow.audit import AuditEvent, AuditEventType

EXEMPTED = "exempted"
"""Not a status: the key under which exempt (skipped) results are counted apart."""


def count_values(counts: StatusCounts) -> dict[str, int]:
    values = {f"{status.value}_count": counts.get(status) for status in Status}
    values["exempted_count"] = counts.exempted
    return values


def counts_from_row(row: RowMapping) -> StatusCounts:
    # Column by column rather than through the Status enum: reading runs and history pages
    # builds several of these per row.
    return StatusCounts(
        passing=row["passing_count"],
        failing=row["failing_count"],
        warning=row["warning_count"],
        skipped=row["skipped_count"],
        error=row["error_count"],
        timeout=row["timeout_count"],
        exempted=row["exempted_count"],
    )


def _counts_from_json(tally: Mapping[str, int]) -> StatusCounts:
    """A stored {status: count} object; statuses absent from it count zero."""
    return StatusCounts(**{key: int(count) for key, count in tally.items() if key in _STATUSES})


_STATUSES = frozenset({*(status.value for status in Status), EXEMPTED})


def run_values(run: Run) -> dict[str, Any]:
    return {
        "run_id": run.run_id,
        "state": run.state.value,
        "scope": run.scope.value,
        "source": run.source.value,
        "pillars": ",".join(pillar.value for pillar in run.pillars),
        "check_id": run.check_id,
        "cluster_id": run.cluster_id,
        "requested_at": run.requested_at,
        "started_at": run.started_at,
        "completed_at": run.completed_at,
        "error": run.error,
        **count_values(run.counts),
        "diagnostics": list(run.diagnostics),
        "check_count": run.check_count,
    }


def run_from_row(row: RowMapping) -> Run:
    return Run(
        run_id=RunId(row["run_id"]),
        state=RunState(row["state"]),
        scope=RunScope(row["scope"]),
        source=Source(row["source"]),
        requested_at=row["requested_at"],
        pillars=tuple(Pillar(p) for p in row["pillars"].split(",") if p),
        check_id=row["check_id"],
        cluster_id=row["cluster_id"],
        started_at=row["started_at"],
        completed_at=row["completed_at"],
        error=row["error"],
        counts=counts_from_row(row),
        diagnostics=tuple(row["diagnostics"]),
        check_count=row["check_count"],
    )


def history_values(entry: HistoryEntry) -> dict[str, Any]:
    return {
        "run_id": entry.run_id,
        "cluster_id": entry.cluster_id,
        "state": entry.state.value,
        "completed_at": entry.completed_at,
        **count_values(entry.counts),
        "score": entry.score,
        "by_pillar": {
            pillar.value: {
                **{status.value: counts.get(status) for status in Status},
                EXEMPTED: counts.exempted,
            }
            for pillar, counts in entry.by_pillar.items()
        },
    }


class HistoryRecord(NamedTuple):
    """A history row as the read path hands it out: counts in ``StatusCounts`` field order
    (statuses, then exempted), the per-pillar counts as stored ({pillar: {status: count}}).
    ``to_domain`` for the rest."""

    run_id: str
    cluster_id: str
    state: str
    completed_at: datetime
    counts: tuple[int, int, int, int, int, int, int]
    by_pillar: Mapping[str, Mapping[str, int]]

    def to_domain(self) -> HistoryEntry:
        return HistoryEntry(
            run_id=RunId(self.run_id),
            cluster_id=self.cluster_id,
            state=RunState(self.state),
            completed_at=self.completed_at,
            counts=StatusCounts(*self.counts),
            by_pillar={
                Pillar(pillar): _counts_from_json(tally) for pillar, tally in self.by_pillar.items()
            },
        )


def history_record(row: RowMapping) -> HistoryRecord:
    return HistoryRecord(
        row["run_id"],
        row["cluster_id"],
        row["state"],
        row["completed_at"],
        (
            row["passing_count"],
            row["failing_count"],
            row["warning_count"],
            row["skipped_count"],
            row["error_count"],
            row["timeout_count"],
            row["exempted_count"],
        ),
        row["by_pillar"],
    )


def history_from_row(row: RowMapping) -> HistoryEntry:
    return history_record(row).to_domain()


def audit_values(event: AuditEvent) -> dict[str, Any]:
    return {
        "key": event.key,
        "event_type": event.event_type.value,
        "execution_namespace": event.execution_namespace,
        "execution_name": event.execution_name,
        "execution_uid": event.execution_uid,
        "workflow_id": event.workflow_id,
        "workflow_version": event.workflow_version,
        "target": event.target,
        "phase": event.phase,
        "reason": event.reason,
        "message": event.message,
        "correlation_id": event.correlation_id,
        "occurred_at": event.occurred_at,
        "payload": dict(event.payload),
    }


def audit_from_row(row: RowMapping) -> AuditEvent:
    return AuditEvent(
        key=row["key"],
        event_type=AuditEventType(row["event_type"]),
        execution_namespace=row["execution_namespace"],
        execution_name=row["execution_name"],
        execution_uid=row["execution_uid"],
        workflow_id=row["workflow_id"],
        workflow_version=row["workflow_version"],
        target=row["target"],
        phase=row["phase"],
        occurred_at=row["occurred_at"],
        reason=row["reason"],
        message=row["message"],
        correlation_id=row["correlation_id"],
        payload=row["payload"],
    )
