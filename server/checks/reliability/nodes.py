"""Reliability checks on nodes: each node's health, and the cluster's failure domains.

REL-026 reads each Node's conditions and ``spec.unschedulable``; REL-027 counts worker
nodes, zones and control-plane nodes across the cluster (one pass over the nodes).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from assay.server.checks.kit import (
    Applicability,
    CheckDefinition,
    Context,
    Finding,
    NoParams,
    Verdict,
    check,
    fail,
    ok,
    param,
    per_object,
)
from assay.server.checks.kit.scheduling import CONTROL_PLANE_ROLES, is_control_plane
from assay.server.checks.kit.text import listed
from assay.server.checks.reliability.texts import condition_text
from assay.server.core.types import Pillar, Severity
from assay.server.inventory.raw import KubeObject, as_mappings, dig, labels_of, name_of

NODE = "Node"
PRESSURE_CONDITIONS = ("MemoryPressure", "DiskPressure", "PIDPressure", "NetworkUnavailable")
_REPELLING = ("NoSchedule", "NoExecute")

REL_026 = CheckDefinition(
    id="REL-026",
    pillar=Pillar.RELIABILITY,
    name="Node health",
    description=(
        "A node that is NotReady, under memory, disk or PID pressure, without network or "
        "cordoned evicts or refuses pods: the capacity the cluster plans with is not there."
    ),
    severity=Severity.CRITICAL,
    scope="C+L",
    remediation=(
        "kubectl describe node: restart or replace a NotReady node (kubelet, container "
        "runtime, network plugin), free or grow the disk or memory under pressure, and "
        "uncordon (kubectl uncordon) a node whose maintenance is over."
    ),
    kinds=(NODE,),
    applies_to=Applicability("every Node"),
    notes=(
        "Ready False or Unknown (the kubelet stopped reporting), MemoryPressure, "
        "DiskPressure, PIDPressure or NetworkUnavailable True, and spec.unschedulable fail; "
        "a node that is only cordoned fails at medium severity, as cordoning is often "
        "deliberate maintenance. Like Popeye's node conditions, without its metrics part.",
    ),
)


@per_object(REL_026, kinds=(NODE,))
def node_health(node: KubeObject, ctx: Context[NoParams]) -> Verdict:
    conditions = {str(c.get("type")): c for c in as_mappings(dig(node, "status").get("conditions"))}
    problems = []
    ready = conditions.get("Ready")
    if ready is None:
        problems.append("reports no Ready condition")
    elif ready.get("status") != "True":
        state = "NotReady" if ready.get("status") == "False" else "readiness Unknown"
        problems.append(f"{state}{condition_text(ready)}")
    for kind in PRESSURE_CONDITIONS:
        condition = conditions.get(kind)
        if condition is not None and condition.get("status") == "True":
            problems.append(f"{kind}{condition_text(condition)}")
    cordoned = dig(node, "spec").get("unschedulable") is True
    if problems:
        if cordoned:
            problems.append("cordoned")
        return fail("; ".join(problems))
    if cordoned:
        return fail("cordoned (spec.unschedulable)", severity=Severity.MEDIUM)
    return ok("Ready, no pressure, schedulable")


@dataclass(frozen=True)
class FailureDomainParams:
    zone_label_keys: tuple[str, ...] = param(
        ("topology.kubernetes.io/zone", "failure-domain.beta.kubernetes.io/zone"),
        "node labels that name a node's zone, the first present wins",
    )
    min_worker_nodes: int = param(2, "worker nodes the cluster needs to pass")
    min_zones: int = param(2, "zones the worker nodes must span (when nodes carry zone labels)")


REL_027 = CheckDefinition(
    id="REL-027",
    pillar=Pillar.RELIABILITY,
    name="Failure-domain redundancy",
    description=(
        "A cluster with one worker node, one zone or one control-plane node loses "
        "everything, or its API, when that one node or zone fails; spreading replicas "
        "cannot help when there is nowhere to spread them."
    ),
    severity=Severity.MEDIUM,
    scope="C+L",
    remediation=(
        "Run at least two worker nodes spread over two or more zones (one node group per "
        "zone, or a zone-balanced autoscaling group) and, for a self-managed control plane, "
        "three control-plane nodes in different zones."
    ),
    kinds=(NODE,),
    applies_to=Applicability("the cluster as a whole, through its nodes"),
    params=FailureDomainParams,
    notes=(
        "Control-plane nodes are those labelled node-role.kubernetes.io/control-plane (or "
        "master); they count as workers when they carry no NoSchedule or NoExecute "
        "control-plane taint (single-node and k3s-style clusters). A managed control plane "
        "shows no nodes and is not judged; nodes without any zone label leave the zone "
        "count unjudged.",
    ),
)


def takes_workloads(node: KubeObject) -> bool:
    """A worker node, or a control-plane node that is not tainted against ordinary pods."""
    if not is_control_plane(node):
        return True
    return not any(
        taint.get("key") in CONTROL_PLANE_ROLES and taint.get("effect") in _REPELLING
        for taint in as_mappings(dig(node, "spec").get("taints"))
    )


def zone_of(node: KubeObject, keys: Sequence[str]) -> str | None:
    labels = labels_of(node)
    return next((labels[k] for k in keys if labels.get(k)), None)


@check(REL_027)
def failure_domains(ctx: Context[FailureDomainParams]) -> Iterator[Finding]:
    params = ctx.params
    nodes = list(ctx.inventory.objects(NODE))
    if not nodes:
        return
    workers = [n for n in nodes if takes_workloads(n)]
    control = [n for n in nodes if is_control_plane(n)]
    zones = {z for n in workers if (z := zone_of(n, params.zone_label_keys))}
    problems, facts = [], []
    noun = "worker node" if len(workers) == 1 else "worker nodes"
    if len(workers) < params.min_worker_nodes:
        problems.append(
            f"{len(workers)} {noun}"
            + (f" ({listed([name_of(n) for n in workers])})" if workers else "")
        )
    else:
        facts.append(f"{len(workers)} {noun}")
    if not zones:
        facts.append(f"no worker node carries a zone label ({', '.join(params.zone_label_keys)})")
    elif len(zones) < params.min_zones:
        spanned = "zone" if len(zones) == 1 else "zones"
        problems.append(f"worker nodes span {len(zones)} {spanned} ({', '.join(sorted(zones))})")
    else:
        facts.append(f"{len(zones)} zones")
    if len(control) == 1:
        problems.append(f"single control-plane node {name_of(control[0])}")
    elif control:
        facts.append(f"{len(control)} control-plane nodes")
    else:
        facts.append("control plane not visible (managed)")
    if problems:
        yield Finding.failing(None, "; ".join(problems + facts))
    else:
        yield Finding.passing(None, "; ".join(facts))


CHECKS = (node_health, failure_domains)
