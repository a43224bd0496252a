"""Create/get/list/delete through the official clients: server-set metadata, Status errors,
namespaces, all-namespace lists, DELETE answers and metadata.generation."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import kubernetes.aio.client as aio
import kubernetes.client as k8s
import pytest

from tests.kubeapi import KubeApiDouble

from .manifests import config_map, deployment, namespace, pod
from .typed import as_body, json_object, present, status_of, version


def test_create_sets_server_fields_and_get_list_agree(
    kube_sync_client: k8s.ApiClient, kube_api_thread: KubeApiDouble
) -> None:
    v1 = k8s.CoreV1Api(kube_sync_client)
    body = k8s.V1ConfigMap(metadata=k8s.V1ObjectMeta(name="settings"), data={"mode": "fast"})
    first = v1.create_namespaced_config_map("default", body)
    second = v1.create_namespaced_config_map(
        "default", as_body(config_map("other"), k8s.V1ConfigMap)
    )

    meta = present(first.metadata)
    uuid.UUID(present(meta.uid))
    assert meta.namespace == "default" and meta.generation == 1
    assert version(second.metadata) > version(meta)
    assert abs(datetime.now(UTC) - present(meta.creation_timestamp)) < timedelta(seconds=5)

    fetched = v1.read_namespaced_config_map("settings", "default")
    assert (present(fetched.metadata).uid, fetched.data) == (meta.uid, {"mode": "fast"})
    listed = v1.list_namespaced_config_map("default")
    assert listed.kind == "ConfigMapList"
    assert [present(c.metadata).name for c in listed.items] == ["other", "settings"]
    assert version(listed.metadata) >= version(second.metadata)
    stored = kube_api_thread.get_object("v1", "ConfigMap", "settings", "default")
    assert stored is not None and stored["metadata"]["resourceVersion"] == meta.resource_version


def test_generate_name_and_namespace_from_path(kube_sync_client: k8s.ApiClient) -> None:
    v1 = k8s.CoreV1Api(kube_sync_client)
    body = {"metadata": {"generateName": "job-"}, "data": {}}
    created = [
        v1.create_namespaced_config_map("kube-system", as_body(body, k8s.V1ConfigMap))
        for _ in range(3)
    ]
    names = {present(present(c.metadata).name) for c in created}
    assert len(names) == 3 and all(n.startswith("job-") and len(n) == 9 for n in names)
    assert {present(c.metadata).namespace for c in created} == {"kube-system"}


def test_already_exists_and_not_found_are_status_objects(kube_sync_client: k8s.ApiClient) -> None:
    v1 = k8s.CoreV1Api(kube_sync_client)
    v1.create_namespaced_pod("default", as_body(pod("web"), k8s.V1Pod))
    with pytest.raises(k8s.ApiException) as exists:
        v1.create_namespaced_pod("default", as_body(pod("web"), k8s.V1Pod))
    assert exists.value.status == 409
    assert status_of(exists.value) == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'pods "web" already exists',
        "reason": "AlreadyExists",
        "details": {"name": "web", "kind": "pods"},
        "code": 409,
    }

    calls: list[Callable[[], object]] = [
        lambda: v1.read_namespaced_pod("ghost", "default"),
        lambda: v1.delete_namespaced_pod("ghost", "default"),
        lambda: v1.replace_namespaced_pod("ghost", "default", as_body(pod("ghost"), k8s.V1Pod)),
    ]
    for call in calls:
        with pytest.raises(k8s.ApiException) as missing:
            call()
        status = status_of(missing.value)
        assert (missing.value.status, status["reason"], status["code"]) == (404, "NotFound", 404)
        assert status["details"] == {"name": "ghost", "kind": "pods"}

    with pytest.raises(k8s.ApiException) as no_namespace:
        v1.create_namespaced_pod("nowhere", as_body(pod("web", namespace="nowhere"), k8s.V1Pod))
    assert no_namespace.value.status == 404
    assert status_of(no_namespace.value)["message"] == 'namespaces "nowhere" not found'


def test_invalid_names_and_labels_are_rejected_with_422(kube_sync_client: k8s.ApiClient) -> None:
    v1 = k8s.CoreV1Api(kube_sync_client)
    for body in (pod("Web_Server"), pod("web", **{"bad key!": "x"})):
        with pytest.raises(k8s.ApiException) as error:
            v1.create_namespaced_pod("default", as_body(body, k8s.V1Pod))
        assert error.value.status == 422
        assert status_of(error.value)["reason"] == "Invalid"


async def test_async_client_lists_across_namespaces_and_deletes(
    kube_aio_client: aio.ApiClient,
) -> None:
    v1 = aio.CoreV1Api(kube_aio_client)
    await v1.create_namespace(as_body(namespace("team-a"), aio.V1Namespace))
    await v1.create_namespaced_pod("default", as_body(pod("api"), aio.V1Pod))
    await v1.create_namespaced_pod("team-a", as_body(pod("worker", namespace="team-a"), aio.V1Pod))

    everywhere = await v1.list_pod_for_all_namespaces()
    assert [
        (present(p.metadata).namespace, present(p.metadata).name) for p in everywhere.items
    ] == [
        ("default", "api"),
        ("team-a", "worker"),
    ]
    assert present(everywhere.items[0].status).phase == "Pending"
    assert [present(p.metadata).name for p in (await v1.list_namespaced_pod("team-a")).items] == [
        "worker"
    ]

    # Pods come back from DELETE as the object, ConfigMaps as a Success Status.
    deleted_pod = await v1.delete_namespaced_pod("api", "default")
    assert present(deleted_pod.metadata).name == "api"
    await v1.create_namespaced_config_map("default", as_body(config_map("cfg"), aio.V1ConfigMap))
    status = json_object(await v1.delete_namespaced_config_map("cfg", "default"))
    assert status["kind"] == "Status" and status["status"] == "Success"
    assert status["details"]["name"] == "cfg"
    with pytest.raises(aio.ApiException) as gone:
        await v1.read_namespaced_config_map("cfg", "default")
    assert gone.value.status == 404


async def test_generation_moves_only_with_the_spec(kube_aio_client: aio.ApiClient) -> None:
    apps = aio.AppsV1Api(kube_aio_client)
    created = await apps.create_namespaced_deployment(
        "default", as_body(deployment("web"), aio.V1Deployment)
    )
    assert present(created.metadata).generation == 1

    labelled = await apps.patch_namespaced_deployment(
        "web", "default", {"metadata": {"labels": {"tier": "front"}}}
    )
    assert present(labelled.metadata).generation == 1
    assert version(labelled.metadata) > version(created.metadata)

    status = await apps.patch_namespaced_deployment_status(
        "web", "default", {"status": {"observedGeneration": 1, "replicas": 1}}
    )
    assert present(status.metadata).generation == 1 and present(status.status).replicas == 1

    scaled = await apps.patch_namespaced_deployment("web", "default", {"spec": {"replicas": 3}})
    assert present(scaled.metadata).generation == 2 and present(scaled.spec).replicas == 3

    unchanged = await apps.patch_namespaced_deployment("web", "default", {"spec": {"replicas": 3}})
    # A no-op write stores nothing: same resourceVersion, same generation.
    assert present(unchanged.metadata).resource_version == present(scaled.metadata).resource_version
    assert present(unchanged.metadata).generation == 2
