"""Performance checks on cluster capacity: whether autoscalers can reach their maximum."""

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
from assay.server.checks.kit.owners import pods_by_workload
from assay.server.checks.kit.quantity import format_amount
from assay.server.checks.kit.resources import COMPUTE, limit_range_defaults, pod_requests
from assay.server.checks.kit.scheduling import allocatable, is_schedulable
from assay.server.core.types import ObjectRef, Pillar, Severity, Status
from assay.server.inventory import WORKLOAD_KINDS, Inventory
from assay.server.inventory.raw import KubeObject, dig, int_or_none, namespace_of

_FINISHED = frozenset({"Succeeded", "Failed"})

Amounts = dict[str, Decimal]


@dataclass(frozen=True)
class AutoscalingCapacityParams:
    capacity_factor: Decimal = param(
        Decimal(1),
        "multiplier on the schedulable nodes' allocatable CPU and memory: above 1 when node "
        "autoscaling can add nodes (2 when the node pools can double)",
    )


PERF_008 = CheckDefinition(
    id="PERF-008",
    pillar=Pillar.PERFORMANCE_EFFICIENCY,
    name="Autoscaling capacity",
    description=(
        "An HPA whose maxReplicas pods request more than the cluster can allocate promises "
        "capacity that is not there: at peak load its new pods stay Pending. The same holds "
        "for all HPAs reaching their maximum together next to everything else that runs."
    ),
    severity=Severity.MEDIUM,
    scope="C+L",
    remediation=(
        "Lower maxReplicas to what the nodes can hold, lower the pods' requests if they are "
        "oversized, or give the node pools room to grow (cluster autoscaler or Karpenter "
        "limits) and raise capacity_factor accordingly."
    ),
    kinds=("HorizontalPodAutoscaler", "Node", "LimitRange", *WORKLOAD_KINDS),
    needs=frozenset({"autoscaling/v2"}),
    applies_to=Applicability("HorizontalPodAutoscalers, and the cluster as a whole", None),
    params=AutoscalingCapacityParams,
    notes=(
        "One result per HPA (its maximum alone), and one for the cluster: the HPAs that fit "
        "alone, all at their maximum, plus the requests of every other running pod. Node "
        "capacity is status.allocatable of uncordoned nodes; requests are the pod template's "
        "with the namespace's LimitRange defaults, init containers and overhead counted as the "
        "scheduler does. HPAs KEDA creates are judged like any other.",
    ),
)


def _sum(amounts: list[Amounts]) -> Amounts:
    return {r: sum((a[r] for a in amounts), Decimal(0)) for r in COMPUTE}


def _show(amounts: Amounts) -> str:
    return " and ".join(f"{r} {format_amount(r, amounts[r])}" for r in COMPUTE)


def _over(need: Amounts, capacity: Amounts) -> str:
    """``""`` when ``need`` fits, else which resources do not."""
    over = [r for r in COMPUTE if need[r] > capacity[r]]
    if not over:
        return ""
    return f"{' and '.join(over)} {'does' if len(over) == 1 else 'do'} not fit"


@check(PERF_008)
def autoscaling_capacity(ctx: Context[Any]) -> Iterator[Finding]:
    params: AutoscalingCapacityParams = ctx.params
    inventory = ctx.inventory
    hpas = inventory.objects("HorizontalPodAutoscaler")
    if not hpas:
        return
    nodes = [n for n in inventory.objects("Node") if is_schedulable(n)]
    capacity = _sum([allocatable(n) for n in nodes])
    capacity = {r: capacity[r] * params.capacity_factor for r in COMPUTE}
    if not capacity["cpu"] or not capacity["memory"]:
        yield Finding.skipped(None, "no schedulable node reports allocatable cpu and memory")
        return
    where = f"{len(nodes)} schedulable nodes allocate {_show(capacity)}"
    if params.capacity_factor != 1:
        where += f" (allocatable x {params.capacity_factor})"
    fitting: dict[ObjectRef, Amounts] = {}
    for hpa in hpas:
        finding, target, need = _judge(inventory, hpa, capacity, where)
        yield finding
        if target is not None and need is not None and finding.status is Status.PASSING:
            fitting[target] = {r: max(need[r], fitting.get(target, need)[r]) for r in COMPUTE}
    if fitting:
        yield _together(inventory, fitting, capacity, where)


def _judge(
    inventory: Inventory, hpa: KubeObject, capacity: Amounts, where: str
) -> tuple[Finding, ObjectRef | None, Amounts | None]:
    ref = ref_of("HorizontalPodAutoscaler", hpa)
    spec = dig(hpa, "spec")
    target = dig(spec, "scaleTargetRef")
    kind, name = str(target.get("kind") or ""), str(target.get("name") or "")
    namespace = namespace_of(hpa)
    maximum = int_or_none(spec.get("maxReplicas"))
    if maximum is None or maximum < 0:
        return Finding.skipped(ref, "maxReplicas is missing or not an integer"), None, None
    workload = inventory.workload(kind, namespace, name)
    if workload is None:
        return Finding.skipped(ref, f"target {kind}/{name} is not in the inventory"), None, None
    per_pod = pod_requests(workload.pod_spec, limit_range_defaults(inventory, namespace))
    if not per_pod["cpu"] and not per_pod["memory"]:
        message = f"{kind}/{name} requests no cpu or memory: its maximum cannot be sized"
        return Finding.skipped(ref, message), None, None
    need = {r: per_pod[r] * maximum for r in COMPUTE}
    message = f"at maxReplicas {maximum} the pods of {kind}/{name} request {_show(need)}; {where}"
    over = _over(need, capacity)
    target_ref = workload.ref
    if over:
        return Finding.failing(ref, f"{message}: {over}"), None, None
    return Finding.passing(ref, message), target_ref, need


def _together(
    inventory: Inventory, fitting: dict[ObjectRef, Amounts], capacity: Amounts, where: str
) -> Finding:
    others: list[Amounts] = []
    for owner, pods in pods_by_workload(inventory).items():
        if owner in fitting:
            continue
        defaults = limit_range_defaults(inventory, owner.namespace)
        others.extend(
            pod_requests(dig(p, "spec"), defaults)
            for p in pods
            if dig(p, "status").get("phase") not in _FINISHED
        )
    rest = _sum(others)
    need = _sum([*fitting.values(), rest])
    workloads = "workload" if len(fitting) == 1 else f"{len(fitting)} workloads"
    message = (
        f"at maxReplicas, the {workloads} whose HPAs fit alone, with the other running pods "
        f"({_show(rest)}), request {_show(need)}; {where}"
    )
    over = _over(need, capacity)
    if over:
        return Finding.failing(None, f"{message}: {over}")
    return Finding.passing(None, message)


CHECKS = (autoscaling_capacity,)
