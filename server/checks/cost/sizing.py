"""Cost checks on declared sizes: limits far above requests, requests far above their peers.

The pod requests and namespace medians COST-002 compares are computed once per run over
every top-level workload (:func:`sizes`).
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from assay.server.checks.kit import (
    RESOURCE_CONTAINERS,
    USER_OBJECTS,
    CheckDefinition,
    Context,
    Verdict,
    param,
    per_workload,
    problems_or_ok,
)
from assay.server.checks.kit.podspec import (
    RESOURCES,
    format_bytes,
    format_cores,
    pod_request,
    request,
)
from assay.server.checks.kit.quantity import quantity_or_none
from assay.server.core.types import Pillar, Severity
from assay.server.inventory import WORKLOAD_KINDS, Container, Inventory, Workload
from assay.server.inventory.raw import dig

Medians = dict[tuple[str, str], tuple[Decimal, int]]


@dataclass(frozen=True)
class RequestRatioParams:
    max_limit_ratio: float = param(
        4.0, "largest limit/request ratio (CPU or memory, per container) that passes"
    )
    median_factor: float = param(
        5.0,
        "a pod that requests more than this many times the median pod request of its "
        "namespace fails",
    )
    min_namespace_workloads: int = param(
        5,
        "fewest workloads requesting a resource in a namespace before its median is compared with",
    )


@dataclass(frozen=True)
class Sizes:
    """Every top-level workload's pod request, and each namespace's median of them."""

    pod_requests: dict[tuple[str, str, str], dict[str, Decimal]]
    medians: Medians


def sizes(inventory: Inventory) -> Sizes:
    """Pod requests and (namespace, resource) -> (median pod request, workloads counted),
    over every top-level workload that requests the resource; computed once per inventory."""

    def compute() -> Sizes:
        requests: dict[tuple[str, str, str], dict[str, Decimal]] = {}
        found: dict[tuple[str, str], list[Decimal]] = defaultdict(list)
        for workload in inventory.workloads():
            amounts = {r: pod_request(workload.pod_spec, r) for r in RESOURCES}
            requests[(workload.kind, workload.namespace, workload.name)] = amounts
            for resource, amount in amounts.items():
                if amount > 0:
                    found[(workload.namespace, resource)].append(amount)
        medians = {key: (statistics.median(values), len(values)) for key, values in found.items()}
        return Sizes(requests, medians)

    return inventory.memo("cost:pod-sizes", compute)


COST_002 = CheckDefinition(
    id="COST-002",
    pillar=Pillar.COST_OPTIMIZATION,
    name="Request/limit ratio",
    description=(
        "Requests are what the scheduler reserves and you pay for; a limit many times the "
        "request overcommits the node (throttling, OOM kills under pressure), and a request "
        "far above what similar workloads ask for is usually a copy-paste that reserves "
        "capacity nobody uses."
    ),
    severity=Severity.LOW,
    scope="W",
    remediation=(
        "Bring the limit within 4x of the request (raise the request to what the container "
        "really uses, or lower the limit), or enforce it for the namespace with a LimitRange "
        "maxLimitRequestRatio; size requests that stand far above the namespace's median "
        "from observed usage (COST-001, a VerticalPodAutoscaler in Off mode)."
    ),
    kinds=WORKLOAD_KINDS,
    applies_to=USER_OBJECTS,
    params=RequestRatioParams,
    notes=(
        "A container with a limit but no request has an equal request (the API server "
        "defaults it), so its ratio is 1.",
        "The median compares whole pods (pod_request: containers and sidecars, the largest "
        "init container, overhead) with the other top-level workloads of the namespace; "
        "Polaris, kube-score and kube-linter have no such comparison, and LimitRange "
        "maxLimitRequestRatio is the API's own form of the ratio rule.",
    ),
)


@per_workload(COST_002)
def request_limit_ratio(workload: Workload, ctx: Context[RequestRatioParams]) -> Verdict:
    params = ctx.params
    problems: list[str] = []
    most = Decimal(str(params.max_limit_ratio))
    for container in workload.containers():
        if RESOURCE_CONTAINERS(container):
            problems.extend(_ratio_problems(container, most))
    known = sizes(ctx.inventory)
    far = Decimal(str(params.median_factor))
    amounts = known.pod_requests.get((workload.kind, workload.namespace, workload.name), {})
    for resource in RESOURCES:
        median, count = known.medians.get((workload.namespace, resource), (Decimal(0), 0))
        if count < params.min_namespace_workloads or median <= 0:
            continue
        amount = amounts.get(resource, Decimal(0))
        factor = amount / median
        if factor > far:
            show = format_cores if resource == "cpu" else format_bytes
            problems.append(
                f"requests {show(amount)} of {resource} per pod, {factor:.1f}x the median of "
                f"namespace {workload.namespace} ({show(median)} over {count} workloads)"
            )
    return problems_or_ok(problems, "limits within the ratio and requests near its peers")


def _ratio_problems(container: Container, most: Decimal) -> list[str]:
    problems = []
    limits = dig(container.spec, "resources", "limits")
    for resource in RESOURCES:
        raw_limit = limits.get(resource)
        limit = quantity_or_none(raw_limit)
        wanted = request(container, resource)
        if limit is None or wanted is None:
            continue
        raw_request = dig(container.spec, "resources", "requests").get(resource, raw_limit)
        where = f"{container.role} {container.name}: {resource}"
        if wanted <= 0:
            if limit > 0:
                problems.append(f"{where} limit {raw_limit} with a request of {raw_request}")
            continue
        ratio = limit / wanted
        if ratio > most:
            problems.append(
                f"{where} limit {raw_limit} is {ratio:.1f}x its request {raw_request} "
                f"(more than {float(most):g}x)"
            )
    return problems


CHECKS = (request_limit_ratio,)
