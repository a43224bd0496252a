"""The happy path end to end: Pending -> Running -> Completed, with every side effect."""

from __future__ import annotations

from assay.server.workflow.audit import AuditEventType

from .harness import EXEC_NS, Harness


async def test_execution_runs_to_completion(harness: Harness) -> None:
    await harness.controller()
    await harness.create("wfe-a")
    running = await harness.wait_phase("wfe-a", "Running")
    assert running["status"]["pipelineRunRef"]["namespace"] == EXEC_NS
    pr = harness.pr_of("wfe-a")
    await harness.sim.succeed(EXEC_NS, pr["metadata"]["name"])
    done = await harness.wait_phase("wfe-a", "Completed")
    assert done["status"]["completionTime"]
    await harness.wait_for(lambda: not harness.leases(), what="lock release")
    await harness.wait_for(lambda: len(harness.audit.of("wfe-a")) == 3, what="audit")
    assert harness.audit.of("wfe-a") == [
        AuditEventType.PIPELINERUN_CREATED,
        AuditEventType.COMPLETED,
        AuditEventType.LOCK_RELEASED,
    ]
