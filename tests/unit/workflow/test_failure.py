"""Failure classification: one case per reason, exit codes, and no failed TaskRun."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from assay.server.workflow.failure import (
    FailureContext,
    classify_failure,
    configuration_failure,
    pipelinerun_vanished,
)
from assay.server.workflow.model import FailureReason

from .objects import pipelinerun, step, taskrun

CTX = FailureContext(
    workflow_id="restart-pods",
    target="prod/deployment/web",
    started_at=datetime(2026, 1, 1, 0, 0, 0, tzinfo=UTC),
    now=datetime(2026, 1, 1, 0, 10, 0, tzinfo=UTC),
)
TASKS = ["prepare", "apply", "verify"]


def _pr(reason: str = "Failed", message: str = "Tasks Completed: 2 (Failed: 1)") -> dict[str, Any]:
    return pipelinerun(
        "False", reason=reason, message=message, tasks=TASKS, completion="2026-01-01T00:05:00Z"
    )


def _failed(tr_reason: str, steps: list[dict[str, Any]], message: str = "") -> dict[str, Any]:
    return taskrun(
        "pr-1-apply",
        "apply",
        "False",
        reason=tr_reason,
        message=message,
        steps=steps,
        completion="2026-01-01T00:03:00Z",
    )


OK_PREPARE = taskrun(
    "pr-1-prepare",
    "prepare",
    "True",
    steps=[step("main", exit_code=0)],
    completion="2026-01-01T00:01:00Z",
)

CASES: list[tuple[str, dict[str, Any], dict[str, Any], FailureReason, bool]] = [
    (
        "oom",
        _pr(),
        _failed(
            "Failed", [step("fetch", exit_code=0), step("patch", exit_code=137, reason="OOMKilled")]
        ),
        FailureReason.OOM_KILLED,
        True,
    ),
    (
        "timeout",
        _pr("PipelineRunTimeout", 'PipelineRun "pr-1" failed to finish within "10m"'),
        _failed(
            "TaskRunTimeout",
            [step("patch", exit_code=1)],
            'TaskRun "pr-1-apply" failed to finish within "10m0s"',
        ),
        FailureReason.DEADLINE_EXCEEDED,
        True,
    ),
    (
        "forbidden",
        _pr(),
        _failed(
            "TaskRunValidationFailed",
            [],
            'pods "x" is forbidden: violates PodSecurity "restricted:latest"',
        ),
        FailureReason.FORBIDDEN,
        False,
    ),
    (
        "quota",
        _pr(),
        _failed("ExceededResourceQuota", [], "exceeded quota: compute, requested: cpu=2"),
        FailureReason.RESOURCE_EXHAUSTED,
        False,
    ),
    (
        "config",
        _pr(),
        _failed("TaskRunValidationFailed", [], "missing parameter REPLICAS"),
        FailureReason.CONFIGURATION_ERROR,
        False,
    ),
    (
        "image",
        _pr(),
        _failed(
            "TaskRunImagePullFailed",
            [step("patch", waiting="ImagePullBackOff", message="Back-off pulling image")],
        ),
        FailureReason.IMAGE_PULL_BACK_OFF,
        False,
    ),
    (
        "task-failed",
        _pr(),
        _failed(
            "Failed",
            [step("fetch", exit_code=0), step("patch", exit_code=2), step("notify", exit_code=0)],
            '"step-patch" exited with code 2',
        ),
        FailureReason.TASK_FAILED,
        True,
    ),
    (
        "unknown",
        _pr("Mystery", "something odd"),
        _failed("Mystery", [step("patch", exit_code=0)]),
        FailureReason.UNKNOWN,
        True,
    ),
]


@pytest.mark.parametrize(
    ("pr", "failed_tr", "reason", "executed"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_classification_table(
    pr: dict[str, Any], failed_tr: dict[str, Any], reason: FailureReason, executed: bool
) -> None:
    details = classify_failure(pr, [OK_PREPARE, failed_tr], CTX)
    assert details["reason"] == reason
    assert details["wasExecutionFailure"] is executed
    assert details["failedTaskName"] == "apply"
    assert details["failedTaskIndex"] == 1
    assert details["failedAt"] == "2026-01-01T00:03:00Z"
    assert details["executionTimeBeforeFailure"] == "3m0s"
    assert details["message"]
    summary = details["naturalLanguageSummary"]
    assert "restart-pods" in summary and "prod/deployment/web" in summary and "'apply'" in summary


def test_exit_code_and_step_are_the_first_non_zero() -> None:
    tr = _failed("Failed", [step("a", exit_code=0), step("b", exit_code=3), step("c", exit_code=7)])
    details = classify_failure(_pr(), [tr], CTX)
    assert (details["failedStepName"], details["exitCode"]) == ("b", 3)
    assert "exit code 3" in details["naturalLanguageSummary"]


def test_first_failed_taskrun_is_the_earliest_failure() -> None:
    late = taskrun(
        "pr-1-prepare",
        "prepare",
        "False",
        reason="Failed",
        steps=[step("x", exit_code=9)],
        completion="2026-01-01T00:04:00Z",
    )
    early = taskrun(
        "pr-1-verify",
        "verify",
        "False",
        reason="Failed",
        steps=[step("y", exit_code=4)],
        completion="2026-01-01T00:02:00Z",
    )
    details = classify_failure(_pr(), [late, early], CTX)
    assert (details["failedTaskName"], details["failedTaskIndex"]) == ("verify", 2)
    assert details["exitCode"] == 4


def test_no_failed_taskrun_uses_the_pipelinerun_condition() -> None:
    pr = _pr("CouldntGetPipeline", "error resolving bundle: not found")
    details = classify_failure(pr, [], CTX)
    assert details["reason"] == FailureReason.CONFIGURATION_ERROR
    assert details["wasExecutionFailure"] is False
    assert "failedTaskName" not in details and "exitCode" not in details
    assert details["failedAt"] == "2026-01-01T00:05:00Z"
    assert details["message"] == "error resolving bundle: not found"


def test_no_failed_taskrun_and_unknown_reason() -> None:
    details = classify_failure(_pr("Cancelled", "PipelineRun cancelled"), [OK_PREPARE], CTX)
    assert details["reason"] == FailureReason.UNKNOWN
    assert details["wasExecutionFailure"] is True  # a step ran before it stopped


def test_vanished_and_configuration_failures() -> None:
    gone = pipelinerun_vanished("kubernaut-workflows", "pr-1", CTX)
    assert gone["reason"] == FailureReason.UNKNOWN
    assert "deleted" in gone["message"] and "kubernaut-workflows/pr-1" in gone["message"]
    assert gone["executionTimeBeforeFailure"] == "10m0s"
    bad = configuration_failure("spec.targetResource: bad", CTX)
    assert bad["reason"] == FailureReason.CONFIGURATION_ERROR
    assert bad["wasExecutionFailure"] is False
    assert "before the workload ran" in bad["naturalLanguageSummary"]
