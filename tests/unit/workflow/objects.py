"""Builders for WorkflowExecution, PipelineRun and TaskRun dicts used by the unit tests."""

from __future__ import annotations

from typing import Any


def wfe(
    name: str = "wfe-1",
    *,
    namespace: str = "team-a",
    uid: str = "uid-1",
    target: str = "prod/deployment/web",
    workflow_id: str = "restart-pods",
    **spec: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "workflowRef": {
            "workflowId": workflow_id,
            "version": "1.0.0",
            "containerImage": "quay.io/kubernaut/restart:1.0.0",
        },
        "targetResource": target,
    }
    body.update(spec)
    return {
        "apiVersion": "workflowexecution.kubernaut.ai/v1alpha1",
        "kind": "WorkflowExecution",
        "metadata": {"name": name, "namespace": namespace, "uid": uid},
        "spec": body,
    }


def condition(status: str, reason: str = "", message: str = "") -> dict[str, Any]:
    return {"type": "Succeeded", "status": status, "reason": reason, "message": message}


def pipelinerun(
    status: str | None = None,
    *,
    reason: str = "",
    message: str = "",
    tasks: list[str] | None = None,
    children: list[tuple[str, str]] | None = None,
    completion: str | None = None,
) -> dict[str, Any]:
    st: dict[str, Any] = {"startTime": "2026-01-01T00:00:00Z"}
    if status is not None:
        st["conditions"] = [condition(status, reason, message)]
    if tasks is not None:
        st["pipelineSpec"] = {"tasks": [{"name": t} for t in tasks]}
    if children is not None:
        st["childReferences"] = [
            {"kind": "TaskRun", "name": n, "pipelineTaskName": t} for n, t in children
        ]
    if completion:
        st["completionTime"] = completion
    return {"metadata": {"name": "pr-1", "namespace": "kubernaut-workflows"}, "status": st}


def step(
    name: str,
    *,
    exit_code: int | None = None,
    reason: str = "",
    waiting: str = "",
    message: str = "",
    finished: str = "2026-01-01T00:01:00Z",
) -> dict[str, Any]:
    if waiting:
        return {"name": name, "waiting": {"reason": waiting, "message": message}}
    if exit_code is None:
        return {"name": name, "running": {"startedAt": "2026-01-01T00:00:10Z"}}
    return {
        "name": name,
        "terminated": {
            "exitCode": exit_code,
            "reason": reason or ("Completed" if exit_code == 0 else "Error"),
            "message": message,
            "startedAt": "2026-01-01T00:00:10Z",
            "finishedAt": finished,
        },
    }


def taskrun(
    name: str,
    task: str,
    status: str | None,
    *,
    reason: str = "",
    message: str = "",
    steps: list[dict[str, Any]] | None = None,
    completion: str | None = None,
) -> dict[str, Any]:
    st: dict[str, Any] = {"steps": steps or []}
    if status is not None:
        st["conditions"] = [condition(status, reason, message)]
    if completion:
        st["completionTime"] = completion
    return {
        "metadata": {
            "name": name,
            "labels": {"tekton.dev/pipelineTask": task, "tekton.dev/pipelineRun": "pr-1"},
        },
        "status": st,
    }
