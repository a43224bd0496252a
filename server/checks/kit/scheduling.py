"""Where the scheduler may place a pod: node selectors, required node affinity, taints and
tolerations, read the way kube-scheduler reads them.

* ``nodeSelector``: every label must be on the node with that value;
* ``affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution``: the
  ``nodeSelectorTerms`` are ORed, each term's ``matchExpressions`` and ``matchFields`` are
  ANDed (``In``, ``NotIn``, ``Exists``, ``DoesNotExist``, ``Gt``, ``Lt``; fields only
  ``metadata.name``); an empty term matches no node;
* a toleration tolerates a taint when its effect is empty or equal, its key is empty or
  equal, and its operator is ``Exists`` or (``Equal``, the default) its value is equal;
  ``NoSchedule`` and ``NoExecute`` taints keep untolerating pods off a node.

Pure functions over raw objects; :class:`Placement` is a pod spec's constraints, hashable so
that checks judge each distinct set of constraints once, not once per workload.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from assay.server.checks.kit.quantity import quantity_or_none
from assay.server.inventory.raw import KubeObject, as_mappings, dig, labels_of, name_of, string_map

BLOCKING_EFFECTS = frozenset({"NoSchedule", "NoExecute"})
_INTEGER = re.compile(r"[+-]?[0-9]{1,20}")


@dataclass(frozen=True, slots=True)
class Taint:
    key: str
    value: str
    effect: str

    def __str__(self) -> str:
        value = f"={self.value}" if self.value else ""
        return f"{self.key}{value}:{self.effect}"


@dataclass(frozen=True, slots=True)
class Toleration:
    key: str
    operator: str
    value: str
    effect: str

    def tolerates(self, taint: Taint) -> bool:
        if self.effect and self.effect != taint.effect:
            return False
        if self.key and self.key != taint.key:
            return False
        if self.operator in ("", "Equal"):
            return self.value == taint.value
        return self.operator == "Exists"


def taints_of(node: KubeObject) -> tuple[Taint, ...]:
    return tuple(
        Taint(str(t.get("key") or ""), str(t.get("value") or ""), str(t.get("effect") or ""))
        for t in as_mappings(dig(node, "spec").get("taints"))
    )


def tolerations_of(pod_spec: KubeObject) -> tuple[Toleration, ...]:
    return tuple(
        Toleration(
            str(t.get("key") or ""),
            str(t.get("operator") or ""),
            str(t.get("value") or ""),
            str(t.get("effect") or ""),
        )
        for t in as_mappings(pod_spec.get("tolerations"))
    )


def tolerated(tolerations: Iterable[Toleration], taint: Taint) -> bool:
    return any(t.tolerates(taint) for t in tolerations)


@dataclass(frozen=True, slots=True)
class Placement:
    """A pod spec's placement constraints, as a hashable value with a readable form."""

    node_selector: tuple[tuple[str, str], ...]
    required_terms: str | None
    """The JSON of ``nodeSelectorTerms`` when required node affinity is set."""
    tolerations: tuple[Toleration, ...]

    @classmethod
    def of(cls, pod_spec: KubeObject) -> Placement:
        required = dig(
            pod_spec, "affinity", "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution"
        )
        terms = None
        if "nodeSelectorTerms" in required:
            terms = json.dumps(required.get("nodeSelectorTerms"), sort_keys=True, default=str)
        selector = tuple(sorted(string_map(pod_spec.get("nodeSelector")).items()))
        return cls(selector, terms, tolerations_of(pod_spec))

    @property
    def constrained(self) -> bool:
        """Whether the pod restricts which nodes it may run on at all."""
        return bool(self.node_selector) or self.required_terms is not None

    def describe(self) -> str:
        parts = []
        if self.node_selector:
            pairs = ", ".join(f"{k}={v}" for k, v in self.node_selector)
            parts.append(f"nodeSelector {pairs}")
        if self.required_terms is not None:
            parts.append("required nodeAffinity")
        return " and ".join(parts) or "no node constraint"

    def selects(self, node: KubeObject) -> bool:
        """Whether the node's labels (and name) satisfy the selector and required affinity."""
        labels = labels_of(node)
        if any(labels.get(key) != value for key, value in self.node_selector):
            return False
        if self.required_terms is None:
            return True
        name = name_of(node)
        return any(_term_matches(term, labels, name) for term in _terms(self.required_terms))

    def blocking_taints(self, node: KubeObject) -> list[Taint]:
        """The node's NoSchedule/NoExecute taints these tolerations do not tolerate."""
        return [
            taint
            for taint in taints_of(node)
            if taint.effect in BLOCKING_EFFECTS and not tolerated(self.tolerations, taint)
        ]


@functools.lru_cache(maxsize=1024)
def _terms(text: str) -> list[KubeObject]:
    return as_mappings(json.loads(text))


def _term_matches(term: KubeObject, labels: Mapping[str, str], node_name: str) -> bool:
    expressions = as_mappings(term.get("matchExpressions"))
    fields = as_mappings(term.get("matchFields"))
    if not expressions and not fields:
        return False
    if not all(_requirement(e, labels) for e in expressions):
        return False
    return all(_field_requirement(f, node_name) for f in fields)


def _requirement(expression: KubeObject, labels: Mapping[str, str]) -> bool:
    key = str(expression.get("key") or "")
    operator = expression.get("operator")
    raw = expression.get("values")
    values = [str(v) for v in raw] if isinstance(raw, list) else []
    present = key in labels
    if operator == "In":
        return present and labels[key] in values
    if operator == "NotIn":
        return not present or labels[key] not in values
    if operator == "Exists":
        return present
    if operator == "DoesNotExist":
        return not present
    if operator in ("Gt", "Lt") and present and len(values) == 1:
        label, bound = _integer(labels[key]), _integer(values[0])
        if label is None or bound is None:
            return False
        return label > bound if operator == "Gt" else label < bound
    return False


def _field_requirement(expression: KubeObject, node_name: str) -> bool:
    if expression.get("key") != "metadata.name":
        return False
    raw = expression.get("values")
    values = [str(v) for v in raw] if isinstance(raw, list) else []
    if expression.get("operator") == "In":
        return node_name in values
    if expression.get("operator") == "NotIn":
        return node_name not in values
    return False


def _integer(text: str) -> int | None:
    """A label value as kube-scheduler parses it for Gt/Lt (a 64-bit decimal integer)."""
    if _INTEGER.fullmatch(text) is None:
        return None
    value = int(text)
    return value if -(2**63) <= value < 2**63 else None


CONTROL_PLANE_ROLES = ("node-role.kubernetes.io/control-plane", "node-role.kubernetes.io/master")
"""Node role labels (and taint keys) of control-plane nodes; master is the pre-1.24 name."""


def is_control_plane(node: KubeObject) -> bool:
    """A node labelled with a control-plane role."""
    labels = labels_of(node)
    return any(role in labels for role in CONTROL_PLANE_ROLES)


def is_schedulable(node: KubeObject) -> bool:
    """Not cordoned (``spec.unschedulable``)."""
    return dig(node, "spec").get("unschedulable") is not True


def allocatable(
    node: KubeObject, resources: Iterable[str] = ("cpu", "memory")
) -> dict[str, Decimal]:
    """The node's ``status.allocatable`` by resource (malformed or missing values are 0)."""
    values = dig(node, "status", "allocatable")
    return {r: max(quantity_or_none(values.get(r)) or Decimal(0), Decimal(0)) for r in resources}
