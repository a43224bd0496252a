"""One execution at a time per target; different targets run side by side."""

from __future__ import annotations

import asyncio
from typing import Any

from .harness import EXEC_NS, Harness


async def test_ten_at_once_on_one_target_one_runs_nine_skipped_busy(harness: Harness) -> None:
    await harness.controller(workers=8)
    names = [f"wfe-{i}" for i in range(10)]
    # Different workflows too: the lock is per target, whatever the workflow.
    await asyncio.gather(
        *(harness.create(n, workflow_id=f"wf-{i % 3}") for i, n in enumerate(names))
    )
    await harness.wait_for(
        lambda: all(harness.phase(n) in ("Running", "Skipped") for n in names),
        what="every execution to be admitted or skipped",
    )
    phases = {n: harness.phase(n) for n in names}
    running = [n for n, p in phases.items() if p == "Running"]
    skipped = [n for n, p in phases.items() if p == "Skipped"]
    assert len(running) == 1 and len(skipped) == 9, phases
    winner = harness.wfe(running[0])
    assert winner is not None
    for name in skipped:
        obj = harness.wfe(name)
        assert obj is not None
        details = obj["status"]["skipDetails"]
        assert details["reason"] == "ResourceBusy"
        assert details["conflictingWorkflow"]["name"] == running[0]
        assert (
            details["conflictingWorkflow"]["workflowId"]
            == (winner["spec"]["workflowRef"]["workflowId"])
        )
        assert details["conflictingWorkflow"]["startedAt"]
        assert details["skippedAt"] and details["message"]
        assert "startTime" not in obj["status"]
    assert len(harness.pipelineruns()) == 1
    assert len(harness.leases()) == 1
    # Metrics are counted when the controller sees its status write succeed: wait for it.
    await harness.wait_for(
        lambda: harness.metric("workflowexecution_skip_total", reason="ResourceBusy") == 9,
        what="nine skips counted",
    )
    assert harness.metric("workflowexecution_pipelinerun_creation_total") == 1

    def busy_events() -> list[dict[str, Any]]:
        return [e for e in harness.events() if e["reason"] == "ResourceBusy"]

    await harness.wait_for(lambda: len(busy_events()) == 9, what="nine skip Events")
    assert {e["involvedObject"]["name"] for e in busy_events()} == set(skipped)
    assert all(e["involvedObject"]["kind"] == "WorkflowExecution" for e in busy_events())


async def test_different_targets_run_in_parallel(harness: Harness) -> None:
    await harness.controller()
    targets = [f"prod/deployment/app-{i}" for i in range(5)]
    await asyncio.gather(*(harness.create(f"wfe-{i}", target=t) for i, t in enumerate(targets)))
    names = [f"wfe-{i}" for i in range(5)]
    await harness.wait_for(
        lambda: all(harness.phase(n) == "Running" for n in names),
        what="all five Running at the same time",
    )
    assert len(harness.leases()) == 5
    for pr in harness.pipelineruns():
        await harness.sim.succeed(EXEC_NS, pr["metadata"]["name"])
    await harness.wait_for(
        lambda: all(harness.phase(n) == "Completed" for n in names), what="all five Completed"
    )
    await harness.wait_for(lambda: not harness.leases(), what="all locks released")
