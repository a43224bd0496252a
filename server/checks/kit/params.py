"""Check parameters: declared as a frozen dataclass, set from a policy file, documented.

A check declares its parameters as a frozen dataclass whose every field has a default::

    @dataclass(frozen=True)
    class DangerousCapabilities:
        capabilities: frozenset[str] = param(
            frozenset({"ALL", "SYS_ADMIN", "NET_ADMIN"}), "capabilities that fail the check"
        )

The registry checks the declaration (:func:`declaration_problems`); the policy loader turns
the plain values of a YAML mapping into an instance (:func:`build_params`), type by type,
naming the offending key; the docs generator prints each field with its default and help.

Supported field types: ``bool``, ``int``, ``float``, ``str``, ``Decimal``, ``datetime.date``,
``StrEnum`` subclasses, ``tuple[T, ...]`` and ``frozenset[T]`` of those, and ``T | None``.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
import types
import typing
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

T = TypeVar("T")
HELP = "help"

_SCALARS: tuple[type, ...] = (bool, int, float, str, Decimal, datetime.date)


def param(default: T, help: str) -> T:
    """A parameter field with its default and the sentence the docs print for it."""
    return dataclasses.field(default=default, metadata={HELP: help})


class ParamError(ValueError):
    """A parameter value of the wrong type or shape; ``key`` is its path under ``params``."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}")
        self.key = key
        self.message = message


def hints(params: type[Any]) -> dict[str, Any]:
    """The resolved type of each field of a parameter class."""
    return typing.get_type_hints(params)


def declaration_problems(params: type[Any]) -> list[str]:
    """What is wrong with a parameter class (for the registry); empty when it is fine."""
    if not dataclasses.is_dataclass(params) or not isinstance(params, type):
        return ["params must be a dataclass type"]
    if not params.__dataclass_params__.frozen:  # type: ignore[attr-defined]
        return ["params must be a frozen dataclass"]
    try:
        types_by_name = hints(params)
    except (NameError, TypeError) as exc:
        return [f"params annotations cannot be resolved: {exc}"]
    problems = []
    for field in dataclasses.fields(params):
        has_default = (
            field.default is not dataclasses.MISSING
            or field.default_factory is not dataclasses.MISSING
        )
        if not has_default:
            problems.append(f"parameter {field.name} has no default")
        if not _supported(types_by_name[field.name]):
            problems.append(f"parameter {field.name} has an unsupported type")
        if not str(field.metadata.get(HELP, "")).strip():
            problems.append(f"parameter {field.name} has no help text (use param(default, help))")
    return problems


def build_params(params: type[T], values: Mapping[str, object]) -> T:
    """An instance of ``params`` with ``values`` over the defaults; raises
    :class:`ParamError` for an unknown name or a value of the wrong type."""
    fields = {f.name: f for f in dataclasses.fields(params)}  # type: ignore[arg-type]
    types_by_name = hints(params)
    converted: dict[str, object] = {}
    for name, value in values.items():
        if name not in fields:
            known = ", ".join(sorted(fields)) or "none"
            raise ParamError(name, f"unknown parameter (known: {known})")
        converted[name] = convert(value, types_by_name[name], name)
    return params(**converted)


def describe_type(annotation: Any) -> str:
    """A reader's name for a parameter type: ``list of strings``, ``integer``, ..."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (types.UnionType, typing.Union):
        inner = [describe_type(a) for a in args if a is not type(None)]
        return " or ".join(inner) + " (or null)"
    if origin in (tuple, frozenset):
        return f"list of {_plural(describe_type(args[0]))}"
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return "one of " + ", ".join(str(m.value) for m in annotation)
    return _NAMES.get(annotation, getattr(annotation, "__name__", str(annotation)))


def render_value(value: object) -> str:
    """A default as the docs print it (sets sorted, enums by value)."""
    if isinstance(value, frozenset | set):
        return "[" + ", ".join(sorted(render_value(v) for v in value)) + "]"
    if isinstance(value, tuple | list):
        return "[" + ", ".join(render_value(v) for v in value) + "]"
    if isinstance(value, enum.Enum):
        return str(value.value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    return str(value)


def convert(value: object, annotation: Any, key: str) -> object:
    """``value`` (plain YAML data) as ``annotation``; :class:`ParamError` when it is not."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (types.UnionType, typing.Union):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return convert(value, inner[0], key)
    if origin in (tuple, frozenset):
        if not isinstance(value, list | tuple):
            raise ParamError(key, f"expected a {describe_type(annotation)}, got {_kind(value)}")
        items = [convert(v, args[0], f"{key}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else frozenset(items)
    return _scalar(value, annotation, key)


def _scalar(value: object, annotation: Any, key: str) -> object:
    expected = describe_type(annotation)
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        try:
            return annotation(value)
        except ValueError:
            raise ParamError(key, f"expected {expected}, got {value!r}") from None
    if annotation is bool:
        if isinstance(value, bool):
            return value
    elif annotation is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif annotation is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    elif annotation is str:
        if isinstance(value, str):
            return value
    elif annotation is Decimal:
        if isinstance(value, int | float | str) and not isinstance(value, bool):
            try:
                return Decimal(str(value))
            except InvalidOperation:
                pass
    elif annotation is datetime.date and isinstance(value, datetime.date):
        return value
    raise ParamError(key, f"expected {_article(expected)}, got {_kind(value)}")


def _supported(annotation: Any) -> bool:
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (types.UnionType, typing.Union):
        inner = [a for a in args if a is not type(None)]
        return len(inner) == 1 and _supported(inner[0])
    if origin is tuple:
        return len(args) == 2 and args[1] is Ellipsis and _supported(args[0])
    if origin is frozenset:
        return len(args) == 1 and _supported(args[0])
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return True
    return annotation in _SCALARS


_NAMES: dict[Any, str] = {
    bool: "boolean",
    int: "integer",
    float: "number",
    str: "string",
    Decimal: "decimal number",
    datetime.date: "date (YYYY-MM-DD)",
}


def _plural(name: str) -> str:
    return name if name.startswith(("one of", "list")) else f"{name}s"


def _article(name: str) -> str:
    if name.startswith(("one of", "list")):
        return name
    return f"an {name}" if name[0] in "aeiou" else f"a {name}"


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:40] + "..."
        return f"string {shown!r}"
    return f"{type(value).__name__} {value!r}"
