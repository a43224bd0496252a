"""Live inventories for check tests: objects served by the Kubernetes API test double and
loaded through the real live loader, the way a run against a cluster loads them.

    inventory = await live_inventory(kube_api, objects, checks=[check])

The same objects loaded as manifests (``manifest_inventory``) show what a check does
offline (live-only checks give their single ``skipped`` result there).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from assay.server.checks.kit import Check
from assay.server.checks.kit.registry import required_groups, required_kinds
from assay.server.core.types import Source
from assay.server.inventory.live import load_live_inventory
from assay.server.inventory.model import Inventory
from tests.integration.kube.fixtures import kube_client
from tests.kubeapi import KubeApiDouble


async def live_inventory(
    kube_api: KubeApiDouble,
    objects: Iterable[dict[str, Any]],
    *,
    checks: Sequence[Check],
    page_size: int = 500,
) -> Inventory:
    """Seed ``objects`` into the double and load what ``checks`` read, over HTTP with the
    server's own Kubernetes client."""
    kube_api.seed(list(objects))
    async with kube_client(kube_api) as kube:
        return await load_live_inventory(
            kube,
            kinds=required_kinds(checks),
            groups=required_groups(checks),
            page_size=page_size,
        )


def manifest_inventory(objects: Iterable[dict[str, Any]]) -> Inventory:
    return Inventory.from_objects(list(objects), source=Source.MANIFESTS)
