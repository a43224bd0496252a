"""Conversion between WorkflowExecution resources (camelCase dicts) and ``assay.v1`` messages.

Used by the WorkflowExecutionService servicer. The CRD's shape is fixed by
deploy/crds/workflowexecution.yaml; Go-style duration strings become ``Duration``s and back.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any, TypeVar

from google.protobuf import duration_pb2, json_format, struct_pb2, timestamp_pb2

from assay.server.api.convert import timestamp
from assay.server.kube.times import parse_time
from assay.server.workflow.audit import AuditEvent, AuditEventType
from assay.server.workflow.model import FailureReason, KubeObject, Phase, SkipReason, phase_of
from assay.server.workflow.timeutil import format_duration, parse_duration
from assay.v1 import common_pb2 as cpb
from assay.v1 import workflow_pb2 as wpb

V = TypeVar("V")

PHASES: dict[Phase, wpb.WorkflowPhase.ValueType] = {
    p: wpb.WorkflowPhase.Value(f"WORKFLOW_PHASE_{p.name}") for p in Phase
}
PHASES_BY_VALUE = {v: k for k, v in PHASES.items()}
SKIP_REASONS: dict[SkipReason, wpb.SkipReason.ValueType] = {
    r: wpb.SkipReason.Value(f"SKIP_REASON_{r.name}") for r in SkipReason
}
FAILURE_REASONS: dict[FailureReason, wpb.FailureReason.ValueType] = {
    r: wpb.FailureReason.Value(f"FAILURE_REASON_{r.name}") for r in FailureReason
}
AUDIT_TYPES: dict[AuditEventType, wpb.AuditEventType.ValueType] = {
    t: wpb.AuditEventType.Value(f"AUDIT_EVENT_TYPE_{t.name}") for t in AuditEventType
}
AUDIT_TYPES_BY_VALUE = {v: k for k, v in AUDIT_TYPES.items()}


def spec_to_dict(spec: wpb.WorkflowExecutionSpec) -> dict[str, Any]:
    """The CRD ``spec`` for a requested spec; unset optional fields are left out."""
    ref = spec.workflow_ref
    workflow_ref: dict[str, Any] = {
        "workflowId": ref.workflow_id,
        "version": ref.version,
        "containerImage": ref.container_image,
    }
    if ref.container_digest:
        workflow_ref["containerDigest"] = ref.container_digest
    out: dict[str, Any] = {"workflowRef": workflow_ref, "targetResource": spec.target_resource}
    if spec.parameters:
        out["parameters"] = dict(spec.parameters)
    if spec.HasField("confidence"):
        out["confidence"] = spec.confidence
    if spec.rationale:
        out["rationale"] = spec.rationale
    config: dict[str, Any] = {}
    if spec.execution_config.HasField("timeout"):
        config["timeout"] = format_duration(spec.execution_config.timeout.ToTimedelta())
    if spec.execution_config.service_account_name:
        config["serviceAccountName"] = spec.execution_config.service_account_name
    if config:
        out["executionConfig"] = config
    if spec.HasField("remediation_request_ref"):
        rr = spec.remediation_request_ref
        out["remediationRequestRef"] = {
            k: v
            for k, v in (
                ("apiVersion", rr.api_version),
                ("kind", rr.kind),
                ("namespace", rr.namespace),
                ("name", rr.name),
                ("uid", rr.uid),
            )
            if v
        }
    return out


def execution(obj: KubeObject) -> wpb.WorkflowExecution:
    meta = obj.get("metadata") or {}
    return wpb.WorkflowExecution(
        name=str(meta.get("name", "")),
        namespace=str(meta.get("namespace", "")),
        uid=str(meta.get("uid", "")),
        resource_version=str(meta.get("resourceVersion", "")),
        creation_time=_ts(meta.get("creationTimestamp")),
        labels={str(k): str(v) for k, v in (meta.get("labels") or {}).items()},
        spec=_spec(obj.get("spec") or {}),
        status=_status(obj.get("status") or {}, phase_of(obj)),
    )


def _spec(raw: Mapping[str, Any]) -> wpb.WorkflowExecutionSpec:
    """The stored spec; its camelCase keys are the proto JSON names, but for the Go-style
    ``executionConfig.timeout``. Fields this server does not know are ignored."""
    spec = dict(raw)
    config = spec.get("executionConfig")
    if isinstance(config, Mapping) and "timeout" in config:
        timeout = _duration(config["timeout"])
        spec["executionConfig"] = {k: v for k, v in config.items() if k != "timeout"}
        if timeout is not None:
            spec["executionConfig"]["timeout"] = timeout.ToJsonString()
    return json_format.ParseDict(spec, wpb.WorkflowExecutionSpec(), ignore_unknown_fields=True)


def _status(raw: Mapping[str, Any], phase: Phase) -> wpb.WorkflowExecutionStatus:
    """``phase`` as the reconciler reads it: an execution not yet touched is Pending."""
    status = wpb.WorkflowExecutionStatus(
        phase=PHASES[phase],
        start_time=_ts(raw.get("startTime")),
        completion_time=_ts(raw.get("completionTime")),
        duration=_duration(raw.get("duration")),
        conditions=[
            wpb.Condition(
                type=str(c.get("type", "")),
                status=str(c.get("status", "")),
                reason=str(c.get("reason", "")),
                message=str(c.get("message", "")),
                last_transition_time=_ts(c.get("lastTransitionTime")),
            )
            for c in raw.get("conditions") or []
        ],
    )
    if raw.get("pipelineRunRef"):
        status.pipeline_run_ref.CopyFrom(_ref({"kind": "PipelineRun", **raw["pipelineRunRef"]}))
    prs = raw.get("pipelineRunStatus")
    if prs:
        status.pipeline_run_status.CopyFrom(
            wpb.PipelineRunStatus(
                status=str(prs.get("status", "")),
                reason=str(prs.get("reason", "")),
                message=str(prs.get("message", "")),
                completed_tasks=int(prs.get("completedTasks", 0)),
                total_tasks=int(prs.get("totalTasks", 0)),
            )
        )
    skip = raw.get("skipDetails")
    if skip:
        status.skip_details.CopyFrom(_skip(skip))
    failure = raw.get("failureDetails")
    if failure:
        status.failure_details.CopyFrom(_failure(failure))
    return status


def _skip(raw: Mapping[str, Any]) -> wpb.SkipDetails:
    details = wpb.SkipDetails(
        reason=_enum(SKIP_REASONS, SkipReason, raw.get("reason"), wpb.SKIP_REASON_UNSPECIFIED),
        message=str(raw.get("message", "")),
        skipped_at=_ts(raw.get("skippedAt")),
    )
    conflict = raw.get("conflictingWorkflow")
    if conflict:
        details.conflicting_workflow.CopyFrom(
            wpb.ConflictingWorkflow(
                name=str(conflict.get("name", "")),
                workflow_id=str(conflict.get("workflowId", "")),
                started_at=_ts(conflict.get("startedAt")),
                target_resource=str(conflict.get("targetResource", "")),
            )
        )
    recent = raw.get("recentRemediation")
    if recent:
        details.recent_remediation.CopyFrom(
            wpb.RecentRemediation(
                name=str(recent.get("name", "")),
                workflow_id=str(recent.get("workflowId", "")),
                completed_at=_ts(recent.get("completedAt")),
                outcome=str(recent.get("outcome", "")),
                cooldown_remaining=_duration(recent.get("cooldownRemaining")),
            )
        )
    return details


def _failure(raw: Mapping[str, Any]) -> wpb.FailureDetails:
    return wpb.FailureDetails(
        failed_task_index=int(raw.get("failedTaskIndex", 0)),
        failed_task_name=str(raw.get("failedTaskName", "")),
        failed_step_name=str(raw.get("failedStepName", "")),
        reason=_enum(
            FAILURE_REASONS, FailureReason, raw.get("reason"), wpb.FAILURE_REASON_UNSPECIFIED
        ),
        message=str(raw.get("message", "")),
        exit_code=int(raw.get("exitCode", 0)),
        failed_at=_ts(raw.get("failedAt")),
        execution_time_before_failure=_duration(raw.get("executionTimeBeforeFailure")),
        natural_language_summary=str(raw.get("naturalLanguageSummary", "")),
        was_execution_failure=bool(raw.get("wasExecutionFailure", False)),
    )


def audit_event(event: AuditEvent) -> wpb.AuditEvent:
    payload = struct_pb2.Struct()
    payload.update(_jsonable(event.payload))
    return wpb.AuditEvent(
        key=event.key,
        event_type=AUDIT_TYPES[event.event_type],
        execution_namespace=event.execution_namespace,
        execution_name=event.execution_name,
        execution_uid=event.execution_uid,
        workflow_id=event.workflow_id,
        workflow_version=event.workflow_version,
        target_resource=event.target,
        phase=_enum(PHASES, Phase, event.phase, wpb.WORKFLOW_PHASE_UNSPECIFIED),
        reason=event.reason,
        message=event.message,
        correlation_id=event.correlation_id,
        occurred_at=timestamp(event.occurred_at),
        payload=payload,
    )


def _jsonable(value: Mapping[str, Any]) -> dict[str, Any]:
    """Struct holds JSON values only; anything else (datetimes) becomes its string form."""
    out: dict[str, Any] = {}
    for key, item in value.items():
        if isinstance(item, Mapping):
            out[key] = _jsonable(item)
        elif isinstance(item, list):
            out[key] = [_jsonable(i) if isinstance(i, Mapping) else _scalar(i) for i in item]
        else:
            out[key] = _scalar(item)
    return out


def _scalar(value: object) -> object:
    return value if value is None or isinstance(value, str | int | float | bool) else str(value)


def _ref(raw: Mapping[str, Any]) -> cpb.ObjectReference:
    return cpb.ObjectReference(
        kind=str(raw.get("kind", "")),
        namespace=str(raw.get("namespace", "")),
        name=str(raw.get("name", "")),
        api_version=str(raw.get("apiVersion", "")),
        uid=str(raw.get("uid", "")),
    )


def _ts(value: object) -> timestamp_pb2.Timestamp | None:
    return timestamp(parse_time(value))


def _duration(value: object) -> duration_pb2.Duration | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        delta: timedelta = parse_duration(value)
    except ValueError:
        return None
    out = duration_pb2.Duration()
    out.FromTimedelta(delta)
    return out


def _enum(table: Mapping[Any, V], kind: Any, value: object, unspecified: V) -> V:
    """The proto value of a CRD enum string; UNSPECIFIED for a missing or unknown one."""
    try:
        return table[kind(value)]
    except (ValueError, KeyError):
        return unspecified
