"""Where cluster objects come from: a live cluster or manifest files, as one read-only
:class:`Inventory` that checks read without knowing the source.

Public surface (what the runner and the checks import)::

    Inventory, Diagnostic                      model
    load_manifests, read_manifests             manifests (files, directories)
    load_live_inventory                        live (through assay.server.kube)
    Workload, Container, ContainerKind, containers, workload_of
    Selector                                   label-selector matching
    InventoryError and subclasses              errors
"""

from assay.server.inventory.errors import (
    ClusterUnavailable,
    InventoryError,
    ManifestPathNotFound,
)
from assay.server.inventory.kinds import KNOWN_RESOURCES, WORKLOAD_KINDS, ResourceType
from assay.server.inventory.manifests import load_manifests, read_manifests
from assay.server.inventory.model import Diagnostic, Inventory
from assay.server.inventory.raw import KubeObject
from assay.server.inventory.selectors import Requirement, Selector
from assay.server.inventory.workloads import (
    Container,
    ContainerKind,
    Workload,
    containers,
    workload_of,
)

__all__ = [
    "KNOWN_RESOURCES",
    "WORKLOAD_KINDS",
    "ClusterUnavailable",
    "Container",
    "ContainerKind",
    "Diagnostic",
    "Inventory",
    "InventoryError",
    "KubeObject",
    "ManifestPathNotFound",
    "Requirement",
    "ResourceType",
    "Selector",
    "Workload",
    "containers",
    "load_manifests",
    "read_manifests",
    "workload_of",
]
