"""Custom resources are validated against their CRD's structural schema like on a real
API server: 422 Invalid with one cause per field error, on create, update, patch and
status writes, and the previous state kept on failure."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes.aio.client as aio
import pytest

from tests.kubeapi import KubeApiDouble

from .typed import as_body, json_object, status_of

REPO_ROOT = Path(__file__).resolve().parents[3]
GROUP, VERSION, PLURAL = "workflowexecution.kubernaut.ai", "v1alpha1", "workflowexecutions"
API_VERSION = f"{GROUP}/{VERSION}"


def execution(name: str = "wfe-1", **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "workflowRef": {
            "workflowId": "restart-pods",
            "version": "1.0.0",
            "containerImage": "quay.io/kubernaut/restart-pods:1.0.0",
        },
        "targetResource": "prod/Deployment/web",
    }
    body.update(spec)
    return {
        "apiVersion": API_VERSION,
        "kind": "WorkflowExecution",
        "metadata": {"name": name},
        "spec": body,
    }


def status_body(error: pytest.ExceptionInfo[aio.ApiException]) -> dict[str, Any]:
    return status_of(error.value)


def causes(error: pytest.ExceptionInfo[aio.ApiException]) -> dict[str, tuple[str, str]]:
    """field -> (reason, message) of every cause of a 422."""
    assert error.value.status == 422
    body = status_body(error)
    assert body["reason"] == "Invalid"
    return {c["field"]: (c["reason"], c["message"]) for c in body["details"]["causes"]}


@pytest.fixture
def custom(kube_api: KubeApiDouble, kube_aio_client: aio.ApiClient) -> aio.CustomObjectsApi:
    kube_api.load_crd(REPO_ROOT / "deploy" / "crds" / "workflowexecution.yaml")
    return aio.CustomObjectsApi(kube_aio_client)


async def test_create_reports_every_violation_with_its_field_path(
    custom: aio.CustomObjectsApi, kube_api: KubeApiDouble
) -> None:
    bad = execution(targetResource="not a target", confidence=1.5, rationale="x" * 4097)
    del bad["spec"]["workflowRef"]["version"]
    bad["spec"]["workflowRef"]["workflowId"] = ""
    with pytest.raises(aio.ApiException) as error:
        await custom.create_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, bad)
    pattern = (
        r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?/)?[A-Za-z][A-Za-z0-9]*/[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"
    )
    assert causes(error) == {
        "spec.workflowRef.version": ("FieldValueRequired", "Required value"),
        "spec.workflowRef.workflowId": (
            "FieldValueInvalid",
            'Invalid value: "": spec.workflowRef.workflowId in body should be at least 1 chars '
            "long",
        ),
        "spec.targetResource": (
            "FieldValueInvalid",
            'Invalid value: "not a target": spec.targetResource in body should match '
            f"'{pattern}'",
        ),
        "spec.confidence": (
            "FieldValueInvalid",
            "Invalid value: 1.5: spec.confidence in body should be less than or equal to 1",
        ),
        "spec.rationale": ("FieldValueTooLong", "Too long: may not be more than 4096 bytes"),
    }
    message = status_body(error)["message"]
    assert message.startswith(
        'WorkflowExecution.workflowexecution.kubernaut.ai "wfe-1" is invalid: ['
    )
    assert "spec.workflowRef.version: Required value" in message
    assert status_body(error)["details"]["group"] == GROUP
    assert kube_api.get_object(API_VERSION, "WorkflowExecution", "wfe-1", "default") is None


async def test_missing_spec_and_wrong_types(custom: aio.CustomObjectsApi) -> None:
    no_spec = execution()
    del no_spec["spec"]
    with pytest.raises(aio.ApiException) as error:
        await custom.create_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, no_spec)
    assert causes(error) == {"spec": ("FieldValueRequired", "Required value")}
    assert status_body(error)["message"].endswith("is invalid: spec: Required value")

    with pytest.raises(aio.ApiException) as error:
        await custom.create_namespaced_custom_object(
            GROUP, VERSION, "default", PLURAL, execution(confidence="high", parameters=[])
        )
    assert causes(error) == {
        "spec.confidence": (
            "FieldValueTypeInvalid",
            'Invalid value: "string": spec.confidence in body must be of type number: "string"',
        ),
        "spec.parameters": (
            "FieldValueTypeInvalid",
            'Invalid value: "array": spec.parameters in body must be of type object: "array"',
        ),
    }


async def test_status_writes_are_validated_against_the_status_schema(
    custom: aio.CustomObjectsApi, kube_api: KubeApiDouble
) -> None:
    await custom.create_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, execution())
    good = {"status": {"phase": "Running", "startTime": "2025-01-02T03:04:05Z"}}
    written = json_object(
        await custom.patch_namespaced_custom_object_status(
            GROUP, VERSION, "default", PLURAL, "wfe-1", good
        )
    )
    assert written["status"] == good["status"]

    bad = {
        "status": {
            "phase": "Exploded",
            "startTime": "yesterday",
            "pipelineRunStatus": {"completedTasks": -1},
            "conditions": [
                {"type": "Ready", "status": "Maybe"},
                {"type": "Ready", "status": "True"},
            ],
        }
    }
    with pytest.raises(aio.ApiException) as error:
        await custom.patch_namespaced_custom_object_status(
            GROUP, VERSION, "default", PLURAL, "wfe-1", bad
        )
    assert causes(error) == {
        "status.phase": (
            "FieldValueNotSupported",
            'Unsupported value: "Exploded": supported values: "Pending", "Running", "Completed", '
            '"Failed", "Skipped"',
        ),
        "status.startTime": (
            "FieldValueTypeInvalid",
            'Invalid value: "yesterday": status.startTime in body must be of type date-time: '
            '"yesterday"',
        ),
        "status.pipelineRunStatus.completedTasks": (
            "FieldValueInvalid",
            "Invalid value: -1: status.pipelineRunStatus.completedTasks in body should be "
            "greater than or equal to 0",
        ),
        "status.conditions[0].status": (
            "FieldValueNotSupported",
            'Unsupported value: "Maybe": supported values: "True", "False", "Unknown"',
        ),
        "status.conditions[1]": ("FieldValueDuplicate", 'Duplicate value: {"type":"Ready"}'),
    }
    stored = kube_api.get_object(API_VERSION, "WorkflowExecution", "wfe-1", "default")
    assert stored is not None and stored["status"] == good["status"]


async def test_patches_and_updates_are_validated(
    custom: aio.CustomObjectsApi, kube_api: KubeApiDouble
) -> None:
    created = json_object(
        await custom.create_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, execution())
    )
    with pytest.raises(aio.ApiException) as error:
        await custom.patch_namespaced_custom_object(
            GROUP, VERSION, "default", PLURAL, "wfe-1", {"spec": {"targetResource": "a b"}}
        )
    assert set(causes(error)) == {"spec.targetResource"}

    replaced = {**created, "spec": {**created["spec"], "confidence": -0.5}}
    with pytest.raises(aio.ApiException) as error:
        await custom.replace_namespaced_custom_object(
            GROUP, VERSION, "default", PLURAL, "wfe-1", replaced
        )
    assert causes(error)["spec.confidence"][1].endswith("should be greater than or equal to 0")
    stored = kube_api.get_object(API_VERSION, "WorkflowExecution", "wfe-1", "default")
    assert stored is not None
    assert stored["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]


async def test_values_left_unchanged_are_not_revalidated(
    custom: aio.CustomObjectsApi, kube_api: KubeApiDouble
) -> None:
    # Seeded around admission (like an object stored before its schema got stricter): a
    # controller can still write its status and finalizers, as with validation ratcheting,
    # but any change to the invalid value itself is checked.
    [seeded] = kube_api.seed(
        {
            **execution(targetResource="not a target"),
            "metadata": {"name": "old", "namespace": "default"},
        }
    )
    status = json_object(
        await custom.patch_namespaced_custom_object_status(
            GROUP, VERSION, "default", PLURAL, "old", {"status": {"phase": "Failed"}}
        )
    )
    assert status["status"]["phase"] == "Failed"
    finalized = json_object(
        await custom.patch_namespaced_custom_object(
            GROUP,
            VERSION,
            "default",
            PLURAL,
            "old",
            {"metadata": {"finalizers": ["example.com/f"]}},
        )
    )
    assert finalized["metadata"]["finalizers"] == ["example.com/f"]
    with pytest.raises(aio.ApiException) as error:
        await custom.patch_namespaced_custom_object(
            GROUP, VERSION, "default", PLURAL, "old", {"spec": {"targetResource": "still bad"}}
        )
    assert set(causes(error)) == {"spec.targetResource"}
    assert seeded["spec"]["targetResource"] == "not a target"


async def test_put_of_a_custom_resource_needs_a_resource_version(
    custom: aio.CustomObjectsApi, kube_aio_client: aio.ApiClient
) -> None:
    created = json_object(
        await custom.create_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, execution())
    )
    unversioned = {**created, "metadata": {"name": "wfe-1", "namespace": "default"}}
    with pytest.raises(aio.ApiException) as error:
        await custom.replace_namespaced_custom_object(
            GROUP, VERSION, "default", PLURAL, "wfe-1", unversioned
        )
    assert causes(error) == {
        "metadata.resourceVersion": (
            "FieldValueInvalid",
            "Invalid value: 0: must be specified for an update",
        )
    }
    assert status_body(error)["message"] == (
        'WorkflowExecution.workflowexecution.kubernaut.ai "wfe-1" is invalid: '
        "metadata.resourceVersion: Invalid value: 0: must be specified for an update"
    )
    with pytest.raises(aio.ApiException) as error:
        await custom.replace_namespaced_custom_object_status(
            GROUP,
            VERSION,
            "default",
            PLURAL,
            "wfe-1",
            {**unversioned, "status": {"phase": "Running"}},
        )
    assert set(causes(error)) == {"metadata.resourceVersion"}

    stale = {**created, "spec": {**created["spec"], "confidence": 0.5}}
    await custom.replace_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, "wfe-1", stale)
    with pytest.raises(aio.ApiException) as conflict:
        await custom.replace_namespaced_custom_object(
            GROUP, VERSION, "default", PLURAL, "wfe-1", stale
        )
    assert conflict.value.status == 409

    # Built-in resources keep their unconditional update.
    v1 = aio.CoreV1Api(kube_aio_client)
    await v1.create_namespaced_config_map(
        "default", as_body({"metadata": {"name": "c"}, "data": {}}, aio.V1ConfigMap)
    )
    replaced = await v1.replace_namespaced_config_map(
        "c", "default", as_body({"metadata": {"name": "c"}, "data": {"k": "v"}}, aio.V1ConfigMap)
    )
    assert replaced.data == {"k": "v"}
