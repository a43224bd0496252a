"""What the API server does with a custom resource's body before it is stored.

`resources.py` builds a `CustomResourceSchema` from each served CRD version's
`openAPIV3Schema` (checked as the API server checks a structural schema at CRD creation);
`operations.py` calls `admit` on every create, update, patch and status write, which, in
the API server's order,
1. prunes fields the schema does not specify (kept under
   `x-kubernetes-preserve-unknown-fields: true`; `apiVersion`, `kind` and `metadata` kept
   at the root and in `x-kubernetes-embedded-resource` objects, metadata pruned to
   ObjectMeta), and reports their paths for `fieldValidation` Warn/Strict;
2. drops nulls the schema does not allow and applies `default`s;
3. validates (`schema_validation.py`). On updates, errors on values left as they were are
   dropped, as with the API server's validation ratcheting, so an object stored before a
   schema got stricter (or seeded around admission) can still have its status written.
A status write validates `.status` only: the rest comes from the stored object.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .jsonutil import JsonObject
from .patch import json_equal
from .schema_validation import Path, Schema, validate
from .status import ErrorType, FieldError

OBJECT_META_FIELDS = frozenset(
    {
        "name",
        "generateName",
        "namespace",
        "selfLink",
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "labels",
        "annotations",
        "ownerReferences",
        "finalizers",
        "managedFields",
    }
)
_TYPE_META = ("apiVersion", "kind")
_MISSING: Any = object()


@dataclass(frozen=True)
class Admission:
    """The outcome of `admit`: unknown fields that were dropped, and validation errors."""

    pruned: list[str] = field(default_factory=list)
    errors: list[FieldError] = field(default_factory=list)


def _dotted(path: Path) -> str:
    return FieldError(ErrorType.INVALID, path).field


class CustomResourceSchema:
    """One CRD version's structural schema; `admit` mutates the object it is given."""

    def __init__(self, schema: Schema) -> None:
        self.schema = schema

    def admit(
        self, obj: JsonObject, old: JsonObject | None = None, *, status_only: bool = False
    ) -> Admission:
        pruned: list[str] = []
        _prune(obj, self.schema, (), pruned, resource=True)
        _default(obj, self.schema, resource=True)
        if status_only:
            status_schema = (self.schema.get("properties") or {}).get("status")
            errors = (
                validate(obj["status"], status_schema, ("status",))
                if "status" in obj and isinstance(status_schema, Mapping)
                else []
            )
        else:
            errors = validate(obj, self.schema)
        if old is not None:
            errors = [e for e in errors if _changed(e, obj, old)]
        return Admission(pruned, errors)


# -- pruning -----------------------------------------------------------------------------


def _prune(
    value: Any, schema: Schema | None, path: Path, pruned: list[str], *, resource: bool
) -> None:
    if schema is None:
        return
    if isinstance(value, list):
        items = schema.get("items")
        if isinstance(items, Mapping):
            for index, item in enumerate(value):
                _prune(item, items, (*path, index), pruned, resource=False)
        return
    if not isinstance(value, dict):
        return
    resource = resource or bool(schema.get("x-kubernetes-embedded-resource"))
    properties: Mapping[str, Schema] = schema.get("properties") or {}
    additional = schema.get("additionalProperties")
    keep_unknown = bool(schema.get("x-kubernetes-preserve-unknown-fields")) or additional is True
    for name in list(value):
        child = (*path, name)
        if resource and name in _TYPE_META:
            continue
        if resource and name == "metadata":
            _prune_metadata(value[name], child, pruned)
        elif name in properties:
            _prune(value[name], properties[name], child, pruned, resource=False)
        elif isinstance(additional, Mapping):
            _prune(value[name], additional, child, pruned, resource=False)
        elif not keep_unknown:
            del value[name]
            pruned.append(_dotted(child))


def _prune_metadata(meta: Any, path: Path, pruned: list[str]) -> None:
    if not isinstance(meta, dict):
        return
    for name in [n for n in meta if n not in OBJECT_META_FIELDS]:
        del meta[name]
        pruned.append(_dotted((*path, name)))


# -- nulls and defaults ------------------------------------------------------------------


def _default(value: Any, schema: Schema, *, resource: bool) -> None:
    if isinstance(value, list):
        items = schema.get("items")
        if isinstance(items, Mapping):
            for item in value:
                _default(item, items, resource=False)
        return
    if not isinstance(value, dict):
        return
    properties: Mapping[str, Schema] = schema.get("properties") or {}
    additional = schema.get("additionalProperties")
    for name, declared in properties.items():
        if (
            "default" in declared
            and value.get(name) is None
            and not (name in value and declared.get("nullable"))
        ):
            value[name] = copy.deepcopy(declared["default"])
    for name in list(value):
        if resource and name == "metadata":
            continue
        sub = properties.get(name)
        if sub is None and isinstance(additional, Mapping):
            sub = additional
        if sub is None:
            continue
        if value[name] is None and not sub.get("nullable"):
            del value[name]  # a null the schema does not allow reads as "not set"
        else:
            _default(value[name], sub, resource=bool(sub.get("x-kubernetes-embedded-resource")))


# -- ratcheting --------------------------------------------------------------------------


def _at(obj: Any, path: Path) -> Any:
    for step in path:
        if isinstance(step, int):
            if not isinstance(obj, list) or step >= len(obj):
                return _MISSING
        elif not isinstance(obj, dict) or step not in obj:
            return _MISSING
        obj = obj[step]
    return obj


def _changed(error: FieldError, new: JsonObject, old: JsonObject) -> bool:
    """Whether the value an error is about differs from the stored one (for a missing
    required field, the object that should hold it)."""
    anchor = error.path[:-1] if error.type is ErrorType.REQUIRED else error.path
    before, after = _at(old, anchor), _at(new, anchor)
    if before is _MISSING or after is _MISSING:
        return before is not after
    return not json_equal(before, after)


# -- checks at CRD creation --------------------------------------------------------------


def structural_errors(schema: Any, path: Path) -> list[FieldError]:
    """What makes the API server refuse a version's schema (the subset the double needs:
    present, an object at the root, typed properties, patterns that compile)."""
    if not isinstance(schema, Mapping):
        return [FieldError(ErrorType.REQUIRED, path, detail="schemas are required")]
    errors: list[FieldError] = []
    if schema.get("type") != "object":
        errors.append(
            FieldError(ErrorType.REQUIRED, (*path, "type"), detail="must be object at the root")
        )
    _check_node(schema, path, errors)
    return errors


def _check_node(schema: Mapping[str, Any], path: Path, errors: list[FieldError]) -> None:
    pattern = schema.get("pattern")
    if pattern is not None:
        try:
            re.compile(pattern)
        except (re.error, TypeError) as error:
            errors.append(
                FieldError(
                    ErrorType.INVALID,
                    (*path, "pattern"),
                    pattern,
                    f"must be a valid regular expression, but isn't: {error}",
                )
            )
    for name, sub in (schema.get("properties") or {}).items():
        if not isinstance(sub, Mapping):
            continue
        typed = (
            "type" in sub
            or sub.get("x-kubernetes-int-or-string")
            or sub.get("x-kubernetes-preserve-unknown-fields")
        )
        if not typed:
            errors.append(
                FieldError(
                    ErrorType.REQUIRED,
                    (*path, f"properties[{name}]", "type"),
                    detail="must not be empty for specified object fields",
                )
            )
        _check_node(sub, (*path, f"properties[{name}]"), errors)
    for key in ("items", "additionalProperties"):
        sub = schema.get(key)
        if isinstance(sub, Mapping):
            _check_node(sub, (*path, key), errors)
    for key in ("allOf", "anyOf", "oneOf"):
        for index, sub in enumerate(schema.get(key) or ()):
            if isinstance(sub, Mapping):
                _check_node(sub, (*path, key, index), errors)
