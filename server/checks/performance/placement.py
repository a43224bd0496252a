"""Performance checks on placement: workloads no node will take, nodes no workload may use,
and pods the scheduler could not place."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
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
from assay.server.checks.kit.owners import pods_by_workload
from assay.server.checks.kit.scheduling import (
    BLOCKING_EFFECTS,
    Placement,
    Taint,
    Toleration,
    is_schedulable,
    taints_of,
    tolerated,
)
from assay.server.checks.kit.text import listed
from assay.server.core.types import Pillar, Severity
from assay.server.inventory import WORKLOAD_KINDS, Inventory, Workload
from assay.server.inventory.raw import KubeObject, as_mappings, dig, name_of, namespace_of

TRANSIENT_TAINT_PREFIXES = ("node.kubernetes.io/",)
TRANSIENT_TAINTS = frozenset(
    {
        "node.cloudprovider.kubernetes.io/uninitialized",
        "ToBeDeletedByClusterAutoscaler",
        "DeletionCandidateOfClusterAutoscaler",
        "karpenter.sh/disrupted",
    }
)
"""Taints nodes carry while a condition lasts (not ready, pressure, cordoned, being deleted):
REL-026 reports those states; placement is judged as if they had passed."""
_MAX_LISTED = 3


@dataclass(frozen=True)
class PlacementParams:
    reserved_taints: frozenset[str] = param(
        frozenset({"node-role.kubernetes.io/control-plane", "node-role.kubernetes.io/master"}),
        "taint keys meant to keep workloads off a node (control-plane nodes): they still "
        "block placement, but a node with no workload tolerating them is not a finding",
    )


PERF_013 = CheckDefinition(
    id="PERF-013",
    pillar=Pillar.PERFORMANCE_EFFICIENCY,
    name="Unschedulable placement",
    description=(
        "A workload whose nodeSelector or required node affinity matches no node (or only "
        "nodes tainted against it) never runs; a node whose taint no workload tolerates runs "
        "nothing but DaemonSets; a Pending pod with FailedScheduling is the scheduler saying "
        "so."
    ),
    severity=Severity.HIGH,
    scope="C+L",
    remediation=(
        "Fix the nodeSelector / nodeAffinity to labels your nodes carry (kubectl get nodes "
        "--show-labels), add the missing toleration, or label and taint a node pool for the "
        "workload; remove taints from nodes nothing is meant to avoid. For Pending pods, act "
        "on the FailedScheduling message (insufficient cpu or memory, volume zone, affinity)."
    ),
    kinds=(*WORKLOAD_KINDS, "Node", "Event"),
    applies_to=Applicability(
        "top-level workloads (placement, Pending pods) and nodes with NoSchedule or NoExecute "
        "taints",
        None,
    ),
    params=PlacementParams,
    notes=(
        "Selectors, required node affinity (In, NotIn, Exists, DoesNotExist, Gt, Lt, "
        "matchFields on metadata.name) and tolerations (Equal/Exists, effect, empty key) are "
        "read as kube-scheduler reads them; only NoSchedule and NoExecute taints block. "
        "Taints of node conditions (node.kubernetes.io/*) and of nodes being removed by an "
        "autoscaler are left to REL-026. Cordoned nodes take no new pods, except DaemonSet "
        "pods. Preferred affinity, resources and pod (anti-)affinity are only seen through "
        "FailedScheduling events and the PodScheduled condition of Pending pods.",
        "Each distinct set of placement constraints is matched against the nodes once, so the "
        "check grows with workloads plus nodes, not their product.",
    ),
)


def _counts(taint: Taint) -> bool:
    return (
        taint.effect in BLOCKING_EFFECTS
        and taint.key not in TRANSIENT_TAINTS
        and not taint.key.startswith(TRANSIENT_TAINT_PREFIXES)
    )


def _static_problem(placement: Placement, nodes: Sequence[KubeObject], daemon: bool) -> str:
    candidates = [n for n in nodes if daemon or is_schedulable(n)]
    if not candidates:
        return "every node is cordoned"
    selected = [n for n in candidates if placement.selects(n)]
    if not selected:
        return f"{placement.describe()} matches none of the {len(candidates)} nodes"
    blocked: set[str] = set()
    for node in selected:
        taints = [str(t) for t in placement.blocking_taints(node) if _counts(t)]
        if not taints:
            return ""
        blocked.update(taints)
    if not placement.constrained:
        which = "every node has"
    elif len(selected) == 1:
        which = "the only node it selects has"
    else:
        which = f"each of the {len(selected)} nodes it selects has"
    return f"{which} a taint it does not tolerate ({listed(sorted(blocked), _MAX_LISTED)})"


def _failed_scheduling(inventory: Inventory) -> dict[tuple[str, str], str]:
    """The latest FailedScheduling message per (namespace, pod)."""

    def build() -> dict[tuple[str, str], str]:
        latest: dict[tuple[str, str], tuple[str, str]] = {}
        for event in inventory.objects("Event"):
            if event.get("reason") != "FailedScheduling":
                continue
            about = dig(event, "involvedObject") or dig(event, "regarding")
            if about.get("kind") != "Pod":
                continue
            key = (str(about.get("namespace") or namespace_of(event)), str(about.get("name")))
            when = str(
                event.get("lastTimestamp")
                or event.get("eventTime")
                or dig(event, "metadata").get("creationTimestamp")
                or ""
            )
            message = str(event.get("message") or event.get("note") or "")[:300]
            if key not in latest or when >= latest[key][0]:
                latest[key] = (when, message)
        return {key: message for key, (_, message) in latest.items()}

    return inventory.memo("performance:failed-scheduling", build)


def _unschedulable_pods(inventory: Inventory, pods: Sequence[KubeObject]) -> list[str]:
    events = _failed_scheduling(inventory)
    found = []
    for pod in pods:
        status = dig(pod, "status")
        if status.get("phase") != "Pending" or dig(pod, "spec").get("nodeName"):
            continue
        message = events.get((namespace_of(pod), name_of(pod)))
        if message is None:
            for condition in as_mappings(status.get("conditions")):
                if (condition.get("type"), condition.get("status"), condition.get("reason")) == (
                    "PodScheduled",
                    "False",
                    "Unschedulable",
                ):
                    message = str(condition.get("message") or "")[:300]
        if message is not None:
            found.append(f"pod {name_of(pod)} is Pending: FailedScheduling {message!r}")
    return found


@check(PERF_013)
def unschedulable_placement(ctx: Context[Any]) -> Iterator[Finding]:
    params: PlacementParams = ctx.params
    inventory = ctx.inventory
    nodes = inventory.objects("Node")
    pods = pods_by_workload(inventory)
    judged: dict[tuple[Placement, bool], str] = {}
    toleration_sets: set[tuple[Toleration, ...]] = set()
    for workload in inventory.workloads():
        placement = Placement.of(workload.pod_spec)
        daemon = workload.kind == "DaemonSet"
        if not daemon:
            toleration_sets.add(placement.tolerations)
        problems = _unschedulable_pods(inventory, pods.get(workload.ref, ()))
        if not _bound(workload):
            key = (placement, daemon)
            if key not in judged and nodes:
                judged[key] = _static_problem(placement, nodes, daemon)
            if judged.get(key):
                problems.insert(0, judged[key])
        if problems:
            yield Finding.failing(workload.ref, "; ".join(problems))
        else:
            yield Finding.passing(workload.ref, _placed(placement, workload, len(nodes)))
    yield from _idle_taints(nodes, toleration_sets, params)


def _bound(workload: Workload) -> bool:
    return workload.kind == "Pod" and bool(workload.pod_spec.get("nodeName"))


def _placed(placement: Placement, workload: Workload, nodes: int) -> str:
    if _bound(workload):
        return f"bound to node {workload.pod_spec.get('nodeName')}"
    if not nodes:
        return "no node in the inventory to match against, and no FailedScheduling pod"
    return f"{placement.describe()}: some node can take its pods"


def _idle_taints(
    nodes: Sequence[KubeObject],
    toleration_sets: set[tuple[Toleration, ...]],
    params: PlacementParams,
) -> Iterator[Finding]:
    verdicts: dict[Taint, bool] = {}
    for node in nodes:
        taints = [t for t in taints_of(node) if _counts(t) and t.key not in params.reserved_taints]
        if not taints:
            continue
        for taint in taints:
            if taint not in verdicts:
                verdicts[taint] = any(tolerated(ts, taint) for ts in toleration_sets)
        idle = [str(t) for t in taints if not verdicts[t]]
        ref = ref_of("Node", node)
        if idle:
            yield Finding.failing(
                ref,
                f"no workload other than DaemonSets tolerates {listed(idle, _MAX_LISTED)}: "
                "the node runs only DaemonSet pods",
            )
        else:
            yield Finding.passing(
                ref, f"workloads tolerate {listed([str(t) for t in taints], _MAX_LISTED)}"
            )


CHECKS = (unschedulable_placement,)
