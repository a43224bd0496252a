"""Fill an inventory from manifest files: one file or a directory tree of YAML/JSON.

Called by the runner for ``--source manifests`` runs. Files are read in sorted path order
(hidden files and directories skipped), YAML may hold several documents, and ``kind: List``
(or any ``*List`` kind with ``items``) is expanded. A file that does not parse, or a document
that is not a usable Kubernetes object, becomes a :class:`Diagnostic` and loading goes on;
only a path that does not exist is an error.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from assay.server.core.types import Source
from assay.server.inventory.errors import ManifestPathNotFound
from assay.server.inventory.model import (
    Diagnostic,
    Inventory,
    cluster_scoped_kinds,
    index_namespace,
)
from assay.server.inventory.raw import kind_of, name_of

MANIFEST_SUFFIXES = frozenset({".yaml", ".yml", ".json"})

_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True, slots=True)
class _Origin:
    path: str
    document: int
    item: int | None = None

    def diagnostic(self, message: str) -> Diagnostic:
        return Diagnostic(self.path, message, self.document, self.item)


def manifest_files(path: Path) -> list[Path]:
    """The files to read under ``path``: itself if a file, else every ``.yaml``/``.yml``/
    ``.json`` below it, sorted, skipping hidden names and not following directory links."""
    if path.is_file():
        return [path]
    found: list[Path] = []
    for root, dirs, files in os.walk(path):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        found.extend(
            Path(root, f)
            for f in files
            if not f.startswith(".") and Path(f).suffix.lower() in MANIFEST_SUFFIXES
        )
    return sorted(found)


def read_manifests(path: str | os.PathLike[str]) -> tuple[list[dict[str, Any]], list[Diagnostic]]:
    """Parse every object under ``path``: (objects, diagnostics), objects in file order.

    Raises :class:`ManifestPathNotFound` when ``path`` does not exist. For an object that
    appears twice (same kind, namespace and name) the later one is kept, with a diagnostic.
    """
    root = Path(path)
    if not root.exists():
        raise ManifestPathNotFound(str(path))
    parsed: list[tuple[_Origin, dict[str, Any]]] = []
    diagnostics: list[Diagnostic] = []
    for file in manifest_files(root):
        for origin, obj in _read_file(file, diagnostics):
            problem = _invalid(obj)
            if problem:
                diagnostics.append(origin.diagnostic(problem))
            else:
                parsed.append((origin, obj))

    scoped = cluster_scoped_kinds(obj for _, obj in parsed)
    seen: dict[tuple[str, str, str], _Origin] = {}
    for origin, obj in parsed:
        key = (kind_of(obj), index_namespace(obj, scoped), name_of(obj))
        earlier = seen.get(key)
        if earlier is not None:
            diagnostics.append(
                origin.diagnostic(
                    f"duplicate {key[0]} {key[1] + '/' if key[1] else ''}{key[2]} "
                    f"(also in {earlier.path}); this later definition is kept"
                )
            )
        seen[key] = origin
    return [obj for _, obj in parsed], diagnostics


def load_manifests(path: str | os.PathLike[str]) -> Inventory:
    """An inventory (source ``manifests``) of every object under ``path``."""
    objects, diagnostics = read_manifests(path)
    return Inventory.from_objects(objects, source=Source.MANIFESTS, diagnostics=diagnostics)


def _read_file(file: Path, diagnostics: list[Diagnostic]) -> Iterator[tuple[_Origin, Any]]:
    """Yield each document (``List`` items expanded) of ``file``; parse errors are recorded
    and end the file (documents before the error are kept)."""
    path = str(file)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        diagnostics.append(Diagnostic(path, f"cannot read file: {exc}"))
        return
    position = 0
    try:
        if file.suffix.lower() == ".json":
            documents: Iterator[Any] = iter([json.loads(text)])
        else:
            documents = yaml.load_all(text, Loader=_Loader)
        for position, document in enumerate(documents, start=1):
            if document is None:
                continue
            if _is_list(document):
                for item_index, item in enumerate(document["items"]):
                    yield _Origin(path, position, item_index), item
            else:
                yield _Origin(path, position), document
    except (yaml.YAMLError, ValueError) as exc:
        diagnostics.append(
            Diagnostic(path, f"does not parse: {_one_line(exc)}", document=position + 1)
        )


def _is_list(document: Any) -> bool:
    return (
        isinstance(document, Mapping)
        and kind_of(document).endswith("List")
        and isinstance(document.get("items"), list)
    )


def _invalid(obj: Any) -> str:
    """Why ``obj`` is not a usable Kubernetes object ("" when it is)."""
    if not isinstance(obj, dict):
        return f"not a mapping but {type(obj).__name__}"
    missing = [f for f in ("apiVersion", "kind") if not isinstance(obj.get(f), str) or not obj[f]]
    if not isinstance(obj.get("metadata"), dict):
        missing.append("metadata")
    elif not name_of(obj):
        missing.append("metadata.name")
    return f"missing {', '.join(missing)}" if missing else ""


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())
