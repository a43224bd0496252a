"""Cost-optimization pillar checks (COST-*): definitions and their functions.

Collected into the built-in registry by :mod:`assay.server.checks`.
"""

from __future__ import annotations

from collections.abc import Iterator

from assay.server.checks.kit.definition import Check, CheckDefinition, Finding, check
from assay.server.core.types import ObjectRef, Pillar, Severity
from assay.server.inventory import WORKLOAD_KINDS, Inventory
from assay.server.inventory.raw import (
    KubeObject,
    annotations_of,
    dig,
    int_or_none,
    labels_of,
    metadata,
    name_of,
    namespace_of,
)
from assay.server.inventory.workloads import controller_owner

COST_003 = CheckDefinition(
    id="COST-003",
    pillar=Pillar.COST_OPTIMIZATION,
    name="Orphaned ConfigMap",
    description=(
        "A ConfigMap that no pod or pod template refers to is usually left over from an old "
        "release: it clutters the namespace and hides which configuration is really live."
    ),
    severity=Severity.LOW,
    scope="X",
    remediation=(
        "Delete the ConfigMap if nothing reads it, or label it as part of its release "
        "(app.kubernetes.io/instance) so your delivery tool prunes it. If it is read by the "
        "API rather than mounted (an operator, a label-selecting sidecar), annotate it "
        "assay.kubernaut.ai/exempt: COST-003 with an exempt-reason."
    ),
    kinds=("ConfigMap", *WORKLOAD_KINDS),
)

COST_009 = CheckDefinition(
    id="COST-009",
    pillar=Pillar.COST_OPTIMIZATION,
    name="Finished Jobs retained",
    description=(
        "Finished Jobs and their pods stay in the cluster until someone deletes them, holding "
        "etcd space, API list cost and (for the pods) log storage."
    ),
    severity=Severity.LOW,
    scope="W",
    remediation=(
        "Set spec.ttlSecondsAfterFinished on standalone Jobs (e.g. 86400) so the TTL controller "
        "deletes them once finished; keep CronJob successfulJobsHistoryLimit and "
        "failedJobsHistoryLimit at 3 or less (the defaults are 3 and 1)."
    ),
    kinds=("Job", "CronJob"),
)

IGNORED_CONFIGMAPS = frozenset(
    {
        "kube-root-ca.crt",  # published into every namespace by kube-controller-manager
        "istio-ca-root-cert",
        "extension-apiserver-authentication",
        "cluster-info",
        "kubeadm-config",
        "kubelet-config",
    }
)
SIDECAR_SELECTED_LABELS = frozenset(
    {"grafana_dashboard", "grafana_datasource", "grafana_alert", "grafana_notifier"}
)
"""Labels by which sidecars (e.g. Grafana's k8s-sidecar) discover ConfigMaps over the API."""
LEADER_ELECTION_ANNOTATION = "control-plane.alpha.kubernetes.io/leader"
MAX_SUCCESSFUL_HISTORY = 3
MAX_FAILED_HISTORY = 3


def _not_for_pods(configmap: KubeObject) -> str:
    """Why ``configmap`` is not meant to be referenced by pods ("" when it is)."""
    labels = labels_of(configmap)
    if name_of(configmap) in IGNORED_CONFIGMAPS:
        return "well-known system ConfigMap"
    if LEADER_ELECTION_ANNOTATION in annotations_of(configmap):
        return "leader-election record"
    if labels.get("OWNER") == "TILLER" or labels.get("owner") == "helm":
        return "Helm release record"
    if SIDECAR_SELECTED_LABELS & labels.keys():
        return "discovered by a label-selecting sidecar"
    if metadata(configmap).get("ownerReferences"):
        return "owned by another object"
    return ""


def orphaned_configmaps(inventory: Inventory) -> Iterator[Finding]:
    for configmap in inventory.objects("ConfigMap"):
        if _not_for_pods(configmap):
            continue
        namespace, name = namespace_of(configmap), name_of(configmap)
        ref = ObjectRef("ConfigMap", name, namespace)
        if name in inventory.referenced_configmaps(namespace):
            yield Finding.passing(ref, "referenced by a pod or pod template")
        else:
            yield Finding.failing(
                ref, f"no pod or pod template in namespace {namespace} refers to it"
            )


def finished_jobs_retained(inventory: Inventory) -> Iterator[Finding]:
    for job in inventory.objects("Job"):
        owner = controller_owner(job)
        if owner is not None and owner.get("kind") == "CronJob":
            continue  # pruned by the CronJob's history limits
        ref = ObjectRef("Job", name_of(job), namespace_of(job))
        ttl = int_or_none(dig(job, "spec").get("ttlSecondsAfterFinished"))
        if ttl is None:
            yield Finding.failing(ref, "no ttlSecondsAfterFinished: kept forever once finished")
        else:
            yield Finding.passing(ref, f"deleted {ttl}s after it finishes")
    for cronjob in inventory.objects("CronJob"):
        ref = ObjectRef("CronJob", name_of(cronjob), namespace_of(cronjob))
        spec = dig(cronjob, "spec")
        successful = int_or_none(spec.get("successfulJobsHistoryLimit"))
        failed = int_or_none(spec.get("failedJobsHistoryLimit"))
        problems = []
        if successful is not None and successful > MAX_SUCCESSFUL_HISTORY:
            problems.append(f"successfulJobsHistoryLimit {successful} > {MAX_SUCCESSFUL_HISTORY}")
        if failed is not None and failed > MAX_FAILED_HISTORY:
            problems.append(f"failedJobsHistoryLimit {failed} > {MAX_FAILED_HISTORY}")
        if problems:
            yield Finding.failing(ref, "keeps too many finished Jobs: " + ", ".join(problems))
        else:
            yield Finding.passing(ref, "history limits keep few finished Jobs")


CHECKS: tuple[Check, ...] = (
    check(COST_003)(orphaned_configmaps),
    check(COST_009)(finished_jobs_retained),
)
