"""Turn a failed PipelineRun and its TaskRuns into ``status.failureDetails``.

Called by the reconciler when a PipelineRun's Succeeded condition turns False (and, with
:func:`pipelinerun_vanished`, when the PipelineRun disappears while the execution runs).

The failed task is the first TaskRun whose Succeeded condition is False, ordered by when it
failed (ties broken by the task's position in the pipeline). Within it, the failed step is
the first step that exited non-zero, else the first step stuck waiting (image pull, bad
container config). The reason is classified by the first matching rule:

=================  ============================================================  =========
reason             evidence                                                      executed
=================  ============================================================  =========
OOMKilled          a step terminated with reason OOMKilled                       yes
ImagePullBackOff   a step waiting on ErrImagePull/ImagePullBackOff, or Tekton's  no
                   TaskRunImagePullFailed
DeadlineExceeded   TaskRunTimeout / PipelineRunTimeout / "timed out"             if a step ran
Forbidden          "forbidden" in the reason or message (RBAC, admission)        no
ResourceExhausted  ExceededResourceQuota / ExceededNodeResources / quota,        no
                   "insufficient cpu|memory"
ConfigurationError validation, resolution and parameter errors, bad container    no
                   config
TaskFailed         a step exited non-zero (or the TaskRun simply Failed)         yes
Unknown            nothing above                                                 if a step ran
=================  ============================================================  =========

``wasExecutionFailure`` (the "executed" column) tells a reader whether the workload ran and
may have changed the target (true) or failed before doing anything (false), which decides
whether a retry is safe.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from assay.server.kube.times import format_time, parse_time
from assay.server.workflow.model import FailureDetails, FailureReason, KubeObject, meta, status_of
from assay.server.workflow.tekton import (
    parse_pipelinerun,
    pipeline_task_names,
    succeeded_condition,
    task_name_of,
)
from assay.server.workflow.timeutil import format_duration

MESSAGE_MAX = 1024

_PULL_WAITING = frozenset({"ImagePullBackOff", "ErrImagePull", "InvalidImageName"})
_CONFIG_WAITING = frozenset({"CreateContainerConfigError", "CreateContainerError"})
_TIMEOUT_REASONS = frozenset({"TaskRunTimeout", "PipelineRunTimeout", "DeadlineExceeded"})
_QUOTA_REASONS = frozenset({"ExceededResourceQuota", "ExceededNodeResources"})
_CONFIG_REASONS = frozenset(
    {
        "TaskRunValidationFailed",
        "PipelineValidationFailed",
        "CouldntGetPipeline",
        "CouldntGetTask",
        "CouldntGetPipelineResult",
        "ParameterMissing",
        "ParameterTypeMismatch",
        "InvalidParamValue",
        "ObjectParameterMissKeys",
        "PipelineInvalidGraph",
        "InvalidTaskResultReference",
        "InvalidWorkspaceBindings",
        "InvalidServiceAccountMapping",
        "InvalidTaskRunSpecs",
        "ResourceVerificationFailed",
        "ResolutionFailed",
        "CreateContainerConfigError",
    }
)
_TIMEOUT_TEXT = re.compile(r"failed to finish within|timed out|deadline exceeded", re.IGNORECASE)
_FORBIDDEN_TEXT = re.compile(r"forbidden", re.IGNORECASE)
_QUOTA_TEXT = re.compile(
    r"exceeded quota|resourcequota|insufficient (cpu|memory|ephemeral-storage)", re.IGNORECASE
)
_PULL_TEXT = re.compile(r"ImagePullBackOff|ErrImagePull|failed to pull image", re.IGNORECASE)

_PRE_EXECUTION = frozenset(
    {
        FailureReason.IMAGE_PULL_BACK_OFF,
        FailureReason.FORBIDDEN,
        FailureReason.RESOURCE_EXHAUSTED,
        FailureReason.CONFIGURATION_ERROR,
    }
)
_EXECUTION = frozenset({FailureReason.OOM_KILLED, FailureReason.TASK_FAILED})


@dataclass(frozen=True)
class FailureContext:
    """What the summary names: the workflow, the target, and when the execution started."""

    workflow_id: str
    target: str
    started_at: datetime | None
    now: datetime


@dataclass(frozen=True)
class _Step:
    name: str
    exit_code: int | None
    terminated_reason: str
    waiting_reason: str
    message: str
    ran: bool
    finished_at: datetime | None


def _steps(taskrun: KubeObject) -> list[_Step]:
    steps: list[_Step] = []
    for raw in status_of(taskrun).get("steps") or []:
        if not isinstance(raw, Mapping):
            continue
        term = raw.get("terminated") if isinstance(raw.get("terminated"), Mapping) else None
        wait = raw.get("waiting") if isinstance(raw.get("waiting"), Mapping) else None
        running = isinstance(raw.get("running"), Mapping)
        exit_code = term.get("exitCode") if term else None
        steps.append(
            _Step(
                name=str(raw.get("name") or raw.get("container") or ""),
                exit_code=int(exit_code) if isinstance(exit_code, int) else None,
                terminated_reason=str((term or {}).get("reason") or ""),
                waiting_reason=str((wait or {}).get("reason") or ""),
                message=str((term or {}).get("message") or (wait or {}).get("message") or ""),
                ran=running or term is not None,
                finished_at=parse_time((term or {}).get("finishedAt")),
            )
        )
    return steps


def _failed_step(steps: Sequence[_Step]) -> _Step | None:
    for step in steps:
        if step.exit_code not in (None, 0):
            return step
    for step in steps:
        if step.terminated_reason == "OOMKilled":
            return step
    for step in steps:
        if step.waiting_reason:
            return step
    return None


def _classify(reasons: Sequence[str], text: str, steps: Sequence[_Step]) -> FailureReason:
    reason_set = {r for r in reasons if r}
    if any(s.terminated_reason == "OOMKilled" for s in steps) or "OOMKilled" in text:
        return FailureReason.OOM_KILLED
    if (
        any(s.waiting_reason in _PULL_WAITING for s in steps)
        or "TaskRunImagePullFailed" in reason_set
        or _PULL_TEXT.search(text)
    ):
        return FailureReason.IMAGE_PULL_BACK_OFF
    if reason_set & _TIMEOUT_REASONS or _TIMEOUT_TEXT.search(text):
        return FailureReason.DEADLINE_EXCEEDED
    if "Forbidden" in reason_set or _FORBIDDEN_TEXT.search(text):
        return FailureReason.FORBIDDEN
    if reason_set & _QUOTA_REASONS or _QUOTA_TEXT.search(text):
        return FailureReason.RESOURCE_EXHAUSTED
    if reason_set & _CONFIG_REASONS or any(s.waiting_reason in _CONFIG_WAITING for s in steps):
        return FailureReason.CONFIGURATION_ERROR
    if any(s.exit_code not in (None, 0) for s in steps) or "Failed" in reason_set:
        return FailureReason.TASK_FAILED
    return FailureReason.UNKNOWN


def _was_execution_failure(reason: FailureReason, steps_ran: bool) -> bool:
    if reason in _PRE_EXECUTION:
        return False
    if reason in _EXECUTION:
        return True
    return steps_ran


def _first_failed(
    taskruns: Sequence[KubeObject], order: Sequence[str]
) -> tuple[int, KubeObject] | None:
    failed: list[tuple[datetime | None, int, KubeObject]] = []
    for tr in taskruns:
        if (succeeded_condition(tr) or {}).get("status") != "False":
            continue
        name = task_name_of(tr)
        index = order.index(name) if name in order else len(order)
        failed_at = parse_time(status_of(tr).get("completionTime"))
        failed.append((failed_at, index, tr))
    if not failed:
        return None
    failed.sort(key=lambda item: (item[0].timestamp() if item[0] else math.inf, item[1]))
    _, index, tr = failed[0]
    return index, tr


def _truncate(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MESSAGE_MAX else text[: MESSAGE_MAX - 1] + "…"


_REASON_PHRASES: Mapping[FailureReason, str] = {
    FailureReason.OOM_KILLED: "ran out of memory (OOMKilled)",
    FailureReason.DEADLINE_EXCEEDED: "did not finish within its timeout",
    FailureReason.FORBIDDEN: "was denied permission by the API server",
    FailureReason.RESOURCE_EXHAUSTED: "could not get the cluster resources it needs",
    FailureReason.CONFIGURATION_ERROR: "is misconfigured",
    FailureReason.IMAGE_PULL_BACK_OFF: "could not pull its container image",
    FailureReason.TASK_FAILED: "failed",
    FailureReason.UNKNOWN: "failed for an unknown reason",
}


def _summary(details: FailureDetails, ctx: FailureContext) -> str:
    reason = FailureReason(details.get("reason", FailureReason.UNKNOWN))
    where = ""
    if details.get("failedTaskName"):
        where = f" in task '{details['failedTaskName']}'"
        if details.get("failedStepName"):
            where += f", step '{details['failedStepName']}'"
    code = f" with exit code {details['exitCode']}" if "exitCode" in details else ""
    after = ""
    if details.get("executionTimeBeforeFailure"):
        after = f" after {details['executionTimeBeforeFailure']}"
    impact = (
        "The workload ran, so the target may have been partly changed; review before retrying."
        if details.get("wasExecutionFailure")
        else "It failed before the workload ran, so the target was not changed."
    )
    return (
        f"Workflow '{ctx.workflow_id}' on {ctx.target} {_REASON_PHRASES[reason]}"
        f"{where}{code}{after}. {impact}"
    )


def _finish(details: FailureDetails, ctx: FailureContext, failed_at: datetime) -> FailureDetails:
    details["failedAt"] = format_time(failed_at)
    if ctx.started_at is not None:
        details["executionTimeBeforeFailure"] = format_duration(failed_at - ctx.started_at)
    details["naturalLanguageSummary"] = _summary(details, ctx)
    return details


def classify_failure(
    pipelinerun: KubeObject, taskruns: Sequence[KubeObject], ctx: FailureContext
) -> FailureDetails:
    """FailureDetails for a PipelineRun whose Succeeded condition is False."""
    pr_state = parse_pipelinerun(pipelinerun)
    order = pipeline_task_names(pipelinerun)
    first = _first_failed(taskruns, order)
    if first is None:
        reason = _classify([pr_state.reason], pr_state.message, [])
        any_ran = any(s.ran for tr in taskruns for s in _steps(tr))
        details: FailureDetails = {
            "reason": reason,
            "message": _truncate(pr_state.message or pr_state.reason or "PipelineRun failed"),
            "wasExecutionFailure": _was_execution_failure(reason, any_ran),
        }
        return _finish(details, ctx, pr_state.completed_at or ctx.now)

    index, tr = first
    steps = _steps(tr)
    step = _failed_step(steps)
    cond: Mapping[str, Any] = succeeded_condition(tr) or {}
    tr_reason = str(cond.get("reason") or "")
    tr_message = str(cond.get("message") or "")
    text = " ".join(x for x in (tr_message, step.message if step else "", pr_state.message) if x)
    reason = _classify([tr_reason, pr_state.reason], text, steps)
    details = {
        "failedTaskIndex": index,
        "failedTaskName": task_name_of(tr),
        "reason": reason,
        "message": _truncate(
            tr_message
            or (step.message if step else "")
            or pr_state.message
            or f"TaskRun {meta(tr).get('name', '')} failed"
        ),
        "wasExecutionFailure": _was_execution_failure(reason, any(s.ran for s in steps)),
    }
    if step is not None:
        details["failedStepName"] = step.name
    exit_code = next((s.exit_code for s in steps if s.exit_code not in (None, 0)), None)
    if exit_code is not None:
        details["exitCode"] = exit_code
    failed_at = (
        parse_time(status_of(tr).get("completionTime"))
        or (step.finished_at if step else None)
        or pr_state.completed_at
        or ctx.now
    )
    return _finish(details, ctx, failed_at)


def pipelinerun_vanished(namespace: str, name: str, ctx: FailureContext) -> FailureDetails:
    """FailureDetails when the PipelineRun was deleted while the execution was Running.

    ``wasExecutionFailure`` is true: it may have run before it vanished, so a reader must not
    assume the target is untouched.
    """
    details: FailureDetails = {
        "reason": FailureReason.UNKNOWN,
        "message": f"PipelineRun {namespace}/{name} was deleted externally before it finished",
        "wasExecutionFailure": True,
    }
    return _finish(details, ctx, ctx.now)


def configuration_failure(message: str, ctx: FailureContext) -> FailureDetails:
    """FailureDetails for a spec the reconciler refuses to run (nothing was started)."""
    details: FailureDetails = {
        "reason": FailureReason.CONFIGURATION_ERROR,
        "message": _truncate(message),
        "wasExecutionFailure": False,
    }
    return _finish(details, ctx, ctx.now)
