"""Safe readers over raw Kubernetes payloads (plain dicts parsed from JSON or YAML).

Objects in the inventory are whatever the API server or a manifest file said, so any field
may be absent or of the wrong type. Checks and the inventory read them through these
helpers, which return empty values instead of raising on malformed input.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any, TypeAlias

KubeObject: TypeAlias = Mapping[str, Any]
"""A raw Kubernetes object (or a sub-object such as a pod spec); never mutated once indexed."""

EMPTY: KubeObject = MappingProxyType({})


def as_mapping(value: object) -> KubeObject:
    """``value`` if it is a mapping, else an empty mapping."""
    if type(value) is dict:  # the common cases, without the slower ABC check
        return value
    if value is None:
        return EMPTY
    return value if isinstance(value, Mapping) else EMPTY


def as_mappings(value: object) -> list[KubeObject]:
    """The mapping items of ``value`` if it is a list, else an empty list."""
    # Parsed JSON and YAML give lists: the ABC checks only for anything else.
    if type(value) is not list and (
        not isinstance(value, Sequence) or isinstance(value, str | bytes)
    ):
        return []
    return [item for item in value if type(item) is dict or isinstance(item, Mapping)]


# The readers below are the hottest code of a run (every check reads every object through
# them): a dict (the common case) is taken as it is, without the call to ``as_mapping``.


def dig(obj: KubeObject, *path: str) -> KubeObject:
    """The mapping at ``path`` below ``obj`` (empty when any step is missing or not a mapping)."""
    current = obj
    for key in path:
        value = current.get(key)
        current = value if type(value) is dict else as_mapping(value)
    return current


def metadata(obj: KubeObject) -> KubeObject:
    meta = obj.get("metadata")
    return meta if type(meta) is dict else as_mapping(meta)


def name_of(obj: KubeObject) -> str:
    meta = obj.get("metadata")
    name = (meta if type(meta) is dict else as_mapping(meta)).get("name")
    return name if type(name) is str else str(name or "")


def namespace_of(obj: KubeObject) -> str:
    meta = obj.get("metadata")
    namespace = (meta if type(meta) is dict else as_mapping(meta)).get("namespace")
    return namespace if type(namespace) is str else str(namespace or "")


def kind_of(obj: KubeObject) -> str:
    return str(obj.get("kind") or "")


def string_map(value: object) -> dict[str, str]:
    """A ``{str: str}`` view of a labels/annotations/selector map (non-strings stringified)."""
    return {str(k): "" if v is None else str(v) for k, v in as_mapping(value).items()}


def labels_of(obj: KubeObject) -> dict[str, str]:
    return string_map(metadata(obj).get("labels"))


def annotations_of(obj: KubeObject) -> dict[str, str]:
    return string_map(metadata(obj).get("annotations"))


def int_or_none(value: object) -> int | None:
    """An integer field's value; booleans and non-numeric strings are not integers."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            return None
    return None
