"""Performance checks on container resource requests and limits."""

from __future__ import annotations

from assay.server.checks.kit import (
    RESOURCE_CONTAINERS,
    CheckDefinition,
    Context,
    NoParams,
    Verdict,
    fail,
    ok,
    per_container,
)
from assay.server.checks.kit.podspec import LIMIT_AS_REQUEST_NOTE, missing_requests
from assay.server.core.types import Pillar, Severity
from assay.server.inventory import WORKLOAD_KINDS, Container, Workload

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


CHECKS = (requests_missing,)
