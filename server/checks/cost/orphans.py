"""Cost checks on objects nothing uses: ConfigMaps no pod refers to."""

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
    per_object,
)
from assay.server.checks.kit.references import CONFIGMAP, used_names
from assay.server.core.types import Pillar, Severity
from assay.server.inventory import WORKLOAD_KINDS
from assay.server.inventory.raw import (
    KubeObject,
    annotations_of,
    labels_of,
    metadata,
    name_of,
    namespace_of,
)

LEADER_ELECTION_ANNOTATION = "control-plane.alpha.kubernetes.io/leader"


@dataclass(frozen=True)
class OrphanedConfigMapParams:
    ignored_names: frozenset[str] = param(
        frozenset(
            {
                "kube-root-ca.crt",
                "istio-ca-root-cert",
                "extension-apiserver-authentication",
                "cluster-info",
                "kubeadm-config",
                "kubelet-config",
            }
        ),
        "ConfigMaps that clusters and meshes publish for the API, not for pods",
    )
    sidecar_labels: frozenset[str] = param(
        frozenset({"grafana_dashboard", "grafana_datasource", "grafana_alert", "grafana_notifier"}),
        "labels by which sidecars (e.g. Grafana's k8s-sidecar) find ConfigMaps over the API",
    )


def _meant_for_pods(configmap: KubeObject, ctx: Context[OrphanedConfigMapParams]) -> bool:
    labels = labels_of(configmap)
    return not (
        name_of(configmap) in ctx.params.ignored_names
        or LEADER_ELECTION_ANNOTATION in annotations_of(configmap)
        or labels.get("OWNER") == "TILLER"
        or labels.get("owner") == "helm"
        or ctx.params.sidecar_labels & labels.keys()
        or metadata(configmap).get("ownerReferences")
    )


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
    applies_to=Applicability(
        "ConfigMaps meant for pods: not the ignored names, leader-election records, Helm "
        "release records, sidecar-discovered or owned ConfigMaps",
        _meant_for_pods,
    ),
    params=OrphanedConfigMapParams,
)


@per_object(COST_003, kinds=("ConfigMap",), include_owned=True)
def orphaned_configmaps(configmap: KubeObject, ctx: Context[Any]) -> Verdict:
    namespace = namespace_of(configmap)
    if (CONFIGMAP, name_of(configmap)) in used_names(ctx.inventory, namespace):
        return ok("referenced by a pod or pod template")
    return fail(f"no pod or pod template in namespace {namespace} refers to it")


CHECKS = (orphaned_configmaps,)
