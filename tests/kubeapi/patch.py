"""PATCH bodies: JSON merge patch (RFC 7386) and JSON patch (RFC 6902 over RFC 6901 pointers).

The server applies these to the stored object for PATCH requests. Strategic merge patch
(accepted for built-in resources only, as on a real server) is applied as a merge patch:
lists are replaced rather than merged by key, a documented simplification (`server.py`).
"""

from __future__ import annotations

import copy
from typing import Any

MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
JSON_PATCH = "application/json-patch+json"


class PatchError(Exception):
    """The patch is well-formed JSON but cannot be applied (the API server says 422)."""


class PatchTestFailed(PatchError):
    """A JSON patch `test` operation did not hold."""


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge recursively, `null` deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _decode_pointer(pointer: str) -> list[str]:
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise PatchError(f"JSON pointer {pointer!r} must start with '/'")
    # RFC 6901: ~1 is '/', ~0 is '~', decoded in that order.
    return [token.replace("~1", "/").replace("~0", "~") for token in pointer[1:].split("/")]


def _array_index(container: list[Any], token: str, *, for_insert: bool) -> int:
    if for_insert and token == "-":
        return len(container)
    if not token.isdigit() or (len(token) > 1 and token.startswith("0")):
        raise PatchError(f"invalid array index {token!r}")
    index = int(token)
    limit = len(container) if for_insert else len(container) - 1
    if index > limit:
        raise PatchError(f"array index {index} out of bounds")
    return index


def _parent(doc: Any, tokens: list[str], pointer: str) -> Any:
    current = doc
    for token in tokens[:-1]:
        if isinstance(current, dict):
            if token not in current:
                raise PatchError(f"path {pointer!r} not found")
            current = current[token]
        elif isinstance(current, list):
            current = current[_array_index(current, token, for_insert=False)]
        else:
            raise PatchError(f"path {pointer!r} not found")
    return current


def _get(doc: Any, pointer: str) -> Any:
    tokens = _decode_pointer(pointer)
    if not tokens:
        return doc
    parent, last = _parent(doc, tokens, pointer), tokens[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise PatchError(f"path {pointer!r} not found")
        return parent[last]
    if isinstance(parent, list):
        return parent[_array_index(parent, last, for_insert=False)]
    raise PatchError(f"path {pointer!r} not found")


def _add(doc: Any, pointer: str, value: Any) -> Any:
    tokens = _decode_pointer(pointer)
    if not tokens:
        return value
    parent, last = _parent(doc, tokens, pointer), tokens[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        parent.insert(_array_index(parent, last, for_insert=True), value)
    else:
        raise PatchError(f"path {pointer!r} not found")
    return doc


def _remove(doc: Any, pointer: str) -> tuple[Any, Any]:
    """Remove the value at pointer; returns (document, removed value)."""
    tokens = _decode_pointer(pointer)
    if not tokens:
        raise PatchError("cannot remove the whole document")
    parent, last = _parent(doc, tokens, pointer), tokens[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise PatchError(f"path {pointer!r} not found")
        return doc, parent.pop(last)
    if isinstance(parent, list):
        return doc, parent.pop(_array_index(parent, last, for_insert=False))
    raise PatchError(f"path {pointer!r} not found")


def _replace(doc: Any, pointer: str, value: Any) -> Any:
    """Replace in place (keeps key order); the target must already exist."""
    tokens = _decode_pointer(pointer)
    if not tokens:
        return value
    parent, last = _parent(doc, tokens, pointer), tokens[-1]
    if isinstance(parent, dict) and last in parent:
        parent[last] = value
    elif isinstance(parent, list):
        parent[_array_index(parent, last, for_insert=False)] = value
    else:
        raise PatchError(f"path {pointer!r} not found")
    return doc


def _required(operation: dict[str, Any], member: str) -> Any:
    if member not in operation:
        raise PatchError(f"operation {operation.get('op')!r} is missing {member!r}")
    return operation[member]


def apply_json_patch(document: Any, operations: Any) -> Any:
    """RFC 6902. Operations apply in order to a copy; any failure leaves the input intact."""
    if not isinstance(operations, list):
        raise PatchError("a JSON patch must be an array of operations")
    doc = copy.deepcopy(document)
    for operation in operations:
        if not isinstance(operation, dict):
            raise PatchError("each JSON patch operation must be an object")
        op, path = operation.get("op"), _required(operation, "path")
        if not isinstance(path, str):
            raise PatchError("'path' must be a string")
        if op == "add":
            doc = _add(doc, path, copy.deepcopy(_required(operation, "value")))
        elif op == "remove":
            doc, _ = _remove(doc, path)
        elif op == "replace":
            doc = _replace(doc, path, copy.deepcopy(_required(operation, "value")))
        elif op == "move":
            source = _required(operation, "from")
            if path.startswith(source + "/"):
                raise PatchError(f"cannot move {source!r} into its own child {path!r}")
            doc, value = _remove(doc, source)
            doc = _add(doc, path, value)
        elif op == "copy":
            doc = _add(doc, path, copy.deepcopy(_get(doc, _required(operation, "from"))))
        elif op == "test":
            expected = _required(operation, "value")
            actual = _get(doc, path)
            if not json_equal(actual, expected):
                raise PatchTestFailed(
                    f"testing value {path} failed: expected {expected!r}, found {actual!r}"
                )
        else:
            raise PatchError(f"unknown JSON patch operation {op!r}")
    return doc


def json_equal(left: Any, right: Any) -> bool:
    """JSON equality: unlike Python, `true` is not `1` and `1` equals `1.0`."""
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool) and left == right
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(json_equal(left[k], right[k]) for k in left)
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(map(json_equal, left, right))
    if isinstance(left, int | float) and isinstance(right, int | float):
        return left == right
    return type(left) is type(right) and bool(left == right)
