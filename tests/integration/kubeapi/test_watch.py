"""Watch streams through the official clients' Watch helpers: replay from a
resourceVersion, initial ADDED events, selectors, BOOKMARKs, timeoutSeconds and the
410 Expired error after compaction."""

from __future__ import annotations

import asyncio

import kubernetes.aio.client as aio
import kubernetes.aio.watch as aio_watch
import kubernetes.client as k8s
import kubernetes.watch as k8s_watch
import pytest

from tests.kubeapi import KubeApiDouble

from .manifests import pod
from .typed import as_body, present


def test_watch_replays_history_after_a_resource_version(
    kube_sync_client: k8s.ApiClient, kube_api_thread: KubeApiDouble
) -> None:
    v1 = k8s.CoreV1Api(kube_sync_client)
    v1.create_namespaced_pod("default", as_body(pod("a"), k8s.V1Pod))
    start = present(
        v1.create_namespaced_pod("default", as_body(pod("b"), k8s.V1Pod)).metadata
    ).resource_version
    v1.patch_namespaced_pod("a", "default", {"metadata": {"labels": {"touched": "yes"}}})
    v1.create_namespaced_pod("default", as_body(pod("c"), k8s.V1Pod))
    v1.delete_namespaced_pod("b", "default")

    watch = k8s_watch.Watch()
    events = []
    for event in watch.stream(v1.list_namespaced_pod, "default", resource_version=start):
        events.append((event["type"], present(event["object"].metadata).name))
        if len(events) == 3:
            watch.stop()
    assert events == [("MODIFIED", "a"), ("ADDED", "c"), ("DELETED", "b")]
    assert watch.resource_version == str(kube_api_thread.resource_version)


async def test_watch_without_version_lists_first_then_streams_live(
    kube_api: KubeApiDouble, kube_aio_client: aio.ApiClient
) -> None:
    kube_api.seed([pod("one"), pod("two")])
    v1 = aio.CoreV1Api(kube_aio_client)
    events = []
    async with aio_watch.Watch() as watch:
        async for event in watch.stream(v1.list_namespaced_pod, "default", timeout_seconds=5):
            events.append((event["type"], present(event["object"].metadata).name))
            if len(events) == 2:
                await v1.create_namespaced_pod("default", as_body(pod("three"), aio.V1Pod))
            if len(events) == 3:
                watch.stop()
    assert events == [("ADDED", "one"), ("ADDED", "two"), ("ADDED", "three")]


async def test_selectors_apply_to_watch_events_including_transitions(
    kube_api: KubeApiDouble, kube_aio_client: aio.ApiClient
) -> None:
    v1 = aio.CoreV1Api(kube_aio_client)
    start = str(kube_api.resource_version)
    await v1.create_namespaced_pod("default", as_body(pod("api", app="api"), aio.V1Pod))
    await v1.create_namespaced_pod("default", as_body(pod("db", app="db"), aio.V1Pod))
    await v1.patch_namespaced_pod("db", "default", {"metadata": {"labels": {"app": "api"}}})
    await v1.patch_namespaced_pod("api", "default", {"metadata": {"labels": {"app": "web"}}})
    await v1.patch_namespaced_pod("db", "default", {"metadata": {"labels": {"v": "2"}}})

    async def watch_events(**selectors: str) -> list[tuple[str, str]]:
        events = []
        async with aio_watch.Watch() as watch:
            async for event in watch.stream(
                v1.list_namespaced_pod,
                "default",
                resource_version=start,
                timeout_seconds=5,
                **selectors,
            ):
                events.append((event["type"], present(event["object"].metadata).name))
                if present(event["object"].metadata).resource_version == str(
                    kube_api.resource_version
                ):
                    watch.stop()
        return events

    # db starts matching (ADDED), api stops matching (DELETED), db changes (MODIFIED).
    assert await watch_events(label_selector="app=api") == [
        ("ADDED", "api"),
        ("ADDED", "db"),
        ("DELETED", "api"),
        ("MODIFIED", "db"),
    ]
    assert await watch_events(field_selector="metadata.name=db") == [
        ("ADDED", "db"),
        ("MODIFIED", "db"),
        ("MODIFIED", "db"),
    ]


async def test_bookmarks_carry_the_current_resource_version(
    kube_api: KubeApiDouble, kube_aio_client: aio.ApiClient
) -> None:
    v1 = aio.CoreV1Api(kube_aio_client)
    await v1.create_namespaced_pod("default", as_body(pod("a"), aio.V1Pod))
    await v1.create_namespaced_config_map(
        "default", as_body({"metadata": {"name": "elsewhere"}, "data": {}}, aio.V1ConfigMap)
    )
    current = str(kube_api.resource_version)
    async with aio_watch.Watch() as watch:
        async for event in watch.stream(
            v1.list_namespaced_pod,
            "default",
            resource_version=current,
            allow_watch_bookmarks=True,
            timeout_seconds=5,
        ):
            assert event["type"] == "BOOKMARK"
            assert event["raw_object"] == {
                "kind": "Pod",
                "apiVersion": "v1",
                "metadata": {"resourceVersion": current},
            }
            watch.stop()
    assert watch.resource_version == current


async def test_timeout_seconds_ends_the_stream() -> None:
    # timeoutSeconds is a whole number in the API; the scale makes "1 s" last 0.1 s, and
    # "3600 s" still longer than the test: the short stream ends on its own while the long
    # one, opened first, is still there and serving events.
    async with (
        KubeApiDouble(watch_timeout_scale=0.1) as api,
        aio.ApiClient(api.aio_configuration()) as client,
        aio_watch.Watch() as long_watch,
    ):
        v1 = aio.CoreV1Api(client)
        since = str(api.resource_version)
        long_events = long_watch.stream(
            v1.list_namespaced_pod, "default", resource_version=since, timeout_seconds=3600
        )
        first = asyncio.create_task(anext(long_events))
        await api.wait_for_request(lambda r: r.query.get("timeoutSeconds") == "3600")
        async with aio_watch.Watch() as watch:
            events = [
                e
                async for e in watch.stream(
                    v1.list_namespaced_pod, "default", resource_version=since, timeout_seconds=1
                )
            ]
        assert events == []
        assert not first.done()
        await v1.create_namespaced_pod("default", as_body(pod("after"), aio.V1Pod))
        assert (await first)["object"].metadata.name == "after"
        long_watch.stop()


def test_watch_from_a_compacted_version_gets_410_expired(
    kube_sync_client: k8s.ApiClient, kube_api_thread: KubeApiDouble
) -> None:
    v1 = k8s.CoreV1Api(kube_sync_client)
    old = present(
        v1.create_namespaced_pod("default", as_body(pod("a"), k8s.V1Pod)).metadata
    ).resource_version
    v1.create_namespaced_pod("default", as_body(pod("b"), k8s.V1Pod))
    kube_api_thread.compact()
    kube_api_thread.clear_requests()

    with pytest.raises(k8s.ApiException) as error:
        for _ in k8s_watch.Watch().stream(v1.list_namespaced_pod, "default", resource_version=old):
            pytest.fail("no event may precede the expiry error")
    assert error.value.status == 410
    assert "Expired" in str(error.value.reason)
    # The client retried once from the same version before giving up.
    watches = [r for r in kube_api_thread.requests if r.is_watch]
    assert [r.query["resourceVersion"] for r in watches] == [old, old]


async def test_watch_from_the_compaction_point_still_works(
    kube_api: KubeApiDouble, kube_aio_client: aio.ApiClient
) -> None:
    v1 = aio.CoreV1Api(kube_aio_client)
    await v1.create_namespaced_pod("default", as_body(pod("a"), aio.V1Pod))
    horizon = str(kube_api.compact())
    async with aio_watch.Watch() as watch:
        stream = watch.stream(
            v1.list_namespaced_pod, "default", resource_version=horizon, timeout_seconds=5
        )
        creating = asyncio.create_task(
            v1.create_namespaced_pod("default", as_body(pod("b"), aio.V1Pod))
        )
        async for event in stream:
            assert (event["type"], present(event["object"].metadata).name) == ("ADDED", "b")
            watch.stop()
        await creating
