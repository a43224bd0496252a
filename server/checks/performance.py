"""Performance-efficiency pillar checks (PERF-*): definitions and their functions.

Collected into the built-in registry by :mod:`assay.server.checks`.
"""

from __future__ import annotations

from collections.abc import Iterator

from assay.server.checks.kit.definition import Check, CheckDefinition, Finding, check
from assay.server.checks.kit.podspec import (
    LONG_RUNNING_CONTAINERS,
    RESOURCE_CONTAINERS,
    missing_requests,
    request,
)
from assay.server.core.types import ObjectRef, Pillar, Severity
from assay.server.inventory import WORKLOAD_KINDS, Inventory
from assay.server.inventory.raw import KubeObject, as_mappings, dig, name_of, namespace_of

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
)

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
)

_DEFAULT_HPA_METRIC = {("cpu", "")}
"""An HPA without metrics scales on 80% average CPU utilization."""


def requests_missing(inventory: Inventory) -> Iterator[Finding]:
    for workload in inventory.workloads():
        for container in workload.containers(RESOURCE_CONTAINERS):
            missing = missing_requests(container)
            if missing:
                yield Finding.failing(
                    workload.ref,
                    f"{container.role} has no {' or '.join(missing)} request",
                    container.name,
                )
            else:
                yield Finding.passing(workload.ref, "cpu and memory requested", container.name)


def utilization_metrics(hpa: KubeObject) -> set[tuple[str, str]]:
    """(resource, container) pairs the HPA scales on as a utilization percentage; container
    is ``""`` for a pod-wide Resource metric."""
    spec = dig(hpa, "spec")
    if "targetCPUUtilizationPercentage" in spec:  # autoscaling/v1
        return {("cpu", "")}
    metrics = as_mappings(spec.get("metrics"))
    if not metrics:
        return set(_DEFAULT_HPA_METRIC)
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
        if dig(source, "target").get("type") == "Utilization":
            found.add((str(source.get("name") or ""), container))
    return found


def hpa_without_requests(inventory: Inventory) -> Iterator[Finding]:
    for hpa in inventory.objects("HorizontalPodAutoscaler"):
        metrics = utilization_metrics(hpa)
        if not metrics:
            continue
        namespace = namespace_of(hpa)
        ref = ObjectRef("HorizontalPodAutoscaler", name_of(hpa), namespace)
        target = dig(hpa, "spec", "scaleTargetRef")
        target_kind, target_name = str(target.get("kind") or ""), str(target.get("name") or "")
        workload = inventory.workload(target_kind, namespace, target_name)
        if workload is None:
            yield Finding.skipped(
                ref, f"target {target_kind}/{target_name} is not in the inventory"
            )
            continue
        gaps = [
            f"container {container.name} has no {resource} request"
            for container in workload.containers(LONG_RUNNING_CONTAINERS)
            for resource, only in sorted(metrics)
            if (not only or only == container.name) and request(container, resource) is None
        ]
        scaled_on = ", ".join(sorted({resource for resource, _ in metrics}))
        if gaps:
            yield Finding.failing(
                ref,
                f"scales {target_kind}/{target_name} on {scaled_on} utilization but "
                + "; ".join(gaps),
            )
        else:
            yield Finding.passing(
                ref, f"{target_kind}/{target_name} requests {scaled_on} in every container"
            )


CHECKS: tuple[Check, ...] = (
    check(PERF_001)(requests_missing),
    check(PERF_006)(hpa_without_requests),
)
