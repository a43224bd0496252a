"""Audit events are a function of the persisted state, written once per key."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from assay.server.workflow.audit import AuditEventType
from assay.server.workflow.trail import AuditTrail, build_event, implied_events
from tests.clock import ManualClock

from .fakes import InMemoryAuditSink
from .objects import wfe

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def completed() -> dict[str, Any]:
    obj = wfe(remediationRequestRef={"name": "rr-7", "namespace": "kubernaut-system"})
    obj["status"] = {
        "phase": "Completed",
        "startTime": "2026-01-01T11:58:00Z",
        "completionTime": "2026-01-01T11:59:30Z",
        "duration": "1m30s",
        "pipelineRunRef": {"name": "pr-1", "namespace": "kubernaut-workflows"},
    }
    return obj


def test_implied_events_follow_the_phase() -> None:
    assert implied_events(wfe()) == []
    assert implied_events(completed()) == [
        AuditEventType.PIPELINERUN_CREATED,
        AuditEventType.COMPLETED,
    ]
    skipped = wfe()
    skipped["status"] = {"phase": "Skipped", "skipDetails": {"reason": "ResourceBusy"}}
    assert implied_events(skipped) == [AuditEventType.SKIPPED]


def test_event_fields_for_a_compliance_reader() -> None:
    event = build_event(completed(), AuditEventType.COMPLETED, now=NOW)
    assert event.key == "uid-1:completed"
    assert (event.execution_namespace, event.execution_name) == ("team-a", "wfe-1")
    assert (event.workflow_id, event.workflow_version) == ("restart-pods", "1.0.0")
    assert event.target == "prod/deployment/web"
    assert event.phase == "Completed"
    assert event.correlation_id == "kubernaut-system/rr-7"
    assert event.occurred_at == datetime(2026, 1, 1, 11, 59, 30, tzinfo=UTC)
    assert event.payload["duration"] == "1m30s"
    created = build_event(completed(), AuditEventType.PIPELINERUN_CREATED, now=NOW)
    assert created.phase == "Running"  # the phase that transition produced
    assert "completionTime" not in created.payload  # same payload however late it is written


async def test_ensure_writes_each_key_once() -> None:
    sink = InMemoryAuditSink()
    trail = AuditTrail(sink, clock=ManualClock(NOW))
    obj = completed()
    await trail.ensure(obj, implied_events(obj))
    await trail.ensure(obj, implied_events(obj))
    assert sink.of("wfe-1") == [AuditEventType.PIPELINERUN_CREATED, AuditEventType.COMPLETED]
    assert sink.attempts == 2  # the second call never reached the sink
    # A fresh process (empty memory) re-offers them; the sink's key uniqueness holds.
    await AuditTrail(sink, clock=ManualClock(NOW)).ensure(obj, implied_events(obj))
    assert len(sink.events) == 2
