"""Which top-level workload a pod (or ReplicaSet, or Job) belongs to, through its controllers.

A live cluster holds a Deployment, its ReplicaSets and their Pods (or a CronJob, its Jobs
and their Pods); checks that judge what pods do (usage, placement, leftovers) report it on
the workload people manage. Following ``ownerReferences`` marked ``controller: true``
within the namespace, while the owner is in the inventory::

    ref = top_level_ref(inventory, "Pod", pod)            # ObjectRef of the Deployment
    for ref, pods in pods_by_workload(inventory).items(): ...

Called by the performance, cost and sustainability checks; built once per inventory.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping

from assay.server.core.types import ObjectRef
from assay.server.inventory.kinds import WORKLOAD_KINDS
from assay.server.inventory.model import Inventory
from assay.server.inventory.raw import KubeObject, name_of, namespace_of
from assay.server.inventory.workloads import Workload, controller_owner

_OWNER_KINDS = frozenset(WORKLOAD_KINDS) - {"Pod"}
_MAX_DEPTH = 4
"""Pod -> ReplicaSet -> Deployment, Pod -> Job -> CronJob: deeper chains are not workloads."""


def top_level(inventory: Inventory, kind: str, obj: KubeObject) -> tuple[str, KubeObject]:
    """The kind and object at the top of ``obj``'s controller chain (``obj`` itself when its
    controller is not a workload kind in the inventory)."""
    namespace = namespace_of(obj)
    current_kind, current = kind, obj
    for _ in range(_MAX_DEPTH):
        owner = controller_owner(current)
        if owner is None:
            break
        owner_kind = str(owner.get("kind") or "")
        if owner_kind not in _OWNER_KINDS:
            break
        parent = inventory.get(owner_kind, namespace, str(owner.get("name") or ""))
        if parent is None:
            break
        current_kind, current = owner_kind, parent
    return current_kind, current


def top_level_ref(inventory: Inventory, kind: str, obj: KubeObject) -> ObjectRef:
    owner_kind, owner = top_level(inventory, kind, obj)
    return ObjectRef(owner_kind, name_of(owner), namespace_of(owner))


def pods_by_workload(inventory: Inventory) -> Mapping[ObjectRef, tuple[KubeObject, ...]]:
    """Every Pod, grouped by its top-level workload (a naked Pod is its own)."""

    def build() -> dict[ObjectRef, tuple[KubeObject, ...]]:
        groups: dict[ObjectRef, list[KubeObject]] = defaultdict(list)
        for pod in inventory.objects("Pod"):
            groups[top_level_ref(inventory, "Pod", pod)].append(pod)
        return {ref: tuple(pods) for ref, pods in groups.items()}

    return inventory.memo("kit:pods-by-workload", build)


def workload_by_ref(inventory: Inventory, ref: ObjectRef) -> Workload | None:
    """The workload ``ref`` names (as :func:`top_level_ref` gives it), looked up in an index."""
    index = inventory.memo(
        "kit:workloads-by-ref",
        lambda: {w.ref: w for w in inventory.workloads()},
    )
    found = index.get(ref)
    if found is None:
        found = inventory.workload(ref.kind, ref.namespace, ref.name)
    return found
