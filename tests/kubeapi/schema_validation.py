"""Validation of a custom resource against its CRD's structural `openAPIV3Schema`.

Called by `schema.py` (`CustomResourceSchema.admit`) on every create, update, patch and
status write of a custom resource. Errors are the field errors the API server builds from
kube-openapi's results (apiextensions' ValidateCustomResource), with the same types, field
paths and message texts, e.g.
    spec.targetResource: Invalid value: "x y": spec.targetResource in body should match '^…$'
    spec.workflowRef: Required value
CEL rules (`x-kubernetes-validations`) are not evaluated.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from .formats import format_matches
from .patch import json_equal
from .status import ErrorType, FieldError, render_value

Schema = Mapping[str, Any]
Path = tuple[str | int, ...]


@functools.cache
def compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def json_type(value: Any) -> str:
    """The JSON type name kube-openapi reports for a value it found."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _has_type(value: Any, wanted: str) -> bool:
    found = json_type(value)
    if wanted == "number":
        return found in ("integer", "number")
    if wanted == "integer" and found == "number":
        return bool(value.is_integer())  # 2.0 decodes as a float and is a valid integer
    return found == wanted


def _text(path: Path) -> str:
    return FieldError(ErrorType.INVALID, path).field


def _number(value: Any) -> str:
    return render_value(value)


class _Validator:
    def __init__(self) -> None:
        self.errors: list[FieldError] = []

    def fail(self, kind: ErrorType, path: Path, value: Any, detail: str = "") -> None:
        self.errors.append(FieldError(kind, path, value, detail))

    def invalid(self, path: Path, value: Any, message: str) -> None:
        self.fail(ErrorType.INVALID, path, value, f"{_text(path)} in body {message}")

    def check(self, value: Any, schema: Schema, path: Path, *, resource_root: bool = False) -> None:
        if value is None and schema.get("nullable"):
            return
        if schema.get("x-kubernetes-int-or-string"):
            if not (_has_type(value, "integer") or isinstance(value, str)):
                self._type_error(value, "integer,string", path)
                return
        elif "type" in schema and not _has_type(value, schema["type"]):
            self._type_error(value, schema["type"], path)
            return
        if "enum" in schema and not any(json_equal(value, e) for e in schema["enum"]):
            supported = ", ".join(
                json.dumps(e) if isinstance(e, str) else render_value(e) for e in schema["enum"]
            )
            self.fail(ErrorType.NOT_SUPPORTED, path, value, f"supported values: {supported}")
        if isinstance(value, str):
            self._string(value, schema, path)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            self._number(value, schema, path)
        elif isinstance(value, list):
            self._array(value, schema, path)
        elif isinstance(value, dict):
            self._object(value, schema, path, resource_root=resource_root)
        self._combinators(value, schema, path)

    def _type_error(self, value: Any, wanted: str, path: Path) -> None:
        found = json_type(value)
        detail = f'{_text(path)} in body must be of type {wanted}: "{found}"'
        self.fail(ErrorType.TYPE_INVALID, path, found, detail)

    def _string(self, value: str, schema: Schema, path: Path) -> None:
        length = len(value)
        if "maxLength" in schema and length > schema["maxLength"]:
            limit = schema["maxLength"]
            unit = "byte" if limit == 1 else "bytes"
            self.fail(ErrorType.TOO_LONG, path, value, f"may not be more than {limit} {unit}")
        if "minLength" in schema and length < schema["minLength"]:
            self.invalid(path, value, f"should be at least {schema['minLength']} chars long")
        if "pattern" in schema and not compiled(schema["pattern"]).search(value):
            self.invalid(path, value, f"should match '{schema['pattern']}'")
        if "format" in schema and not format_matches(schema["format"], value):
            detail = f'{_text(path)} in body must be of type {schema["format"]}: "{value}"'
            self.fail(ErrorType.TYPE_INVALID, path, value, detail)

    def _number(self, value: float, schema: Schema, path: Path) -> None:
        if "minimum" in schema:
            low = schema["minimum"]
            if schema.get("exclusiveMinimum") and value <= low:
                self.invalid(path, value, f"should be greater than {_number(low)}")
            elif value < low:
                self.invalid(path, value, f"should be greater than or equal to {_number(low)}")
        if "maximum" in schema:
            high = schema["maximum"]
            if schema.get("exclusiveMaximum") and value >= high:
                self.invalid(path, value, f"should be less than {_number(high)}")
            elif value > high:
                self.invalid(path, value, f"should be less than or equal to {_number(high)}")
        factor = schema.get("multipleOf")
        if factor and (value / factor) != int(value / factor):
            self.invalid(path, value, f"should be a multiple of {_number(factor)}")

    def _array(self, value: list[Any], schema: Schema, path: Path) -> None:
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            detail = f"must have at most {schema['maxItems']} items"
            self.fail(ErrorType.TOO_MANY, path, len(value), detail)
        if "minItems" in schema and len(value) < schema["minItems"]:
            self.invalid(path, len(value), f"should have at least {schema['minItems']} items")
        list_type = schema.get("x-kubernetes-list-type")
        if schema.get("uniqueItems") or list_type == "set":
            self._unique(value, path, lambda item: item)
        if list_type == "map":
            keys = list(schema.get("x-kubernetes-list-map-keys") or ())
            self._unique(
                value,
                path,
                lambda item: {k: item.get(k) for k in keys} if isinstance(item, dict) else None,
            )
        items = schema.get("items")
        if isinstance(items, Mapping):
            for index, item in enumerate(value):
                self.check(item, items, (*path, index))

    def _unique(self, value: list[Any], path: Path, key: Callable[[Any], Any]) -> None:
        """Duplicate entries (by `key`; None: not comparable, its type error says enough)."""
        seen: list[Any] = []
        for index, item in enumerate(value):
            identity = key(item)
            if identity is None:
                continue
            if any(json_equal(identity, earlier) for earlier in seen):
                self.fail(ErrorType.DUPLICATE, (*path, index), identity)
            else:
                seen.append(identity)

    def _object(
        self, value: dict[str, Any], schema: Schema, path: Path, *, resource_root: bool
    ) -> None:
        properties: Mapping[str, Schema] = schema.get("properties") or {}
        for name in schema.get("required") or ():
            if name not in value:
                self.fail(ErrorType.REQUIRED, (*path, name), None)
        count = len(value)
        if "maxProperties" in schema and count > schema["maxProperties"]:
            detail = f"must have at most {schema['maxProperties']} items"
            self.fail(ErrorType.TOO_MANY, path, count, detail)
        if "minProperties" in schema and count < schema["minProperties"]:
            self.invalid(path, count, f"should have at least {schema['minProperties']} properties")
        embedded = bool(schema.get("x-kubernetes-embedded-resource"))
        if embedded and value:
            self._embedded(value, path)
        additional = schema.get("additionalProperties")
        for name, item in value.items():
            if (resource_root or embedded) and name == "metadata":
                continue  # ObjectMeta is validated by the API machinery, not the schema
            if name in properties:
                self.check(item, properties[name], (*path, name))
            elif isinstance(additional, Mapping):
                self.check(item, additional, (*path, name))

    def _embedded(self, value: dict[str, Any], path: Path) -> None:
        for name in ("kind", "apiVersion"):
            if not isinstance(value.get(name), str) or not value[name]:
                self.fail(ErrorType.REQUIRED, (*path, name), None, "must not be empty")
        meta = value.get("metadata")
        if meta is not None and not isinstance(meta, dict):
            self._type_error(meta, "object", (*path, "metadata"))

    def _combinators(self, value: Any, schema: Schema, path: Path) -> None:
        for sub in schema.get("allOf") or ():
            self.check(value, sub, path)
        if "anyOf" in schema and not any(_passes(value, s, path) for s in schema["anyOf"]):
            self.invalid(path, value, "must validate at least one schema (anyOf)")
        if "oneOf" in schema and sum(_passes(value, s, path) for s in schema["oneOf"]) != 1:
            self.invalid(path, value, "must validate one and only one schema (oneOf)")
        if "not" in schema and _passes(value, schema["not"], path):
            self.invalid(path, value, "must not validate the schema (not)")


def _passes(value: Any, schema: Schema, path: Path) -> bool:
    probe = _Validator()
    probe.check(value, schema, path)
    return not probe.errors


def validate(value: Any, schema: Schema, path: Path = ()) -> list[FieldError]:
    """Every error of `value` (a whole resource when `path` is empty) under `schema`."""
    validator = _Validator()
    validator.check(value, schema, path, resource_root=not path)
    return validator.errors
