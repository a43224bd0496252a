"""Audit events derived from a WorkflowExecution's persisted state, written exactly once.

Every :class:`AuditEvent` is a pure function of the object *after* its transition (phase,
status timestamps, reasons), with the uniqueness key ``<uid>:<event type>``. The reconciler
writes the event after the status write succeeded, and on every later reconcile it calls
:meth:`AuditTrail.ensure` again for whatever the current state implies. So a crash between
the status write and the audit write loses nothing (the next reconcile writes it), and a
retried write, a 409 on the status update or a second replica never produces a second row
(the sink rejects a known key, see :class:`AuditSink`). A small in-process memory of keys
already recorded saves the sink the repeated no-op writes. The initial ``phase: Pending``
write is not a transition and implies no event: an execution's trail starts with what
happened to it (its PipelineRun created, or its skip or failure).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from assay.server.core.clock import Clock
from assay.server.kube.times import parse_time
from assay.server.workflow.audit import AuditEvent, AuditEventType, AuditSink
from assay.server.workflow.memory import RecentMap
from assay.server.workflow.model import KubeObject, Phase, meta, phase_of, spec_of, status_of

_STATUS_FIELDS: dict[AuditEventType, tuple[str, ...]] = {
    AuditEventType.PIPELINERUN_CREATED: ("startTime", "pipelineRunRef"),
    AuditEventType.COMPLETED: (
        "startTime",
        "completionTime",
        "duration",
        "pipelineRunRef",
        "pipelineRunStatus",
    ),
    AuditEventType.FAILED: (
        "startTime",
        "completionTime",
        "duration",
        "pipelineRunRef",
        "pipelineRunStatus",
        "failureDetails",
    ),
    AuditEventType.SKIPPED: ("completionTime", "skipDetails"),
    AuditEventType.LOCK_RELEASED: ("startTime", "completionTime", "pipelineRunRef"),
    AuditEventType.DELETED: (
        "startTime",
        "completionTime",
        "duration",
        "pipelineRunRef",
        "pipelineRunStatus",
        "skipDetails",
        "failureDetails",
    ),
}
_EVENT_PHASE = {
    AuditEventType.PIPELINERUN_CREATED: Phase.RUNNING,
    AuditEventType.COMPLETED: Phase.COMPLETED,
    AuditEventType.FAILED: Phase.FAILED,
    AuditEventType.SKIPPED: Phase.SKIPPED,
}
_TERMINAL_EVENT = {
    Phase.COMPLETED: AuditEventType.COMPLETED,
    Phase.FAILED: AuditEventType.FAILED,
    Phase.SKIPPED: AuditEventType.SKIPPED,
}


def audit_key(uid: str, event_type: AuditEventType) -> str:
    return f"{uid}:{event_type.value}"


def ran(wfe: KubeObject) -> bool:
    """True once the execution started a PipelineRun (it held the lock and ran)."""
    status = status_of(wfe)
    return bool(status.get("startTime") and status.get("pipelineRunRef"))


def implied_events(wfe: KubeObject) -> list[AuditEventType]:
    """The transition events the current status proves happened (lock/delete excluded)."""
    events: list[AuditEventType] = []
    if ran(wfe):
        events.append(AuditEventType.PIPELINERUN_CREATED)
    terminal = _TERMINAL_EVENT.get(phase_of(wfe))
    if terminal is not None:
        events.append(terminal)
    return events


def correlation_id(wfe: KubeObject) -> str:
    ref = spec_of(wfe).get("remediationRequestRef") or {}
    if not isinstance(ref, dict) or not ref.get("name"):
        return ""
    return f"{ref['namespace']}/{ref['name']}" if ref.get("namespace") else str(ref["name"])


def _occurred_at(wfe: KubeObject, event_type: AuditEventType, fallback: datetime) -> datetime:
    status = status_of(wfe)
    candidates: list[object]
    if event_type is AuditEventType.PIPELINERUN_CREATED:
        candidates = [status.get("startTime")]
    elif event_type is AuditEventType.SKIPPED:
        candidates = [
            (status.get("skipDetails") or {}).get("skippedAt"),
            status.get("completionTime"),
        ]
    elif event_type is AuditEventType.DELETED:
        candidates = [meta(wfe).get("deletionTimestamp")]
    elif event_type is AuditEventType.LOCK_RELEASED:
        candidates = [status.get("completionTime"), meta(wfe).get("deletionTimestamp")]
    else:
        candidates = [status.get("completionTime")]
    for value in candidates:
        moment = parse_time(value)
        if moment is not None:
            return moment
    return fallback


def _reason_and_message(wfe: KubeObject, event_type: AuditEventType) -> tuple[str, str]:
    status = status_of(wfe)
    if event_type is AuditEventType.SKIPPED:
        skip = status.get("skipDetails") or {}
        return str(skip.get("reason", "")), str(skip.get("message", ""))
    if event_type is AuditEventType.FAILED:
        failure = status.get("failureDetails") or {}
        return str(failure.get("reason", "")), str(failure.get("message", ""))
    ref = status.get("pipelineRunRef") or {}
    pr = f"{ref.get('namespace', '')}/{ref.get('name', '')}"
    if event_type is AuditEventType.PIPELINERUN_CREATED:
        return "PipelineRunCreated", f"PipelineRun {pr} started"
    if event_type is AuditEventType.COMPLETED:
        return "Succeeded", f"PipelineRun {pr} succeeded"
    if event_type is AuditEventType.DELETED:
        return "Deleted", f"WorkflowExecution deleted in phase {phase_of(wfe)}"
    return "LockReleased", f"target lock on {spec_of(wfe).get('targetResource', '')} released"


def build_event(wfe: KubeObject, event_type: AuditEventType, *, now: datetime) -> AuditEvent:
    """The audit record of ``event_type`` for ``wfe`` as it is now."""
    m = meta(wfe)
    spec = spec_of(wfe)
    status = status_of(wfe)
    ref = spec.get("workflowRef") or {}
    uid = str(m.get("uid", ""))
    reason, message = _reason_and_message(wfe, event_type)
    phase = _EVENT_PHASE.get(event_type, phase_of(wfe))
    payload: dict[str, Any] = {
        "workflowRef": ref,
        "targetResource": spec.get("targetResource", ""),
        "parameters": spec.get("parameters") or {},
        "confidence": spec.get("confidence"),
        "rationale": spec.get("rationale", ""),
        "remediationRequestRef": spec.get("remediationRequestRef") or {},
        "phase": phase.value,
    }
    for key in _STATUS_FIELDS[event_type]:
        if status.get(key) not in (None, "", {}):
            payload[key] = status[key]
    if m.get("deletionTimestamp"):
        payload["deletionTimestamp"] = m["deletionTimestamp"]
    return AuditEvent(
        key=audit_key(uid, event_type),
        event_type=event_type,
        execution_namespace=str(m.get("namespace", "")),
        execution_name=str(m.get("name", "")),
        execution_uid=uid,
        workflow_id=str(ref.get("workflowId", "")),
        workflow_version=str(ref.get("version", "")),
        target=str(spec.get("targetResource", "")),
        phase=phase.value,
        occurred_at=_occurred_at(wfe, event_type, now),
        reason=reason,
        message=message,
        correlation_id=correlation_id(wfe),
        payload=payload,
    )


class AuditTrail:
    """Writes each (execution, event type) at most once through the :class:`AuditSink`."""

    def __init__(self, sink: AuditSink, *, clock: Clock, memory: int = 20_000) -> None:
        self._sink = sink
        self._clock = clock
        self._recorded: RecentMap[bool] = RecentMap(memory)

    async def ensure(self, wfe: KubeObject, event_types: Iterable[AuditEventType]) -> None:
        """Record each event unless it is known to be recorded already (idempotent)."""
        uid = str(meta(wfe).get("uid", ""))
        for event_type in event_types:
            key = audit_key(uid, event_type)
            if key in self._recorded:
                continue
            await self._sink.record(build_event(wfe, event_type, now=self._clock.now()))
            self._recorded.put(key, True)
