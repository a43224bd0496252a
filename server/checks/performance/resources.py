"""Performance checks on container resource requests and limits, and the QoS they give."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from assay.server.checks.kit import (
    RESOURCE_CONTAINERS,
    Applicability,
    CheckDefinition,
    Context,
    NoParams,
    Verdict,
    fail,
    ok,
    param,
    per_container,
    per_workload,
)
from assay.server.checks.kit.applies import CRITICAL_PRIORITY_CLASSES, is_cluster_addon
from assay.server.checks.kit.podspec import LIMIT_AS_REQUEST_NOTE, missing_requests
from assay.server.checks.kit.quantity import format_cpu
from assay.server.checks.kit.resources import (
    QoS,
    container_resources,
    limit_range_defaults,
    qos_class,
)
from assay.server.core.types import Pillar, Severity
from assay.server.inventory import WORKLOAD_KINDS, Container, Inventory, Workload
from assay.server.inventory.raw import int_or_none

PERF_001 = CheckDefinition(
    id="PERF-001",
    pillar=Pillar.PERFORMANCE_EFFICIENCY,
    name="Resource requests missing",
    description=(
        "A container without CPU and memory requests is scheduled as if it needed nothing: "
        "nodes get overcommitted, the pod is first to be evicted under pressure, and "
        "autoscalers cannot reason about it."
    ),
    severity=Severity.HIGH,
    scope="W",
    remediation=(
        "Set resources.requests.cpu and resources.requests.memory on every container and init "
        "container, sized from observed usage (e.g. the p95 over a representative week); a "
        "namespace LimitRange can supply defaults for workloads you do not control."
    ),
    kinds=WORKLOAD_KINDS,
    notes=(LIMIT_AS_REQUEST_NOTE,),
)


@per_container(PERF_001, containers=RESOURCE_CONTAINERS)
def requests_missing(workload: Workload, container: Container, ctx: Context[NoParams]) -> Verdict:
    missing = missing_requests(container)
    if missing:
        return fail(f"{container.role} has no {' or '.join(missing)} request")
    return ok("cpu and memory requested")


def _not_critical(workload: Workload, ctx: Context[Any]) -> bool:
    critical: frozenset[str] = ctx.params.critical_priority_classes
    return not is_cluster_addon(workload, critical)


CRITICAL_HELP = (
    "priority classes of cluster add-ons (the kubelet never evicts their pods for node "
    "pressure, and their resources are the cluster vendor's to set); not judged"
)
NOT_CRITICAL = Applicability(
    "workloads that are not cluster add-ons (not static pods, not the critical priority classes)",
    _not_critical,
)


def _priority(inventory: Inventory, workload: Workload) -> int | None:
    """The workload's priority: its PriorityClass's value, or a live pod's spec.priority."""
    name = str(workload.pod_spec.get("priorityClassName") or "")
    priority_class = inventory.get("PriorityClass", "", name) if name else None
    if priority_class is not None:
        return int_or_none(priority_class.get("value"))
    return int_or_none(workload.pod_spec.get("priority"))


class CpuLimitPolicy(enum.StrEnum):
    REQUIRED = "required"
    OPTIONAL = "optional"
    FORBIDDEN = "forbidden"


@dataclass(frozen=True)
class CpuLimitParams:
    cpu_limit: CpuLimitPolicy = param(
        CpuLimitPolicy.REQUIRED,
        "required: every container needs a CPU limit; optional: a CPU limit may be left out "
        "(teams that rely on requests alone); forbidden: no container may have one (CFS quota "
        "throttles containers even on idle nodes). A limit below the request always fails.",
    )
    critical_priority_classes: frozenset[str] = param(CRITICAL_PRIORITY_CLASSES, CRITICAL_HELP)


PERF_002 = CheckDefinition(
    id="PERF-002",
    pillar=Pillar.PERFORMANCE_EFFICIENCY,
    name="CPU limit policy",
    description=(
        "A CPU limit caps a container through the CFS quota: without one a busy container "
        "can starve its neighbours' unreserved CPU, with one it is throttled even when the "
        "node is idle. Organisations choose one policy; the check holds every container to "
        "it, and a limit below the request is always wrong."
    ),
    severity=Severity.LOW,
    scope="W",
    remediation=(
        "Follow the policy: with 'required', set resources.limits.cpu on every container (at "
        "or above its request) or give the namespace a LimitRange default; with 'forbidden', "
        "remove resources.limits.cpu (and the LimitRange default that adds it). Never set a "
        "CPU limit below the CPU request."
    ),
    kinds=(*WORKLOAD_KINDS, "LimitRange"),
    applies_to=NOT_CRITICAL,
    params=CpuLimitParams,
    notes=(
        "Polaris (cpuLimitsMissing), kube-score (container-resources) and kubescape fail a "
        "missing CPU limit outright; this check does too by default, and the cpu_limit "
        "parameter lets organisations that forbid CPU limits invert it instead of turning it "
        "off.",
        "A limit the namespace's LimitRange would add at admission counts as set (pod "
        "templates of controllers never carry it, their pods do).",
        "Cluster add-ons (static pods, the system-cluster-critical and system-node-critical "
        "priority classes) are not judged: a fresh cluster's CoreDNS and kube-proxy are sized "
        "by its vendor.",
    ),
)


@per_container(PERF_002, containers=RESOURCE_CONTAINERS)
def cpu_limit_policy(workload: Workload, container: Container, ctx: Context[Any]) -> Verdict:
    params: CpuLimitParams = ctx.params
    defaults = limit_range_defaults(ctx.inventory, workload.namespace)
    resources = container_resources(container, defaults)
    invalid = resources.problems_with("cpu")
    if invalid:
        return fail("; ".join(invalid))
    limit = resources.limits.get("cpu")
    request = resources.requests.get("cpu")
    origin = resources.defaulted.get("limits.cpu")
    source = f" (from {origin})" if origin else ""
    if limit is None:
        if params.cpu_limit is CpuLimitPolicy.REQUIRED:
            return fail(f"{container.role} has no cpu limit and no LimitRange gives it one")
        return ok("no cpu limit, as the policy allows")
    shown = format_cpu(limit)
    if request is not None and limit < request:
        return fail(
            f"cpu limit {shown}{source} is below the cpu request {format_cpu(request)}; the API "
            "server refuses such pods"
        )
    if params.cpu_limit is CpuLimitPolicy.FORBIDDEN:
        return fail(f"cpu limit {shown}{source} is set, which the policy forbids")
    return ok(f"cpu limit {shown}{source}")


@dataclass(frozen=True)
class QosParams:
    critical_priority_classes: frozenset[str] = param(CRITICAL_PRIORITY_CLASSES, CRITICAL_HELP)
    min_priority: int = param(
        1,
        "a workload whose PriorityClass value is at least this must be Guaranteed "
        "(classes below it, such as best-effort batch classes, need not be)",
    )


PERF_003 = CheckDefinition(
    id="PERF-003",
    pillar=Pillar.PERFORMANCE_EFFICIENCY,
    name="QoS class",
    description=(
        "The pod QoS class decides who goes first when a node runs short of memory: "
        "BestEffort pods, which reserve nothing, are evicted first, and a workload important "
        "enough for a PriorityClass should be Guaranteed (requests equal to limits) so that "
        "the kubelet neither evicts it nor lets it be squeezed by neighbours."
    ),
    severity=Severity.MEDIUM,
    scope="W",
    remediation=(
        "Give every container CPU and memory requests (no more BestEffort); for workloads with "
        "a PriorityClass set requests equal to limits for CPU and memory in every container "
        "and init container, or drop the PriorityClass if the workload is not critical."
    ),
    kinds=(*WORKLOAD_KINDS, "PriorityClass", "LimitRange"),
    applies_to=NOT_CRITICAL,
    params=QosParams,
    notes=(
        "The QoS class is computed as the kubelet does (CPU and memory of containers and init "
        "containers, or pod-level resources; limits copied into missing requests; namespace "
        "LimitRange defaults applied), not read from status.qosClass, so templates are judged "
        "too.",
        "kube-score's optional container-resource-requests-equal-limits demands Guaranteed "
        "everywhere; this row is softer: only prioritised workloads must be Guaranteed, others "
        "only must not be BestEffort.",
    ),
)


@per_workload(PERF_003)
def qos(workload: Workload, ctx: Context[Any]) -> Verdict:
    params: QosParams = ctx.params
    defaults = limit_range_defaults(ctx.inventory, workload.namespace)
    qos_class_, reason = qos_class(workload.pod_spec, defaults)
    if qos_class_ is QoS.BEST_EFFORT:
        return fail(f"pod QoS class is BestEffort: {reason}")
    name = str(workload.pod_spec.get("priorityClassName") or "")
    if name and qos_class_ is not QoS.GUARANTEED:
        priority = _priority(ctx.inventory, workload)
        if priority is None or priority >= params.min_priority:
            value = f" (value {priority})" if priority is not None else ""
            return fail(
                f"priorityClassName {name}{value} but pod QoS class is {qos_class_}: {reason}"
            )
    return ok(f"pod QoS class is {qos_class_}")


CHECKS = (requests_missing, cpu_limit_policy, qos)
