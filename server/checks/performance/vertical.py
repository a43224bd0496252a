"""Performance checks on vertical autoscaling: VerticalPodAutoscalers (autoscaling.k8s.io/v1)
next to horizontal autoscalers on the same workload."""

from __future__ import annotations

from typing import Any

from assay.server.checks.kit import (
    Applicability,
    CheckDefinition,
    Context,
    NoParams,
    Verdict,
    fail,
    ok,
    per_object,
)
from assay.server.checks.kit.resources import COMPUTE
from assay.server.core.types import Pillar, Severity
from assay.server.inventory import WORKLOAD_KINDS
from assay.server.inventory.raw import KubeObject, as_mappings, dig, kind_of, name_of, namespace_of

ACTIVE_MODES = ("Auto", "Recreate", "InPlaceOrRecreate")
"""Update modes in which the VPA changes the requests of running pods (``Auto``, the
historical default, is deprecated and means ``Recreate``)."""
_METRIC_SOURCES = {"Resource": "resource", "ContainerResource": "containerResource"}


def update_mode(vpa: KubeObject) -> str:
    return str(dig(vpa, "spec", "updatePolicy").get("updateMode") or "Auto")


def _active(vpa: KubeObject, ctx: Context[Any]) -> bool:
    return update_mode(vpa) in ACTIVE_MODES


def controlled_resources(vpa: KubeObject, containers: list[str] | None) -> frozenset[str]:
    """CPU and memory the VPA sets on ``containers`` (their names, when the target is known).

    ``resourcePolicy.containerPolicies`` entries name a container or ``*`` (the rest); a
    policy with ``mode: "Off"`` leaves its containers alone, ``controlledResources``
    defaults to cpu and memory, and containers without a policy get the defaults.
    """
    policies = {
        str(p.get("containerName") or ""): p
        for p in as_mappings(dig(vpa, "spec", "resourcePolicy").get("containerPolicies"))
    }
    wildcard = policies.get("*")
    names = containers if containers is not None else [n for n in policies if n != "*"]
    chosen = [policies.get(name, wildcard) for name in names]
    if containers is None and wildcard is not None:
        chosen.append(wildcard)
    if containers is None and wildcard is None:
        chosen.append(None)  # containers without a policy get the defaults
    found: set[str] = set()
    for policy in chosen:
        if policy is None:
            found.update(COMPUTE)
        elif policy.get("mode") != "Off":
            raw = policy.get("controlledResources")
            found.update([str(r) for r in raw] if isinstance(raw, list) else COMPUTE)
    return frozenset(found) & frozenset(COMPUTE)


def horizontal_resources(scaler: KubeObject) -> frozenset[str]:
    """CPU and memory an HPA or KEDA ScaledObject scales on (whatever the target type).

    An HPA without metrics (or an autoscaling/v1 one) scales on CPU; a ScaledObject on its
    ``cpu`` and ``memory`` triggers.
    """
    spec = dig(scaler, "spec")
    if kind_of(scaler) == "ScaledObject":
        kinds = {str(t.get("type") or "") for t in as_mappings(spec.get("triggers"))}
        return frozenset(kinds) & frozenset(COMPUTE)
    if "targetCPUUtilizationPercentage" in spec or not as_mappings(spec.get("metrics")):
        return frozenset({"cpu"})
    found = set()
    for metric in as_mappings(spec.get("metrics")):
        field = _METRIC_SOURCES.get(str(metric.get("type")))
        if field:
            found.add(str(dig(metric, field).get("name") or ""))
    return frozenset(found) & frozenset(COMPUTE)


PERF_007 = CheckDefinition(
    id="PERF-007",
    pillar=Pillar.PERFORMANCE_EFFICIENCY,
    name="HPA/VPA conflict",
    description=(
        "A VPA that rewrites CPU or memory requests and an HPA that scales on the same "
        "resource steer one loop with two controllers: the VPA raises requests, the HPA's "
        "utilization (usage / request) falls and it scales in, and so on, so neither "
        "settles."
    ),
    severity=Severity.MEDIUM,
    scope="X",
    remediation=(
        "Let one controller own each resource: scale the HPA on a custom or external metric "
        "(requests per second, queue length) and keep the VPA on CPU and memory, or set the "
        "VPA's updateMode to Off (recommendations only) or restrict its controlledResources "
        "to the resource the HPA does not scale on."
    ),
    kinds=("VerticalPodAutoscaler", "HorizontalPodAutoscaler", "ScaledObject", *WORKLOAD_KINDS),
    needs=frozenset({"autoscaling.k8s.io"}),
    applies_to=Applicability(
        "VerticalPodAutoscalers (autoscaling.k8s.io/v1) in updateMode Auto (the default), "
        "Recreate or InPlaceOrRecreate; Off and Initial do not change running pods",
        _active,
    ),
    notes=(
        "Recognises VPA container policies (mode Off, controlledResources, the * policy), HPA "
        "Resource and ContainerResource metrics of any target type (an HPA without metrics "
        "scales on CPU), and KEDA ScaledObjects' cpu and memory triggers.",
        "Where the VPA API (autoscaling.k8s.io) is not served, the check is not applicable "
        "and says so.",
    ),
)


@per_object(PERF_007, kinds=("VerticalPodAutoscaler",))
def hpa_vpa_conflict(vpa: KubeObject, ctx: Context[NoParams]) -> Verdict:
    target = dig(vpa, "spec", "targetRef")
    kind, name = str(target.get("kind") or ""), str(target.get("name") or "")
    namespace = namespace_of(vpa)
    workload = ctx.inventory.workload(kind, namespace, name)
    names = [c.name for c in workload.containers()] if workload is not None else None
    vertical = controlled_resources(vpa, names)
    mode = update_mode(vpa)
    scalers = ctx.inventory.scalers_targeting(kind, namespace, name)
    clashes = []
    for scaler in scalers:
        shared = sorted(vertical & horizontal_resources(scaler))
        if shared:
            clashes.append(f"{kind_of(scaler)} {name_of(scaler)} scales on {', '.join(shared)}")
    if clashes:
        return fail(
            f"updateMode {mode} sets {', '.join(sorted(vertical))} requests of {kind}/{name}, "
            f"while {'; '.join(clashes)}"
        )
    if not scalers:
        return ok(f"no horizontal autoscaler targets {kind}/{name}")
    controlled = ", ".join(sorted(vertical)) or "no resource"
    return ok(f"controls {controlled}; the horizontal autoscalers of {kind}/{name} scale on others")


CHECKS = (hpa_vpa_conflict,)
