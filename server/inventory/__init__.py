"""Where cluster objects come from: a live cluster or manifest files, as one read-only
:class:`Inventory` that checks read without knowing the source.

Public surface (what the runner and the checks import)::

    Inventory, Diagnostic, Origin              model, provenance
    load_manifests, read_manifests             manifests (files, directories)
    ManifestLimits                             bounds on manifest input
    parse_manifest, read_tree                  one file's bytes; the files under a path
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
from assay.server.inventory.limits import ManifestLimits
from assay.server.inventory.manifests import load_manifests, read_manifests
from assay.server.inventory.model import Inventory
from assay.server.inventory.parse import ParsedObject, parse_manifest
from assay.server.inventory.provenance import Diagnostic, Origin
from assay.server.inventory.raw import KubeObject
from assay.server.inventory.selectors import Requirement, Selector
from assay.server.inventory.tree import ManifestFile, read_tree
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
    "ManifestFile",
    "ManifestLimits",
    "ManifestPathNotFound",
    "Origin",
    "ParsedObject",
    "Requirement",
    "ResourceType",
    "Selector",
    "Workload",
    "containers",
    "load_manifests",
    "parse_manifest",
    "read_manifests",
    "read_tree",
    "workload_of",
]
