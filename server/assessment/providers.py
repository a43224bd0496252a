"""Where a run's inventory comes from: manifests (uploaded, or the scheduler's) or the cluster.

The runner asks the provider registered for the request's source; the composition root
registers one per source (tests register fakes).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from concurrent.futures import Executor
from functools import partial
from typing import Protocol

from assay.server.assessment.requests import ManifestTree, RunRequest
from assay.server.checks.kit import Check
from assay.server.checks.kit.registry import required_groups, required_kinds
from assay.server.inventory.limits import DEFAULT_LIMITS, ManifestLimits
from assay.server.inventory.live import load_live_inventory
from assay.server.inventory.manifests import load_files, load_manifests
from assay.server.inventory.model import Inventory
from assay.server.kube.config import KubeClientFactory


class InventoryProvider(Protocol):
    async def load(self, request: RunRequest, checks: Sequence[Check]) -> Inventory:
        """The run's inventory; InventoryError when it cannot be built at all."""


class ManifestInventory:
    """Parses the uploaded files, or reads the scheduler's tree, within ``limits``, in a
    thread of ``threads`` (the server's inventory pool, so a slow file never holds a thread
    storage or checks need; asyncio's default executor when not given). A run cancelled
    meanwhile does not wait for the thread."""

    def __init__(
        self, limits: ManifestLimits = DEFAULT_LIMITS, *, threads: Executor | None = None
    ) -> None:
        self._limits = limits
        self._threads = threads

    async def load(self, request: RunRequest, checks: Sequence[Check]) -> Inventory:
        manifests = request.manifests
        loop = asyncio.get_running_loop()
        if isinstance(manifests, ManifestTree):
            work = partial(load_manifests, manifests.path, self._limits)
        else:
            work = partial(load_files, manifests, self._limits)
        return await loop.run_in_executor(self._threads, work)


class LiveInventory:
    """Lists the kinds the run's checks read from the cluster, with a client per run.

    The composition root passes the factory (``assay.server.kube.config.client_factory``
    of the configured kube settings); the provider closes every client it is given.
    """

    def __init__(self, client_factory: KubeClientFactory) -> None:
        self._client_factory = client_factory

    async def load(self, request: RunRequest, checks: Sequence[Check]) -> Inventory:
        kube = await self._client_factory(request.context)
        try:
            return await load_live_inventory(
                kube, kinds=required_kinds(checks), groups=required_groups(checks)
            )
        finally:
            await kube.close()
