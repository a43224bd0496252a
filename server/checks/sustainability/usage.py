"""Sustainability checks on measured usage (the metrics API): nodes that mostly idle."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from assay.server.checks.kit import (
    Applicability,
    CheckDefinition,
    Context,
    Finding,
    check,
    param,
    ref_of,
)
from assay.server.checks.kit.metrics import node_usage
from assay.server.checks.kit.params import ParamError
from assay.server.checks.kit.quantity import format_amount
from assay.server.checks.kit.resources import COMPUTE
from assay.server.checks.kit.scheduling import allocatable, is_schedulable
from assay.server.core.types import Pillar, Severity
from assay.server.inventory import Inventory
from assay.server.inventory.raw import KubeObject, labels_of

CONTROL_PLANE_LABELS = ("node-role.kubernetes.io/control-plane", "node-role.kubernetes.io/master")


@dataclass(frozen=True)
class LowUtilizationParams:
    cpu_threshold: Decimal = param(
        Decimal("0.2"),
        "share of allocatable CPU below which a node counts as idle (it fails when its memory "
        "is idle too)",
    )
    memory_threshold: Decimal = param(
        Decimal("0.2"),
        "share of allocatable memory below which a node counts as idle (it fails when its CPU "
        "is idle too)",
    )
    min_nodes: int = param(
        2, "worker nodes a cluster needs before any is a consolidation candidate"
    )

    def __post_init__(self) -> None:
        for name in ("cpu_threshold", "memory_threshold"):
            value = getattr(self, name)
            if not 0 < value <= 1:
                raise ParamError(name, f"must be above 0 and at most 1, got {value}")


def worker_nodes(inventory: Inventory) -> list[KubeObject]:
    """Uncordoned nodes that are not control-plane nodes."""
    return [
        n
        for n in inventory.objects("Node")
        if is_schedulable(n) and not any(label in labels_of(n) for label in CONTROL_PLANE_LABELS)
    ]


def _enough_workers(inventory: Inventory, ctx: Context[Any]) -> bool:
    params: LowUtilizationParams = ctx.params
    return len(worker_nodes(inventory)) >= params.min_nodes


SUS_002 = CheckDefinition(
    id="SUS-002",
    pillar=Pillar.SUSTAINABILITY,
    name="Low node utilization",
    description=(
        "A node that uses little of its CPU and memory still draws most of its power: its "
        "pods could usually run on the other nodes and the node be removed."
    ),
    severity=Severity.LOW,
    scope="M",
    remediation=(
        "Drain the node and let its pods move (kubectl drain), then remove it; better, let "
        "the cluster autoscaler scale down (scale-down-utilization-threshold) or Karpenter "
        "consolidate, and check that PodDisruptionBudgets and local storage allow it."
    ),
    kinds=("Node", "NodeMetrics"),
    applies_to=Applicability(
        "uncordoned worker nodes (not control-plane) of clusters with at least min_nodes",
        _enough_workers,
    ),
    params=LowUtilizationParams,
    notes=(
        "A node is a candidate only when both CPU and memory are below their thresholds, "
        "measured against status.allocatable. metrics-server gives one sample per node (a "
        "point in time, which every message says): check usage over a full business cycle "
        "before removing capacity.",
    ),
)


@check(SUS_002)
def low_node_utilization(ctx: Context[Any]) -> Iterator[Finding]:
    params: LowUtilizationParams = ctx.params
    inventory = ctx.inventory
    if not SUS_002.applies_to.applies(inventory, ctx):
        return
    thresholds = {"cpu": params.cpu_threshold, "memory": params.memory_threshold}
    for node in worker_nodes(inventory):
        ref = ref_of("Node", node)
        measured = node_usage(inventory, ref.name)
        if measured is None:
            yield Finding.skipped(ref, "no NodeMetrics sample (node not ready or not scraped)")
            continue
        capacity = allocatable(node)
        shares: dict[str, Decimal] = {}
        for resource in COMPUTE:
            used = measured.usage.get(resource)
            if used is not None and capacity[resource]:
                shares[resource] = used / capacity[resource]
        if len(shares) < len(COMPUTE):
            yield Finding.skipped(ref, "no usable cpu and memory usage or allocatable")
            continue
        text = " and ".join(
            f"{r} {format_amount(r, measured.usage.get(r) or Decimal(0))} of "
            f"{format_amount(r, capacity[r])} ({shares[r]:.0%})"
            for r in COMPUTE
        )
        if all(shares[r] < thresholds[r] for r in COMPUTE):
            yield Finding.failing(
                ref,
                f"uses {text}: a consolidation candidate ({measured.sample.caveat})",
            )
        else:
            yield Finding.passing(ref, f"uses {text} ({measured.sample.caveat})")


CHECKS = (low_node_utilization,)
