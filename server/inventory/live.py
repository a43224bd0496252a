"""Fill an inventory from a live cluster through the server's Kubernetes client.

Called by the runner for ``--source live`` runs, with a client from the composition root's
:data:`~assay.server.kube.config.KubeClientFactory`::

    kube = await factory("prod")
    async with kube:
        inventory = await load_live_inventory(kube, kinds=registry_kinds, groups={"metrics.k8s.io"})

Discovery (``/api``, ``/apis``) comes first, so kinds whose API group or version the
cluster does not serve are skipped and recorded in ``missing_groups``. Every other kind is
listed across all namespaces, a few kinds at a time, paginated (``limit`` + ``continue``,
starting over when a token expires) as raw JSON. A kind the API server refuses to list
(403 for the service account, an error status) becomes a diagnostic, not a failure; a
cluster that cannot be reached (discovery fails, or a list gets no answer) fails the run
rather than let checks judge a half-read cluster.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

from assay.server.core.types import Source
from assay.server.inventory.errors import ClusterUnavailable
from assay.server.inventory.kinds import KNOWN_RESOURCES, ResourceType
from assay.server.inventory.model import Diagnostic, Inventory
from assay.server.kube.client import KubeClient
from assay.server.kube.errors import KubeApiError, KubeError, KubeTransportError
from assay.server.kube.objects import KubeObject
from assay.server.kube.resources import Resource

log = logging.getLogger(__name__)

DEFAULT_CONCURRENCY = 4


def _resource(known: ResourceType) -> Resource:
    return Resource(
        known.group, known.version, known.plural, namespaced=known.namespaced, kind=known.kind
    )


async def load_live_inventory(
    kube: KubeClient,
    *,
    kinds: Iterable[str],
    groups: Iterable[str] = (),
    page_size: int | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
) -> Inventory:
    """List every kind in ``kinds`` (names from :data:`KNOWN_RESOURCES`) into an inventory.

    ``groups`` names further API groups (``metrics.k8s.io``) or group versions
    (``autoscaling/v2``) whose absence the checks care about; absent ones, and the groups of
    unserved kinds, end up in ``missing_groups``. Raises :class:`ClusterUnavailable` when
    discovery fails or a list gets no answer at all.
    """
    try:
        served = await kube.discover()
        version = await kube.version()
    except KubeError as exc:
        raise ClusterUnavailable(f"discovery failed: {exc}") from exc
    diagnostics: list[Diagnostic] = []
    missing: set[str] = set()
    wanted: list[ResourceType] = []
    for kind in sorted(set(kinds)):
        known = KNOWN_RESOURCES.get(kind)
        if known is None:
            diagnostics.append(Diagnostic(kind, "unknown kind: not listed from the cluster"))
            continue
        absent = served.missing(known.group_version) if known.group else None
        if absent:
            missing.add(absent)
        else:
            wanted.append(known)
    missing.update(m for m in (served.missing(g) for g in groups) if m)

    gate = asyncio.Semaphore(max(1, concurrency))

    async def guarded(known: ResourceType) -> list[KubeObject]:
        async with gate:
            return await _list_kind(kube, known, page_size, diagnostics)

    try:
        async with asyncio.TaskGroup() as group:
            listing = [group.create_task(guarded(k)) for k in wanted]
    except ExceptionGroup as failed:  # the other lists were cancelled
        raise failed.exceptions[0] from failed.exceptions[0].__cause__
    objects = [obj for task in listing for obj in task.result()]
    log.info(
        "live inventory: %d objects of %d kinds; missing groups %s; %d diagnostics",
        len(objects),
        len(wanted),
        sorted(missing) or "none",
        len(diagnostics),
    )
    return await asyncio.to_thread(
        Inventory.from_objects,
        objects,
        source=Source.LIVE,
        missing_groups=missing,
        diagnostics=sorted(diagnostics, key=lambda d: (d.path, d.message)),
        server_version=version.git_version or None,
    )


async def _list_kind(
    kube: KubeClient, known: ResourceType, page_size: int | None, diagnostics: list[Diagnostic]
) -> list[KubeObject]:
    """Every object of one kind; a failure becomes a diagnostic and an empty list."""
    resource = _resource(known)
    try:
        listed = await kube.list(resource, page_size=page_size)
    except KubeTransportError as exc:
        raise ClusterUnavailable(f"cannot list {known.kind}: {exc}") from exc
    except KubeError as exc:
        status = f"HTTP {exc.status} " if isinstance(exc, KubeApiError) else ""
        reason = exc.message if isinstance(exc, KubeApiError) and exc.message else str(exc)
        diagnostics.append(
            Diagnostic(known.list_path, f"cannot list {known.kind}: {status}{reason}".strip())
        )
        return []
    for item in listed.items:
        # The list's kind is authoritative (list items may omit or shorten it).
        item["kind"] = known.kind
        item["apiVersion"] = known.group_version
    return listed.items
