"""Reliability checks on redundancy: replica counts (REL-004), HPA minimums (REL-020) and
spreading replicas over nodes and zones (REL-008). Listed in the pillar's ``CHECKS``.
"""

from __future__ import annotations

from collections.abc import Mapping
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
    per_object,
    per_workload,
    replicated,
    skip,
)
from assay.server.checks.kit.applies import REPLICATED_KINDS, expected_replicas
from assay.server.checks.kit.params import ParamError
from assay.server.checks.kit.text import shown
from assay.server.core.types import Pillar, Severity
from assay.server.inventory import Workload
from assay.server.inventory.raw import KubeObject, as_mapping, as_mappings, dig, int_or_none
from assay.server.inventory.selectors import Selector

AUTOSCALER_KINDS = ("HorizontalPodAutoscaler", "ScaledObject")


@dataclass(frozen=True)
class MinimumReplicas:
    min_replicas: int = param(2, "fewest replicas that pass (at least 1)")

    def __post_init__(self) -> None:
        if self.min_replicas < 1:
            raise ParamError("min_replicas", f"must be at least 1, got {self.min_replicas}")


def _not_autoscaled(workload: Workload, ctx: Context[Any]) -> bool:
    return workload.kind in REPLICATED_KINDS and not ctx.inventory.scalers_targeting(
        workload.kind, workload.namespace, workload.name
    )


REL_004 = CheckDefinition(
    id="REL-004",
    pillar=Pillar.RELIABILITY,
    name="Single replica",
    description=(
        "A workload with a single replica is down whenever its one pod is: during every "
        "rollout, node drain, eviction or crash, until a replacement is scheduled and ready."
    ),
    severity=Severity.MEDIUM,
    scope="W/X",
    remediation=(
        "Set spec.replicas to 2 or more (3 for anything behind a quorum or a rolling update "
        "that must keep capacity), or let a HorizontalPodAutoscaler with minReplicas >= 2 own "
        "the count; for singletons by design (leader-elected controllers, RWO volumes) record "
        "the reason with an exemption."
    ),
    kinds=("Deployment", "StatefulSet", *AUTOSCALER_KINDS),
    applies_to=Applicability(
        "Deployments and StatefulSets that no HorizontalPodAutoscaler or KEDA ScaledObject "
        "scales (an autoscaler owns their replica count; REL-020 judges its minimum)",
        _not_autoscaled,
    ),
    params=MinimumReplicas,
    notes=(
        "An unset spec.replicas counts as 1, the API default; like kube-linter's "
        "minimum-three-replicas and Polaris' deploymentMissingReplicas, but with 2 as the "
        "default minimum (kube-linter asks for 3) and StatefulSets included (Polaris looks "
        "only at Deployments).",
        "A workload scaled to 0 gives a skipped result: it has no pod to make redundant "
        "(COST-007 reports idle workloads).",
    ),
)


@per_workload(REL_004)
def single_replica(workload: Workload, ctx: Context[MinimumReplicas]) -> Verdict:
    replicas = workload.replicas or 0
    minimum = ctx.params.min_replicas
    if replicas == 0:
        return skip("scaled to 0 replicas: nothing runs to be made redundant")
    if replicas >= minimum:
        return ok(f"{replicas} replicas")
    unset = workload.spec.get("replicas") is None
    plural = "" if replicas == 1 else "s"
    count = "spec.replicas is not set (defaults to 1)" if unset else f"{replicas} replica{plural}"
    return fail(f"{count}, fewer than {minimum}: any restart or drain takes it down")


REL_020 = CheckDefinition(
    id="REL-020",
    pillar=Pillar.RELIABILITY,
    name="HPA minReplicas < 2",
    description=(
        "An autoscaler allowed down to one replica leaves the workload a single pod at quiet "
        "hours, so one eviction or crash is an outage, however many pods it runs at peak."
    ),
    severity=Severity.MEDIUM,
    scope="W",
    remediation=(
        "Set spec.minReplicas to 2 or more on the HorizontalPodAutoscaler (the field defaults "
        "to 1 when unset), so the workload keeps a spare pod at its lowest load."
    ),
    kinds=AUTOSCALER_KINDS,
    applies_to=Applicability(
        "HorizontalPodAutoscalers, except those a KEDA ScaledObject in the inventory "
        "generates (KEDA manages their minimum)"
    ),
    params=MinimumReplicas,
    notes=(
        "An unset minReplicas counts as 1, the API default. The threshold of Polaris' "
        "hpaMinAvailability, configurable; softer by default than kube-linter's "
        "hpa-minimum-three-replicas, which asks for 3.",
    ),
)


@per_object(REL_020, kinds=("HorizontalPodAutoscaler",))
def hpa_min_replicas(hpa: KubeObject, ctx: Context[MinimumReplicas]) -> Verdict:
    raw = dig(hpa, "spec").get("minReplicas")
    minimum = ctx.params.min_replicas
    value = 1 if raw is None else int_or_none(raw)
    if value is None:
        return fail(f"minReplicas {shown(raw)} is not a number")
    if value >= minimum:
        return ok(f"minReplicas {value}")
    said = "minReplicas is not set (defaults to 1)" if raw is None else f"minReplicas {value}"
    return fail(f"{said}, fewer than {minimum}: at low load one pod carries everything")


@dataclass(frozen=True)
class SpreadParams:
    topology_keys: frozenset[str] = param(
        frozenset({"kubernetes.io/hostname", "topology.kubernetes.io/zone"}),
        "node label keys a podAntiAffinity term or topologySpreadConstraint must spread "
        "over to count (hosts, zones)",
    )


REL_008 = CheckDefinition(
    id="REL-008",
    pillar=Pillar.RELIABILITY,
    name="No spread / anti-affinity",
    description=(
        "Replicas the scheduler is free to put on one node all go down with that node; "
        "a topology spread constraint that is invalid spreads nothing, or keeps pods from "
        "being scheduled at all."
    ),
    severity=Severity.MEDIUM,
    scope="W",
    remediation=(
        "Add a topologySpreadConstraint with topologyKey kubernetes.io/hostname (and one for "
        "topology.kubernetes.io/zone), maxSkew: 1, whenUnsatisfiable: ScheduleAnyway and a "
        "labelSelector matching the pod template labels, or a preferred podAntiAffinity term "
        "on the same key and labels; fix constraints with maxSkew 0 or without topologyKey "
        "or labelSelector."
    ),
    kinds=("Deployment", "StatefulSet", *AUTOSCALER_KINDS),
    applies_to=replicated(2),
    params=SpreadParams,
    notes=(
        "Softer than kube-score and kube-linter, which accept only a podAntiAffinity term on "
        "kubernetes.io/hostname: a topologySpreadConstraint, or a zone key, counts too. A term "
        "or constraint counts only if its labelSelector selects the workload's own pods.",
        "The scheduler's built-in default spreading (soft, when a pod sets no constraint) is "
        "not in the spec and does not count: clusters can turn it off and it never blocks "
        "co-location.",
        "Invalid constraints (maxSkew below 1, no topologyKey, no labelSelector, minDomains "
        "below 1, whenUnsatisfiable neither DoNotSchedule nor ScheduleAnyway) fail with "
        "severity high.",
    ),
)


@per_workload(REL_008)
def no_spread(workload: Workload, ctx: Context[SpreadParams]) -> Verdict:
    spec = workload.pod_spec
    keys = ctx.params.topology_keys
    invalid: list[str] = []
    spread_by: list[str] = []
    ignored: list[str] = []
    for index, constraint in enumerate(as_mappings(spec.get("topologySpreadConstraints"))):
        where = f"topologySpreadConstraints[{index}]"
        problems = _constraint_problems(constraint)
        if problems:
            invalid.append(f"{where} " + ", ".join(problems))
            continue
        key = str(constraint.get("topologyKey"))
        reason = _not_spreading(workload, constraint, key, keys)
        if reason:
            ignored.append(f"{where} {reason}")
        else:
            spread_by.append(f"topologySpreadConstraint on {key}")
    for mode, term in _anti_affinity_terms(spec):
        key = str(term.get("topologyKey") or "")
        reason = _not_spreading(workload, term, key, keys)
        if reason:
            ignored.append(f"{mode} podAntiAffinity term {reason}")
        else:
            spread_by.append(f"{mode} podAntiAffinity on {key}")
    if invalid:
        return fail("invalid: " + "; ".join(invalid), severity=Severity.HIGH)
    replicas = expected_replicas(ctx.inventory, workload)
    if spread_by:
        return ok(f"{replicas} replicas spread by " + ", ".join(sorted(set(spread_by))))
    message = (
        f"{replicas} replicas and neither a podAntiAffinity term nor a "
        f"topologySpreadConstraint spreads its own pods over {_keys(keys)}"
    )
    if ignored:
        message += " (" + "; ".join(ignored) + ")"
    return fail(message)


def _constraint_problems(constraint: KubeObject) -> list[str]:
    problems = []
    skew = int_or_none(constraint.get("maxSkew"))
    if skew is None or skew < 1:
        problems.append(f"maxSkew {shown(constraint.get('maxSkew'))} is not at least 1")
    if not constraint.get("topologyKey"):
        problems.append("has no topologyKey")
    if not isinstance(constraint.get("labelSelector"), Mapping):
        problems.append("has no labelSelector (it counts no pods, so it spreads nothing)")
    domains = constraint.get("minDomains")
    if domains is not None and (int_or_none(domains) or 0) < 1:
        problems.append(f"minDomains {shown(domains)} is not at least 1")
    when = constraint.get("whenUnsatisfiable")
    if when not in ("DoNotSchedule", "ScheduleAnyway"):
        problems.append(
            f"whenUnsatisfiable {shown(when)} is neither DoNotSchedule nor ScheduleAnyway"
        )
    return problems


def _anti_affinity_terms(spec: KubeObject) -> list[tuple[str, KubeObject]]:
    anti = dig(spec, "affinity", "podAntiAffinity")
    terms = [
        ("required", t)
        for t in as_mappings(anti.get("requiredDuringSchedulingIgnoredDuringExecution"))
    ]
    terms.extend(
        ("preferred", as_mapping(t.get("podAffinityTerm")))
        for t in as_mappings(anti.get("preferredDuringSchedulingIgnoredDuringExecution"))
    )
    return terms


def _not_spreading(
    workload: Workload, term: KubeObject, key: str, keys: frozenset[str]
) -> str | None:
    """Why a valid term or constraint does not spread this workload's pods, or ``None``."""
    if key not in keys:
        return f"is on {shown(key)}, not on {_keys(keys)}"
    if not Selector.from_label_selector(term.get("labelSelector")).matches(workload.labels):
        return "has a labelSelector that does not select the workload's own pods"
    namespaces = term.get("namespaces")
    if (
        isinstance(namespaces, list)
        and namespaces
        and workload.namespace not in namespaces
        and not term.get("namespaceSelector")
    ):
        return f"looks only at namespaces {', '.join(map(str, namespaces))}"
    return None


def _keys(keys: frozenset[str]) -> str:
    return " or ".join(sorted(keys)) or "no topology key (topology_keys is empty)"


CHECKS = (single_replica, no_spread, hpa_min_replicas)
