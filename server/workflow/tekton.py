"""Tekton PipelineRuns for WorkflowExecutions: build one, recognise ours, read its status.

The reconciler calls :func:`build_pipelinerun` when an execution acquires its target lock,
:func:`belongs_to` when a create hits AlreadyExists (ours = adopt, anything else is a name
clash), :func:`parse_pipelinerun` on every PipelineRun change, and :func:`summarize` to mirror
task progress into ``status.pipelineRunStatus``. :func:`execution_of` maps a watched
PipelineRun back to the WorkflowExecution to reconcile. Pure functions over plain dicts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from assay.server.kube.times import parse_time
from assay.server.workflow.model import (
    ANNOTATION_EXECUTION,
    ANNOTATION_TARGET,
    ANNOTATION_WORKFLOW_ID,
    LABEL_EXECUTION,
    LABEL_EXECUTION_NAMESPACE,
    LABEL_EXECUTION_UID,
    LABEL_MANAGED_BY,
    LABEL_TARGET,
    LABEL_TARGET_HASH,
    LABEL_WORKFLOW_ID,
    MANAGED_BY,
    TARGET_RESOURCE_PARAM,
    TEKTON_GROUP,
    TEKTON_PIPELINE_TASK_LABEL,
    TEKTON_VERSION,
    ExecutionKey,
    KubeObject,
    Phase,
    PipelineRunStatusSummary,
    execution_key,
    meta,
    spec_of,
    status_of,
    workflow_id_of,
)
from assay.server.workflow.naming import pipelinerun_name, sanitize_label_value, target_hash

BUNDLE_PIPELINE_NAME = "workflow"
PIPELINERUN_KIND = "PipelineRun"


@dataclass(frozen=True)
class PipelineRunState:
    """What a PipelineRun's ``Succeeded`` condition says, in WorkflowExecution phases."""

    phase: Phase  # Running, Completed or Failed
    reason: str
    message: str
    started_at: datetime | None
    completed_at: datetime | None


def bundle_reference(workflow_ref: Mapping[str, Any]) -> str:
    """``containerImage``, pinned as ``image@digest`` when a digest is given."""
    image = str(workflow_ref.get("containerImage", ""))
    digest_value = workflow_ref.get("containerDigest")
    return f"{image}@{digest_value}" if digest_value else image


def name_for(wfe: KubeObject) -> str:
    m = meta(wfe)
    return pipelinerun_name(
        namespace=str(m.get("namespace", "")),
        name=str(m.get("name", "")),
        uid=str(m.get("uid", "")),
    )


def linking_labels(wfe: KubeObject) -> dict[str, str]:
    """Labels that tie an object (PipelineRun, lock Lease) back to its WorkflowExecution."""
    m = meta(wfe)
    spec = spec_of(wfe)
    target = str(spec.get("targetResource", ""))
    return {
        LABEL_MANAGED_BY: MANAGED_BY,
        LABEL_EXECUTION: sanitize_label_value(str(m.get("name", ""))),
        LABEL_EXECUTION_NAMESPACE: sanitize_label_value(str(m.get("namespace", ""))),
        LABEL_EXECUTION_UID: sanitize_label_value(str(m.get("uid", ""))),
        LABEL_WORKFLOW_ID: sanitize_label_value(workflow_id_of(wfe)),
        LABEL_TARGET: sanitize_label_value(target),
        LABEL_TARGET_HASH: target_hash(target),
    }


def linking_annotations(wfe: KubeObject) -> dict[str, str]:
    """The raw values behind the sanitised labels."""
    m = meta(wfe)
    return {
        ANNOTATION_EXECUTION: f"{m.get('namespace', '')}/{m.get('name', '')}",
        ANNOTATION_TARGET: str(spec_of(wfe).get("targetResource", "")),
        ANNOTATION_WORKFLOW_ID: workflow_id_of(wfe),
    }


def build_pipelinerun(
    wfe: KubeObject, *, namespace: str, default_service_account: str
) -> KubeObject:
    """The PipelineRun that executes ``wfe`` (a validated WorkflowExecution)."""
    spec = spec_of(wfe)
    ref = spec.get("workflowRef") or {}
    config = spec.get("executionConfig") or {}
    parameters: Mapping[str, str] = spec.get("parameters") or {}
    params = [{"name": k, "value": str(v)} for k, v in sorted(parameters.items())]
    params = [p for p in params if p["name"] != TARGET_RESOURCE_PARAM]
    params.append({"name": TARGET_RESOURCE_PARAM, "value": str(spec.get("targetResource", ""))})
    pr_spec: dict[str, Any] = {
        "pipelineRef": {
            "resolver": "bundles",
            "params": [
                {"name": "bundle", "value": bundle_reference(ref)},
                {"name": "name", "value": BUNDLE_PIPELINE_NAME},
                {"name": "kind", "value": "pipeline"},
            ],
        },
        "params": params,
        "taskRunTemplate": {
            "serviceAccountName": config.get("serviceAccountName") or default_service_account,
        },
    }
    if config.get("timeout"):
        pr_spec["timeouts"] = {"pipeline": str(config["timeout"])}
    return {
        "apiVersion": f"{TEKTON_GROUP}/{TEKTON_VERSION}",
        "kind": PIPELINERUN_KIND,
        "metadata": {
            "name": name_for(wfe),
            "namespace": namespace,
            "labels": linking_labels(wfe),
            "annotations": linking_annotations(wfe),
        },
        "spec": pr_spec,
    }


def belongs_to(pipelinerun: KubeObject, wfe: KubeObject) -> bool:
    """True when ``pipelinerun`` was created for ``wfe`` (same uid label)."""
    labels = meta(pipelinerun).get("labels") or {}
    uid = sanitize_label_value(str(meta(wfe).get("uid", "")))
    return bool(uid) and labels.get(LABEL_EXECUTION_UID) == uid


def execution_of(pipelinerun: KubeObject) -> ExecutionKey | None:
    """The WorkflowExecution a PipelineRun of ours belongs to, from its raw annotation."""
    raw = (meta(pipelinerun).get("annotations") or {}).get(ANNOTATION_EXECUTION, "")
    namespace, sep, name = str(raw).partition("/")
    return execution_key(namespace, name) if sep and namespace and name else None


def succeeded_condition(obj: KubeObject) -> Mapping[str, Any] | None:
    for cond in status_of(obj).get("conditions") or []:
        if isinstance(cond, Mapping) and cond.get("type") == "Succeeded":
            return cond
    return None


def parse_pipelinerun(pipelinerun: KubeObject) -> PipelineRunState:
    """Succeeded True/False/Unknown (or no condition yet) -> Completed/Failed/Running."""
    status = status_of(pipelinerun)
    cond = succeeded_condition(pipelinerun) or {}
    value = cond.get("status")
    phase = {"True": Phase.COMPLETED, "False": Phase.FAILED}.get(str(value), Phase.RUNNING)
    return PipelineRunState(
        phase=phase,
        reason=str(cond.get("reason") or ""),
        message=str(cond.get("message") or ""),
        started_at=parse_time(status.get("startTime")),
        completed_at=parse_time(status.get("completionTime")),
    )


def pipeline_task_names(pipelinerun: KubeObject) -> list[str]:
    """Pipeline task names in pipeline order (``tasks`` then ``finally``) when Tekton says.

    Falls back to the order of ``childReferences`` before the resolved spec is published.
    """
    status = status_of(pipelinerun)
    names: list[str] = []
    spec = status.get("pipelineSpec")
    if isinstance(spec, Mapping):
        for section in ("tasks", "finally"):
            for task in spec.get(section) or []:
                if isinstance(task, Mapping) and task.get("name"):
                    names.append(str(task["name"]))
    if names:
        return names
    for child in status.get("childReferences") or []:
        if isinstance(child, Mapping) and child.get("pipelineTaskName"):
            name = str(child["pipelineTaskName"])
            if name not in names:
                names.append(name)
    return names


def task_name_of(taskrun: KubeObject) -> str:
    labels = meta(taskrun).get("labels") or {}
    return str(labels.get(TEKTON_PIPELINE_TASK_LABEL) or meta(taskrun).get("name", ""))


def _taskruns_of(pipelinerun: KubeObject, taskruns: Iterable[KubeObject]) -> list[KubeObject]:
    """Keep the TaskRuns the PipelineRun lists as children (all of them if it lists none)."""
    children = {
        str(c.get("name"))
        for c in status_of(pipelinerun).get("childReferences") or []
        if isinstance(c, Mapping) and c.get("kind", "TaskRun") == "TaskRun"
    }
    runs = list(taskruns)
    if not children:
        return runs
    return [tr for tr in runs if meta(tr).get("name") in children]


def summarize(pipelinerun: KubeObject, taskruns: Sequence[KubeObject]) -> PipelineRunStatusSummary:
    """Task progress for ``status.pipelineRunStatus``.

    ``completedTasks`` counts finished TaskRuns (succeeded or failed, as Tekton counts them),
    ``failedTasks`` the failed ones; ``totalTasks`` comes from the resolved pipeline spec,
    else from the children Tekton has created so far.
    """
    cond = succeeded_condition(pipelinerun) or {}
    runs = _taskruns_of(pipelinerun, taskruns)
    finished = failed = 0
    for tr in runs:
        value = (succeeded_condition(tr) or {}).get("status")
        if value in ("True", "False"):
            finished += 1
        if value == "False":
            failed += 1
    children = status_of(pipelinerun).get("childReferences") or []
    total = max(len(pipeline_task_names(pipelinerun)), len(children), len(runs))
    summary: PipelineRunStatusSummary = {
        "status": str(cond.get("status") or "Unknown"),
        "completedTasks": finished,
        "failedTasks": failed,
        "totalTasks": total,
    }
    if cond.get("reason"):
        summary["reason"] = str(cond["reason"])
    if cond.get("message"):
        summary["message"] = str(cond["message"])
    return summary
