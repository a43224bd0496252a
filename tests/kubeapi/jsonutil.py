"""JSON document helpers shared by every module of the Kubernetes API test double.

Objects inside the double are plain JSON-compatible dicts, exactly as they travel on the
wire; these helpers copy them, read dotted paths and stamp API-server timestamps.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any, TypeAlias

JsonObject: TypeAlias = dict[str, Any]


def deep_copy(obj: JsonObject) -> JsonObject:
    """Copy an object so that callers can never alias the stored version."""
    return copy.deepcopy(obj)


def now_rfc3339() -> str:
    """Current time the way the API server writes metav1.Time: second precision, `Z`."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def metadata(obj: JsonObject) -> JsonObject:
    """The object's metadata dict, created if absent so callers can write into it."""
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        meta = {}
        obj["metadata"] = meta
    return meta


def get_path(obj: JsonObject, dotted: str) -> Any:
    """Value at a dotted path such as `spec.nodeName`, or None when any step is missing."""
    current: Any = obj
    for part in dotted.split("."):
        if not isinstance(current, dict):
            return None
        current = current.get(part)
    return current
