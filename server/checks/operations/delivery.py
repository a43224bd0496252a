"""Operational-excellence checks on delivery: declarative (GitOps) delivery (OPS-010) and
whether workloads can be rolled back (OPS-012)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

from assay.server.checks.kit import (
    USER_OBJECTS,
    Applicability,
    CheckDefinition,
    Context,
    Finding,
    Verdict,
    check,
    param,
    per_object,
    problems_or_ok,
)
from assay.server.checks.kit.system_objects import created_by_kubernetes
from assay.server.checks.kit.text import counted, listed
from assay.server.core.types import Pillar, Severity, Source
from assay.server.inventory import WORKLOAD_KINDS, Inventory
from assay.server.inventory.raw import (
    KubeObject,
    annotations_of,
    dig,
    int_or_none,
    kind_of,
    labels_of,
    name_of,
)

# -- OPS-010 ------------------------------------------------------------------------------

GITOPS_RESOURCES: dict[str, tuple[str, str]] = {
    "Application": ("argoproj.io", "Argo CD"),
    "ApplicationSet": ("argoproj.io", "Argo CD"),
    "Kustomization": ("kustomize.toolkit.fluxcd.io", "Flux"),
    "HelmRelease": ("helm.toolkit.fluxcd.io", "Flux"),
}
"""Kind -> (API group, tool) of the GitOps controllers' custom resources."""
GITOPS_CRDS = frozenset(f"{kind.lower()}s.{group}" for kind, (group, _) in GITOPS_RESOURCES.items())
FLUX_GROUPS = ("kustomize.toolkit.fluxcd.io", "helm.toolkit.fluxcd.io")
"""Served only by Flux (argoproj.io is shared with Argo Rollouts and Workflows)."""
TRACKING_LABELS = (
    "argocd.argoproj.io/instance",
    "kustomize.toolkit.fluxcd.io/name",
    "helm.toolkit.fluxcd.io/name",
)
TRACKING_ANNOTATIONS = ("argocd.argoproj.io/tracking-id",)


@dataclass(frozen=True)
class DeliveryParams:
    managed_by_label: str = param(
        "app.kubernetes.io/managed-by", "label naming the tool that manages a workload"
    )


def _group_of(obj: KubeObject) -> str:
    return str(obj.get("apiVersion") or "").rpartition("/")[0]


def gitops_in_use(inventory: Inventory) -> list[str]:
    """What shows declarative delivery: custom resources, CRDs, or (live) served Flux APIs."""
    found: Counter[str] = Counter()
    for kind, (group, tool) in GITOPS_RESOURCES.items():
        for obj in inventory.objects(kind):
            if _group_of(obj) == group:
                found[f"{tool} {kind}"] += 1
    evidence = [counted(n, what) for what, n in sorted(found.items())]
    crds = sorted(name_of(c) for c in inventory.objects("CustomResourceDefinition"))
    evidence.extend(f"CRD {name}" for name in crds if name in GITOPS_CRDS)
    if inventory.source is Source.LIVE:
        evidence.extend(f"served API {g}" for g in FLUX_GROUPS if inventory.has_api(g))
    return evidence


OPS_010 = CheckDefinition(
    id="OPS-010",
    pillar=Pillar.OPERATIONAL_EXCELLENCE,
    name="Declarative delivery (GitOps)",
    description=(
        "When a GitOps controller applies what is in Git, the cluster's state is reviewed, "
        "versioned and reproducible; without one, and without a delivery tool labelling "
        "what it manages, nobody can tell how a workload got there."
    ),
    severity=Severity.INFO,
    scope="C",
    remediation=(
        "Deliver workloads from Git with Argo CD (Applications) or Flux (Kustomizations, "
        "HelmReleases); at the least, deploy through a tool that sets "
        "app.kubernetes.io/managed-by (Helm does) and keep the manifests in version control."
    ),
    kinds=(*GITOPS_RESOURCES, *WORKLOAD_KINDS),
    applies_to=Applicability(
        "the cluster: its GitOps objects, then its workloads (not Kubernetes' own)"
    ),
    params=DeliveryParams,
    notes=(
        "Recognises Argo CD Application and ApplicationSet (argoproj.io), Flux Kustomization "
        "(kustomize.toolkit.fluxcd.io) and HelmRelease (helm.toolkit.fluxcd.io) objects, "
        "their CustomResourceDefinitions in manifests, and live the Flux APIs being served "
        "(CRDs are not listed live: their schemas make the list large); a workload counts "
        "as managed by app.kubernetes.io/managed-by or the Argo CD and Flux tracking labels.",
    ),
)


@check(OPS_010)
def declarative_delivery(ctx: Context[DeliveryParams]) -> Iterator[Finding]:
    inventory = ctx.inventory
    evidence = gitops_in_use(inventory)
    if evidence:
        yield Finding.passing(None, "declarative delivery in use: " + ", ".join(evidence))
        return
    workloads = [w for w in inventory.workloads() if not created_by_kubernetes(w.obj)]
    if not workloads:
        return
    label = ctx.params.managed_by_label
    tools: Counter[str] = Counter()
    unmanaged = []
    for workload in workloads:
        labels = labels_of(workload.obj)
        if labels.get(label):
            tools[labels[label]] += 1
        elif any(k in labels for k in TRACKING_LABELS) or any(
            k in annotations_of(workload.obj) for k in TRACKING_ANNOTATIONS
        ):
            tools["GitOps tracking label"] += 1
        else:
            unmanaged.append(f"{workload.namespace}/{workload.name}")
    if not unmanaged:
        shown = ", ".join(f"{tool} x{n}" for tool, n in tools.most_common())
        yield Finding.passing(
            None, f"no Argo CD or Flux objects, but every workload names its manager ({shown})"
        )
        return
    yield Finding.failing(
        None,
        f"no Argo CD or Flux objects, and {len(unmanaged)} of "
        f"{counted(len(workloads), 'workload')} carry no {label} label: {listed(unmanaged)}",
    )


# -- OPS-012 ------------------------------------------------------------------------------


@dataclass(frozen=True)
class RollbackParams:
    min_revision_history: int = param(
        1, "fewest old revisions (revisionHistoryLimit) kept to roll back to"
    )
    require_progress_deadline: bool = param(
        True, "a Deployment must set progressDeadlineSeconds explicitly"
    )
    max_progress_deadline_seconds: int = param(
        3600, "longest progressDeadlineSeconds before a stuck rollout is reported"
    )


OPS_012 = CheckDefinition(
    id="OPS-012",
    pillar=Pillar.OPERATIONAL_EXCELLENCE,
    name="Rollback capability",
    description=(
        "A rollback needs an old revision to go back to, and a stuck rollout must be noticed: "
        "revisionHistoryLimit 0 deletes every old revision, and a missing or huge "
        "progressDeadlineSeconds leaves a failed rollout unreported."
    ),
    severity=Severity.INFO,
    scope="W",
    remediation=(
        "Keep revisionHistoryLimit above 0 (the default is 10) and set the Deployment's "
        "progressDeadlineSeconds to a bit more than its slowest healthy rollout (e.g. 600) so "
        "a stuck one reports ProgressDeadlineExceeded and the pipeline can roll back."
    ),
    kinds=("Deployment", "StatefulSet", "DaemonSet"),
    applies_to=USER_OBJECTS,
    params=RollbackParams,
    notes=(
        "progressDeadlineSeconds exists on Deployments only; the API server defaults it to "
        "600 s, so live Deployments always carry a value and only manifests can leave it "
        "unset.",
    ),
)


@per_object(OPS_012)
def rollback_capability(obj: KubeObject, ctx: Context[RollbackParams]) -> Verdict:
    params = ctx.params
    spec = dig(obj, "spec")
    problems = []
    history = int_or_none(spec.get("revisionHistoryLimit"))
    if history is not None and history < params.min_revision_history:
        problems.append(
            f"revisionHistoryLimit {history} keeps no revision to roll back to "
            f"(fewer than {params.min_revision_history})"
        )
    if kind_of(obj) == "Deployment":
        deadline = int_or_none(spec.get("progressDeadlineSeconds"))
        if deadline is None and params.require_progress_deadline:
            problems.append("progressDeadlineSeconds is not set (the default 600 s applies)")
        elif deadline is not None and deadline > params.max_progress_deadline_seconds:
            problems.append(
                f"progressDeadlineSeconds {deadline} lets a stuck rollout go unreported for "
                f"more than {params.max_progress_deadline_seconds} s"
            )
    return problems_or_ok(problems, "keeps revisions and reports stuck rollouts")


CHECKS = (declarative_delivery, rollback_capability)
