"""Whether a parsed document is a Kubernetes object the inventory can hold.

Called by :mod:`~assay.server.inventory.parse` for each document (and each item of a
``List``). An object is kept only when the fields every layer after it relies on are what
the API server would accept: ``apiVersion`` and ``kind`` well-formed strings, ``metadata`` a
mapping, ``metadata.name`` a valid name for its kind, ``metadata.namespace`` (when set) a
DNS label, and labels and annotations maps of strings. Anything else is a diagnostic and the
object is skipped, so a name of 312 MB, a NUL or ``namespace: [a, b]`` never reaches the
checks, the results or the database.

Name rules are the API server's: a DNS subdomain (at most 253 characters of ``a-z``,
``0-9``, ``-`` and ``.``) for most kinds, a path segment for the RBAC kinds (whose built-in
names hold colons, ``system:node``), and a DNS label (at most 63 characters) for a
namespace.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from assay.server.inventory.syntax import quote, type_name

MAX_NAME = 253
MAX_LABEL = 63

_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_KIND = re.compile(r"[A-Za-z]([-A-Za-z0-9]*[A-Za-z0-9])?")
_API_VERSION = re.compile(
    r"([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
    r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

# Kinds whose names the API server checks as path segments rather than DNS subdomains.
PATH_SEGMENT_KINDS = frozenset({"Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"})


def object_problem(obj: Any) -> str:
    """Why ``obj`` cannot be kept as a Kubernetes object ("" when it can)."""
    if not isinstance(obj, dict):
        return f"not a Kubernetes object: a {type_name(obj)}, not a mapping"
    missing = [f for f in ("apiVersion", "kind") if f not in obj or obj[f] in (None, "")]
    meta = obj.get("metadata")
    if meta is None:
        missing.append("metadata")
    elif isinstance(meta, dict) and meta.get("name") in (None, ""):
        missing.append("metadata.name")
    if missing:
        return f"missing {', '.join(missing)}"
    for field, pattern, limit in (
        ("apiVersion", _API_VERSION, MAX_NAME + 1 + MAX_LABEL),
        ("kind", _KIND, MAX_LABEL),
    ):
        problem = _string_problem(obj[field], pattern, limit)
        if problem:
            return f"{field} {problem}"
    if not isinstance(meta, dict):
        return f"metadata is a {type_name(meta)}, not a mapping"
    return _metadata_problem(obj["kind"], meta)


def _metadata_problem(kind: str, meta: dict[str, Any]) -> str:
    name = meta["name"]
    if kind in PATH_SEGMENT_KINDS:
        problem = _path_segment_problem(name)
    else:
        problem = _string_problem(name, _SUBDOMAIN, MAX_NAME, rule=_DNS_RULE)
    if problem:
        return f"metadata.name {problem}"
    namespace = meta.get("namespace")
    if namespace not in (None, ""):
        problem = _string_problem(namespace, _LABEL, MAX_LABEL, rule=_DNS_RULE)
        if problem:
            return f"metadata.namespace {problem}"
    for field in ("labels", "annotations"):
        problem = _string_map_problem(meta.get(field))
        if problem:
            return f"metadata.{field} {problem}"
    return ""


_DNS_RULE = "lower-case letters, digits, '-' and '.', starting and ending with a letter or digit"


def _string_problem(value: Any, pattern: re.Pattern[str], limit: int, rule: str = "") -> str:
    if not isinstance(value, str):
        return f"is a {type_name(value)}, not a string"
    if len(value) > limit:
        return f"{quote(value)} is longer than {limit} characters"
    if "\x00" in value:
        return f"{quote(value)} holds a NUL character"
    if not pattern.fullmatch(value):
        return f"{quote(value)} is not valid" + (f" (it takes {rule})" if rule else "")
    return ""


def _path_segment_problem(name: Any) -> str:
    if not isinstance(name, str):
        return f"is a {type_name(name)}, not a string"
    if len(name) > MAX_NAME:
        return f"{quote(name)} is longer than {MAX_NAME} characters"
    if name in (".", "..") or "/" in name or "%" in name or _CONTROL.search(name):
        return f"{quote(name)} is not valid (no '/', '%' or control characters, not '.' or '..')"
    return ""


def _string_map_problem(value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, Mapping):
        return f"is a {type_name(value)}, not a mapping"
    for key, item in value.items():
        if not isinstance(key, str):
            return f"has a key that is a {type_name(key)}, not a string"
        if item is not None and not isinstance(item, str):
            return f"{quote(key)} is a {type_name(item)}, not a string"
    return ""
