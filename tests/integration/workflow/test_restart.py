"""Restarts mid-flight: adopt the PipelineRun, re-enter the lock, resume a Running execution."""

from __future__ import annotations

from assay.server.workflow.audit import AuditEventType
from assay.server.workflow.naming import lock_lease_name
from assay.server.workflow.tekton import build_pipelinerun

from .harness import EXEC_NS, NS, Harness

TARGET = "prod/deployment/web"


def pipelinerun_posts(harness: Harness) -> int:
    return sum(
        1 for r in harness.api.requests if r.method == "POST" and r.path.endswith("/pipelineruns")
    )


async def test_existing_pipelinerun_with_the_deterministic_name_is_adopted(
    harness: Harness,
) -> None:
    created = await harness.create("wfe-1", target=TARGET)
    # A previous controller got as far as creating the PipelineRun (and the lock) and died.
    pr = build_pipelinerun(
        created, namespace=EXEC_NS, default_service_account="kubernaut-workflow-runner"
    )
    await harness.user.create_namespaced_custom_object(
        "tekton.dev", "v1", EXEC_NS, "pipelineruns", pr
    )
    harness.api.seed(
        {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {
                "name": lock_lease_name(cluster_id="test-cluster", target=TARGET),
                "namespace": EXEC_NS,
                "annotations": {
                    "workflowexecution.kubernaut.ai/execution": f"{NS}/wfe-1",
                    "workflowexecution.kubernaut.ai/target-resource": TARGET,
                },
            },
            "spec": {"holderIdentity": created["metadata"]["uid"]},
        }
    )
    await harness.controller()
    running = await harness.wait_phase("wfe-1", "Running")
    assert running["status"]["pipelineRunRef"]["name"] == pr["metadata"]["name"]
    assert [p["metadata"]["name"] for p in harness.pipelineruns()] == [pr["metadata"]["name"]]
    assert pipelinerun_posts(harness) == 2  # ours above, and the controller's 409
    assert harness.metric("workflowexecution_pipelinerun_creation_total") == 0
    await harness.sim.succeed(EXEC_NS, pr["metadata"]["name"])
    await harness.wait_phase("wfe-1", "Completed")
    await harness.wait_for(lambda: len(harness.audit.of("wfe-1")) == 3, what="audit")


async def test_foreign_object_under_our_name_is_retried_not_failed(harness: Harness) -> None:
    created = await harness.create("wfe-1", target=TARGET)
    ours = build_pipelinerun(created, namespace=EXEC_NS, default_service_account="sa")
    foreign = {
        "apiVersion": "tekton.dev/v1",
        "kind": "PipelineRun",
        "metadata": {"name": ours["metadata"]["name"], "namespace": EXEC_NS},
        "spec": {},
    }
    await harness.user.create_namespaced_custom_object(
        "tekton.dev", "v1", EXEC_NS, "pipelineruns", foreign
    )
    await harness.controller()
    await harness.wait_for(
        lambda: harness.metric("workflowexecution_reconcile_errors_total") >= 2,
        what="a few retries",
    )
    assert harness.phase("wfe-1") in ("", "Pending")
    assert any(e["reason"] == "PipelineRunNameTaken" for e in harness.events())
    await harness.user.delete_namespaced_custom_object(
        "tekton.dev", "v1", EXEC_NS, "pipelineruns", ours["metadata"]["name"]
    )
    await harness.wait_phase("wfe-1", "Running", within=10)
    assert (
        harness.pr_of("wfe-1")["metadata"]["labels"]["workflowexecution.kubernaut.ai/execution-uid"]
        == created["metadata"]["uid"]
    )


async def test_restarted_controller_resumes_a_running_execution(harness: Harness) -> None:
    first = await harness.controller()
    await harness.create("wfe-1", target=TARGET)
    await harness.wait_phase("wfe-1", "Running")
    pr = harness.pr_of("wfe-1")["metadata"]["name"]
    await first.stop()

    await harness.sim.succeed(EXEC_NS, pr)  # finishes while no controller is running
    second = await harness.controller()
    await harness.wait_phase("wfe-1", "Completed")
    await harness.wait_for(lambda: not harness.leases(), what="lock release")
    await harness.wait_idle(second)
    assert len(harness.pipelineruns()) == 1
    assert harness.audit.of("wfe-1") == [
        AuditEventType.PIPELINERUN_CREATED,
        AuditEventType.COMPLETED,
        AuditEventType.LOCK_RELEASED,
    ]
