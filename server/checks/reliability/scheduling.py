"""Reliability checks on scheduling priority: critical workloads without a PriorityClass and
references to PriorityClasses that do not exist (REL-009). Listed in the pillar's ``CHECKS``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from assay.server.checks.kit import (
    Applicability,
    CheckDefinition,
    Context,
    Verdict,
    fail,
    ok,
    param,
    per_workload,
    warn,
)
from assay.server.checks.kit.params import ParamError
from assay.server.checks.kit.text import shown
from assay.server.core.types import Pillar, Severity, Source
from assay.server.inventory import WORKLOAD_KINDS, Inventory, Workload
from assay.server.inventory.raw import int_or_none, name_of

PRIORITY_CLASS = "PriorityClass"
BUILTIN_CLASSES = frozenset({"system-cluster-critical", "system-node-critical"})
"""Created by the API server itself, so never in manifests but always there."""
CRITICAL = "assay.kubernaut.ai/critical=true"


def _validate(field: str, entries: frozenset[str]) -> None:
    for entry in entries:
        key = entry.partition("=")[0]
        if not key or key != key.strip() or len(key) > 317:
            raise ParamError(field, f"{shown(entry)} is not key or key=value")


@dataclass(frozen=True)
class PriorityParams:
    critical_labels: frozenset[str] = param(
        frozenset({CRITICAL}),
        "a workload whose labels (on the object or its pod template) match any entry counts "
        "as critical: key=value, or key alone for any value",
    )
    critical_annotations: frozenset[str] = param(
        frozenset({CRITICAL}),
        "the same, matched against the object's and its pod template's annotations",
    )

    def __post_init__(self) -> None:
        _validate("critical_labels", self.critical_labels)
        _validate("critical_annotations", self.critical_annotations)


def critical_because(workload: Workload, params: PriorityParams) -> str | None:
    """The label or annotation that makes ``workload`` critical, or ``None``."""
    sources: tuple[tuple[str, frozenset[str], tuple[Mapping[str, str], ...]], ...] = (
        ("label", params.critical_labels, (workload.object_labels, workload.labels)),
        (
            "annotation",
            params.critical_annotations,
            (workload.object_annotations, workload.template_annotations),
        ),
    )
    for what, entries, maps in sources:
        for entry in sorted(entries):
            key, sep, value = entry.partition("=")
            if any((m.get(key) == value) if sep else key in m for m in maps):
                return f"{what} {entry}"
    return None


def _judged(workload: Workload, ctx: Context[Any]) -> bool:
    name = workload.pod_spec.get("priorityClassName")
    return (isinstance(name, str) and bool(name)) or critical_because(
        workload, ctx.params
    ) is not None


REL_009 = CheckDefinition(
    id="REL-009",
    pillar=Pillar.RELIABILITY,
    name="PriorityClass",
    description=(
        "Without a PriorityClass a critical workload has the same priority as everything "
        "else: the scheduler may preempt it for any pending pod and the kubelet evicts it as "
        "readily under node pressure. A priorityClassName naming no PriorityClass is worse: "
        "the API server rejects every pod of the workload."
    ),
    severity=Severity.LOW,
    scope="W/X",
    remediation=(
        "Create a PriorityClass for critical workloads (value above the default, e.g. "
        "1000000, preemptionPolicy as you need) and set spec.template.spec.priorityClassName "
        "to it; fix names that refer to no PriorityClass (kubectl get priorityclasses lists "
        "them, system-cluster-critical and system-node-critical always exist)."
    ),
    kinds=(*WORKLOAD_KINDS, PRIORITY_CLASS),
    applies_to=Applicability(
        "workloads that name a PriorityClass, and workloads marked critical by a label or "
        "annotation (the critical_labels and critical_annotations parameters)",
        _judged,
    ),
    params=PriorityParams,
    notes=(
        "Softer than Polaris' priorityClassNotSet, which asks every pod for a class: only "
        "workloads marked critical must have one. Unlike kube-linter's priority-class-name, "
        "which accepts only names from a configured list, a name passes when that "
        "PriorityClass exists.",
        "On manifests that hold no PriorityClass at all, a name that is not built in gives "
        "a warning rather than a failure: the class is usually defined by the cluster, not "
        "by the application's manifests.",
    ),
)


@per_workload(REL_009)
def priority_class(workload: Workload, ctx: Context[PriorityParams]) -> Verdict:
    inventory = ctx.inventory
    name = workload.pod_spec.get("priorityClassName")
    if isinstance(name, str) and name:
        if name in BUILTIN_CLASSES:
            return ok(f"priorityClassName {name} (built in)")
        found = inventory.get(PRIORITY_CLASS, "", name)
        if found is not None:
            return ok(f"priorityClassName {name} (value {shown(found.get('value'))})")
        if inventory.source is Source.LIVE or inventory.objects(PRIORITY_CLASS):
            return fail(
                f"priorityClassName {shown(name)} names no PriorityClass: the API server "
                "rejects its pods"
            )
        return warn(
            f"priorityClassName {shown(name)} is not defined in these manifests (they hold no "
            "PriorityClass): make sure the cluster has it, or its pods are rejected"
        )
    because = critical_because(workload, ctx.params)
    return fail(f"marked critical ({because}) but sets no priorityClassName: {_default(inventory)}")


def _default(inventory: Inventory) -> str:
    for cls in inventory.objects(PRIORITY_CLASS):
        if cls.get("globalDefault") is True:
            value = int_or_none(cls.get("value"))
            return f"its pods get the global default {name_of(cls)} (value {value})"
    return "its pods get priority 0, like every other pod"


CHECKS = (priority_class,)
