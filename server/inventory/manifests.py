"""Fill an inventory from manifest files: one file or a directory tree of YAML/JSON.

Called by the runner for ``--source manifests`` runs (and by tests and examples). The
files come from :mod:`~assay.server.inventory.tree` (bounded, regular files only, sorted
path order; the scheduler's path) or from a client that uploaded them (:func:`load_files`:
names and bytes, never a path), and each is parsed by
:func:`~assay.server.inventory.parse.parse_manifest` (YAML with several documents or JSON;
``List`` documents expanded). Across files an object defined twice (same kind, namespace
and name) keeps its later definition, with a diagnostic.
Every problem is a :class:`Diagnostic`, at most ``limits.max_diagnostics`` of them kept for
the run (the rest counted); only a path that does not exist is an error. Each object's
:class:`Origin` (file, document, line) is kept on the inventory.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from assay.server.core.types import Source
from assay.server.inventory.limits import DEFAULT_LIMITS, ManifestLimits
from assay.server.inventory.model import (
    Inventory,
    ObjectKey,
    cluster_scoped_kinds,
    index_namespace,
)
from assay.server.inventory.parse import ParsedObject, parse_manifest
from assay.server.inventory.provenance import Diagnostic, DiagnosticLog, Origin
from assay.server.inventory.raw import kind_of, name_of
from assay.server.inventory.tree import ManifestFile, iter_tree


@dataclass(frozen=True, slots=True)
class Manifests:
    """What a manifest path holds: the objects kept, where each came from, the problems."""

    objects: list[dict[str, Any]]
    origins: dict[ObjectKey, Origin]
    diagnostics: list[Diagnostic] = field(default_factory=list)


def collect_manifests(
    path: str | os.PathLike[str], limits: ManifestLimits = DEFAULT_LIMITS
) -> Manifests:
    """Read and parse every manifest under ``path``.

    Raises :class:`~assay.server.inventory.errors.ManifestPathNotFound` when ``path`` does
    not exist.
    """
    log = DiagnosticLog(limits.max_diagnostics)
    return _collect(iter_tree(path, limits, log.add), limits, log, os.fspath(path))


def collect_files(
    files: Iterable[ManifestFile], limits: ManifestLimits = DEFAULT_LIMITS
) -> Manifests:
    """Parse files a client uploaded (names and bytes; nothing is read from disk)."""
    return _collect(files, limits, DiagnosticLog(limits.max_diagnostics), "the uploaded files")


def _collect(
    files: Iterable[ManifestFile], limits: ManifestLimits, log: DiagnosticLog, label: str
) -> Manifests:
    parsed: list[ParsedObject] = []
    for file in files:
        objects, problems = parse_manifest(file.name, file.data, limits)
        parsed.extend(objects)
        log.extend(problems)

    scoped = cluster_scoped_kinds(p.object for p in parsed)
    origins: dict[ObjectKey, Origin] = {}
    for entry in parsed:
        obj = entry.object
        key = (kind_of(obj), index_namespace(obj, scoped), name_of(obj))
        earlier = origins.get(key)
        if earlier is not None:
            where = f"{key[1]}/{key[2]}" if key[1] else key[2]
            log.add(
                entry.origin.diagnostic(
                    f"duplicate {key[0]} {where} (also at {earlier}); this later definition is kept"
                )
            )
        origins[key] = entry.origin
    return Manifests([p.object for p in parsed], origins, log.result(label))


def read_manifests(
    path: str | os.PathLike[str], limits: ManifestLimits = DEFAULT_LIMITS
) -> tuple[list[dict[str, Any]], list[Diagnostic]]:
    """Parse every object under ``path``: (objects, diagnostics), objects in file order.

    Raises :class:`~assay.server.inventory.errors.ManifestPathNotFound` when ``path`` does
    not exist. For an object that appears twice (same kind, namespace and name) the later
    one is kept, with a diagnostic.
    """
    found = collect_manifests(path, limits)
    return found.objects, found.diagnostics


def load_manifests(
    path: str | os.PathLike[str], limits: ManifestLimits = DEFAULT_LIMITS
) -> Inventory:
    """An inventory (source ``manifests``) of every object under ``path``, each object's
    origin available through :meth:`Inventory.origin`."""
    return _inventory(collect_manifests(path, limits))


def load_files(files: Iterable[ManifestFile], limits: ManifestLimits = DEFAULT_LIMITS) -> Inventory:
    """An inventory (source ``manifests``) of the objects in uploaded ``files``."""
    return _inventory(collect_files(files, limits))


def _inventory(found: Manifests) -> Inventory:
    return Inventory.from_objects(
        found.objects,
        source=Source.MANIFESTS,
        diagnostics=found.diagnostics,
        origins=found.origins,
    )
