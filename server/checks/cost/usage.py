"""Cost checks on measured usage (the metrics API): requests far above what pods use."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from assay.server.checks.kit import (
    LONG_RUNNING,
    Applicability,
    CheckDefinition,
    Context,
    Finding,
    check,
    param,
)
from assay.server.checks.kit.applies import CRITICAL_PRIORITY_CLASSES, is_cluster_addon
from assay.server.checks.kit.metrics import (
    METRICS_KINDS,
    ContainerSample,
    unsampled,
    workload_samples,
)
from assay.server.checks.kit.owners import workload_by_ref
from assay.server.checks.kit.params import ParamError
from assay.server.checks.kit.quantity import format_amount, quantity_param
from assay.server.checks.kit.resources import COMPUTE
from assay.server.core.types import Pillar, Severity
from assay.server.inventory import WORKLOAD_KINDS, Workload

Amounts = dict[str, Decimal]


@dataclass(frozen=True)
class OverProvisionedParams:
    idle_ratio: Decimal = param(
        Decimal("0.3"),
        "a container whose busiest pod uses less than this share of its CPU or memory request "
        "fails",
    )
    min_cpu_request: str = param(
        "100m", "CPU requests below this quantity are too small to be worth right-sizing"
    )
    min_memory_request: str = param(
        "128Mi", "memory requests below this quantity are too small to be worth right-sizing"
    )
    critical_priority_classes: frozenset[str] = param(
        CRITICAL_PRIORITY_CLASSES,
        "priority classes of cluster add-ons, which the cluster's vendor sizes; not judged",
    )
    min_pod_age_seconds: int = param(
        600,
        "pods started less than this long before their sample are left out (start-up usage "
        "says little about steady state)",
    )

    def __post_init__(self) -> None:
        if not 0 < self.idle_ratio <= 1:
            raise ParamError("idle_ratio", f"must be above 0 and at most 1, got {self.idle_ratio}")
        quantity_param("min_cpu_request", self.min_cpu_request)
        quantity_param("min_memory_request", self.min_memory_request)
        if self.min_pod_age_seconds < 0:
            raise ParamError("min_pod_age_seconds", "must not be negative")

    def minimum(self, resource: str) -> Decimal:
        raw = self.min_cpu_request if resource == "cpu" else self.min_memory_request
        return quantity_param(f"min_{resource}_request", raw)


def _not_addon(workload: Workload, ctx: Context[Any]) -> bool:
    params: OverProvisionedParams = ctx.params
    return not is_cluster_addon(workload, params.critical_priority_classes)


COST_001 = CheckDefinition(
    id="COST-001",
    pillar=Pillar.COST_OPTIMIZATION,
    name="Over-provisioned requests",
    description=(
        "Requests reserve node capacity whether it is used or not: a container that uses a "
        "small share of what it requests makes the cluster buy nodes for idle reservations."
    ),
    severity=Severity.MEDIUM,
    scope="M",
    remediation=(
        "Lower the request towards observed usage plus headroom (e.g. the p95 over a "
        "representative week from Prometheus, or a VerticalPodAutoscaler in Off mode for "
        "recommendations); do not size from this single sample alone."
    ),
    kinds=(*WORKLOAD_KINDS, *METRICS_KINDS),
    applies_to=LONG_RUNNING
    & Applicability(
        "not cluster add-ons (static pods, critical priority classes), with running pods, per "
        "container (and sidecar)",
        _not_addon,
    ),
    params=OverProvisionedParams,
    notes=(
        "metrics-server keeps one sample per pod (CPU averaged over a window of seconds, "
        "memory the working set at that moment), so this is a point-in-time reading, as "
        "Popeye's maintainers say of its own over-allocation report (popeye#54): every "
        "message says so, the busiest pod of a workload is the one compared, and pods still "
        "starting up are left out.",
        "Batch workloads (Jobs, CronJobs) are not judged: their usage depends on the phase "
        "the sample caught. Nor are cluster add-ons (static pods, the critical priority "
        "classes): they idle on a fresh cluster and their vendor sizes them.",
    ),
)


def _judge(
    samples: tuple[ContainerSample, ...], params: OverProvisionedParams, minimum: Amounts
) -> tuple[list[str], list[str]]:
    """(over-provisioned resources, all resources judged), as message fragments; each
    resource is judged on the pod that uses the largest share of its own request."""
    idle: list[str] = []
    judged: list[str] = []
    for resource in COMPUTE:
        busiest: tuple[Decimal, Decimal, Decimal] | None = None  # ratio, used, request
        for sample in samples:
            request = sample.resources.requests.get(resource)
            used = sample.usage.get(resource)
            if request is None or used is None or not request or request < minimum[resource]:
                continue
            ratio = used / request
            if busiest is None or ratio > busiest[0]:
                busiest = (ratio, used, request)
        if busiest is None:
            continue
        ratio, used, request = busiest
        text = (
            f"{resource} {format_amount(resource, used)} of request "
            f"{format_amount(resource, request)} ({ratio:.0%})"
        )
        judged.append(text)
        if ratio < params.idle_ratio:
            idle.append(text)
    return idle, judged


def _latest(samples: tuple[ContainerSample, ...]) -> ContainerSample:
    stamped = [s for s in samples if s.sample.timestamp is not None]
    if not stamped:
        return samples[0]
    return max(stamped, key=lambda s: s.sample.timestamp.timestamp() if s.sample.timestamp else 0)


def _settled(sample: ContainerSample, min_age: int) -> bool:
    started, taken = sample.pod_started, sample.sample.timestamp
    if started is None or taken is None:
        return True
    return (taken - started).total_seconds() >= min_age


@check(COST_001)
def over_provisioned(ctx: Context[Any]) -> Iterator[Finding]:
    params: OverProvisionedParams = ctx.params
    inventory = ctx.inventory
    minimum = {resource: params.minimum(resource) for resource in COMPUTE}
    for workload in workload_samples(inventory):
        subject = workload_by_ref(inventory, workload.ref)
        if subject is None or not COST_001.applies_to.applies(subject, ctx):
            continue
        if not workload.sampled_pods:
            yield unsampled(workload)
            continue
        for container, samples in sorted(workload.containers.items()):
            settled = tuple(s for s in samples if _settled(s, params.min_pod_age_seconds))
            if not settled:
                yield Finding.skipped(
                    workload.ref,
                    f"its pods started less than {params.min_pod_age_seconds}s before the sample",
                    container,
                )
                continue
            idle, judged = _judge(settled, params, minimum)
            latest = _latest(settled)
            pods = len({s.pod for s in settled})
            which = f"busiest of {pods} pods" if pods > 1 else "one pod"
            caveat = f"{which}; {latest.sample.caveat}"
            if idle:
                yield Finding.failing(
                    workload.ref,
                    f"uses {'; '.join(idle)}, below {params.idle_ratio:.0%} ({caveat})",
                    container,
                )
            elif judged:
                yield Finding.passing(
                    workload.ref, f"uses {'; '.join(judged)} ({caveat})", container
                )
            else:
                yield Finding.skipped(
                    workload.ref,
                    f"requests no cpu of at least {params.min_cpu_request} nor memory of at least "
                    f"{params.min_memory_request}",
                    container,
                )


CHECKS = (over_provisioned,)
