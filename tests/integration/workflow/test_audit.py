"""Exactly one audit event per transition, whatever is retried."""

from __future__ import annotations

from collections import Counter

from assay.server.workflow.audit import AuditEvent, AuditEventType
from tests.unit.workflow.fakes import InMemoryAuditSink

from .harness import EXEC_NS, NS, Harness

STATUS_PATH = rf"/namespaces/{NS}/workflowexecutions/wfe-1/status$"


async def test_one_event_per_transition_despite_409s_on_status_writes(harness: Harness) -> None:
    injected = harness.api.inject(method="PUT", path_regex=STATUS_PATH, status=409, times=4)
    await harness.controller()
    await harness.create("wfe-1")
    await harness.wait_phase("wfe-1", "Running")
    pr = harness.pr_of("wfe-1")["metadata"]["name"]
    await harness.sim.succeed(EXEC_NS, pr)
    await harness.wait_phase("wfe-1", "Completed")
    await harness.wait_for(lambda: len(harness.audit.of("wfe-1")) == 3, what="audit")
    assert injected.hits == 4
    assert harness.audit.of("wfe-1") == [
        AuditEventType.PIPELINERUN_CREATED,
        AuditEventType.COMPLETED,
        AuditEventType.LOCK_RELEASED,
    ]
    assert harness.metric("workflowexecution_total", outcome="completed") == 1
    assert harness.metric("workflowexecution_pipelinerun_creation_total") == 1
    assert len(harness.pipelineruns()) == 1


async def test_one_skip_event_despite_409s(harness: Harness) -> None:
    await harness.controller()
    await harness.create("holder")
    await harness.wait_phase("holder", "Running")
    harness.api.inject(method="PUT", path_regex=STATUS_PATH, status=409, times=3)
    await harness.create("wfe-1")
    await harness.wait_phase("wfe-1", "Skipped")
    await harness.wait_for(
        lambda: harness.audit.of("wfe-1") == [AuditEventType.SKIPPED], what="audit"
    )
    skip_events = [e for e in harness.events() if e["involvedObject"]["name"] == "wfe-1"]
    assert len(skip_events) <= 1


class FlakySink:
    """Fails the first write of each kind, as a storage outage would."""

    def __init__(self, inner: InMemoryAuditSink) -> None:
        self.inner = inner
        self.failed: set[AuditEventType] = set()

    async def record(self, event: AuditEvent) -> bool:
        if event.event_type not in self.failed:
            self.failed.add(event.event_type)
            raise ConnectionError("storage unavailable")
        return await self.inner.record(event)


async def test_audit_write_failures_are_retried_and_never_duplicated(harness: Harness) -> None:
    sink = harness.audit
    await harness.controller(audit=FlakySink(sink))
    await harness.create("wfe-1")
    await harness.wait_phase("wfe-1", "Running")
    await harness.wait_for(
        lambda: AuditEventType.PIPELINERUN_CREATED in sink.of("wfe-1"), what="created event"
    )
    await harness.sim.fail(EXEC_NS, harness.pr_of("wfe-1")["metadata"]["name"])
    await harness.wait_phase("wfe-1", "Failed")
    await harness.wait_for(lambda: len(sink.of("wfe-1")) == 3, what="all events")
    assert Counter(sink.of("wfe-1")) == Counter(
        {
            AuditEventType.PIPELINERUN_CREATED: 1,
            AuditEventType.FAILED: 1,
            AuditEventType.LOCK_RELEASED: 1,
        }
    )
    assert harness.metric("workflowexecution_reconcile_errors_total") >= 3


async def test_audit_payload_for_compliance(harness: Harness) -> None:
    await harness.controller()
    await harness.create("wfe-1")
    await harness.wait_phase("wfe-1", "Running")
    await harness.sim.fail(EXEC_NS, harness.pr_of("wfe-1")["metadata"]["name"], reason="OOMKilled")
    await harness.wait_for(lambda: len(harness.audit.of("wfe-1")) == 3, what="audit")
    failed = next(e for e in harness.audit.events if e.event_type is AuditEventType.FAILED)
    assert failed.key == f"{failed.execution_uid}:failed"
    assert (failed.execution_namespace, failed.execution_name) == (NS, "wfe-1")
    assert (failed.workflow_id, failed.workflow_version) == ("restart-pods", "1.0.0")
    assert failed.target == "prod/deployment/web"
    assert failed.phase == "Failed" and failed.reason == "OOMKilled"
    assert failed.correlation_id == "kubernaut-system/rr-1"
    assert failed.payload["failureDetails"]["reason"] == "OOMKilled"
    assert failed.payload["startTime"] and failed.payload["completionTime"]
