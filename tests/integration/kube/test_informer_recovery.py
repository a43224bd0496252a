"""The informer across an API server outage, and the health probe it uses, against the
API double.

While list and watch fail, the informer waits with its backoff (the production settings,
up to 30 s) and probes ``/readyz`` once per probe interval meanwhile; the first probe that
finds the server back ends the wait and the watch resumes from the last resourceVersion.
The backoff runs on a manual clock the test moves from one sleep to the next, so the
assertions are on sleeps, probes and the order of requests, never on elapsed time.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from assay.server.kube.client import KubeClient
from assay.server.kube.informer import Informer
from assay.server.kube.objects import EventType, KubeObject
from assay.server.kube.recovery import ServerProbe
from assay.server.kube.resources import Resource
from assay.server.kube.settings import BackoffSettings
from tests.clock import ManualClock
from tests.integration.kube.fixtures import kube_client
from tests.kubeapi import KubeApiDouble, RecordedRequest

CONFIGMAPS = Resource("", "v1", "configmaps", kind="ConfigMap")
PATH = "/api/v1/namespaces/default/configmaps"
PRODUCTION = BackoffSettings()
LONG_S = 6.0  # a wait this long means the outage has lasted a while


def configmap(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {}}


class Watched:
    """An informer on default/configmaps with a manual clock, and what it reported."""

    def __init__(self, kube: KubeClient) -> None:
        self.clock = ManualClock()
        self.names: list[str] = []
        self.arrived = asyncio.Event()
        self.recoveries = 0
        self.informer = Informer(
            kube,
            CONFIGMAPS,
            self._on_change,
            namespace="default",
            backoff=PRODUCTION,
            clock=self.clock,
            on_recovered=self._on_recovered,
        )

    def _on_change(self, kind: EventType, old: KubeObject | None, new: KubeObject) -> None:
        if kind is EventType.ADDED:
            self.names.append(new["metadata"]["name"])
            self.arrived.set()

    def _on_recovered(self) -> None:
        self.recoveries += 1

    async def next_sleep(self) -> float:
        """Wait until the informer sleeps; the seconds it sleeps for."""
        async with asyncio.timeout(5):  # a failure, not a hang, if it stops sleeping
            await self.clock.all_asleep(1)
        until = self.clock.sleeping_until
        assert until is not None
        return (until - self.clock.now()).total_seconds()

    async def wake(self) -> None:
        """Move the clock to the end of the sleep in progress."""
        until = self.clock.sleeping_until
        assert until is not None
        await self.clock.advance_to(until, sleepers=0)

    async def until_long_wait(self) -> None:
        """Move time on until the informer has just started a wait of LONG_S or more."""
        errors = self.informer.errors
        while True:
            await self.next_sleep()
            if self.informer.errors != errors and self.informer.retry.delay_s >= LONG_S:
                return
            errors = self.informer.errors
            await self.wake()

    async def whole_wait(self) -> float:
        """Move time on through the wait the informer is in, to the next failure; the
        seconds it slept in all."""
        errors = self.informer.errors
        slept = 0.0
        while self.informer.errors == errors:
            slept += await self.next_sleep()
            await self.wake()
            await self.next_sleep()
        return slept

    async def until_added(self, name: str) -> float:
        """Move time on from sleep to sleep until ``name`` arrives; the seconds slept."""
        slept = 0.0
        async with asyncio.timeout(5):
            while name not in self.names:
                self.arrived.clear()
                asleep = asyncio.ensure_future(self.clock.all_asleep(1))
                arrived = asyncio.ensure_future(self.arrived.wait())
                await asyncio.wait({asleep, arrived}, return_when=asyncio.FIRST_COMPLETED)
                asleep.cancel()
                arrived.cancel()
                if name not in self.names and self.clock.sleeping:
                    slept += await self.next_sleep()
                    await self.wake()
        return slept


@pytest_asyncio.fixture
async def watched(kube_api: KubeApiDouble) -> AsyncIterator[Watched]:
    async with kube_client(kube_api) as kube:
        w = Watched(kube)
        task = asyncio.create_task(w.informer.run())
        try:
            await w.informer.synced.wait()
            yield w
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


async def begin_outage(api: KubeApiDouble, kind: str) -> None:
    if kind == "refused":
        await api.stop()  # open watches end, new connections are refused
    else:
        api.inject(status=503, times=None, reason="ServiceUnavailable")
        api.hub.close_all()


async def end_outage(api: KubeApiDouble, kind: str) -> None:
    if kind == "refused":
        await api.start()  # the same port
    else:
        api.clear_injections()


def _reads(requests: list[RecordedRequest]) -> list[tuple[str, bool]]:
    return [(r.path, r.is_watch) for r in requests if r.method == "GET"]


@pytest.mark.parametrize("kind", ["503", "refused"])
async def test_the_watch_resumes_at_the_first_probe_after_the_server_returns(
    watched: Watched, kube_api: KubeApiDouble, kind: str
) -> None:
    schedule = watched.informer.retry
    await begin_outage(kube_api, kind)
    await watched.until_long_wait()
    assert schedule.failures >= 6 and watched.recoveries == 0
    delay_s = schedule.delay_s  # what the ordinary backoff would sleep from here

    mark = len(kube_api.requests)
    await end_outage(kube_api, kind)
    async with kube_client(kube_api) as user:
        await user.create(CONFIGMAPS, "default", configmap("after-the-outage"))
    slept = await watched.until_added("after-the-outage")

    assert slept == PRODUCTION.probe_interval_s < delay_s  # one probe interval
    assert watched.recoveries == 1
    assert (schedule.failures, schedule.recoveries) == (0, 1)
    # A probe found the server, then the watch resumed where it was: no re-list.
    reads = _reads(kube_api.requests[mark:])
    assert reads[:2] == [("/readyz", False), (PATH, True)]
    assert (PATH, False) not in reads


async def test_a_failing_resource_on_a_healthy_server_gets_the_ordinary_backoff(
    watched: Watched, kube_api: KubeApiDouble
) -> None:
    # Only this collection answers 503; /readyz is fine throughout. Ending waits early
    # here would retry in a tight loop, so each wait lasts its whole delay.
    failing = kube_api.inject(path_regex=f"^{PATH}$", status=503, times=None)
    kube_api.hub.close_all()
    await watched.next_sleep()
    for _ in range(4):
        delay_s = watched.informer.retry.delay_s
        assert await watched.whole_wait() == pytest.approx(delay_s, abs=1e-5)
    assert watched.recoveries == 0 and failing.hits >= 4
    assert ("/readyz", False) in _reads(kube_api.requests)

    # Fixed now; the wait in progress still runs to its end before the retry.
    delay_s = watched.informer.retry.delay_s
    kube_api.clear_injections()
    async with kube_client(kube_api) as user:
        await user.create(CONFIGMAPS, "default", configmap("after"))
    assert await watched.until_added("after") == pytest.approx(delay_s, abs=1e-5)
    assert watched.recoveries == 0


@pytest.mark.parametrize(
    ("status", "answers"),
    [(None, True), (403, True), (401, True), (404, True), (429, False), (500, False), (503, False)],
)
async def test_the_probe_says_whether_the_server_answers(
    kube: KubeClient, kube_api: KubeApiDouble, status: int | None, answers: bool
) -> None:
    if status is not None:
        kube_api.inject(path_regex="^/readyz$", status=status)
    assert await ServerProbe(kube).answers() is answers
    [request] = [r for r in kube_api.requests if r.path == "/readyz"]
    assert request.method == "GET"


async def test_the_probe_of_a_server_that_is_gone_says_no(
    kube: KubeClient, kube_api: KubeApiDouble
) -> None:
    await kube_api.stop()
    try:
        assert await ServerProbe(kube, timeout_s=2).answers() is False
    finally:
        await kube_api.start()
