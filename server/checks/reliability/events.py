"""The latest Warning event about an object, for the messages of live-status checks.

Events (core v1, as the live loader lists them) are indexed once per inventory by the
object they are about (``involvedObject``, or ``regarding`` for events.k8s.io/v1 objects
given as manifests), keeping the newest Warning per object. Used by the storage and batch
checks to say *why* a claim stays Pending or a CronJob misbehaves.
"""

from __future__ import annotations

from datetime import datetime

from assay.server.checks.kit.observed import parse_time
from assay.server.checks.reliability.texts import one_line
from assay.server.inventory.model import Inventory
from assay.server.inventory.raw import KubeObject, dig, int_or_none, metadata

EVENT = "Event"


def _when(event: KubeObject) -> datetime | None:
    for value in (
        dig(event, "series").get("lastObservedTime"),
        event.get("lastTimestamp"),
        event.get("eventTime"),
        event.get("deprecatedLastTimestamp"),
        metadata(event).get("creationTimestamp"),
    ):
        moment = parse_time(value)
        if moment is not None:
            return moment
    return None


def _index(inventory: Inventory) -> dict[tuple[str, str, str], KubeObject]:
    newest: dict[tuple[str, str, str], tuple[datetime | None, KubeObject]] = {}
    for event in inventory.objects(EVENT):
        if event.get("type") != "Warning":
            continue
        about = dig(event, "involvedObject") or dig(event, "regarding")
        kind, namespace, name = (str(about.get(f) or "") for f in ("kind", "namespace", "name"))
        key = (kind, namespace, name)
        when = _when(event)
        held = newest.get(key)
        if held is None or (when is not None and (held[0] is None or when >= held[0])):
            newest[key] = (when, event)
    return {key: event for key, (_, event) in newest.items()}


def latest_warning(inventory: Inventory, kind: str, namespace: str, name: str) -> KubeObject | None:
    """The newest Warning event about ``kind`` ``namespace``/``name``, if any."""
    index = inventory.memo("reliability:warnings", lambda: _index(inventory))
    return index.get((kind, namespace, name))


def describe(event: KubeObject) -> str:
    """``ProvisioningFailed: storageclass "fast" not found (x12)``."""
    reason = one_line(event.get("reason") or "Warning", 60)
    message = one_line(event.get("message") or event.get("note"))
    count = int_or_none(
        event.get("count") or dig(event, "series").get("count") or event.get("deprecatedCount")
    )
    times = f" (x{count})" if count is not None and count > 1 else ""
    return f"{reason}: {message}{times}" if message else f"{reason}{times}"
