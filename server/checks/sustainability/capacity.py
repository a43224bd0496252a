"""Sustainability checks on provisioned capacity: how much of it pods reserve."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
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
)
from assay.server.checks.kit.podspec import format_bytes, format_cores, pod_request
from assay.server.checks.kit.quantity import quantity_or_none
from assay.server.core.types import Pillar, Severity
from assay.server.inventory import Inventory
from assay.server.inventory.raw import KubeObject, dig

_FINISHED_PHASES = frozenset({"Succeeded", "Failed"})
_RESOURCES = ("cpu", "memory")


@dataclass(frozen=True)
class IdleCapacityParams:
    min_reserved_ratio: Decimal = param(
        Decimal("0.15"),
        "share of allocatable CPU or memory that running pods must request to pass",
    )
    min_nodes: int = param(
        3,
        "schedulable nodes a cluster needs before the ratio is judged (smaller ones cannot "
        "shrink meaningfully)",
    )


def schedulable_nodes(inventory: Inventory) -> list[KubeObject]:
    return [n for n in inventory.objects("Node") if dig(n, "spec").get("unschedulable") is not True]


def _large_enough(inventory: Inventory, ctx: Context[IdleCapacityParams]) -> bool:
    return len(schedulable_nodes(inventory)) >= ctx.params.min_nodes


SUS_001 = CheckDefinition(
    id="SUS-001",
    pillar=Pillar.SUSTAINABILITY,
    name="Idle reserved capacity",
    description=(
        "When running pods request only a small share of what the nodes can allocate, most "
        "of the provisioned (and powered) capacity sits idle."
    ),
    severity=Severity.LOW,
    scope="C+L",
    remediation=(
        "Consolidate onto fewer or smaller nodes: enable the cluster autoscaler's scale-down "
        "(or Karpenter consolidation), lower the node pool's minimum size, and pick instance "
        "sizes closer to the pods' requests."
    ),
    kinds=("Node", "Pod"),
    applies_to=Applicability(
        "the cluster, when it has at least min_nodes schedulable nodes", _large_enough
    ),
    params=IdleCapacityParams,
)


def _total(nodes: Sequence[KubeObject], resource: str) -> Decimal:
    return sum(
        (
            quantity_or_none(dig(n, "status", "allocatable").get(resource)) or Decimal(0)
            for n in nodes
        ),
        Decimal(0),
    )


@check(SUS_001)
def idle_capacity(ctx: Context[Any]) -> Iterator[Finding]:
    params: IdleCapacityParams = ctx.params
    if not SUS_001.applies_to.applies(ctx.inventory, ctx):
        return
    nodes = schedulable_nodes(ctx.inventory)
    allocatable = {resource: _total(nodes, resource) for resource in _RESOURCES}
    if not allocatable["cpu"] or not allocatable["memory"]:
        yield Finding.skipped(None, "nodes report no allocatable cpu or memory")
        return
    requested = dict.fromkeys(_RESOURCES, Decimal(0))
    for pod in ctx.inventory.objects("Pod"):
        if dig(pod, "status").get("phase") in _FINISHED_PHASES:
            continue
        spec = dig(pod, "spec")
        for resource in _RESOURCES:
            requested[resource] += pod_request(spec, resource)
    ratio = {r: requested[r] / allocatable[r] for r in _RESOURCES}
    message = (
        f"pods request {format_cores(requested['cpu'])} of {format_cores(allocatable['cpu'])} "
        f"({ratio['cpu']:.1%}) and {format_bytes(requested['memory'])} of "
        f"{format_bytes(allocatable['memory'])} ({ratio['memory']:.1%}) across {len(nodes)} nodes"
    )
    floor = params.min_reserved_ratio
    idle = [r for r in _RESOURCES if ratio[r] < floor]
    if idle:
        yield Finding.failing(None, f"{message}: {' and '.join(idle)} below {floor:.0%} reserved")
    else:
        yield Finding.passing(None, message)


CHECKS = (idle_capacity,)
