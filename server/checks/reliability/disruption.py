"""Reliability checks on voluntary disruptions: PodDisruptionBudgets missing (REL-005),
blocking every eviction (REL-006) or badly formed (REL-007). Listed in the pillar's
``CHECKS``.

PDBs are matched to the workloads whose pod templates they select (and, live, to pods)
through the inventory's selector indexes, one lookup per PDB and per selected workload.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from assay.server.checks.kit import (
    CheckDefinition,
    Context,
    NoParams,
    Verdict,
    fail,
    ok,
    param,
    per_object,
    per_workload,
    problems_or_ok,
    replicated,
    skip,
    warn,
)
from assay.server.checks.kit.applies import expected_replicas
from assay.server.checks.kit.text import listed, shown
from assay.server.core.types import Pillar, Severity
from assay.server.inventory import WORKLOAD_KINDS, Inventory, Workload
from assay.server.inventory.raw import (
    KubeObject,
    as_mappings,
    dig,
    int_or_none,
    name_of,
    namespace_of,
    string_map,
)
from assay.server.inventory.selectors import Selector

REL_005 = CheckDefinition(
    id="REL-005",
    pillar=Pillar.RELIABILITY,
    name="PDB missing",
    description=(
        "A replicated workload without a PodDisruptionBudget can lose all its pods at once "
        "during node drains, cluster upgrades or autoscaler scale-downs."
    ),
    severity=Severity.MEDIUM,
    scope="X",
    remediation=(
        "Create a PodDisruptionBudget (policy/v1) in the workload's namespace whose selector "
        "matches the pod template labels, with maxUnavailable: 1 (or a minAvailable below the "
        "replica count) so voluntary evictions proceed one pod at a time."
    ),
    kinds=(
        "Deployment",
        "StatefulSet",
        "PodDisruptionBudget",
        "HorizontalPodAutoscaler",
        "ScaledObject",
    ),
    applies_to=replicated(2),
)


@per_workload(REL_005)
def pdb_missing(workload: Workload, ctx: Context[NoParams]) -> Verdict:
    replicas = expected_replicas(ctx.inventory, workload)
    pdbs = ctx.inventory.pdbs_selecting(workload.namespace, workload.labels)
    if pdbs:
        names = ", ".join(name_of(p) for p in pdbs)
        return ok(f"{replicas} replicas covered by PDB {names}")
    return fail(
        f"{replicas} replicas and no PodDisruptionBudget in namespace "
        f"{workload.namespace} selects its pod labels"
    )


PDB = "PodDisruptionBudget"
AUTOSCALERS = ("HorizontalPodAutoscaler", "ScaledObject")
_PERCENT = re.compile(r"^(\d{1,9})%$")


@dataclass(frozen=True, slots=True)
class Budget:
    """A minAvailable or maxUnavailable value: a count, or a percentage of the pods."""

    value: int
    percent: bool

    def of(self, pods: int) -> int:
        """The count it means for ``pods`` pods (percentages round up, as the disruption
        controller rounds both fields)."""
        return -(-pods * self.value // 100) if self.percent else self.value

    def __str__(self) -> str:
        return f"{self.value}%" if self.percent else str(self.value)


def budget(value: object) -> Budget | None:
    """An integer or an ``"N%"`` string; ``None`` for anything else (the API rejects it)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return Budget(value, percent=False)
    match = _PERCENT.match(value) if isinstance(value, str) else None
    return Budget(int(match.group(1)), percent=True) if match else None


@dataclass(frozen=True, slots=True)
class Pods:
    """How many pods the workloads a PDB selects run, at their lowest."""

    total: int
    autoscaled: tuple[str, ...]
    """The workloads counted at their autoscaler's minimum."""
    unknown: tuple[str, ...]
    """Workloads whose pod count the inventory does not say (DaemonSets offline, Jobs)."""


def pods_of(inventory: Inventory, workloads: list[Workload]) -> Pods:
    total, autoscaled, unknown = 0, [], []
    for workload in workloads:
        label = f"{workload.kind}/{workload.name}"
        floor = autoscaler_floor(inventory, workload)
        if floor is not None:
            total += floor
            autoscaled.append(label)
            continue
        count = pod_count(workload)
        if count is None:
            unknown.append(label)
        else:
            total += count
    return Pods(total, tuple(autoscaled), tuple(unknown))


def autoscaler_floor(inventory: Inventory, workload: Workload) -> int | None:
    """The fewest replicas an autoscaler keeps: HPA ``minReplicas`` (default 1); a KEDA
    ScaledObject's ``minReplicaCount``, at least 1 (the HPA KEDA creates never goes lower;
    at 0 pods there is nothing to evict). ``None`` when nothing scales the workload."""
    floors = []
    for scaler in inventory.scalers_targeting(workload.kind, workload.namespace, workload.name):
        spec = dig(scaler, "spec")
        if scaler.get("kind") == "HorizontalPodAutoscaler":
            raw = spec.get("minReplicas")
            floors.append(1 if raw is None else int_or_none(raw) or 0)
        else:
            floors.append(max(int_or_none(spec.get("minReplicaCount")) or 0, 1))
    return max(floors) if floors else None


def pod_count(workload: Workload) -> int | None:
    if workload.kind == "Pod":
        return 1
    if workload.replicas is not None:
        return workload.replicas
    if workload.kind == "DaemonSet":  # as many as nodes: known from live status only
        return int_or_none(dig(workload.obj, "status").get("desiredNumberScheduled"))
    return None  # Jobs and CronJobs: a PDB says little about pods that run to completion


def selected_workloads(inventory: Inventory, pdb: KubeObject) -> list[Workload]:
    return inventory.workloads_selected(namespace_of(pdb), pdb_selector(pdb))


def pdb_selector(pdb: KubeObject) -> Selector:
    return Selector.from_label_selector(dig(pdb, "spec").get("selector"))


REL_006 = CheckDefinition(
    id="REL-006",
    pillar=Pillar.RELIABILITY,
    name="PDB blocks evictions",
    description=(
        "A PodDisruptionBudget that allows no disruption makes every node drain hang: cluster "
        "upgrades, autoscaler scale-downs and node maintenance stop until someone deletes it."
    ),
    severity=Severity.HIGH,
    scope="X",
    remediation=(
        "Let at least one pod go at a time: use maxUnavailable: 1 (or a percentage above 0%), "
        "or a minAvailable below the replica count and below the HPA's minReplicas; for a "
        "singleton that must not move during business hours, plan drains instead of "
        "blocking them."
    ),
    kinds=(PDB, *WORKLOAD_KINDS, *AUTOSCALERS),
    notes=(
        "Percentages round up as the disruption controller rounds them, so minAvailable 90% "
        "of 3 replicas means 3 and blocks. Workloads an autoscaler scales count at its "
        "minimum: minAvailable above the HPA's minReplicas fails (the PDB cannot be met at "
        "low load), equal to it gives a warning (evictions stop whenever the HPA is at its "
        "minimum); a KEDA ScaledObject counts at minReplicaCount, at least 1.",
        "Stricter than Polaris' pdbMinAvailableGreaterThanHPAMinReplicas, which looks only at "
        "Deployments, matches a PDB on any one of its labels and passes a minAvailable equal "
        "to minReplicas; stricter than kube-linter's pdb-min-available, which compares only "
        "workloads with an identical selector and rounds percentages down where the "
        "controller rounds them up.",
    ),
)


@per_object(REL_006, kinds=(PDB,))
def pdb_blocks_evictions(pdb: KubeObject, ctx: Context[NoParams]) -> Verdict:
    spec = dig(pdb, "spec")
    raw_max, raw_min = spec.get("maxUnavailable"), spec.get("minAvailable")
    if raw_max is not None:
        most = budget(raw_max)
        if most is None:
            return skip(f"maxUnavailable {shown(raw_max)} is neither an integer nor a percentage")
        if most.value <= 0:
            return fail(f"maxUnavailable {most}: no selected pod may ever be evicted")
        return ok(f"maxUnavailable {most} lets evictions through")
    if raw_min is None:
        return skip("sets neither minAvailable nor maxUnavailable (REL-007 reports it)")
    least = budget(raw_min)
    if least is None:
        return skip(f"minAvailable {shown(raw_min)} is neither an integer nor a percentage")
    if least.percent and least.value >= 100:
        return fail(f"minAvailable {least}: every selected pod must stay up, none may go")
    workloads = selected_workloads(ctx.inventory, pdb)
    if not workloads:
        return skip("selects no workload in the inventory: no replica count to compare with")
    pods = pods_of(ctx.inventory, workloads)
    if pods.unknown:
        return skip(f"the pod count of {listed(pods.unknown, 3)} is not known")
    needed, total = least.of(pods.total), pods.total
    said = f"minAvailable {least}" + (f" (= {needed})" if least.percent else "")
    if total == 0:
        return ok(f"{said}, but the selected workloads are scaled to 0: nothing to evict")
    if pods.autoscaled:
        plural = "s" if total != 1 else ""
        at_minimum = (
            f"{total} pod{plural} at the autoscaler minimum of {listed(pods.autoscaled, 3)}"
        )
        if needed > total:
            return fail(f"{said} is more than the {at_minimum}: evictions stop at low load")
        if needed == total:
            return warn(f"{said} equals the {at_minimum}: evictions stop whenever it is there")
        return ok(f"{said} lets {total - needed} of the {at_minimum} go at a time")
    owners = listed([f"{w.kind}/{w.name}" for w in workloads], 3)
    if needed >= total:
        return fail(
            f"{said} with {total} pod{'s' if total != 1 else ''} ({owners}): none may be evicted"
        )
    return ok(f"{said} of {total} pods ({owners}) lets {total - needed} go at a time")


@dataclass(frozen=True)
class HygieneParams:
    require_unhealthy_pod_eviction_policy: bool = param(
        True,
        "fail PDBs that leave unhealthyPodEvictionPolicy unset (not required on live clusters "
        "older than v1.27, which do not enable the field)",
    )


REL_007 = CheckDefinition(
    id="REL-007",
    pillar=Pillar.RELIABILITY,
    name="PDB hygiene",
    description=(
        "A PodDisruptionBudget that selects nothing protects nothing; pods covered by two "
        "budgets cannot be evicted at all; a budget without minAvailable or maxUnavailable "
        "lets every pod go; and by default pods that run but are not ready cannot be evicted "
        "while the budget is exhausted, so a crash-looping workload blocks node drains."
    ),
    severity=Severity.MEDIUM,
    scope="X",
    remediation=(
        "Give each PDB a selector that matches its workload's pod template labels and no "
        "other PDB's pods, set exactly one of minAvailable or maxUnavailable, and set "
        "unhealthyPodEvictionPolicy: AlwaysAllow so pods that are not ready never block a "
        "drain."
    ),
    kinds=(PDB, *WORKLOAD_KINDS),
    params=HygieneParams,
    notes=(
        "Pods count as selected when a workload's pod template (or, live, a pod) matches the "
        "selector; an absent selector selects nothing and an empty one every pod of the "
        "namespace (policy/v1). The eviction API refuses pods that more than one PDB "
        "selects.",
        "Joins kube-score's 'PodDisruptionBudget has policy' and kube-linter's "
        "pdb-unhealthy-pod-eviction-policy, and adds the selector and overlap tests neither "
        "makes.",
    ),
)


@per_object(REL_007, kinds=(PDB,))
def pdb_hygiene(pdb: KubeObject, ctx: Context[HygieneParams]) -> Verdict:
    inventory, namespace = ctx.inventory, namespace_of(pdb)
    spec = dig(pdb, "spec")
    problems = []
    if spec.get("minAvailable") is None and spec.get("maxUnavailable") is None:
        problems.append(
            "sets neither minAvailable nor maxUnavailable: every selected pod may be evicted "
            "at once"
        )
    selector = pdb_selector(pdb)
    workloads = inventory.workloads_selected(namespace, selector)
    if not workloads and not inventory.pods_selected(namespace, selector):
        problems.append(f"selects no pods ({_describe(spec.get('selector'))})")
    shared = _overlaps(inventory, pdb, workloads)
    if shared:
        problems.append(f"shares pods with {shared}: the eviction API refuses to evict them")
    policy = spec.get("unhealthyPodEvictionPolicy")
    required = ctx.params.require_unhealthy_pod_eviction_policy
    if policy is None and required and _eviction_policy_served(inventory):
        problems.append(
            "unhealthyPodEvictionPolicy is not set (IfHealthyBudget): pods that are not "
            "ready cannot be evicted while the budget is exhausted"
        )
    return problems_or_ok(problems, "selects pods no other PDB selects and sets its budget")


def _overlaps(inventory: Inventory, pdb: KubeObject, workloads: list[Workload]) -> str:
    """The other PDBs selecting pods of ``workloads``, with the workloads they share."""
    shared: dict[str, list[str]] = {}
    for workload in workloads:
        for other in inventory.pdbs_selecting(workload.namespace, workload.labels):
            if other is not pdb:
                shared.setdefault(name_of(other), []).append(f"{workload.kind}/{workload.name}")
    return "; ".join(
        f"PDB {shown(name, 60)} ({listed(owners, 3)})" for name, owners in sorted(shared.items())
    )


def _describe(raw: object) -> str:
    if not isinstance(raw, dict):
        return "it has no selector"
    parts = [f"{k}={v}" for k, v in sorted(string_map(raw.get("matchLabels")).items())]
    for expression in as_mappings(raw.get("matchExpressions")):
        values = expression.get("values")
        listed = ",".join(map(str, values)) if isinstance(values, list) else ""
        parts.append(f"{expression.get('key')} {expression.get('operator')} ({listed})")
    return "selector " + shown(", ".join(parts), 120) if parts else "empty selector"


_VERSION = re.compile(r"^v?(\d+)\.(\d+)")


def _eviction_policy_served(inventory: Inventory) -> bool:
    """unhealthyPodEvictionPolicy is on by default from v1.27; manifests are not judged by
    version (the target cluster is unknown)."""
    match = _VERSION.match(inventory.server_version or "")
    return match is None or (int(match.group(1)), int(match.group(2))) >= (1, 27)


CHECKS = (pdb_missing, pdb_blocks_evictions, pdb_hygiene)
