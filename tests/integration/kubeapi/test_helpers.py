"""The test-side API of the double: seeding, direct reads, waiting for an object without
polling, the bounded history window, and the raw watch wire format."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import kubernetes.aio.client as aio
import kubernetes.client as k8s
import kubernetes.watch as k8s_watch
import pytest

from tests.kubeapi import KubeApiDouble

from .manifests import config_map, deployment, pod
from .typed import as_body, present


async def test_seed_keeps_status_and_finalizers_and_reads_back(
    kube_api: KubeApiDouble, kube_aio_client: aio.ApiClient
) -> None:
    ready = {**deployment("web"), "status": {"replicas": 1, "readyReplicas": 1}}
    ready["metadata"]["finalizers"] = ["example.com/keep"]
    [seeded] = kube_api.seed(ready)
    assert seeded["metadata"]["uid"] and seeded["metadata"]["generation"] == 1

    via_http = await aio.AppsV1Api(kube_aio_client).read_namespaced_deployment("web", "default")
    assert present(via_http.status).ready_replicas == 1
    assert present(via_http.metadata).finalizers == ["example.com/keep"]

    kube_api.seed([pod("a", app="x"), pod("b", app="y"), config_map("c", namespace="kube-system")])
    assert [p["metadata"]["name"] for p in kube_api.list_objects("v1", "Pod")] == ["a", "b"]
    assert [
        p["metadata"]["name"]
        for p in kube_api.list_objects("v1", "Pod", "default", label_selector="app=y")
    ] == ["b"]
    assert kube_api.get_object("v1", "ConfigMap", "c", "kube-system") is not None
    with pytest.raises(ValueError, match="no served resource"):
        kube_api.seed({"apiVersion": "example.com/v1", "kind": "Nope", "metadata": {"name": "n"}})


async def test_wait_for_object_wakes_on_the_write(
    kube_api: KubeApiDouble, kube_aio_client: aio.ApiClient
) -> None:
    v1 = aio.CoreV1Api(kube_aio_client)
    waiting = asyncio.create_task(
        kube_api.wait_for_object(
            "v1",
            "ConfigMap",
            "flag",
            "default",
            predicate=lambda cm: cm.get("data", {}).get("ready") == "yes",
            within=2,
        )
    )
    await v1.create_namespaced_config_map(
        "default", as_body(config_map("flag", ready="no"), aio.V1ConfigMap)
    )
    assert not waiting.done()
    await v1.patch_namespaced_config_map("flag", "default", {"data": {"ready": "yes"}})
    assert (await waiting)["data"]["ready"] == "yes"

    with pytest.raises(TimeoutError):
        await kube_api.wait_for_object("v1", "ConfigMap", "never", "default", within=0.05)


def test_bounded_history_expires_old_versions_like_the_watch_cache() -> None:
    with (
        KubeApiDouble.run_in_thread(max_history=3) as api,
        k8s.ApiClient(api.client_configuration()) as client,
    ):
        v1 = k8s.CoreV1Api(client)
        first = present(
            v1.create_namespaced_pod("default", as_body(pod("p0"), k8s.V1Pod)).metadata
        ).resource_version
        for i in range(1, 5):
            v1.create_namespaced_pod("default", as_body(pod(f"p{i}"), k8s.V1Pod))
        with pytest.raises(k8s.ApiException) as error:
            for _ in k8s_watch.Watch().stream(
                v1.list_namespaced_pod, "default", resource_version=first, timeout_seconds=5
            ):
                pass
        assert error.value.status == 410


async def test_watch_wire_format_is_newline_delimited_json(kube_api: KubeApiDouble) -> None:
    kube_api.seed([pod("a")])
    url = f"{kube_api.url}/api/v1/namespaces/default/pods"
    async with (
        aiohttp.ClientSession() as session,
        session.get(url, params={"watch": "1", "timeoutSeconds": "5"}) as response,
    ):
        assert response.headers["Content-Type"].startswith("application/json")
        line = await response.content.readline()
        assert line.endswith(b"\n")
        event = json.loads(line)
        assert event["type"] == "ADDED"
        assert (event["object"]["kind"], event["object"]["apiVersion"]) == ("Pod", "v1")
        assert event["object"]["metadata"]["name"] == "a"


async def test_objects_handed_out_are_copies(
    kube_api: KubeApiDouble, kube_aio_client: aio.ApiClient
) -> None:
    kube_api.seed([pod("a", app="x"), pod("b", app="y")])
    [listed] = kube_api.list_objects("v1", "Pod", "default", label_selector="app=x")
    listed["metadata"]["labels"]["app"] = "changed"
    fetched = kube_api.get_object("v1", "Pod", "a", "default")
    assert fetched is not None and fetched["metadata"]["labels"] == {"app": "x"}
    fetched["spec"]["containers"].clear()

    # A LIST served over HTTP (with a page held for its continue token) is not disturbed
    # by writes that follow it, nor are later reads by what a caller did to earlier ones.
    v1 = aio.CoreV1Api(kube_aio_client)
    first = await v1.list_namespaced_pod("default", limit=1)
    await v1.patch_namespaced_pod("b", "default", {"metadata": {"labels": {"app": "z"}}})
    rest = await v1.list_namespaced_pod(
        "default", limit=1, _continue=present(first.metadata)._continue
    )
    assert [present(p.metadata).labels for p in (*first.items, *rest.items)] == [
        {"app": "x"},
        {"app": "y"},
    ]
    assert len(present((await v1.read_namespaced_pod("a", "default")).spec).containers) == 1
