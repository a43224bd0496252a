"""Leader election: of two controllers only the leader reconciles; the other takes over."""

from __future__ import annotations

from collections import Counter
from typing import Any

from prometheus_client import CollectorRegistry

from assay.server.observability.workflow_metrics import WorkflowMetrics
from assay.server.workflow.controller import WorkflowController
from assay.server.workflow.model import ExecutionKey
from tests.kubeapi import RecordedRequest

from .harness import EXEC_NS, Harness

calls: Counter[str] = Counter()


def spy(controller: WorkflowController, label: str) -> None:
    """Count reconcile calls per controller."""
    inner = controller.reconciler.reconcile

    async def counting(key: ExecutionKey) -> Any:
        calls[label] += 1
        return await inner(key)

    controller.reconciler.reconcile = counting  # type: ignore[method-assign]


async def _pair(harness: Harness) -> tuple[WorkflowController, WorkflowController]:
    calls.clear()
    a = await harness.controller(
        leader_election=harness.leader_settings("replica-a"),
        metrics=WorkflowMetrics(CollectorRegistry()),
    )
    spy(a, "a")
    await harness.wait_for(lambda: a.is_leader, what="replica-a to lead")
    b = await harness.controller(
        leader_election=harness.leader_settings("replica-b"),
        metrics=WorkflowMetrics(CollectorRegistry()),
    )
    spy(b, "b")
    return a, b


def leader_lease(harness: Harness) -> dict[str, Any]:
    lease = harness.api.get_object("coordination.k8s.io/v1", "Lease", "assay-test-leader", EXEC_NS)
    assert lease is not None
    return lease


async def test_only_the_leader_reconciles(harness: Harness) -> None:
    a, b = await _pair(harness)
    await harness.create("wfe-1")
    await harness.wait_phase("wfe-1", "Running")
    await harness.sim.succeed(EXEC_NS, harness.pr_of("wfe-1")["metadata"]["name"])
    await harness.wait_phase("wfe-1", "Completed")
    assert a.is_leader and not b.is_leader
    assert calls["a"] > 0 and calls["b"] == 0
    assert leader_lease(harness)["spec"]["holderIdentity"] == "replica-a"
    assert len(harness.pipelineruns()) == 1
    # Followers still serve reads and watches from their own informer cache.
    assert "team-a/wfe-1" in b.executions.cache


async def test_follower_takes_over_when_the_leader_stops(harness: Harness) -> None:
    a, b = await _pair(harness)
    await a.stop()  # graceful: releases the Lease, the follower need not wait it out
    await harness.wait_for(lambda: b.is_leader, within=3, what="replica-b to take over")
    lease = leader_lease(harness)
    assert lease["spec"]["holderIdentity"] == "replica-b"
    assert lease["spec"]["leaseTransitions"] >= 1
    await harness.create("wfe-1")
    await harness.wait_phase("wfe-1", "Running")
    assert calls["b"] > 0


async def test_follower_takes_over_from_a_crashed_leader_after_the_lease_expires(
    harness: Harness,
) -> None:
    a, b = await _pair(harness)

    async def no_release() -> None:  # a crash: nothing is handed back
        return None

    a._elector._release = no_release  # type: ignore[union-attr,method-assign]
    await a.stop()
    stopped = len(harness.api.requests)
    await harness.wait_for(lambda: b.is_leader, within=3, what="replica-b to take over")

    # It waited for a's lease to expire: it read the record again and again (every retry
    # period) before writing its own, rather than taking over at first sight.
    def takes_over(request: RecordedRequest) -> bool:
        body = request.body
        return (
            request.method in ("POST", "PUT")
            and isinstance(body, dict)
            and body.get("spec", {}).get("holderIdentity") == "replica-b"
        )

    since = harness.api.requests[stopped:]
    takeover = next(i for i, r in enumerate(since) if takes_over(r))
    lease = f"/namespaces/{EXEC_NS}/leases/assay-test-leader"
    reads = [r for r in since[:takeover] if r.method == "GET" and r.path.endswith(lease)]
    assert len(reads) >= 3
    await harness.create("wfe-1")
    await harness.wait_phase("wfe-1", "Running")


async def test_leader_that_cannot_renew_steps_down_and_stops_reconciling(
    harness: Harness,
) -> None:
    a, b = await _pair(harness)
    outage = harness.api.inject(
        method="PUT", path_regex=r"/leases/assay-test-leader$", status=500, times=None
    )
    await harness.wait_for(lambda: not a.is_leader, within=3, what="replica-a to step down")
    assert not b.is_leader  # nobody can write the Lease: nobody leads
    assert a.pending_work() == 0
    calls.clear()
    await harness.create("wfe-1")
    await harness.wait_for(lambda: "team-a/wfe-1" in a.executions.cache, what="informer")
    assert harness.phase("wfe-1") in ("", None) and sum(calls.values()) == 0
    harness.api.clear_injections()
    assert outage.hits > 0
    await harness.wait_phase("wfe-1", "Running", within=5)
    assert a.is_leader != b.is_leader
