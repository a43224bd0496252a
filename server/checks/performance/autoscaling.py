"""Performance checks on horizontal autoscaling: HorizontalPodAutoscalers (and KEDA
ScaledObjects, which drive an HPA) and their targets."""

from __future__ import annotations

import json
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
    per_workload,
    skip,
)
from assay.server.checks.kit.podspec import LIMIT_AS_REQUEST_NOTE, request
from assay.server.core.types import Pillar, Severity
from assay.server.inventory import WORKLOAD_KINDS, Workload
from assay.server.inventory.raw import (
    KubeObject,
    annotations_of,
    as_mappings,
    dig,
    int_or_none,
    kind_of,
    metadata,
    name_of,
    namespace_of,
)

SCALER_KINDS = ("HorizontalPodAutoscaler", "ScaledObject")

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


def replica_range(scaler: KubeObject) -> tuple[int | None, int | None]:
    """(minimum, maximum) replicas of an HPA (defaults 1 and none) or a KEDA ScaledObject
    (defaults 0 and 100); ``None`` where the value is missing or not an integer."""
    spec = dig(scaler, "spec")
    if kind_of(scaler) == "ScaledObject":
        low, high = spec.get("minReplicaCount", 0), spec.get("maxReplicaCount", 100)
    else:
        low, high = spec.get("minReplicas", 1), spec.get("maxReplicas")
    return int_or_none(low), int_or_none(high)


PERF_004 = CheckDefinition(
    id="PERF-004",
    pillar=Pillar.PERFORMANCE_EFFICIENCY,
    name="HPA has no scaling range",
    description=(
        "An autoscaler whose minimum equals its maximum can never change the replica count: "
        "it costs a controller loop and suggests autoscaling that does not happen."
    ),
    severity=Severity.LOW,
    scope="W",
    remediation=(
        "Set maxReplicas above minReplicas (KEDA: maxReplicaCount above minReplicaCount) to the "
        "peak the workload may need, or delete the autoscaler and set a fixed replica count."
    ),
    kinds=SCALER_KINDS,
    needs=frozenset({"autoscaling/v2"}),
    notes=(
        "KEDA ScaledObjects are judged too (defaults minReplicaCount 0, maxReplicaCount 100); "
        "the HPA KEDA creates for one is reported through its ScaledObject.",
    ),
)


@per_object(PERF_004)
def no_scaling_range(scaler: KubeObject, ctx: Context[NoParams]) -> Verdict:
    low, high = replica_range(scaler)
    keda = kind_of(scaler) == "ScaledObject"
    low_name, high_name = (
        ("minReplicaCount", "maxReplicaCount")
        if keda
        else (
            "minReplicas",
            "maxReplicas",
        )
    )
    if low is None or high is None:
        return skip(f"{low_name} or {high_name} is missing or not an integer")
    if low > high:
        return fail(f"{low_name} {low} is above {high_name} {high}: it can never scale")
    if low == high:
        return fail(f"{low_name} and {high_name} are both {low}: it can never scale")
    return ok(f"scales between {low} and {high} replicas")


LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
_LAST_APPLIED_LIMIT = 1 << 20
STATIC_TARGET_KINDS = ("Deployment", "StatefulSet")


def replicas_declared(obj: KubeObject) -> str | None:
    """Who or what sets ``spec.replicas`` explicitly, or ``None``.

    A live object always has ``spec.replicas`` (the API defaults it), so it is read from
    kubectl's last-applied configuration, else from ``metadata.managedFields`` (writes
    through the ``scale`` subresource, as the HPA's, do not count); an object with neither
    (a manifest) declares what its spec says.
    """
    last_applied = annotations_of(obj).get(LAST_APPLIED)
    if last_applied and len(last_applied) <= _LAST_APPLIED_LIMIT:
        try:
            applied = json.loads(last_applied)
        except ValueError:
            applied = None
        if isinstance(applied, dict):
            value = dig(applied, "spec").get("replicas")
            if value is not None:
                return f"kubectl apply sets spec.replicas: {value}"
            return None
    managed = metadata(obj).get("managedFields")
    if isinstance(managed, list):
        managers = sorted(
            {
                str(entry.get("manager") or "unknown")
                for entry in as_mappings(managed)
                if entry.get("subresource") != "scale"
                and "f:replicas" in dig(entry, "fieldsV1", "f:spec")
            }
        )
        if managers:
            return f"spec.replicas is set by {', '.join(managers)}"
        return None
    value = dig(obj, "spec").get("replicas")
    return None if value is None else f"spec.replicas is {value}"


def _autoscaled(workload: Workload, ctx: Context[Any]) -> bool:
    return workload.kind in STATIC_TARGET_KINDS and bool(
        ctx.inventory.scalers_targeting(workload.kind, workload.namespace, workload.name)
    )


PERF_005 = CheckDefinition(
    id="PERF-005",
    pillar=Pillar.PERFORMANCE_EFFICIENCY,
    name="Static replicas on HPA target",
    description=(
        "When a workload scaled by an HPA also declares spec.replicas, every apply of its "
        "manifest resets the replica count the HPA chose, scaling a loaded service down until "
        "the HPA reacts again."
    ),
    severity=Severity.MEDIUM,
    scope="X",
    remediation=(
        "Remove spec.replicas from the manifest (Helm chart, kustomization) of a workload an "
        "HPA or ScaledObject scales; on a live object also remove it from the "
        "last-applied-configuration (kubectl apply --server-side, or kubectl apply "
        "edit-last-applied) so the next apply does not set it again."
    ),
    kinds=(*STATIC_TARGET_KINDS, *SCALER_KINDS),
    needs=frozenset({"autoscaling/v2"}),
    applies_to=Applicability(
        "Deployments and StatefulSets targeted by an HPA or a KEDA ScaledObject", _autoscaled
    ),
    notes=(
        "kube-score's deployment-targeted-by-hpa-does-not-have-replicas-configured judges "
        "Deployments in manifests only; this row also judges StatefulSets, and live objects "
        "by who set spec.replicas (last-applied configuration, managedFields) since the API "
        "server always fills it in.",
    ),
)


@per_workload(PERF_005)
def static_replicas_on_autoscaled(workload: Workload, ctx: Context[Any]) -> Verdict:
    scalers = ctx.inventory.scalers_targeting(workload.kind, workload.namespace, workload.name)
    by = ", ".join(f"{kind_of(s)} {name_of(s)}" for s in scalers)
    declared = replicas_declared(workload.obj)
    if declared:
        return fail(f"{declared}, but {by} scales it: each apply resets the replica count")
    return ok(f"leaves the replica count to {by}")


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


CHECKS = (no_scaling_range, static_replicas_on_autoscaled, hpa_without_requests)
