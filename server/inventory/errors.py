"""Errors raised while filling an inventory; the runner maps any of them to a failed run.

Hierarchy::

    AssayError                       (assay.server.core.errors)
    └── InventoryError               the inventory could not be built at all
        ├── ManifestPathNotFound     the manifest file or directory does not exist
        └── ClusterUnavailable       the API server could not be reached or refused discovery

A kubeconfig that cannot be loaded is :class:`~assay.server.kube.errors.KubeConfigError`,
raised by the client factory before the inventory is asked for anything.

Problems with single inputs (one bad YAML file, one kind the service account may not
list) are not errors: they become :class:`~assay.server.inventory.model.Diagnostic` records
on the inventory and loading goes on.
"""

from __future__ import annotations

from assay.server.core.errors import AssayError


class InventoryError(AssayError):
    """The inventory could not be built; nothing can be assessed."""


class ManifestPathNotFound(InventoryError):
    def __init__(self, path: str) -> None:
        self.path = path
        super().__init__(f"manifest path {path!r} does not exist")


class ClusterUnavailable(InventoryError):
    """Discovery failed (no answer, 401, 5xx), or a list got no answer at all."""
