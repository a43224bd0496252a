"""Performance checks on measured usage (the metrics API): containers and nodes near their
limits."""

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
from assay.server.checks.kit.metrics import (
    METRICS_KINDS,
    NO_NODE_SAMPLE,
    ContainerSample,
    node_shares,
    unsampled,
    workload_samples,
)
from assay.server.checks.kit.params import ParamError
from assay.server.checks.kit.quantity import format_amount
from assay.server.checks.kit.resources import COMPUTE
from assay.server.core.types import Pillar, Severity
from assay.server.inventory import WORKLOAD_KINDS

POINT_IN_TIME_NOTE = (
    "metrics-server keeps one sample per pod and node (CPU averaged over a window of seconds, "
    "memory the working set at that moment): a judgement from it is a point in time, which "
    "every message says; confirm with usage history before acting."
)


def positive_ratio(name: str, value: Decimal | None) -> None:
    """Refuse a ratio parameter that is not a positive number (a policy file typo)."""
    if value is not None and value <= 0:
        raise ParamError(name, f"must be a positive ratio (e.g. 0.9), got {value}")


@dataclass(frozen=True)
class SaturationParams:
    limit_ratio: Decimal = param(
        Decimal("0.9"),
        "usage at or above this share of the limit fails (CPU is throttled at the limit, "
        "memory is OOM-killed)",
    )
    request_ratio: Decimal | None = param(
        Decimal(1),
        "usage above this multiple of the request fails at medium severity (beyond its "
        "request a pod competes for unreserved capacity and is evicted first under memory "
        "pressure); null turns this part off",
    )

    def __post_init__(self) -> None:
        positive_ratio("limit_ratio", self.limit_ratio)
        positive_ratio("request_ratio", self.request_ratio)


PERF_009 = CheckDefinition(
    id="PERF-009",
    pillar=Pillar.PERFORMANCE_EFFICIENCY,
    name="Container saturation",
    description=(
        "A container using nearly all of its CPU limit is throttled, one near its memory "
        "limit is about to be OOM-killed, and one above its request lives on capacity nobody "
        "reserved for it."
    ),
    severity=Severity.HIGH,
    scope="M",
    remediation=(
        "Raise the limit (and the request) of the saturated resource to the observed peak "
        "plus headroom, or spread the load over more replicas (an HPA); confirm with usage "
        "history (Prometheus, VPA recommendations) since the finding rests on one sample."
    ),
    kinds=(*WORKLOAD_KINDS, *METRICS_KINDS),
    applies_to=Applicability(
        "top-level workloads with running pods, per container (and sidecar)", None
    ),
    params=SaturationParams,
    notes=(
        POINT_IN_TIME_NOTE,
        "One result per workload and container, for the most saturated of its running pods; "
        "usage is compared with the pod's own requests and limits as admitted.",
        "Popeye reports pods above 80% (CPU) and 75% (memory) of their limits by default; the "
        "default here is 90% for both, and usage above the request is a separate, "
        "medium-severity finding.",
    ),
)


@dataclass(frozen=True, slots=True)
class _Reading:
    """One resource of one container in one pod, against its limit or request."""

    ratio: Decimal
    resource: str
    used: Decimal
    bound: Decimal
    sample: ContainerSample

    def text(self, relation: str) -> str:
        """``cpu 401m, above its request 250m (160%) in pod x`` for relation
        ``, above its request``."""
        return (
            f"{self.resource} {format_amount(self.resource, self.used)}{relation} "
            f"{format_amount(self.resource, self.bound)} ({self.ratio:.0%}) in pod "
            f"{self.sample.pod}"
        )


def _saturation(
    samples: tuple[ContainerSample, ...], params: SaturationParams
) -> tuple[str, Severity | None, bool]:
    """(message, severity, failing) for one container across the workload's pods."""
    worst_limit: _Reading | None = None
    worst_request: _Reading | None = None
    peaks: dict[str, tuple[Decimal, str]] = {}
    pods_over: set[str] = set()
    for sample in samples:
        for resource in COMPUTE:
            used = sample.usage.get(resource)
            if used is None:
                continue
            limit = sample.resources.limits.get(resource)
            request = sample.resources.requests.get(resource)
            if limit:
                ratio = used / limit
                if ratio >= params.limit_ratio:
                    pods_over.add(sample.pod)
                if worst_limit is None or ratio > worst_limit.ratio:
                    worst_limit = _Reading(ratio, resource, used, limit, sample)
                if ratio > peaks.get(resource, (Decimal(-1), ""))[0]:
                    peaks[resource] = (ratio, "limit")
            if request:
                ratio = used / request
                if worst_request is None or ratio > worst_request.ratio:
                    worst_request = _Reading(ratio, resource, used, request, sample)
                if not limit and ratio > peaks.get(resource, (Decimal(-1), ""))[0]:
                    peaks[resource] = (ratio, "request")
    pods = len({s.pod for s in samples})
    if worst_limit is not None and worst_limit.ratio >= params.limit_ratio:
        message = (
            f"{worst_limit.text(' of limit')}; {len(pods_over)} of {pods} pods at or above "
            f"{params.limit_ratio:.0%} of a limit"
        )
        return f"{message} ({worst_limit.sample.sample.caveat})", None, True
    if (
        params.request_ratio is not None
        and worst_request is not None
        and worst_request.ratio > params.request_ratio
    ):
        message = worst_request.text(", above its request")
        return f"{message} ({worst_request.sample.sample.caveat})", Severity.MEDIUM, True
    if not peaks:
        return "", None, False
    highest = ", ".join(f"{r} {ratio:.0%} of {bound}" for r, (ratio, bound) in peaks.items())
    caveat = samples[0].sample.caveat
    return f"highest over {pods} pods: {highest} ({caveat})", None, False


@check(PERF_009)
def container_saturation(ctx: Context[Any]) -> Iterator[Finding]:
    params: SaturationParams = ctx.params
    for workload in workload_samples(ctx.inventory):
        if not workload.sampled_pods:
            yield unsampled(workload)
            continue
        for container, samples in sorted(workload.containers.items()):
            message, severity, failing = _saturation(samples, params)
            if not message:
                yield Finding.skipped(
                    workload.ref, "no cpu or memory request or limit to compare with", container
                )
            elif failing:
                yield Finding.failing(workload.ref, message, container, severity=severity)
            else:
                yield Finding.passing(workload.ref, message, container)


@dataclass(frozen=True)
class NodeSaturationParams:
    cpu_threshold: Decimal = param(
        Decimal("0.9"), "node CPU usage at or above this share of allocatable fails"
    )
    memory_threshold: Decimal = param(
        Decimal("0.8"), "node memory usage at or above this share of allocatable fails"
    )

    def __post_init__(self) -> None:
        positive_ratio("cpu_threshold", self.cpu_threshold)
        positive_ratio("memory_threshold", self.memory_threshold)


PERF_010 = CheckDefinition(
    id="PERF-010",
    pillar=Pillar.PERFORMANCE_EFFICIENCY,
    name="Node saturation",
    description=(
        "A node whose CPU is nearly all in use slows every pod on it; one whose memory is "
        "nearly all in use is close to kubelet evictions and the kernel's OOM killer."
    ),
    severity=Severity.MEDIUM,
    scope="M",
    remediation=(
        "Add capacity (more or larger nodes, or let the cluster autoscaler do it), move or "
        "right-size the heaviest pods (kubectl top pod --sort-by), and make sure their "
        "requests reflect real usage so the scheduler stops packing the node."
    ),
    kinds=("Node", "NodeMetrics"),
    params=NodeSaturationParams,
    notes=(
        POINT_IN_TIME_NOTE,
        "Usage is compared with status.allocatable, as kubectl top node does. Popeye's "
        "defaults are the same (90% CPU, 80% memory).",
    ),
)


@check(PERF_010)
def node_saturation(ctx: Context[Any]) -> Iterator[Finding]:
    params: NodeSaturationParams = ctx.params
    thresholds = {"cpu": params.cpu_threshold, "memory": params.memory_threshold}
    for node in ctx.inventory.objects("Node"):
        ref = ref_of("Node", node)
        measured = node_shares(ctx.inventory, node)
        if measured is None:
            yield Finding.skipped(ref, NO_NODE_SAMPLE)
            continue
        usage, node_use = measured
        shares = [share.text(" allocatable") for share in node_use]
        hot = [
            f"{share.text(' allocatable')}, at or above {thresholds[share.resource]:.0%}"
            for share in node_use
            if share.ratio >= thresholds[share.resource]
        ]
        if not shares:
            yield Finding.skipped(ref, "no usable cpu or memory usage or allocatable")
        elif hot:
            yield Finding.failing(ref, f"{'; '.join(hot)} ({usage.sample.caveat})")
        else:
            yield Finding.passing(ref, f"{'; '.join(shares)} ({usage.sample.caveat})")


CHECKS = (container_saturation, node_saturation)
