"""Failures: classification from TaskRuns, a vanished PipelineRun, bad specs, label hygiene."""

from __future__ import annotations

from typing import Any

import pytest

from assay.server.workflow.audit import AuditEventType
from assay.server.workflow.model import API_VERSION, KIND
from assay.server.workflow.naming import is_label_value

from .harness import EXEC_NS, NS, Harness, spec

TASKS = ["prepare", "apply", "verify"]


async def _running_pr(harness: Harness, name: str = "wfe-1", **spec_args: Any) -> str:
    await harness.create(name, **spec_args)
    await harness.wait_phase(name, "Running")
    return str(harness.pr_of(name)["metadata"]["name"])


@pytest.mark.parametrize(
    ("kwargs", "reason", "step", "exit_code", "executed"),
    [
        ({"reason": "Error", "exit_code": 3}, "TaskFailed", "patch", 3, True),
        ({"reason": "OOMKilled"}, "OOMKilled", "patch", 137, True),
        ({"reason": "ImagePullBackOff"}, "ImagePullBackOff", "patch", None, False),
    ],
    ids=["task-failed", "oom", "image-pull"],
)
async def test_failure_details_from_the_first_failed_taskrun(
    harness: Harness,
    kwargs: dict[str, Any],
    reason: str,
    step: str,
    exit_code: int | None,
    executed: bool,
) -> None:
    await harness.controller()
    pr = await _running_pr(harness)
    await harness.sim.fail(EXEC_NS, pr, tasks=TASKS, failed_task="apply", step=step, **kwargs)
    failed = await harness.wait_phase("wfe-1", "Failed")
    details = failed["status"]["failureDetails"]
    assert details["reason"] == reason
    assert details["failedTaskName"] == "apply"
    assert details["failedTaskIndex"] == 1
    assert details["failedStepName"] == step
    assert details.get("exitCode") == exit_code
    assert details["wasExecutionFailure"] is executed
    assert details["failedAt"] and details["executionTimeBeforeFailure"]
    assert "restart-pods" in details["naturalLanguageSummary"]
    summary = failed["status"]["pipelineRunStatus"]
    assert (summary["status"], summary["completedTasks"], summary["failedTasks"]) == ("False", 2, 1)
    await harness.wait_for(
        lambda: any(e["type"] == "Warning" and e["reason"] == reason for e in harness.events()),
        what="a Warning Event",
    )


async def test_timeout_is_deadline_exceeded(harness: Harness) -> None:
    await harness.controller()
    pr = await _running_pr(harness, executionConfig={"timeout": "10m"})
    assert harness.pr_of("wfe-1")["spec"]["timeouts"] == {"pipeline": "10m"}
    await harness.sim.start(EXEC_NS, pr, tasks=["apply"])
    await harness.sim.time_out(EXEC_NS, pr, duration="10m0s")
    failed = await harness.wait_phase("wfe-1", "Failed")
    assert failed["status"]["failureDetails"]["reason"] == "DeadlineExceeded"
    assert failed["status"]["failureDetails"]["wasExecutionFailure"] is True


async def test_running_progress_is_mirrored(harness: Harness) -> None:
    await harness.controller()
    pr = await _running_pr(harness)
    await harness.sim.start(EXEC_NS, pr, tasks=["prepare", "apply"])

    def progress() -> dict[str, Any]:
        obj = harness.wfe("wfe-1") or {}
        return dict((obj.get("status") or {}).get("pipelineRunStatus") or {})

    await harness.wait_for(lambda: progress().get("totalTasks") == 2, what="task progress")
    assert progress()["status"] == "Unknown" and progress()["completedTasks"] == 0


async def test_pipelinerun_deleted_externally_fails_the_execution(harness: Harness) -> None:
    await harness.controller()
    pr = await _running_pr(harness)
    await harness.user.delete_namespaced_custom_object(
        "tekton.dev", "v1", EXEC_NS, "pipelineruns", pr
    )
    failed = await harness.wait_phase("wfe-1", "Failed")
    details = failed["status"]["failureDetails"]
    assert details["reason"] == "Unknown"
    assert "deleted" in details["message"] and pr in details["message"]
    await harness.wait_for(lambda: not harness.leases(), what="lock release")
    await harness.wait_for(lambda: len(harness.audit.of("wfe-1")) == 3, what="audit")
    assert harness.audit.of("wfe-1") == [
        AuditEventType.PIPELINERUN_CREATED,
        AuditEventType.FAILED,
        AuditEventType.LOCK_RELEASED,
    ]


async def test_invalid_spec_that_reached_the_cluster_fails_as_configuration_error(
    harness: Harness,
) -> None:
    # Seeded straight into the store, as if admission had not validated it.
    harness.api.seed(
        {
            "apiVersion": API_VERSION,
            "kind": KIND,
            "metadata": {"name": "bad", "namespace": NS},
            "spec": spec(target="not a target", parameters={"lower": "x"}),
        }
    )
    await harness.controller()
    failed = await harness.wait_phase("bad", "Failed")
    details = failed["status"]["failureDetails"]
    assert details["reason"] == "ConfigurationError"
    assert details["wasExecutionFailure"] is False
    assert "spec.targetResource" in details["message"]
    assert "spec.parameters.lower" in details["message"]
    assert harness.pipelineruns() == [] and harness.leases() == []
    await harness.wait_for(lambda: harness.audit.of("bad") == [AuditEventType.FAILED], what="audit")


async def test_labels_are_sanitised_and_the_raw_target_kept(harness: Harness) -> None:
    await harness.controller()
    long_name = "a-very-long-execution-name-" + "x" * 90
    target = "some-long-namespace-name/deployment/" + "y" * 120
    await _running_pr(
        harness, long_name, target=target, workflow_id="Restart Pods (v2) / " + "z" * 80
    )
    pr = harness.pr_of(long_name)
    assert len(pr["metadata"]["name"]) <= 63
    for key, value in pr["metadata"]["labels"].items():
        assert is_label_value(value), (key, value)
    assert pr["metadata"]["annotations"]["workflowexecution.kubernaut.ai/target-resource"] == (
        target
    )
    assert {p["name"]: p["value"] for p in pr["spec"]["params"]}["TARGET_RESOURCE"] == target
    wfe = harness.wfe(long_name)
    assert wfe is not None
    assert all(is_label_value(v) for v in wfe["metadata"]["labels"].values())
