"""Cooldown after a remediation, computed from history on an injected clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.clock import ManualClock

from .harness import EXEC_NS, Harness


def whole_second_clock() -> ManualClock:
    """Status times have second precision; start on a whole second so figures are exact."""
    return ManualClock(datetime.now(UTC).replace(microsecond=0))


async def _run_to_end(harness: Harness, name: str, *, fail: bool = False, **spec: str) -> None:
    await harness.create(name, **spec)
    await harness.wait_phase(name, "Running")
    pr = harness.pr_of(name)["metadata"]["name"]
    if fail:
        await harness.sim.fail(EXEC_NS, pr)
    else:
        await harness.sim.succeed(EXEC_NS, pr)
    await harness.wait_phase(name, "Failed" if fail else "Completed")


async def test_same_workflow_and_target_waits_out_the_cooldown(harness: Harness) -> None:
    clock = whole_second_clock()
    await harness.controller(clock=clock, cooldown_s=300)
    await _run_to_end(harness, "first")

    clock.advance(timedelta(minutes=4))
    await harness.create("too-soon")
    skipped = await harness.wait_phase("too-soon", "Skipped")
    details = skipped["status"]["skipDetails"]
    assert details["reason"] == "RecentlyRemediated"
    recent = details["recentRemediation"]
    assert recent["name"] == "first"
    assert recent["workflowId"] == "restart-pods"
    assert recent["outcome"] == "Completed"
    assert recent["cooldownRemaining"] == "1m0s"
    assert recent["completedAt"]
    await harness.wait_for(lambda: not harness.leases(), what="the skip to release the lock")
    assert harness.metric("workflowexecution_skip_total", reason="RecentlyRemediated") == 1

    clock.advance(timedelta(minutes=1, seconds=1))
    await harness.create("after-cooldown")
    await harness.wait_phase("after-cooldown", "Running")


async def test_failed_run_also_starts_a_cooldown(harness: Harness) -> None:
    clock = whole_second_clock()
    await harness.controller(clock=clock, cooldown_s=300)
    await _run_to_end(harness, "first", fail=True)
    await harness.create("retry")
    skipped = await harness.wait_phase("retry", "Skipped")
    assert skipped["status"]["skipDetails"]["recentRemediation"]["outcome"] == "Failed"


async def test_other_workflow_on_the_target_runs_once_the_first_finished(
    harness: Harness,
) -> None:
    clock = whole_second_clock()
    await harness.controller(clock=clock, cooldown_s=300)
    await _run_to_end(harness, "first")
    await harness.create("other-workflow", workflow_id="scale-up")
    await harness.wait_phase("other-workflow", "Running")


async def test_same_workflow_on_another_target_is_not_in_cooldown(harness: Harness) -> None:
    await harness.controller(cooldown_s=300)
    await _run_to_end(harness, "first")
    await harness.create("elsewhere", target="prod/deployment/api")
    await harness.wait_phase("elsewhere", "Running")


async def test_zero_cooldown_disables_it(harness: Harness) -> None:
    await harness.controller(cooldown_s=0)
    await _run_to_end(harness, "first")
    await harness.create("again")
    await harness.wait_phase("again", "Running")
