"""Deterministic names and label values: PipelineRun names, lock Lease names, sanitised labels.

Determinism is what makes the reconciler idempotent: a retried reconcile computes the same
PipelineRun name (so a create that already happened returns AlreadyExists and is adopted),
and every replica computes the same Lease name for a target (so the lock is one object).
Used by :mod:`.tekton` (PipelineRun names and labels) and :mod:`.lock` (Lease names).
"""

from __future__ import annotations

import hashlib
import re

LABEL_VALUE_MAX = 63
_HASH_LEN = 10
_LABEL_INVALID = re.compile(r"[^-A-Za-z0-9_.]")
_DNS_INVALID = re.compile(r"[^-a-z0-9]")
_EDGE_NON_ALNUM_LEFT = re.compile(r"^[^A-Za-z0-9]+")
_EDGE_NON_ALNUM_RIGHT = re.compile(r"[^A-Za-z0-9]+$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


def digest(*parts: str) -> str:
    """Hex SHA-256 of the parts, unambiguously joined."""
    h = hashlib.sha256()
    for part in parts:
        encoded = part.encode()
        h.update(len(encoded).to_bytes(4, "big"))
        h.update(encoded)
    return h.hexdigest()


def _trim_edges(value: str) -> str:
    return _EDGE_NON_ALNUM_RIGHT.sub("", _EDGE_NON_ALNUM_LEFT.sub("", value))


def is_label_value(value: str) -> bool:
    return len(value) <= LABEL_VALUE_MAX and bool(_LABEL_VALUE.match(value))


def sanitize_label_value(value: str) -> str:
    """Map any string to a valid label value (<= 63 chars, alphanumeric at both ends).

    Invalid characters become ``-``. A value that has to be truncated keeps a readable prefix
    and ends with ``-<10 hex chars of its hash>``, so distinct long values stay distinct.
    """
    if is_label_value(value):
        return value
    cleaned = _trim_edges(_LABEL_INVALID.sub("-", value))
    if len(cleaned) <= LABEL_VALUE_MAX and cleaned:
        return cleaned
    suffix = digest(value)[:_HASH_LEN]
    if not cleaned:
        return suffix
    prefix = _trim_edges(cleaned[: LABEL_VALUE_MAX - _HASH_LEN - 1])
    return f"{prefix}-{suffix}" if prefix else suffix


def pipelinerun_name(*, namespace: str, name: str, uid: str) -> str:
    """The one PipelineRun name for a WorkflowExecution (a DNS label, <= 63 characters).

    The uid is part of the hash: a WorkflowExecution deleted and re-created under the same
    name gets a new PipelineRun rather than adopting the old one.
    """
    readable = _trim_edges(_DNS_INVALID.sub("-", name.lower()))[:40].rstrip("-")
    suffix = digest(namespace, name, uid)[:_HASH_LEN]
    return f"{readable}-{suffix}" if readable else f"wfe-{suffix}"


def lock_lease_name(*, cluster_id: str, target: str, slot: int = 0) -> str:
    """The Lease name that locks ``target`` in ``cluster_id``.

    ``slot`` > 0 only after a hash collision with a different target (see :mod:`.lock`).
    """
    base = f"wfe-lock-{digest(cluster_id, target)[:32]}"
    return base if slot == 0 else f"{base}-{slot}"


def target_hash(target: str) -> str:
    """A short label-safe hash of a target, for exact-match label selectors."""
    return digest(target)[:32]
