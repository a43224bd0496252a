"""Create/get/list/delete through the official clients: server-set metadata, Status errors,
namespaces, all-namespace lists, DELETE answers and metadata.generation."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import kubernetes.aio.client as aio
import kubernetes.client as k8s
import pytest

from tests.integration.kubeapi.typed import status_of
from tests.kubeapi import KubeApiDouble

from .manifests import config_map, deployment, namespace, pod


def test_create_sets_server_fields_and_get_list_agree(
    kube_sync_client: k8s.ApiClient, kube_api_thread: KubeApiDouble
) -> None:
    v1 = k8s.CoreV1Api(kube_sync_client)
    body = k8s.V1ConfigMap(metadata=k8s.V1ObjectMeta(name="settings"), data={"mode": "fast"})
    first = v1.create_namespaced_config_map("default", body)
    second = v1.create_namespaced_config_map("default", config_map("other"))

    meta = first.metadata
    uuid.UUID(meta.uid)
    assert meta.namespace == "default" and meta.generation == 1
    assert int(second.metadata.resource_version) > int(meta.resource_version)
    assert abs(datetime.now(UTC) - meta.creation_timestamp) < timedelta(seconds=5)

    fetched = v1.read_namespaced_config_map("settings", "default")
    assert (fetched.metadata.uid, fetched.data) == (meta.uid, {"mode": "fast"})
    listed = v1.list_namespaced_config_map("default")
    assert listed.kind == "ConfigMapList"
    assert [c.metadata.name for c in listed.items] == ["other", "settings"]
    assert int(listed.metadata.resource_version) >= int(second.metadata.resource_version)
    stored = kube_api_thread.get_object("v1", "ConfigMap", "settings", "default")
    assert stored is not None and stored["metadata"]["resourceVersion"] == meta.resource_version


def test_generate_name_and_namespace_from_path(kube_sync_client: k8s.ApiClient) -> None:
    v1 = k8s.CoreV1Api(kube_sync_client)
    body = {"metadata": {"generateName": "job-"}, "data": {}}
    created = [v1.create_namespaced_config_map("kube-system", body) for _ in range(3)]
    names = {c.metadata.name for c in created}
    assert len(names) == 3 and all(n.startswith("job-") and len(n) == 9 for n in names)
    assert {c.metadata.namespace for c in created} == {"kube-system"}


def test_already_exists_and_not_found_are_status_objects(kube_sync_client: k8s.ApiClient) -> None:
    v1 = k8s.CoreV1Api(kube_sync_client)
    v1.create_namespaced_pod("default", pod("web"))
    with pytest.raises(k8s.ApiException) as exists:
        v1.create_namespaced_pod("default", pod("web"))
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

    for call in (
        lambda: v1.read_namespaced_pod("ghost", "default"),
        lambda: v1.delete_namespaced_pod("ghost", "default"),
        lambda: v1.replace_namespaced_pod("ghost", "default", pod("ghost")),
    ):
        with pytest.raises(k8s.ApiException) as missing:
            call()
        status = status_of(missing.value)
        assert (missing.value.status, status["reason"], status["code"]) == (404, "NotFound", 404)
        assert status["details"] == {"name": "ghost", "kind": "pods"}

    with pytest.raises(k8s.ApiException) as no_namespace:
        v1.create_namespaced_pod("nowhere", pod("web", namespace="nowhere"))
    assert no_namespace.value.status == 404
    assert status_of(no_namespace.value)["message"] == 'namespaces "nowhere" not found'


def test_invalid_names_and_labels_are_rejected_with_422(kube_sync_client: k8s.ApiClient) -> None:
    v1 = k8s.CoreV1Api(kube_sync_client)
    for body in (pod("Web_Server"), pod("web", **{"bad key!": "x"})):
        with pytest.raises(k8s.ApiException) as error:
            v1.create_namespaced_pod("default", body)
        assert error.value.status == 422
        assert status_of(error.value)["reason"] == "Invalid"


async def test_async_client_lists_across_namespaces_and_deletes(
    kube_aio_client: aio.ApiClient,
) -> None:
    v1 = aio.CoreV1Api(kube_aio_client)
    await v1.create_namespace(namespace("team-a"))
    await v1.create_namespaced_pod("default", pod("api"))
    await v1.create_namespaced_pod("team-a", pod("worker", namespace="team-a"))

    everywhere = await v1.list_pod_for_all_namespaces()
    assert [(p.metadata.namespace, p.metadata.name) for p in everywhere.items] == [
        ("default", "api"),
        ("team-a", "worker"),
    ]
    assert everywhere.items[0].status.phase == "Pending"
    assert [p.metadata.name for p in (await v1.list_namespaced_pod("team-a")).items] == ["worker"]

    # Pods come back from DELETE as the object, ConfigMaps as a Success Status.
    deleted_pod = await v1.delete_namespaced_pod("api", "default")
    assert deleted_pod.metadata.name == "api"
    await v1.create_namespaced_config_map("default", config_map("cfg"))
    status = await v1.delete_namespaced_config_map("cfg", "default")
    assert status["kind"] == "Status" and status["status"] == "Success"
    assert status["details"]["name"] == "cfg"
    with pytest.raises(aio.ApiException) as gone:
        await v1.read_namespaced_config_map("cfg", "default")
    assert gone.value.status == 404


async def test_generation_moves_only_with_the_spec(kube_aio_client: aio.ApiClient) -> None:
    apps = aio.AppsV1Api(kube_aio_client)
    created = await apps.create_namespaced_deployment("default", deployment("web"))
    assert created.metadata.generation == 1

    labelled = await apps.patch_namespaced_deployment(
        "web", "default", {"metadata": {"labels": {"tier": "front"}}}
    )
    assert labelled.metadata.generation == 1
    assert int(labelled.metadata.resource_version) > int(created.metadata.resource_version)

    status = await apps.patch_namespaced_deployment_status(
        "web", "default", {"status": {"observedGeneration": 1, "replicas": 1}}
    )
    assert status.metadata.generation == 1 and status.status.replicas == 1

    scaled = await apps.patch_namespaced_deployment("web", "default", {"spec": {"replicas": 3}})
    assert scaled.metadata.generation == 2 and scaled.spec.replicas == 3

    unchanged = await apps.patch_namespaced_deployment("web", "default", {"spec": {"replicas": 3}})
    # A no-op write stores nothing: same resourceVersion, same generation.
    assert unchanged.metadata.resource_version == scaled.metadata.resource_version
    assert unchanged.metadata.generation == 2
