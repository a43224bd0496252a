"""Performance checks on autoscaling: HorizontalPodAutoscalers and their targets."""

from __future__ import annotations

from typing import Any

from assay.server.checks.kit import (
    RUNNING_CONTAINERS,
    Applicability,
    CheckDefinition,
    Context,
    NoParams,
    Verdict,
    fail,
    ok,
    per_object,
    skip,
)
from assay.server.checks.kit.podspec import LIMIT_AS_REQUEST_NOTE, request
from assay.server.core.types import Pillar, Severity
from assay.server.inventory import WORKLOAD_KINDS
from assay.server.inventory.raw import KubeObject, as_mappings, dig, namespace_of

_DEFAULT_HPA_METRIC = frozenset({("cpu", "")})
"""An HPA without metrics scales on 80% average CPU utilization."""


def utilization_metrics(hpa: KubeObject) -> frozenset[tuple[str, str]]:
    """(resource, container) pairs the HPA scales on as a percentage of requests; container
    is ``""`` for a pod-wide Resource metric. Reads autoscaling/v1, v2beta1, v2beta2 and v2."""
    spec = dig(hpa, "spec")
    if "targetCPUUtilizationPercentage" in spec:  # autoscaling/v1
        return frozenset({("cpu", "")})
    metrics = as_mappings(spec.get("metrics"))
    if not metrics:
        return _DEFAULT_HPA_METRIC
    found = set()
    for metric in metrics:
        kind = metric.get("type")
        if kind == "Resource":
            source, container = dig(metric, "resource"), ""
        elif kind == "ContainerResource":
            source = dig(metric, "containerResource")
            container = str(source.get("container") or "")
        else:
            continue
        by_utilization = (
            dig(source, "target").get("type") == "Utilization"  # v2beta2, v2
            or source.get("targetAverageUtilization") is not None  # v2beta1
        )
        if by_utilization:
            found.add((str(source.get("name") or ""), container))
    return frozenset(found)


def _scales_on_utilization(hpa: KubeObject, ctx: Context[Any]) -> bool:
    return bool(utilization_metrics(hpa))


PERF_006 = CheckDefinition(
    id="PERF-006",
    pillar=Pillar.PERFORMANCE_EFFICIENCY,
    name="HPA metric without requests",
    description=(
        "An HPA that scales on CPU or memory utilization computes usage as a percentage of "
        "the containers' requests; when a target container has no request the HPA cannot "
        "compute the metric and does not scale."
    ),
    severity=Severity.HIGH,
    scope="X",
    remediation=(
        "Give every container of the HPA's target a request for the resource the HPA scales "
        "on (resources.requests.cpu / .memory), or switch the metric to an AverageValue "
        "target, which does not depend on requests."
    ),
    kinds=("HorizontalPodAutoscaler", *WORKLOAD_KINDS),
    needs=frozenset({"autoscaling/v2"}),
    applies_to=Applicability(
        "HorizontalPodAutoscalers that scale on CPU or memory utilization (autoscaling/v1, "
        "v2beta1, v2beta2 and v2; an HPA without metrics scales on CPU utilization)",
        _scales_on_utilization,
    ),
    notes=(LIMIT_AS_REQUEST_NOTE,),
)


@per_object(PERF_006, kinds=("HorizontalPodAutoscaler",))
def hpa_without_requests(hpa: KubeObject, ctx: Context[NoParams]) -> Verdict:
    metrics = utilization_metrics(hpa)
    target = dig(hpa, "spec", "scaleTargetRef")
    target_kind, target_name = str(target.get("kind") or ""), str(target.get("name") or "")
    workload = ctx.inventory.workload(target_kind, namespace_of(hpa), target_name)
    if workload is None:
        return skip(f"target {target_kind}/{target_name} is not in the inventory")
    gaps = [
        f"container {container.name} has no {resource} request"
        for container in workload.containers()
        if RUNNING_CONTAINERS(container)
        for resource, only in sorted(metrics)
        if (not only or only == container.name) and request(container, resource) is None
    ]
    scaled_on = ", ".join(sorted({resource for resource, _ in metrics}))
    if gaps:
        return fail(
            f"scales {target_kind}/{target_name} on {scaled_on} utilization but " + "; ".join(gaps)
        )
    return ok(f"{target_kind}/{target_name} requests {scaled_on} in every container")


CHECKS = (hpa_without_requests,)
