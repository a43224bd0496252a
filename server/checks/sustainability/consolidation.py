"""Sustainability checks on consolidation: many tiny single-replica Deployments."""

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
)
from assay.server.checks.kit.params import ParamError
from assay.server.checks.kit.quantity import quantity_param
from assay.server.checks.kit.resources import limit_range_defaults, pod_requests
from assay.server.checks.kit.system_objects import SYSTEM_NAMESPACES
from assay.server.core.types import ObjectRef, Pillar, Severity
from assay.server.inventory import Inventory, Workload

_LISTED = 5


@dataclass(frozen=True)
class SprawlParams:
    min_sprawl: int = param(
        10, "a namespace with at least this many tiny single-replica Deployments fails"
    )
    tiny_cpu: str = param(
        "100m",
        "per-pod CPU request (a quantity) up to which a Deployment is tiny, with tiny_memory",
    )
    tiny_memory: str = param(
        "128Mi",
        "per-pod memory request (a quantity) up to which a Deployment is tiny, with tiny_cpu",
    )
    ignored_namespaces: frozenset[str] = param(
        SYSTEM_NAMESPACES, "namespaces not judged (cluster add-ons sized by their vendor)"
    )

    def __post_init__(self) -> None:
        if self.min_sprawl < 2:
            raise ParamError("min_sprawl", f"must be at least 2, got {self.min_sprawl}")
        quantity_param("tiny_cpu", self.tiny_cpu)
        quantity_param("tiny_memory", self.tiny_memory)


def _deployments(inventory: Inventory, ignored: frozenset[str]) -> dict[str, list[Workload]]:
    found: dict[str, list[Workload]] = {}
    for workload in inventory.workloads():
        if workload.kind == "Deployment" and workload.namespace not in ignored:
            found.setdefault(workload.namespace, []).append(workload)
    return found


def _has_deployments(inventory: Inventory, ctx: Context[Any]) -> bool:
    return bool(_deployments(inventory, ctx.params.ignored_namespaces))


SUS_003 = CheckDefinition(
    id="SUS-003",
    pillar=Pillar.SUSTAINABILITY,
    name="Replica sprawl",
    description=(
        "Many tiny Deployments of one replica each pay the fixed cost of a pod every time "
        "(sidecars, agents, runtime overhead, scheduling slack): in a namespace with dozens "
        "of them, merging services or moving them to a shared runtime saves capacity."
    ),
    severity=Severity.INFO,
    scope="N",
    remediation=(
        "Review the namespace's tiny single-replica Deployments: merge the ones that belong "
        "together, move rarely-used ones to scale-to-zero (KEDA, Knative) or CronJobs, and "
        "delete the ones nobody uses."
    ),
    kinds=("Deployment", "HorizontalPodAutoscaler", "ScaledObject", "LimitRange"),
    applies_to=Applicability(
        "namespaces with Deployments, except ignored_namespaces", _has_deployments
    ),
    params=SprawlParams,
    notes=(
        "A Deployment counts when it runs exactly one replica, no autoscaler targets it, and "
        "its pod requests (LimitRange defaults included) are at most tiny_cpu and "
        "tiny_memory; one without requests counts as tiny.",
    ),
)


def _tiny(inventory: Inventory, workload: Workload, cpu: Decimal, memory: Decimal) -> bool:
    if workload.replicas != 1:
        return False
    if inventory.scalers_targeting(workload.kind, workload.namespace, workload.name):
        return False
    requests = pod_requests(workload.pod_spec, limit_range_defaults(inventory, workload.namespace))
    return requests["cpu"] <= cpu and requests["memory"] <= memory


@check(SUS_003)
def replica_sprawl(ctx: Context[Any]) -> Iterator[Finding]:
    params: SprawlParams = ctx.params
    inventory = ctx.inventory
    cpu = quantity_param("tiny_cpu", params.tiny_cpu)
    memory = quantity_param("tiny_memory", params.tiny_memory)
    size = f"at most {params.tiny_cpu} cpu and {params.tiny_memory} memory"
    for namespace, deployments in sorted(
        _deployments(inventory, params.ignored_namespaces).items()
    ):
        ref = ObjectRef("Namespace", namespace, "")
        tiny = [w.name for w in deployments if _tiny(inventory, w, cpu, memory)]
        if len(tiny) >= params.min_sprawl:
            listed = ", ".join(tiny[:_LISTED]) + (
                f" and {len(tiny) - _LISTED} more" if len(tiny) > _LISTED else ""
            )
            yield Finding.failing(
                ref,
                f"{len(tiny)} of {len(deployments)} Deployments run one replica requesting "
                f"{size} ({listed}): consolidation candidates",
            )
        else:
            yield Finding.passing(
                ref,
                f"{len(tiny)} of {len(deployments)} Deployments run one replica requesting "
                f"{size} (fewer than {params.min_sprawl})",
            )


CHECKS = (replica_sprawl,)
