"""Parse one manifest file's bytes into Kubernetes objects, each with its origin.

:func:`parse_manifest` is the one entry point for file contents, whoever read them: the
tree reader (:mod:`~assay.server.inventory.tree`) for a path on this host, or a request that
carries the files. It never touches the filesystem. It decodes the bytes (UTF-8, with or
without a byte-order mark; UTF-16 and UTF-32 when a byte-order mark says so), loads YAML or
JSON (by the name's suffix) within :class:`~assay.server.inventory.limits.ManifestLimits`,
expands ``List`` documents, and keeps the objects that pass
:func:`~assay.server.inventory.names.object_problem`. Everything else is a
:class:`~assay.server.inventory.provenance.Diagnostic`; nothing raises for bad input.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from assay.server.inventory.jsonload import load_json
from assay.server.inventory.limits import DEFAULT_LIMITS, ManifestLimits
from assay.server.inventory.names import object_problem
from assay.server.inventory.provenance import Diagnostic, Origin
from assay.server.inventory.syntax import Document, Problem
from assay.server.inventory.yamlload import load_yaml

# Longest first: the UTF-32 LE mark begins with the UTF-16 LE one.
_WIDE_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


@dataclass(frozen=True, slots=True)
class ParsedObject:
    """A Kubernetes object read from a manifest, and where it was read from."""

    origin: Origin
    object: dict[str, Any]


def parse_manifest(
    name: str, data: bytes, limits: ManifestLimits = DEFAULT_LIMITS
) -> tuple[list[ParsedObject], list[Diagnostic]]:
    """The objects in one file's ``data`` and the problems found, both in file order.

    ``name`` labels the diagnostics and origins (a path, or the name a client gave the
    file); a name ending in ``.json`` (any case) is read as JSON, anything else as YAML.
    """
    if len(data) > limits.max_file_bytes:
        return [], [Diagnostic(name, _too_large(len(data), limits.max_file_bytes))]
    decoded = _decode(data)
    if isinstance(decoded, Diagnostic):
        return [], [Diagnostic(name, decoded.message, line=decoded.line)]
    if name.lower().endswith(".json"):
        text = decoded if isinstance(decoded, str) else decoded.decode("utf-8-sig")
        documents = load_json(text, limits)
    else:
        documents = load_yaml(decoded, limits)
    objects: list[ParsedObject] = []
    diagnostics: list[Diagnostic] = []
    for entry in documents:
        if isinstance(entry, Problem):
            diagnostics.append(Diagnostic(name, entry.message, entry.number, line=entry.line))
            continue
        for origin, obj in _objects(name, entry):
            problem = object_problem(obj)
            if problem:
                diagnostics.append(origin.diagnostic(f"{problem}; skipped"))
            else:
                objects.append(ParsedObject(origin, obj))
    return objects, diagnostics


def _too_large(size: int, limit: int) -> str:
    return f"is {size:,} bytes, over the limit of {limit:,} bytes per file; not read"


def _decode(data: bytes) -> bytes | str | Diagnostic:
    """UTF-8 ``data`` as it is (validated), other encodings as text, or why it cannot be
    read as text."""
    for bom, encoding in _WIDE_BOMS:
        if data.startswith(bom):
            try:
                return data.decode(encoding)
            except UnicodeDecodeError as exc:
                return _undecodable(data, exc, encoding.upper())
    if not data.isascii():
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as exc:
            return _undecodable(data, exc, "UTF-8")
    return data


def _undecodable(data: bytes, exc: UnicodeDecodeError, encoding: str) -> Diagnostic:
    line = data.count(b"\n", 0, exc.start) + 1
    return Diagnostic(
        "",
        f"is not valid {encoding}: byte 0x{data[exc.start]:02x} at offset {exc.start:,}; not read",
        line=line,
    )


def _objects(name: str, document: Document) -> Iterator[tuple[Origin, Any]]:
    """The document's value, or the items of a ``List`` document, with their origins."""
    value = document.value
    if not _is_list(value):
        yield Origin(name, document.number, document.line), value
        return
    items = value["items"]
    lines = document.item_lines if len(document.item_lines) == len(items) else ()
    for index, item in enumerate(items):
        line = lines[index] if lines else document.line
        yield Origin(name, document.number, line, index), item


def _is_list(value: Any) -> bool:
    if not isinstance(value, Mapping) or not isinstance(value.get("items"), list):
        return False
    kind = value.get("kind")
    return isinstance(kind, str) and kind.endswith("List")
