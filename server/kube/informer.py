"""List+watch one collection into a local cache and report every change to a handler.

The workflow controller runs two (WorkflowExecutions, whose cache also feeds its ``watch``,
and the PipelineRuns it created). The loop lists (paginated, restarting on an expired
token), then follows the list's resourceVersion with a
:class:`~assay.server.kube.watch.Watcher`, which resumes across server time-outs. A 410
Gone (the version was compacted away) triggers a fresh list whose differences from the
cache are reported as ADDED/MODIFIED/DELETED, so no change is lost; any other error is
retried from the last version seen after an exponential, jittered backoff that resets
once events flow again. While the API server cannot be reached, that backoff ends as soon
as a health probe finds it back (:mod:`assay.server.kube.recovery`), and ``on_recovered``
is called so the owner can redo at once what failed during the outage.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from contextlib import aclosing

from assay.server.core.clock import SYSTEM_CLOCK, Clock
from assay.server.kube.client import KubeClient
from assay.server.kube.errors import KubeError, KubeGone
from assay.server.kube.objects import EventType, KubeObject, WatchEvent, meta
from assay.server.kube.recovery import HealthProbe, ServerProbe, WaitEnd, WatchBackoff
from assay.server.kube.resources import Resource
from assay.server.kube.settings import BackoffSettings
from assay.server.kube.watch import Watcher

log = logging.getLogger(__name__)

ADDED = EventType.ADDED
MODIFIED = EventType.MODIFIED
DELETED = EventType.DELETED

Handler = Callable[[EventType, KubeObject | None, KubeObject], None]
"""``handler(event_type, old_or_None, new)``; for DELETED ``new`` is the last state."""


def cache_key(obj: KubeObject) -> str:
    """``namespace/name`` (``/name`` for cluster-scoped objects)."""
    m = meta(obj)
    return f"{m.get('namespace', '')}/{m.get('name', '')}"


class Informer:
    def __init__(
        self,
        kube: KubeClient,
        resource: Resource,
        handler: Handler,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
        backoff: BackoffSettings,
        watch_timeout_s: int = 300,
        name: str = "",
        probe: HealthProbe | None = None,
        clock: Clock = SYSTEM_CLOCK,
        on_recovered: Callable[[], None] | None = None,
    ) -> None:
        """``probe`` asks whether the API server is back during an outage (default: a
        :class:`~assay.server.kube.recovery.ServerProbe` on ``kube``); ``on_recovered`` is
        called when it found the server back after the list or watch had failed."""
        self._kube = kube
        self._resource = resource
        self._handler = handler
        self._namespace = namespace
        self._selector = label_selector
        self._backoff = backoff
        self._watch_timeout_s = watch_timeout_s
        self._name = name or resource.plural
        self._rng = random.Random()
        if probe is None:
            probe = ServerProbe(kube, timeout_s=max(1.0, backoff.probe_interval_s))
        self.retry = WatchBackoff(backoff, probe=probe, clock=clock, rng=self._rng)
        self._on_recovered = on_recovered
        self.cache: dict[str, KubeObject] = {}
        self.synced = asyncio.Event()
        self.relists = 0
        self.errors = 0

    def _emit(self, kind: EventType, old: KubeObject | None, new: KubeObject) -> None:
        try:
            self._handler(kind, old, new)
        except Exception:  # a handler bug must not stop the informer
            log.exception("%s informer handler failed", self._name)

    async def _relist(self) -> str:
        listed = await self._kube.list(
            self._resource, self._namespace, label_selector=self._selector
        )
        fresh = {cache_key(obj): obj for obj in listed.items}
        for key, gone in list(self.cache.items()):
            if key not in fresh:
                del self.cache[key]
                self._emit(DELETED, gone, gone)
        for key, obj in fresh.items():
            old = self.cache.get(key)
            self.cache[key] = obj
            if old is None:
                self._emit(ADDED, None, obj)
            elif meta(old).get("resourceVersion") != meta(obj).get("resourceVersion"):
                self._emit(MODIFIED, old, obj)
        self.relists += 1
        self.synced.set()
        return listed.resource_version

    def _apply(self, event: WatchEvent) -> None:
        key = cache_key(event.object)
        if event.type is DELETED:
            self._emit(DELETED, self.cache.pop(key, None), event.object)
            return
        old = self.cache.get(key)
        self.cache[key] = event.object
        self._emit(ADDED if old is None else MODIFIED, old, event.object)

    async def run(self) -> None:
        """Run until cancelled."""
        resource_version = ""
        while True:
            watcher: Watcher | None = None
            try:
                if not resource_version:
                    resource_version = await self._relist()
                    self._progressed()
                watcher = Watcher(
                    self._kube,
                    self._resource,
                    self._namespace,
                    resource_version=resource_version,
                    label_selector=self._selector,
                    timeout_s=self._watch_timeout_s,
                    backoff=self._backoff,
                    rng=self._rng,
                )
                async with aclosing(watcher.events()) as events:
                    async for event in events:
                        self._progressed()
                        self._apply(event)
            except KubeGone:
                log.info("%s watch expired at %s; re-listing", self._name, resource_version)
                resource_version = ""
            except KubeError as exc:
                if watcher is not None and watcher.resource_version != resource_version:
                    resource_version = watcher.resource_version
                    self._progressed()  # a fresh failure, not a streak
                self.errors += 1
                delay = self.retry.failed(exc)
                log.warning(
                    "%s list/watch failed (%s); retrying in %.2fs%s",
                    self._name,
                    exc,
                    delay,
                    " or as soon as the API server answers again" if exc.retryable else "",
                )
                if await self.retry.wait() is WaitEnd.RECOVERED:
                    self._recovered()

    def _progressed(self) -> None:
        if self.retry.succeeded():
            self._recovered()

    def _recovered(self) -> None:
        log.info("%s: the API server answers again; resuming", self._name)
        if self._on_recovered is None:
            return
        try:
            self._on_recovered()
        except Exception:  # the owner's bug must not stop the informer
            log.exception("%s informer recovery callback failed", self._name)
