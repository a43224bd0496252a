"""Cost checks on capacity: load balancers, idle workloads and namespaces, spot capacity.

COST-006 and COST-010 judge the cluster as a whole in one pass over its Services, Nodes and
workloads; COST-007 judges each Deployment, StatefulSet and (live) Namespace, counting the
pods of every namespace once.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

from assay.server.checks.cost.orphans import LABEL_MATCH_HELP, has_label
from assay.server.checks.kit import (
    Applicability,
    CheckDefinition,
    Context,
    Finding,
    check,
    param,
    ref_of,
)
from assay.server.checks.kit.applies import expected_replicas
from assay.server.checks.kit.system_objects import BUILTIN_NAMESPACES, created_by_kubernetes
from assay.server.checks.kit.text import counted, listed
from assay.server.core.types import Pillar, Severity, Source
from assay.server.inventory import Inventory, Workload
from assay.server.inventory.raw import (
    KubeObject,
    annotations_of,
    as_mappings,
    dig,
    int_or_none,
    kind_of,
    labels_of,
    name_of,
    namespace_of,
)

# -- COST-006 ------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoadBalancerParams:
    max_load_balancers: int = param(5, "most Services of type LoadBalancer a cluster may have")


COST_006 = CheckDefinition(
    id="COST-006",
    pillar=Pillar.COST_OPTIMIZATION,
    name="Load-balancer sprawl",
    description=(
        "Every Service of type LoadBalancer provisions its own cloud load balancer, billed "
        "by the hour and by traffic; a handful of shared Ingress or Gateway entry points "
        "usually serve the same traffic."
    ),
    severity=Severity.LOW,
    scope="C",
    remediation=(
        "Put HTTP(S) services behind one Ingress controller or Gateway (Gateway API) and "
        "turn their Services into ClusterIP; keep LoadBalancer Services for non-HTTP "
        "traffic that cannot share an entry point."
    ),
    kinds=("Service",),
    params=LoadBalancerParams,
    notes=("Counts every LoadBalancer Service, internal and pending ones included.",),
)


@check(COST_006)
def load_balancer_sprawl(ctx: Context[LoadBalancerParams]) -> Iterator[Finding]:
    services = ctx.inventory.objects("Service")
    if not services:
        return
    balancers = [
        f"{namespace_of(s)}/{name_of(s)}"
        for s in services
        if dig(s, "spec").get("type") == "LoadBalancer"
    ]
    most = ctx.params.max_load_balancers
    count = len(balancers)
    if count > most:
        by_namespace = Counter(b.split("/")[0] for b in balancers).most_common(3)
        busiest = ", ".join(f"{ns} ({n})" for ns, n in by_namespace)
        yield Finding.failing(
            None,
            f"{counted(count, 'Service')} of type LoadBalancer (more than {most}), each a billed "
            "cloud "
            f"load balancer: {listed(balancers)}; most in {busiest}",
        )
    else:
        yield Finding.passing(
            None, f"{counted(count, 'Service')} of type LoadBalancer (at most {most})"
        )


# -- COST-007 ------------------------------------------------------------------------------


@dataclass(frozen=True)
class IdleParams:
    ignored_namespaces: frozenset[str] = param(
        BUILTIN_NAMESPACES, "namespaces never reported as idle (Kubernetes' own)"
    )
    scheduled_scale_annotations: frozenset[str] = param(
        frozenset({"downscaler/original-replicas"}),
        "annotation keys a scheduled scaler (kube-downscaler) leaves on what it scaled to 0",
    )


IDLE_KINDS = ("Deployment", "StatefulSet")
ACTIVE_PHASES = frozenset({"Running", "Pending"})


def _idle_in_scope(obj: KubeObject, ctx: Context[IdleParams]) -> bool:
    if kind_of(obj) == "Namespace":
        return (
            ctx.inventory.source is Source.LIVE
            and name_of(obj) not in ctx.params.ignored_namespaces
            and dig(obj, "status").get("phase") != "Terminating"
        )
    return not (created_by_kubernetes(obj) or ctx.inventory.is_owned(obj))


COST_007 = CheckDefinition(
    id="COST-007",
    pillar=Pillar.COST_OPTIMIZATION,
    name="Idle workloads/namespaces",
    description=(
        "A Deployment or StatefulSet scaled to zero, or a namespace where nothing runs, "
        "still holds its volumes, load balancers, secrets and quota while serving nothing."
    ),
    severity=Severity.LOW,
    scope="X (+L)",
    remediation=(
        "Delete workloads and namespaces that are no longer needed (their claims and "
        "LoadBalancer Services with them); scale temporarily parked workloads with an "
        "autoscaler (KEDA can scale to zero on demand) or a scheduled scaler instead of by "
        "hand."
    ),
    kinds=(*IDLE_KINDS, "Namespace", "Pod", "CronJob", "HorizontalPodAutoscaler", "ScaledObject"),
    applies_to=Applicability(
        "Deployments and StatefulSets (not Kubernetes' own, not owned by another object) "
        "and, live, namespaces other than the ignored ones",
        _idle_in_scope,
    ),
    params=IdleParams,
    notes=(
        "Workloads a KEDA ScaledObject targets (it scales from zero on demand) or that a "
        "scheduled scaler parked are not idle; a HorizontalPodAutoscaler does not count, as "
        "it stops scaling a target whose replicas is 0.",
        "Whether a namespace runs anything is live status: pods Running or Pending count, "
        "and a namespace with a CronJob is busy on schedule; on manifests only workloads "
        "scaled to zero are judged.",
    ),
)


@check(COST_007)
def idle_workloads(ctx: Context[IdleParams]) -> Iterator[Finding]:
    inventory = ctx.inventory
    applies = COST_007.applies_to
    for kind in IDLE_KINDS:
        for obj in inventory.objects(kind):
            if applies.applies(obj, ctx):
                yield _workload_finding(inventory, obj, ctx.params)
    active = inventory.memo("cost:active-pods", lambda: _active_pods(inventory))
    scheduled = {namespace_of(c) for c in inventory.objects("CronJob")}
    for namespace in inventory.objects("Namespace"):
        if not applies.applies(namespace, ctx):
            continue
        name, ref = name_of(namespace), ref_of("Namespace", namespace)
        if active[name]:
            yield Finding.passing(ref, f"{counted(active[name], 'pod')} running or pending")
        elif name in scheduled:
            yield Finding.passing(ref, "no pod now, but a CronJob runs here on schedule")
        else:
            yield Finding.failing(ref, "no pod runs or waits to run in this namespace")


def _active_pods(inventory: Inventory) -> Counter[str]:
    return Counter(
        namespace_of(p)
        for p in inventory.objects("Pod")
        if dig(p, "status").get("phase") in ACTIVE_PHASES
    )


def _workload_finding(inventory: Inventory, obj: KubeObject, params: IdleParams) -> Finding:
    ref = ref_of(kind_of(obj), obj)
    raw = dig(obj, "spec").get("replicas")
    replicas = 1 if raw is None else int_or_none(raw)
    if replicas != 0:
        return Finding.passing(ref, f"spec.replicas is {replicas}")
    scalers = inventory.scalers_targeting(ref.kind, ref.namespace, ref.name)
    for scaler in scalers:
        if kind_of(scaler) == "ScaledObject":
            return Finding.passing(ref, f"scaled from zero on demand by {name_of(scaler)}")
    parked = sorted(params.scheduled_scale_annotations & annotations_of(obj).keys())
    if parked:
        return Finding.passing(ref, f"scaled to 0 on schedule ({parked[0]})")
    hpas = [name_of(s) for s in scalers]
    why = f" (HorizontalPodAutoscaler {hpas[0]} is disabled while replicas is 0)" if hpas else ""
    return Finding.failing(
        ref, f"spec.replicas is 0 and nothing scales it up{why}: it serves nothing"
    )


# -- COST-010 ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SpotParams:
    min_replicas: int = param(2, "fewest replicas for a stateless Deployment to suit spot nodes")
    spot_node_labels: frozenset[str] = param(
        frozenset(
            {
                "eks.amazonaws.com/capacityType=SPOT",
                "karpenter.sh/capacity-type=spot",
                "cloud.google.com/gke-spot=true",
                "cloud.google.com/gke-preemptible=true",
                "kubernetes.azure.com/scalesetpriority=spot",
            }
        ),
        f"node labels that mark spot or preemptible capacity; {LABEL_MATCH_HELP}",
    )


SAFE_TO_EVICT = "cluster-autoscaler.kubernetes.io/safe-to-evict"


def _spot_candidate(workload: Workload, ctx: Context[SpotParams]) -> bool:
    """A Deployment with enough replicas, no claim-backed volume, that may be evicted."""
    if workload.kind != "Deployment" or created_by_kubernetes(workload.obj):
        return False
    if workload.template_annotations.get(SAFE_TO_EVICT) == "false":
        return False
    if any("persistentVolumeClaim" in v for v in as_mappings(workload.pod_spec.get("volumes"))):
        return False
    return expected_replicas(ctx.inventory, workload) >= ctx.params.min_replicas


COST_010 = CheckDefinition(
    id="COST-010",
    pillar=Pillar.COST_OPTIMIZATION,
    name="Spot/preemptible capacity",
    description=(
        "Stateless workloads with several replicas tolerate losing a node, so they can run "
        "on spot or preemptible capacity at a fraction of the on-demand price."
    ),
    severity=Severity.INFO,
    scope="C+L",
    remediation=(
        "Add a spot or preemptible node pool (or a Karpenter NodePool allowing spot) and let "
        "stateless multi-replica Deployments run there: tolerate its taint and prefer it "
        "with a preferred node affinity, keeping a PodDisruptionBudget and topology spread "
        "so an interruption never takes every replica."
    ),
    kinds=("Node", "Deployment", "Pod", "HorizontalPodAutoscaler", "ScaledObject"),
    applies_to=Applicability(
        "the cluster's nodes, and Deployments with at least min_replicas replicas (an "
        "autoscaler's minimum counts), no PersistentVolumeClaim volume and pods not "
        "annotated safe-to-evict: false",
        _spot_candidate,
    ),
    params=SpotParams,
    notes=(
        "Spot capacity is recognised by its providers' node labels (EKS, Karpenter, GKE, "
        "AKS; extend spot_node_labels for others); where pods run is read from their "
        "spec.nodeName.",
    ),
)


@check(COST_010)
def spot_capacity(ctx: Context[SpotParams]) -> Iterator[Finding]:
    inventory = ctx.inventory
    nodes = inventory.objects("Node")
    candidates = [w for w in inventory.workloads() if _spot_candidate(w, ctx)]
    if not nodes or not candidates:
        return
    spot = {name_of(n): n for n in nodes if has_label(labels_of(n), ctx.params.spot_node_labels)}
    if not spot:
        refs = [f"{w.namespace}/{w.name}" for w in candidates]
        yield Finding.failing(
            None,
            f"no spot or preemptible node among {counted(len(nodes), 'node')}, while "
            f"{counted(len(candidates), 'stateless multi-replica Deployment')} could run on "
            f"one: {listed(refs)}",
        )
        return
    for workload in candidates:
        yield _placement(inventory, workload, spot)


def _placement(inventory: Inventory, workload: Workload, spot: dict[str, KubeObject]) -> Finding:
    pods = inventory.pods_selected(workload.namespace, workload.selector)
    placed = [str(dig(p, "spec").get("nodeName")) for p in pods if dig(p, "spec").get("nodeName")]
    if not placed:
        return Finding.skipped(workload.ref, "no scheduled pod shows where it runs")
    on_spot = [node for node in placed if node in spot]
    if on_spot:
        return Finding.passing(workload.ref, f"{len(on_spot)} of {len(placed)} pods on spot nodes")
    untolerated = sorted(
        {
            f"{t.get('key')}={t.get('value', '')}:{t.get('effect')}"
            for node in spot.values()
            for t in as_mappings(dig(node, "spec").get("taints"))
            if not _tolerates(workload.pod_spec, t)
        }
    )
    why = f"; its pods do not tolerate {', '.join(untolerated)}" if untolerated else ""
    return Finding.failing(
        workload.ref,
        f"none of its {len(placed)} scheduled pods runs on the spot nodes "
        f"({listed(sorted(spot))}){why}",
    )


def _tolerates(pod_spec: KubeObject, taint: KubeObject) -> bool:
    """Whether a toleration of ``pod_spec`` matches ``taint`` (key, value, effect)."""
    for toleration in as_mappings(pod_spec.get("tolerations")):
        key, effect = toleration.get("key"), toleration.get("effect")
        if effect and effect != taint.get("effect"):
            continue
        if toleration.get("operator") == "Exists":
            if not key or key == taint.get("key"):
                return True
        elif key == taint.get("key") and str(toleration.get("value") or "") == str(
            taint.get("value") or ""
        ):
            return True
    return False


CHECKS = (load_balancer_sprawl, idle_workloads, spot_capacity)
