"""The ready endpoints of each Service, read from a live cluster's EndpointSlices.

Used by the Service checks (REL-015's live part, REL-017). One pass over the
EndpointSlices builds an index by (namespace, Service name), memoised on the inventory.
An endpoint is identified by the object it points at (``targetRef``), else by its
addresses, so a dual-stack Service's pod, which appears once in the IPv4 slice and once in
the IPv6 slice, counts once.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from assay.server.checks.kit.observed import unreadable_kinds
from assay.server.core.types import Source
from assay.server.inventory.model import Inventory
from assay.server.inventory.raw import KubeObject, as_mappings, dig, labels_of, namespace_of

SERVICE_NAME_LABEL = "kubernetes.io/service-name"
ENDPOINT_SLICE = "EndpointSlice"


@dataclass(frozen=True, slots=True)
class Endpoints:
    """The endpoints of one Service: every one, and those ready to receive traffic."""

    all: frozenset[str]
    ready: frozenset[str]

    def describe(self) -> str:
        count = len(self.all)
        return f"{count} endpoint{'' if count == 1 else 's'}, {len(self.ready)} ready"


NO_ENDPOINTS = Endpoints(frozenset(), frozenset())

ENDPOINTS_NOTE = (
    "Endpoints are read from EndpointSlices (discovery.k8s.io/v1) labelled "
    "kubernetes.io/service-name; an endpoint counts as ready unless its conditions.ready is "
    "false (the API reads an unset value as ready), and one pod counts once across the IPv4 "
    "and IPv6 slices of a dual-stack Service."
)


def endpoints_unreadable(inventory: Inventory) -> str | None:
    """Why the EndpointSlices of a live inventory cannot be judged, or ``None`` when they
    can. Every cluster has at least the slice of the ``kubernetes`` Service, so a live
    inventory without any slice could not read them."""
    if inventory.source is not Source.LIVE:
        return "manifest files carry no endpoints"
    if ENDPOINT_SLICE in unreadable_kinds(inventory):
        return "EndpointSlices (discovery.k8s.io/v1) could not be listed"
    if not inventory.objects(ENDPOINT_SLICE):
        return "the cluster returned no EndpointSlice at all, not even the kubernetes Service's"
    return None


def endpoints_of(inventory: Inventory, namespace: str, service: str) -> Endpoints:
    index = inventory.memo("reliability:endpoints", lambda: _index(inventory))
    return index.get((namespace, service), NO_ENDPOINTS)


def _index(inventory: Inventory) -> dict[tuple[str, str], Endpoints]:
    every: dict[tuple[str, str], set[str]] = defaultdict(set)
    ready: dict[tuple[str, str], set[str]] = defaultdict(set)
    for endpoint_slice in inventory.objects(ENDPOINT_SLICE):
        service = labels_of(endpoint_slice).get(SERVICE_NAME_LABEL)
        if not service:
            continue
        key = (namespace_of(endpoint_slice), service)
        for endpoint in as_mappings(endpoint_slice.get("endpoints")):
            identity = _identity(endpoint)
            if not identity:
                continue
            every[key].add(identity)
            if dig(endpoint, "conditions").get("ready") is not False:
                ready[key].add(identity)
    return {
        key: Endpoints(frozenset(ids), frozenset(ready.get(key, ()))) for key, ids in every.items()
    }


def _identity(endpoint: KubeObject) -> str:
    target = dig(endpoint, "targetRef")
    if target.get("name"):
        return f"{target.get('kind')}/{target.get('namespace')}/{target.get('name')}"
    addresses = endpoint.get("addresses")
    if isinstance(addresses, list) and addresses:
        return ",".join(sorted(str(a) for a in addresses))
    return ""
