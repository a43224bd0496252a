"""Watches: decoded events, 410 as KubeGone (in the stream or as a status), large events,
and a Watcher that resumes from the last resourceVersion across server time-outs."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from kubernetes.aio.client import ApiClient

from assay.server.kube.client import KubeClient
from assay.server.kube.errors import KubeGone
from assay.server.kube.objects import EventType, WatchEvent
from assay.server.kube.resources import Resource
from assay.server.kube.settings import BackoffSettings
from assay.server.kube.watch import Watcher
from tests.kubeapi import KubeApiDouble

CONFIGMAPS = Resource("", "v1", "configmaps", kind="ConfigMap")
PATH = "/api/v1/namespaces/default/configmaps"


def configmap(name: str, **data: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": "default"},
        "data": data,
    }


async def test_events_are_decoded(kube: KubeClient, kube_api: KubeApiDouble) -> None:
    start = (await kube.list(CONFIGMAPS, "default")).resource_version
    await kube.create(CONFIGMAPS, "default", configmap("a", k="1"))
    await kube.patch(CONFIGMAPS, "default", "a", {"data": {"k": "2"}})
    await kube.delete(CONFIGMAPS, "default", "a")
    seen: list[WatchEvent] = []
    stream = kube.watch(CONFIGMAPS, "default", resource_version=start, bookmarks=False)
    async with aclosing(stream) as events:
        async for event in events:
            seen.append(event)
            if event.type is EventType.DELETED:
                break
    assert [(e.type, e.object["data"]["k"]) for e in seen] == [
        (EventType.ADDED, "1"),
        (EventType.MODIFIED, "2"),
        (EventType.DELETED, "2"),
    ]
    assert int(seen[-1].resource_version) > int(start)
    [request] = [r for r in kube_api.requests if r.is_watch]
    assert request.query["resourceVersion"] == start


async def test_a_compacted_version_is_gone_in_the_stream(
    kube: KubeClient, kube_api: KubeApiDouble
) -> None:
    start = (await kube.list(CONFIGMAPS, "default")).resource_version
    kube_api.seed(configmap("later"))
    kube_api.compact()
    with pytest.raises(KubeGone, match="too old"):
        async with aclosing(kube.watch(CONFIGMAPS, "default", resource_version=start)) as events:
            async for _ in events:
                pass


async def test_a_gone_status_is_gone_too(kube: KubeClient, kube_api: KubeApiDouble) -> None:
    kube_api.inject(path_regex=PATH, status=410, reason="Expired", message="too old")
    with pytest.raises(KubeGone):
        async with aclosing(kube.watch(CONFIGMAPS, "default", resource_version="1")) as events:
            async for _ in events:
                pass


async def test_events_larger_than_a_read_buffer_arrive_whole(
    kube: KubeClient, kube_api: KubeApiDouble
) -> None:
    start = (await kube.list(CONFIGMAPS, "default")).resource_version
    big = "x" * (2 * 1024 * 1024 + 17)  # beyond aiohttp's line limit and the thread threshold
    kube_api.seed(configmap("big", blob=big))
    async with aclosing(kube.watch(CONFIGMAPS, "default", resource_version=start)) as events:
        event = await anext(events)
    assert event.type is EventType.ADDED and event.object["data"]["blob"] == big


class WatchOpens:
    """Counts the watch requests a client sends (an aiohttp trace), so a test can await the
    next one instead of polling."""

    def __init__(self) -> None:
        self.count = 0
        self.changed = asyncio.Condition()
        self.trace = aiohttp.TraceConfig()
        self.trace.on_request_start.append(self._on_start)

    async def _on_start(self, session: Any, context: Any, params: Any) -> None:
        if params.url.query.get("watch") == "true":
            async with self.changed:
                self.count += 1
                self.changed.notify_all()

    async def more_than(self, count: int) -> None:
        async with asyncio.timeout(5), self.changed:
            await self.changed.wait_for(lambda: self.count > count)


@pytest_asyncio.fixture
async def short_watches() -> AsyncIterator[tuple[KubeApiDouble, KubeClient, WatchOpens]]:
    """A double that ends each watch after timeoutSeconds / 50 (a fraction of a second)."""
    opens = WatchOpens()
    async with KubeApiDouble(bookmark_interval=0.05, watch_timeout_scale=0.02) as api:
        configuration = api.aio_configuration()
        configuration.trace_configs = [opens.trace]
        async with KubeClient(ApiClient(configuration)) as client:
            yield api, client, opens
        assert not api.internal_errors


async def test_the_watcher_resumes_where_it_left_off(
    short_watches: tuple[KubeApiDouble, KubeClient, WatchOpens],
) -> None:
    api, kube, opens = short_watches
    start = (await kube.list(CONFIGMAPS, "default")).resource_version
    watcher = Watcher(
        kube,
        CONFIGMAPS,
        "default",
        resource_version=start,
        timeout_s=10,
        backoff=BackoffSettings(initial_s=0.01, max_s=0.05),
    )
    received: asyncio.Queue[str] = asyncio.Queue()

    async def consume() -> None:
        async with aclosing(watcher.events()) as events:
            async for event in events:
                received.put_nowait(event.object["metadata"]["name"])

    consumer = asyncio.create_task(consume())
    names = []
    try:
        for i in range(3):
            # Let the server end the current watch, so this object arrives on a new one.
            await opens.more_than(max(opens.count, 1))
            await kube.create(CONFIGMAPS, "default", configmap(f"cm-{i}"))
            async with asyncio.timeout(5):
                names.append(await received.get())
    finally:
        consumer.cancel()
        await asyncio.gather(consumer, return_exceptions=True)
    assert names == ["cm-0", "cm-1", "cm-2"] and received.empty()  # each once, in order
    watches = [r for r in api.requests if r.is_watch]
    assert len(watches) >= 4 and watcher.requests == len(watches)
    versions = [int(r.query["resourceVersion"]) for r in watches]
    assert versions[0] == int(start)
    assert versions == sorted(versions)  # every resume starts at or after the last version seen
    cm_1 = api.get_object("v1", "ConfigMap", "cm-1", "default")
    assert cm_1 is not None
    assert versions[-1] >= int(cm_1["metadata"]["resourceVersion"])
