"""PUT and PATCH through the official clients: merge and JSON patch, optimistic
concurrency on resourceVersion, and the status subresource split."""

from __future__ import annotations

import kubernetes.aio.client as aio
import kubernetes.client as k8s
import pytest

from tests.kubeapi import KubeApiDouble

from .manifests import config_map, deployment
from .typed import as_body, present, status_of

MERGE = "application/merge-patch+json"


async def test_merge_and_strategic_merge_patch(
    kube_api: KubeApiDouble, kube_aio_client: aio.ApiClient
) -> None:
    v1 = aio.CoreV1Api(kube_aio_client)
    await v1.create_namespaced_config_map(
        "default", as_body(config_map("cfg", a="1", b="2"), aio.V1ConfigMap)
    )

    merged = await v1.patch_namespaced_config_map(
        "cfg",
        "default",
        {"data": {"b": None, "c": "3"}, "metadata": {"labels": {"x": "y"}}},
        _content_type=MERGE,
    )
    assert merged.data == {"a": "1", "c": "3"} and present(merged.metadata).labels == {"x": "y"}
    assert kube_api.requests[-1].content_type == MERGE

    # The client's default for a dict body is a strategic merge patch.
    strategic = await v1.patch_namespaced_config_map("cfg", "default", {"data": {"a": "9"}})
    assert strategic.data == {"a": "9", "c": "3"}
    assert kube_api.requests[-1].content_type == "application/strategic-merge-patch+json"


async def test_json_patch_operations_and_failing_test_op(
    kube_api: KubeApiDouble, kube_aio_client: aio.ApiClient
) -> None:
    v1 = aio.CoreV1Api(kube_aio_client)
    await v1.create_namespaced_config_map(
        "default", as_body(config_map("cfg", a="1", b="2"), aio.V1ConfigMap)
    )
    patched = await v1.patch_namespaced_config_map(
        "cfg",
        "default",
        [
            {"op": "test", "path": "/data/a", "value": "1"},
            {"op": "add", "path": "/metadata/annotations", "value": {}},
            # RFC 6901 escaping: ~1 is "/" in the key.
            {"op": "add", "path": "/metadata/annotations/example.com~1owner", "value": "me"},
            {"op": "replace", "path": "/data/a", "value": "10"},
            {"op": "copy", "from": "/data/a", "path": "/data/c"},
            {"op": "move", "from": "/data/b", "path": "/data/d"},
            {"op": "remove", "path": "/data/c"},
        ],
    )
    assert patched.data == {"a": "10", "d": "2"}
    assert present(patched.metadata).annotations == {"example.com/owner": "me"}
    assert kube_api.requests[-1].content_type == "application/json-patch+json"

    before = present(patched.metadata).resource_version
    with pytest.raises(aio.ApiException) as error:
        await v1.patch_namespaced_config_map(
            "cfg",
            "default",
            [
                {"op": "replace", "path": "/data/a", "value": "changed"},
                {"op": "test", "path": "/data/a", "value": "1"},
            ],
        )
    assert error.value.status == 422
    assert status_of(error.value)["reason"] == "Invalid"
    # Nothing of a failed patch is applied.
    after = await v1.read_namespaced_config_map("cfg", "default")
    assert present(after.data)["a"] == "10"
    assert present(after.metadata).resource_version == before


def test_put_with_stale_resource_version_conflicts(kube_sync_client: k8s.ApiClient) -> None:
    v1 = k8s.CoreV1Api(kube_sync_client)
    original = v1.create_namespaced_config_map(
        "default", as_body(config_map("cfg", a="1"), k8s.V1ConfigMap)
    )

    original.data = {"a": "2"}
    updated = v1.replace_namespaced_config_map("cfg", "default", original)
    assert updated.data == {"a": "2"}

    original.data = {"a": "3"}  # still carries the first resourceVersion
    with pytest.raises(k8s.ApiException) as error:
        v1.replace_namespaced_config_map("cfg", "default", original)
    status = status_of(error.value)
    assert (error.value.status, status["reason"]) == (409, "Conflict")
    assert "the object has been modified" in status["message"]

    stale_patch = {
        "metadata": {"resourceVersion": present(original.metadata).resource_version},
        "data": {"a": "4"},
    }
    with pytest.raises(k8s.ApiException) as patch_error:
        v1.patch_namespaced_config_map("cfg", "default", stale_patch, _content_type=MERGE)
    assert patch_error.value.status == 409

    current = v1.read_namespaced_config_map("cfg", "default")
    assert current.data == {"a": "2"}
    current.data = {"a": "5"}
    assert v1.replace_namespaced_config_map("cfg", "default", current).data == {"a": "5"}


def test_status_subresource_is_separate_from_the_main_resource(
    kube_sync_client: k8s.ApiClient,
) -> None:
    apps = k8s.AppsV1Api(kube_sync_client)
    created = apps.create_namespaced_deployment(
        "default", as_body({**deployment("web"), "status": {"replicas": 99}}, k8s.V1Deployment)
    )
    assert created.status is None or present(created.status).replicas is None  # dropped on create

    with_status = apps.replace_namespaced_deployment_status(
        "web",
        "default",
        as_body(
            {
                **deployment("web"),
                "spec": {**deployment("web")["spec"], "replicas": 7},
                "metadata": {"name": "web", "labels": {"sneaky": "yes"}},
                "status": {"replicas": 1, "readyReplicas": 1},
            },
            k8s.V1Deployment,
        ),
    )
    # Only .status was taken from the status write.
    assert present(with_status.status).ready_replicas == 1
    assert present(with_status.spec).replicas == 1 and present(with_status.metadata).labels == {
        "app": "web"
    }
    assert present(with_status.metadata).generation == 1

    main = apps.patch_namespaced_deployment(
        "web", "default", {"spec": {"replicas": 2}, "status": {"readyReplicas": 0}}
    )
    # ...and a main-resource write ignores .status.
    assert present(main.spec).replicas == 2 and present(main.status).ready_replicas == 1

    patched = apps.patch_namespaced_deployment_status(
        "web", "default", {"status": {"readyReplicas": 2}}, _content_type=MERGE
    )
    assert present(patched.status).ready_replicas == 2 and present(patched.status).replicas == 1
    assert present(patched.spec).replicas == 2
