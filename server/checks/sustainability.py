"""Sustainability pillar checks (SUS-*): definitions and their functions.

Collected into the built-in registry by :mod:`assay.server.checks`.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

from assay.server.checks.kit.definition import Check, CheckDefinition, Finding, check
from assay.server.checks.kit.podspec import format_bytes, format_cores, pod_request
from assay.server.checks.kit.quantity import quantity_or_none
from assay.server.core.types import Pillar, Severity
from assay.server.inventory import Inventory
from assay.server.inventory.raw import dig, int_or_none

MIN_RESERVED_RATIO = Decimal("0.15")
"""Below this share of allocatable capacity requested, capacity is mostly idle."""
MIN_NODES = 3
"""Smaller clusters cannot shrink meaningfully, so the ratio is not judged."""
MIN_STATIC_REPLICAS = 3
"""Deployments pinned at this many replicas or more are worth scaling on demand."""
_FINISHED_PHASES = frozenset({"Succeeded", "Failed"})

SUS_001 = CheckDefinition(
    id="SUS-001",
    pillar=Pillar.SUSTAINABILITY,
    name="Idle reserved capacity",
    description=(
        "When running pods request only a small share of what the nodes can allocate, most "
        "of the provisioned (and powered) capacity sits idle."
    ),
    severity=Severity.LOW,
    scope="C+L",
    remediation=(
        "Consolidate onto fewer or smaller nodes: enable the cluster autoscaler's scale-down "
        "(or Karpenter consolidation), lower the node pool's minimum size, and pick instance "
        "sizes closer to the pods' requests."
    ),
    kinds=("Node", "Pod"),
)

SUS_004 = CheckDefinition(
    id="SUS-004",
    pillar=Pillar.SUSTAINABILITY,
    name="No demand-based scaling",
    description=(
        "A Deployment pinned at several replicas runs them around the clock, even when "
        "demand would be met by fewer."
    ),
    severity=Severity.LOW,
    scope="X",
    remediation=(
        "Add a HorizontalPodAutoscaler (or a KEDA ScaledObject) targeting the Deployment, with "
        "minReplicas at the off-peak need and maxReplicas at the peak, and remove spec.replicas "
        "from the manifest so deployments do not reset the scale."
    ),
    kinds=("Deployment", "HorizontalPodAutoscaler", "ScaledObject"),
    needs=frozenset({"autoscaling/v2"}),  # without HPAs, "no autoscaler" cannot be judged
)


def idle_capacity(inventory: Inventory) -> Iterator[Finding]:
    nodes = [
        n for n in inventory.objects("Node") if dig(n, "spec").get("unschedulable") is not True
    ]
    if not nodes:
        return
    if len(nodes) < MIN_NODES:
        yield Finding.skipped(
            None, f"{len(nodes)} schedulable node(s): fewer than {MIN_NODES}, not judged"
        )
        return
    allocatable = {
        resource: sum(
            (
                quantity_or_none(dig(n, "status", "allocatable").get(resource)) or Decimal(0)
                for n in nodes
            ),
            Decimal(0),
        )
        for resource in ("cpu", "memory")
    }
    requested = dict.fromkeys(("cpu", "memory"), Decimal(0))
    for pod in inventory.objects("Pod"):
        if dig(pod, "status").get("phase") in _FINISHED_PHASES:
            continue
        spec = dig(pod, "spec")
        for resource in requested:
            requested[resource] += pod_request(spec, resource)
    if not allocatable["cpu"] or not allocatable["memory"]:
        yield Finding.skipped(None, "nodes report no allocatable cpu or memory")
        return
    ratio = {r: requested[r] / allocatable[r] for r in requested}
    message = (
        f"pods request {format_cores(requested['cpu'])} of {format_cores(allocatable['cpu'])} "
        f"({ratio['cpu']:.1%}) and {format_bytes(requested['memory'])} of "
        f"{format_bytes(allocatable['memory'])} ({ratio['memory']:.1%}) across {len(nodes)} nodes"
    )
    idle = [r for r in ("cpu", "memory") if ratio[r] < MIN_RESERVED_RATIO]
    if idle:
        yield Finding.failing(
            None, f"{message}: {' and '.join(idle)} below {MIN_RESERVED_RATIO:.0%} reserved"
        )
    else:
        yield Finding.passing(None, message)


def static_replicas(inventory: Inventory) -> Iterator[Finding]:
    for workload in inventory.workloads():
        if workload.kind != "Deployment":
            continue
        replicas = int_or_none(workload.spec.get("replicas"))
        if replicas is None or replicas < MIN_STATIC_REPLICAS:
            continue
        scalers = inventory.scalers_targeting("Deployment", workload.namespace, workload.name)
        if scalers:
            kinds = ", ".join(sorted({str(s.get("kind")) for s in scalers}))
            yield Finding.passing(workload.ref, f"scaled on demand by {kinds}")
        else:
            yield Finding.failing(
                workload.ref,
                f"runs a fixed {replicas} replicas with no HorizontalPodAutoscaler or ScaledObject",
            )


CHECKS: tuple[Check, ...] = (
    check(SUS_001)(idle_capacity),
    check(SUS_004)(static_replicas),
)
