"""Structural schemas for the tekton.dev/v1 PipelineRun and TaskRun CRDs of the double.

Tekton publishes full structural schemas, so a real API server prunes any field of a
PipelineRun that Tekton does not define and rejects wrong types. These schemas declare the
v1 fields Tekton defines that Assay and the simulator read or write, typed as Tekton types
them; the embedded specs that Tekton itself leaves open (pipelineSpec, taskSpec,
podTemplate, workspaces, parameter values) preserve unknown fields, as Tekton's do.
Used by `tekton.py` (`tekton_crds`).
"""

from __future__ import annotations

from typing import Any

from .jsonutil import JsonObject

_OPEN: JsonObject = {"x-kubernetes-preserve-unknown-fields": True}
_STRING: JsonObject = {"type": "string"}
_TIME: JsonObject = {"type": "string", "format": "date-time"}
_INTEGER: JsonObject = {"type": "integer"}


def _object(required: tuple[str, ...] = (), **properties: Any) -> JsonObject:
    schema: JsonObject = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    return schema


def _array(items: JsonObject) -> JsonObject:
    return {"type": "array", "items": items, "x-kubernetes-list-type": "atomic"}


def _string_map() -> JsonObject:
    return {"type": "object", "additionalProperties": _STRING}


_PARAMS = _array(_object(("name", "value"), name=_STRING, value=_OPEN))
_REF = _object(name=_STRING, kind=_STRING, apiVersion=_STRING, resolver=_STRING, params=_PARAMS)
_CONDITIONS = _array(
    _object(
        ("type", "status"),
        type=_STRING,
        status=_STRING,
        severity=_STRING,
        reason=_STRING,
        message=_STRING,
        lastTransitionTime=_STRING,
    )
)
_RESULTS = _array(_object(("name", "value"), name=_STRING, type=_STRING, value=_OPEN))
_WHEN = _array(_OPEN)
_COMMON_STATUS: dict[str, Any] = {
    "conditions": _CONDITIONS,
    "observedGeneration": _INTEGER,
    "annotations": _string_map(),
    "startTime": _TIME,
    "completionTime": _TIME,
    "provenance": _OPEN,
    "spanContext": _string_map(),
}

_PIPELINE_RUN_SPEC = _object(
    pipelineRef=_REF,
    pipelineSpec=_OPEN,
    params=_PARAMS,
    status=_STRING,
    timeouts={  # `finally` is a Python keyword, hence the literal
        "type": "object",
        "properties": {"pipeline": _STRING, "tasks": _STRING, "finally": _STRING},
    },
    taskRunTemplate=_object(serviceAccountName=_STRING, podTemplate=_OPEN),
    workspaces=_array(_OPEN),
    taskRunSpecs=_array(_OPEN),
    managedBy=_STRING,
)
_PIPELINE_RUN_STATUS = _object(
    **_COMMON_STATUS,
    finallyStartTime=_TIME,
    pipelineSpec=_OPEN,
    results=_RESULTS,
    childReferences=_array(
        _object(
            apiVersion=_STRING,
            kind=_STRING,
            name=_STRING,
            displayName=_STRING,
            pipelineTaskName=_STRING,
            whenExpressions=_WHEN,
        )
    ),
    skippedTasks=_array(
        _object(("name", "reason"), name=_STRING, reason=_STRING, whenExpressions=_WHEN)
    ),
)

_STEP_STATE = _object(
    name=_STRING,
    container=_STRING,
    imageID=_STRING,
    running=_object(startedAt=_TIME),
    waiting=_object(reason=_STRING, message=_STRING),
    terminated=_object(
        ("exitCode",),
        exitCode=_INTEGER,
        signal=_INTEGER,
        reason=_STRING,
        message=_STRING,
        startedAt=_TIME,
        finishedAt=_TIME,
        containerID=_STRING,
    ),
    terminationReason=_STRING,
    results=_RESULTS,
)
_TASK_RUN_SPEC = _object(
    taskRef=_REF,
    taskSpec=_OPEN,
    params=_PARAMS,
    serviceAccountName=_STRING,
    timeout=_STRING,
    status=_STRING,
    statusMessage=_STRING,
    retries=_INTEGER,
    podTemplate=_OPEN,
    computeResources=_OPEN,
    workspaces=_array(_OPEN),
    stepSpecs=_array(_OPEN),
    sidecarSpecs=_array(_OPEN),
    managedBy=_STRING,
)
_TASK_RUN_STATUS = _object(
    **_COMMON_STATUS,
    podName=_STRING,
    steps=_array(_STEP_STATE),
    results=_RESULTS,
    artifacts=_OPEN,
    sidecars=_array(_OPEN),
    retriesStatus=_array(_OPEN),
    taskSpec=_OPEN,
)


def _resource(spec: JsonObject, status: JsonObject) -> JsonObject:
    return _object(
        apiVersion=_STRING, kind=_STRING, metadata={"type": "object"}, spec=spec, status=status
    )


PIPELINE_RUN_SCHEMA = _resource(_PIPELINE_RUN_SPEC, _PIPELINE_RUN_STATUS)
TASK_RUN_SCHEMA = _resource(_TASK_RUN_SPEC, _TASK_RUN_STATUS)
