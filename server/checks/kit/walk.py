"""Walking the objects a check reports on, fast: each kind's top-level objects, computed once.

A check that reports on objects (not through :func:`~.rules.per_object`) and leaves owned
ones to their controller calls::

    for obj in top_level(ctx.inventory, "Service"): ...

The list of objects of a kind whose controller (ownerReference) is not in the inventory is
computed once per inventory and kind, so checks that walk every kind (OPS-003, OPS-005)
do not test each Pod's owner again.
"""

from __future__ import annotations

from collections.abc import Sequence

from assay.server.inventory.model import Inventory
from assay.server.inventory.raw import KubeObject


def top_level(inventory: Inventory, kind: str) -> Sequence[KubeObject]:
    """Objects of ``kind`` whose controller is not itself in ``inventory``, in inventory
    order; memoized per inventory and kind."""

    def compute() -> tuple[KubeObject, ...]:
        return tuple(o for o in inventory.objects(kind) if not inventory.is_owned(o))

    return inventory.memo(f"kit:top-level:{kind}", compute)
