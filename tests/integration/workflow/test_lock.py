"""The target lock: released on every way out, reclaimed from holders that cannot release."""

from __future__ import annotations

from typing import Any

import pytest

from assay.server.workflow.audit import AuditEventType
from assay.server.workflow.model import ANNOTATION_EXECUTION, ANNOTATION_TARGET, API_VERSION, KIND
from assay.server.workflow.naming import lock_lease_name

from .harness import EXEC_NS, NS, Harness, spec

TARGET = "prod/deployment/web"


def lease_holder(harness: Harness) -> str | None:
    leases = harness.leases()
    return leases[0]["spec"]["holderIdentity"] if leases else None


async def _running(harness: Harness, name: str) -> dict[str, Any]:
    await harness.create(name, target=TARGET)
    obj = await harness.wait_phase(name, "Running")
    assert lease_holder(harness) == obj["metadata"]["uid"]
    lease = harness.leases()[0]
    assert lease["metadata"]["name"] == lock_lease_name(cluster_id="test-cluster", target=TARGET)
    assert lease["metadata"]["annotations"][ANNOTATION_TARGET] == TARGET
    return obj


@pytest.mark.parametrize("outcome", ["succeed", "fail"])
async def test_released_when_the_execution_ends(harness: Harness, outcome: str) -> None:
    await harness.controller()
    await _running(harness, "wfe-1")
    pr = harness.pr_of("wfe-1")["metadata"]["name"]
    await getattr(harness.sim, outcome)(EXEC_NS, pr)
    await harness.wait_phase("wfe-1", "Completed" if outcome == "succeed" else "Failed")
    await harness.wait_for(lambda: not harness.leases(), what="lock release")
    await harness.wait_for(
        lambda: AuditEventType.LOCK_RELEASED in harness.audit.of("wfe-1"), what="audit"
    )


async def test_released_and_pipelinerun_deleted_when_the_execution_is_deleted(
    harness: Harness,
) -> None:
    await harness.controller()
    obj = await _running(harness, "wfe-1")
    assert "workflowexecution.kubernaut.ai/cleanup" in obj["metadata"]["finalizers"]
    await harness.delete("wfe-1")
    await harness.wait_for(lambda: harness.wfe("wfe-1") is None, what="the finalizer to let go")
    assert harness.pipelineruns() == []
    assert harness.leases() == []
    assert harness.audit.of("wfe-1") == [
        AuditEventType.PIPELINERUN_CREATED,
        AuditEventType.LOCK_RELEASED,
        AuditEventType.DELETED,
    ]
    deleted = next(e for e in harness.audit.events if e.event_type is AuditEventType.DELETED)
    assert deleted.phase == "Running"
    # The target is free again at once.
    await harness.create("wfe-2", target=TARGET)
    await harness.wait_phase("wfe-2", "Running")


async def test_deleting_a_finished_execution_only_drops_the_finalizer(harness: Harness) -> None:
    await harness.controller()
    await _running(harness, "wfe-1")
    await harness.sim.succeed(EXEC_NS, harness.pr_of("wfe-1")["metadata"]["name"])
    await harness.wait_phase("wfe-1", "Completed")
    await harness.delete("wfe-1")
    await harness.wait_for(lambda: harness.wfe("wfe-1") is None, what="deletion")
    assert harness.audit.of("wfe-1") == [
        AuditEventType.PIPELINERUN_CREATED,
        AuditEventType.COMPLETED,
        AuditEventType.LOCK_RELEASED,
        AuditEventType.DELETED,
    ]


def _seed_lease(harness: Harness, holder_uid: str, holder_name: str, ns: str = NS) -> None:
    harness.api.seed(
        {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {
                "name": lock_lease_name(cluster_id="test-cluster", target=TARGET),
                "namespace": EXEC_NS,
                "annotations": {
                    ANNOTATION_TARGET: TARGET,
                    ANNOTATION_EXECUTION: f"{ns}/{holder_name}",
                },
            },
            "spec": {"holderIdentity": holder_uid},
        }
    )


async def test_reclaimed_from_a_holder_that_no_longer_exists(harness: Harness) -> None:
    _seed_lease(harness, "uid-of-a-deleted-execution", "ghost")
    await harness.controller()
    await _running(harness, "wfe-1")


async def test_reclaimed_from_a_holder_recreated_under_the_same_name(harness: Harness) -> None:
    await harness.controller()
    await harness.create("same-name", target="prod/deployment/other")  # a different uid
    await harness.wait_phase("same-name", "Running")
    _seed_lease(harness, "uid-of-the-previous-incarnation", "same-name")
    await _running(harness, "wfe-1")


async def test_reclaimed_from_a_holder_that_is_already_terminal(harness: Harness) -> None:
    # The holder lives where this controller does not reconcile, so only reclaiming helps.
    harness.api.seed(
        {
            "apiVersion": API_VERSION,
            "kind": KIND,
            "metadata": {"name": "finished", "namespace": "team-b", "uid": "uid-finished"},
            "spec": spec(target=TARGET, workflow_id="other-workflow"),
            "status": {"phase": "Failed"},
        }
    )
    _seed_lease(harness, "uid-finished", "finished", ns="team-b")
    await harness.controller(watch_namespace=NS)
    await _running(harness, "wfe-1")


async def test_a_live_holder_keeps_the_lock(harness: Harness) -> None:
    await harness.controller()
    first = await _running(harness, "wfe-1")
    await harness.create("wfe-2", target=TARGET)
    await harness.wait_phase("wfe-2", "Skipped")
    assert lease_holder(harness) == first["metadata"]["uid"]
