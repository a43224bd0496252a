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
from assay.server.checks.kit.metrics import NO_NODE_SAMPLE, node_shares
from assay.server.checks.kit.params import ParamError
from assay.server.checks.kit.resources import COMPUTE
from assay.server.checks.kit.scheduling import is_control_plane, is_schedulable
from assay.server.core.types import Pillar, Severity
from assay.server.inventory import Inventory
from assay.server.inventory.raw import KubeObject


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
    return [n for n in inventory.objects("Node") if is_schedulable(n) and not is_control_plane(n)]


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
        measured = node_shares(inventory, node)
        if measured is None:
            yield Finding.skipped(ref, NO_NODE_SAMPLE)
            continue
        usage, shares = measured
        if len(shares) < len(COMPUTE):
            yield Finding.skipped(ref, "no usable cpu and memory usage or allocatable")
            continue
        text = " and ".join(share.text() for share in shares)
        if all(share.ratio < thresholds[share.resource] for share in shares):
            yield Finding.failing(
                ref, f"uses {text}: a consolidation candidate ({usage.sample.caveat})"
            )
        else:
            yield Finding.passing(ref, f"uses {text} ({usage.sample.caveat})")


CHECKS = (low_node_utilization,)
