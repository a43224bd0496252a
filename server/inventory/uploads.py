"""Fill an inventory from manifest files a client uploaded: names and bytes, never paths.

The StartManifestRun servicer collects the uploaded files (within the server's size limit)
and the runner's manifest provider calls :func:`load_uploaded`. Each file is decoded as
UTF-8 and parsed as JSON (``.json``) or multi-document YAML (anything else, stdin
included); ``List`` documents are expanded. As with files on disk
(:mod:`.manifests`), a file that does not parse or a document that is not a Kubernetes
object becomes a :class:`~assay.server.inventory.model.Diagnostic` under the file's name
and loading goes on; a later duplicate of an object replaces the earlier one, with a
diagnostic. The name only labels diagnostics and reports: nothing is ever opened by it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from assay.server.core.types import Source
from assay.server.inventory.model import (
    Diagnostic,
    Inventory,
    cluster_scoped_kinds,
    index_namespace,
)
from assay.server.inventory.raw import kind_of, name_of

_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class ManifestFile:
    """One uploaded file: the client's name for it and its content."""

    name: str
    data: bytes


@dataclass(frozen=True)
class _Origin:
    name: str
    document: int
    item: int | None = None

    def diagnostic(self, message: str) -> Diagnostic:
        return Diagnostic(self.name, message, self.document, self.item)


def read_uploaded(
    files: Sequence[ManifestFile],
) -> tuple[list[dict[str, Any]], list[Diagnostic]]:
    """Every object of ``files`` in order, and the diagnostics."""
    parsed: list[tuple[_Origin, dict[str, Any]]] = []
    diagnostics: list[Diagnostic] = []
    for file in files:
        for origin, obj in _documents(file, diagnostics):
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
                    f"(also in {earlier.name}); this later definition is kept"
                )
            )
        seen[key] = origin
    return [obj for _, obj in parsed], diagnostics


def load_uploaded(files: Sequence[ManifestFile]) -> Inventory:
    """An inventory (source ``manifests``) of every object in ``files``."""
    objects, diagnostics = read_uploaded(files)
    return Inventory.from_objects(objects, source=Source.MANIFESTS, diagnostics=diagnostics)


def _documents(file: ManifestFile, diagnostics: list[Diagnostic]) -> Iterator[tuple[_Origin, Any]]:
    try:
        text = file.data.decode("utf-8")
    except UnicodeDecodeError as exc:
        diagnostics.append(Diagnostic(file.name, f"not UTF-8 text (byte {exc.start})"))
        return
    if "\x00" in text:
        diagnostics.append(Diagnostic(file.name, "contains a NUL character"))
        return
    position = 0
    try:
        if file.name.lower().endswith(".json"):
            documents: Iterator[Any] = iter([json.loads(text)])
        else:
            documents = yaml.load_all(text, Loader=_Loader)
        for position, document in enumerate(documents, start=1):
            if document is None:
                continue
            if _is_list(document):
                for index, item in enumerate(document["items"]):
                    yield _Origin(file.name, position, index), item
            else:
                yield _Origin(file.name, position), document
    except (yaml.YAMLError, ValueError, RecursionError) as exc:
        message = " ".join(str(exc).split())
        diagnostics.append(
            Diagnostic(file.name, f"does not parse: {message}", document=position + 1)
        )


def _is_list(document: Any) -> bool:
    return (
        isinstance(document, Mapping)
        and kind_of(document).endswith("List")
        and isinstance(document.get("items"), list)
    )


def _invalid(obj: Any) -> str:
    if not isinstance(obj, dict):
        return f"not a mapping but {type(obj).__name__}"
    missing = [f for f in ("apiVersion", "kind") if not isinstance(obj.get(f), str) or not obj[f]]
    if not isinstance(obj.get("metadata"), dict):
        missing.append("metadata")
    elif not name_of(obj):
        missing.append("metadata.name")
    return f"missing {', '.join(missing)}" if missing else ""
