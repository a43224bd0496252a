"""List+watch one resource into a local cache and report every change to a handler.

The controller runs two informers: WorkflowExecutions (its cache also feeds the facade's
``watch``) and the PipelineRuns carrying our managed-by label (a change re-queues the
owning execution). The loop lists (paginated), then watches from the list's
resourceVersion with bookmarks, and resumes from the last version it saw when a watch ends.
A 410 Gone (the version was compacted away) triggers a fresh list whose differences from
the cache are reported as ADDED/MODIFIED/DELETED, so no change is lost; any other error is
retried after an exponential, jittered backoff that resets once events flow again.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from contextlib import aclosing

from assay.server.workflow.errors import KubeGone, WorkflowError
from assay.server.workflow.kube import KubeClient, Resource
from assay.server.workflow.model import KubeObject, meta
from assay.server.workflow.settings import BackoffSettings

log = logging.getLogger(__name__)

ADDED = "ADDED"
MODIFIED = "MODIFIED"
DELETED = "DELETED"

Handler = Callable[[str, KubeObject | None, KubeObject], None]
"""``handler(event_type, old_or_None, new)``; for DELETED ``new`` is the last state."""


def cache_key(obj: KubeObject) -> str:
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
    ) -> None:
        self._kube = kube
        self._resource = resource
        self._handler = handler
        self._namespace = namespace
        self._selector = label_selector
        self._backoff = backoff
        self._watch_timeout_s = watch_timeout_s
        self._name = name or resource.plural
        self._rng = random.Random()
        self.cache: dict[str, KubeObject] = {}
        self.synced = asyncio.Event()
        self.relists = 0
        self.errors = 0

    def _emit(self, kind: str, old: KubeObject | None, new: KubeObject) -> None:
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

    async def run(self) -> None:
        """Run until cancelled."""
        resource_version = ""
        failures = 0
        while True:
            try:
                if not resource_version:
                    resource_version = await self._relist()
                    failures = 0
                stream = self._kube.watch(
                    self._resource,
                    self._namespace,
                    resource_version=resource_version,
                    label_selector=self._selector,
                    # Jitter, so replicas' watches do not all reconnect at once.
                    timeout_seconds=self._watch_timeout_s
                    + self._rng.randint(0, self._watch_timeout_s // 10),
                )
                started = asyncio.get_running_loop().time()
                seen = 0
                async with aclosing(stream) as events:
                    async for event in events:
                        failures = 0
                        seen += 1
                        if event.resource_version:
                            resource_version = event.resource_version
                        if event.type in (ADDED, MODIFIED):
                            key = cache_key(event.object)
                            old = self.cache.get(key)
                            self.cache[key] = event.object
                            self._emit(ADDED if old is None else MODIFIED, old, event.object)
                        elif event.type == DELETED:
                            old = self.cache.pop(cache_key(event.object), None)
                            self._emit(DELETED, old, event.object)
                if not seen and asyncio.get_running_loop().time() - started < 1.0:
                    # A watch that ends at once with nothing in it: do not spin.
                    failures += 1
                    await asyncio.sleep(self._backoff.delay(failures, self._rng))
            except KubeGone:
                log.info("%s watch expired at %s; re-listing", self._name, resource_version)
                resource_version = ""
            except (WorkflowError, OSError) as exc:
                failures += 1
                self.errors += 1
                delay = self._backoff.delay(failures, self._rng)
                log.warning("%s list/watch failed (%s); retrying in %.2fs", self._name, exc, delay)
                await asyncio.sleep(delay)
