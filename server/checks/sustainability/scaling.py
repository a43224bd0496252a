"""Sustainability checks on scaling with demand."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from assay.server.checks.kit import (
    Applicability,
    CheckDefinition,
    Context,
    Verdict,
    fail,
    ok,
    param,
    per_workload,
)
from assay.server.core.types import Pillar, Severity
from assay.server.inventory import Workload
from assay.server.inventory.raw import int_or_none


@dataclass(frozen=True)
class StaticReplicasParams:
    min_static_replicas: int = param(
        3, "Deployments pinned at this many replicas or more are worth scaling on demand"
    )


def _pinned(workload: Workload, ctx: Context[StaticReplicasParams]) -> bool:
    replicas = int_or_none(workload.spec.get("replicas"))
    return (
        workload.kind == "Deployment"
        and replicas is not None
        and replicas >= ctx.params.min_static_replicas
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
    applies_to=Applicability(
        "Deployments whose spec.replicas is at least min_static_replicas", _pinned
    ),
    params=StaticReplicasParams,
)


@per_workload(SUS_004)
def static_replicas(workload: Workload, ctx: Context[Any]) -> Verdict:
    inventory = ctx.inventory
    scalers = inventory.scalers_targeting("Deployment", workload.namespace, workload.name)
    if scalers:
        kinds = ", ".join(sorted({str(s.get("kind")) for s in scalers}))
        return ok(f"scaled on demand by {kinds}")
    return fail(
        f"runs a fixed {workload.spec.get('replicas')} replicas with no "
        "HorizontalPodAutoscaler or ScaledObject"
    )


CHECKS = (static_replicas,)
