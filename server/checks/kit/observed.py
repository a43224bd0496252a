"""What a live inventory observed: the moment it describes, and the kinds it could not read.

Checks of live status (pod health, storage, batch history) judge ages ("not ready for more
than five minutes") and must stay deterministic for a given inventory, so they never read
the wall clock: they measure against :func:`observed_at`, the newest timestamp the
inventory holds. Cross-object checks must not call a reference dangling when its target's
kind could not be listed at all (RBAC forbids listing Secrets, a CRD's group is not
served): :func:`unreadable_kinds` names those kinds.

Called by the reliability checks; any pillar may use them. Timestamps are read with the
Kubernetes client's :func:`~assay.server.kube.times.parse_time` (re-exported here).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from assay.server.core.types import Source
from assay.server.inventory.kinds import KNOWN_RESOURCES
from assay.server.inventory.model import Inventory
from assay.server.inventory.raw import KubeObject, as_mappings, dig, metadata
from assay.server.kube.times import parse_time

__all__ = [
    "OBSERVED_AT_NOTE",
    "OBSERVED_KINDS",
    "age_text",
    "observed_at",
    "parse_time",
    "unlisted_kinds",
    "unreadable_kinds",
]

OBSERVED_KINDS = ("Node", "Pod", "Event")
"""What :func:`observed_at` reads: a check that uses it lists these among its kinds."""

OBSERVED_AT_NOTE = (
    "Ages are measured against the inventory's observation time: the newest timestamp it "
    "holds (node heartbeats, pod and event times, object creation and managedFields update "
    "times), never the wall clock, so a run is deterministic for a given inventory. On a "
    "live cluster that is at most a few minutes before the listing (kubelets report node "
    "status at least every five minutes), so ages are never overestimated; node clocks are "
    "assumed to be in sync."
)


def observed_at(inventory: Inventory) -> datetime | None:
    """The newest timestamp among the inventory's nodes, pods and events (see
    :data:`OBSERVED_AT_NOTE`); ``None`` when they carry none. Computed once per inventory."""
    return inventory.memo("kit:observed-at", lambda: _newest(inventory))


def _newest(inventory: Inventory) -> datetime | None:
    newest: datetime | None = None
    for kind in OBSERVED_KINDS:
        for obj in inventory.objects(kind):
            for value in _timestamps(obj):
                moment = parse_time(value)
                if moment is not None and (newest is None or moment > newest):
                    newest = moment
    return newest


def _timestamps(obj: KubeObject) -> Iterator[object]:
    meta = metadata(obj)
    yield meta.get("creationTimestamp")
    for entry in as_mappings(meta.get("managedFields")):
        yield entry.get("time")
    status = dig(obj, "status")
    yield status.get("startTime")
    for condition in as_mappings(status.get("conditions")):
        yield condition.get("lastHeartbeatTime")
        yield condition.get("lastTransitionTime")
    for field in ("initContainerStatuses", "containerStatuses"):
        for container in as_mappings(status.get(field)):
            for state in (dig(container, "state"), dig(container, "lastState")):
                yield dig(state, "running").get("startedAt")
                yield dig(state, "terminated").get("finishedAt")
    yield obj.get("lastTimestamp")
    yield obj.get("eventTime")
    yield dig(obj, "series").get("lastObservedTime")


def unreadable_kinds(inventory: Inventory) -> frozenset[str]:
    """Kinds a live inventory could not list: their API group is not served, or listing
    them failed (forbidden, server error). Empty for manifests, where absence is absence."""
    if inventory.source is not Source.LIVE:
        return frozenset()
    return inventory.memo(
        "kit:unreadable-kinds",
        lambda: (
            unlisted_kinds(inventory)
            | {
                kind
                for kind, resource in KNOWN_RESOURCES.items()
                if resource.group and not inventory.has_api(resource.group_version)
            }
        ),
    )


def unlisted_kinds(inventory: Inventory) -> frozenset[str]:
    """Kinds whose listing failed although the cluster serves them (forbidden, server
    error): unlike an unserved group, this says nothing about whether objects exist."""
    if inventory.source is not Source.LIVE:
        return frozenset()
    failed_paths = {d.path for d in inventory.diagnostics}
    return frozenset(k for k, r in KNOWN_RESOURCES.items() if r.list_path in failed_paths)


def age_text(seconds: float) -> str:
    """A duration as people read it: ``45s``, ``12m``, ``3h05m``, ``2d04h``."""
    whole = max(0, int(seconds))
    if whole < 60:
        return f"{whole}s"
    minutes, _ = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h{minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours:02d}h"
