"""Failure injection, latency and the request log, seen through the official clients."""

from __future__ import annotations

import asyncio

import kubernetes.aio.client as aio
import kubernetes.client as k8s
import pytest

from tests.kubeapi import KubeApiDouble

from .manifests import config_map, pod
from .typed import as_body, present, status_of


def test_injected_500_then_success(
    kube_sync_client: k8s.ApiClient, kube_api_thread: KubeApiDouble
) -> None:
    v1 = k8s.CoreV1Api(kube_sync_client)
    fault = kube_api_thread.inject(method="POST", path_regex=r"/namespaces/default/pods$")

    with pytest.raises(k8s.ApiException) as error:
        v1.create_namespaced_pod("default", as_body(pod("web"), k8s.V1Pod))
    status = status_of(error.value)
    assert error.value.status == 500
    assert (status["kind"], status["reason"], status["code"]) == ("Status", "InternalError", 500)
    assert kube_api_thread.get_object("v1", "Pod", "web", "default") is None

    created = v1.create_namespaced_pod("default", as_body(pod("web"), k8s.V1Pod))
    assert present(created.metadata).name == "web"
    assert fault.hits == 1 and fault.exhausted


async def test_injection_matches_method_and_counts_down(
    kube_api: KubeApiDouble, kube_aio_client: aio.ApiClient
) -> None:
    v1 = aio.CoreV1Api(kube_aio_client)
    await v1.create_namespaced_config_map("default", as_body(config_map("cfg"), aio.V1ConfigMap))
    kube_api.inject(method="PUT", path_regex="/configmaps/cfg", status=409, times=2)

    # Reads are untouched; the next two writes conflict; the third goes through.
    current = await v1.read_namespaced_config_map("cfg", "default")
    for _ in range(2):
        with pytest.raises(aio.ApiException) as error:
            await v1.replace_namespaced_config_map("cfg", "default", current)
        assert status_of(error.value)["reason"] == "Conflict"
    current.data = {"k": "v"}
    assert (await v1.replace_namespaced_config_map("cfg", "default", current)).data == {"k": "v"}


async def test_throttling_carries_retry_after(
    kube_api: KubeApiDouble, kube_aio_client: aio.ApiClient
) -> None:
    kube_api.inject(path_regex="/pods", status=429, retry_after_seconds=3, times=None)
    v1 = aio.CoreV1Api(kube_aio_client)
    for _ in range(2):
        with pytest.raises(aio.ApiException) as error:
            await v1.list_namespaced_pod("default")
        assert error.value.status == 429
        assert present(error.value.headers)["Retry-After"] == "3"
        status = status_of(error.value)
        assert status["reason"] == "TooManyRequests"
        assert status["details"] == {"retryAfterSeconds": 3}
    kube_api.clear_injections()
    assert (await v1.list_namespaced_pod("default")).items == []


async def test_latency_applies_to_matching_requests_only(
    kube_api: KubeApiDouble, kube_aio_client: aio.ApiClient
) -> None:
    # Ordering, not durations: a delay far longer than the test holds the matching request
    # while the others go through, and is cancelled at the end.
    v1 = aio.CoreV1Api(kube_aio_client)
    kube_api.set_latency(3600, path_regex="/configmaps")
    delayed = asyncio.create_task(v1.list_namespaced_config_map("default"))
    await kube_api.wait_for_request(lambda r: r.path.endswith("/configmaps"))
    assert (await v1.list_namespaced_pod("default")).items == []
    assert not delayed.done()

    kube_api.set_latency(0)  # later requests are served at once; the held one stays held
    assert (await v1.list_namespaced_config_map("default")).items == []
    assert not delayed.done()
    delayed.cancel()
    with pytest.raises(asyncio.CancelledError):
        await delayed


async def test_request_log_records_method_path_query_and_body(
    kube_api: KubeApiDouble, kube_aio_client: aio.ApiClient
) -> None:
    v1 = aio.CoreV1Api(kube_aio_client)
    kube_api.clear_requests()
    await v1.create_namespaced_pod("default", as_body(pod("web", app="web"), aio.V1Pod))
    await v1.list_namespaced_pod("default", label_selector="app=web", limit=10)

    create, listing = kube_api.requests
    assert (create.method, create.path) == ("POST", "/api/v1/namespaces/default/pods")
    assert create.body["metadata"]["name"] == "web"
    assert (listing.method, listing.query) == ("GET", {"labelSelector": "app=web", "limit": "10"})
    assert not listing.is_watch
