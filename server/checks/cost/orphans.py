"""Cost checks on objects nothing uses: ConfigMaps, Secrets and volumes no one refers to.

Every reference path (env, envFrom, volumes, projected sources, CSI and in-tree secret refs,
imagePullSecrets, ServiceAccounts, Ingress TLS and annotations, Gateway certificates,
StorageClass and PersistentVolume CSI secrets, StatefulSet claim templates) comes from the
kit's one walker (:mod:`assay.server.checks.kit.references`), indexed once per run.
"""

from __future__ import annotations

from collections.abc import Iterable
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
from assay.server.checks.kit.references import (
    CLAIM,
    CONFIGMAP,
    REFERRING_KINDS,
    SECRET,
    used_names,
)
from assay.server.checks.kit.system_objects import created_by_kubernetes
from assay.server.core.types import Pillar, Severity
from assay.server.inventory import WORKLOAD_KINDS
from assay.server.inventory.raw import (
    KubeObject,
    annotations_of,
    dig,
    kind_of,
    labels_of,
    metadata,
    name_of,
    namespace_of,
)

LEADER_ELECTION_ANNOTATION = "control-plane.alpha.kubernetes.io/leader"
LABEL_MATCH_HELP = "entries are a label key, or key=value for one value of it"


def has_label(labels: dict[str, str], matchers: Iterable[str]) -> bool:
    """Whether ``labels`` has any of ``matchers`` (``key`` or ``key=value``)."""
    for matcher in matchers:
        key, sep, value = matcher.partition("=")
        if key in labels and (not sep or labels[key] == value):
            return True
    return False


def _owned(obj: KubeObject) -> bool:
    return bool(metadata(obj).get("ownerReferences"))


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
                "cluster-autoscaler-status",
            }
        ),
        "ConfigMaps that clusters, meshes and controllers publish for the API, not for pods",
    )
    ignored_annotations: frozenset[str] = param(
        frozenset({LEADER_ELECTION_ANNOTATION}),
        "annotation keys that mark a ConfigMap as a record kept over the API (leader election)",
    )
    ignored_labels: frozenset[str] = param(
        frozenset({"owner=helm", "OWNER=TILLER"}),
        f"labels of release records (Helm 3 and Helm 2 ConfigMap storage); {LABEL_MATCH_HELP}",
    )
    sidecar_labels: frozenset[str] = param(
        frozenset({"grafana_dashboard", "grafana_datasource", "grafana_alert", "grafana_notifier"}),
        "labels by which sidecars (e.g. Grafana's k8s-sidecar) find ConfigMaps over the API",
    )


def _meant_for_pods(configmap: KubeObject, ctx: Context[OrphanedConfigMapParams]) -> bool:
    labels = labels_of(configmap)
    params = ctx.params
    return not (
        name_of(configmap) in params.ignored_names
        or params.ignored_annotations & annotations_of(configmap).keys()
        or has_label(labels, params.ignored_labels)
        or params.sidecar_labels & labels.keys()
        or _owned(configmap)
        or created_by_kubernetes(configmap)
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
        "release records, sidecar-discovered or owned ConfigMaps, nor those Kubernetes "
        "creates itself",
        _meant_for_pods,
    ),
    params=OrphanedConfigMapParams,
    notes=(
        "Like Popeye's unused-ConfigMap report, but every reference path counts (projected "
        "volumes and init containers included) and release records are left out.",
    ),
)


@per_object(COST_003, kinds=("ConfigMap",), include_owned=True)
def orphaned_configmaps(configmap: KubeObject, ctx: Context[Any]) -> Verdict:
    namespace = namespace_of(configmap)
    if (CONFIGMAP, name_of(configmap)) in used_names(ctx.inventory, namespace):
        return ok("referenced by a pod or pod template")
    return fail(f"no pod or pod template in namespace {namespace} refers to it")


@dataclass(frozen=True)
class OrphanedSecretParams:
    ignored_types: frozenset[str] = param(
        frozenset(
            {
                "kubernetes.io/service-account-token",
                "bootstrap.kubernetes.io/token",
                "helm.sh/release.v1",
            }
        ),
        "Secret types that are credentials or records used over the API, not by pods",
    )
    ignored_name_prefixes: tuple[str, ...] = param(
        ("sh.helm.release.v1.",), "name prefixes of release records (Helm 3 Secret storage)"
    )
    ignored_labels: frozenset[str] = param(
        frozenset({"owner=helm", "argocd.argoproj.io/secret-type"}),
        "labels of Secrets that controllers read over the API (Helm releases, Argo CD "
        f"repository and cluster credentials); {LABEL_MATCH_HELP}",
    )
    ignored_annotations: frozenset[str] = param(
        frozenset({"cert-manager.io/certificate-name"}),
        "annotation keys of Secrets a controller keeps up to date for others (cert-manager "
        "certificates, which issuers and gateways may read over the API)",
    )


def _meant_for_workloads(secret: KubeObject, ctx: Context[OrphanedSecretParams]) -> bool:
    params = ctx.params
    return not (
        str(secret.get("type") or "") in params.ignored_types
        or name_of(secret).startswith(params.ignored_name_prefixes)
        or has_label(labels_of(secret), params.ignored_labels)
        or params.ignored_annotations & annotations_of(secret).keys()
        or _owned(secret)
        or created_by_kubernetes(secret)
    )


COST_004 = CheckDefinition(
    id="COST-004",
    pillar=Pillar.COST_OPTIMIZATION,
    name="Orphaned Secret",
    description=(
        "A Secret that no pod, ServiceAccount, Ingress or Gateway refers to is a credential "
        "kept for nothing: it still has to be rotated and audited, and it leaks if the "
        "namespace's read access does."
    ),
    severity=Severity.LOW,
    scope="X",
    remediation=(
        "Delete the Secret (and revoke the credential it holds) if nothing uses it. If a "
        "controller reads it over the API, let that controller own it (ownerReferences), or "
        "annotate it assay.kubernaut.ai/exempt: COST-004 with an exempt-reason."
    ),
    kinds=("Secret", *WORKLOAD_KINDS, *REFERRING_KINDS),
    applies_to=Applicability(
        "Secrets meant for workloads: not ServiceAccount or bootstrap tokens, Helm release "
        "records, controller-read credentials (the ignored labels and annotations) or owned "
        "Secrets",
        _meant_for_workloads,
    ),
    params=OrphanedSecretParams,
    notes=(
        "Popeye reports unused Secrets from pods and ServiceAccounts only; this check also "
        "counts Ingress TLS and ingress-nginx auth annotations, Gateway certificateRefs and "
        "CSI secrets named by StorageClasses and PersistentVolumes, so those are not "
        "reported.",
        "Secrets read by a controller through the API and not owned by it (Flux source "
        "credentials, cert-manager issuer keys) cannot be seen as used: exempt them.",
    ),
)


@per_object(COST_004, kinds=("Secret",), include_owned=True)
def orphaned_secrets(secret: KubeObject, ctx: Context[Any]) -> Verdict:
    namespace = namespace_of(secret)
    if (SECRET, name_of(secret)) in used_names(ctx.inventory, namespace):
        return ok("referenced by a workload, ServiceAccount, Ingress, Gateway or storage object")
    kind = str(secret.get("type") or "Opaque")
    return fail(
        f"nothing in the cluster refers to this {kind} Secret (no pod or template in "
        f"namespace {namespace}, ServiceAccount, Ingress, Gateway or CSI storage object)"
    )


@dataclass(frozen=True)
class OrphanedStorageParams:
    idle_volume_phases: frozenset[str] = param(
        frozenset({"Available", "Released"}),
        "PersistentVolume phases that mean the volume serves no claim",
    )
    ignored_labels: frozenset[str] = param(
        frozenset(),
        f"labels of PersistentVolumeClaims kept on purpose without a pod; {LABEL_MATCH_HELP}",
    )


def _storage_in_scope(obj: KubeObject, ctx: Context[OrphanedStorageParams]) -> bool:
    if kind_of(obj) == "PersistentVolume":
        return bool(dig(obj, "status").get("phase"))
    return not (_owned(obj) or has_label(labels_of(obj), ctx.params.ignored_labels))


COST_005 = CheckDefinition(
    id="COST-005",
    pillar=Pillar.COST_OPTIMIZATION,
    name="Orphaned storage",
    description=(
        "Storage is billed while it exists, mounted or not: a claim no pod mounts, or a "
        "volume left Available or Released by a Retain policy, costs money for nothing."
    ),
    severity=Severity.MEDIUM,
    scope="X (+L)",
    remediation=(
        "Back up what you need and delete the PersistentVolumeClaim no pod mounts; for a "
        "Released volume delete the PersistentVolume and its disk (reclaimPolicy Retain keeps "
        "both), or clear spec.claimRef to let a new claim bind it; delete Available volumes "
        "that no claim will ever bind."
    ),
    kinds=("PersistentVolumeClaim", "PersistentVolume", *WORKLOAD_KINDS),
    applies_to=Applicability(
        "PersistentVolumeClaims not owned by another object (a pod's ephemeral volumes go "
        "with it) and PersistentVolumes whose status reports a phase (live)",
        _storage_in_scope,
    ),
    params=OrphanedStorageParams,
    notes=(
        "A claim counts as used when any pod or pod template (a Deployment scaled to zero "
        "included; COST-007 reports those) mounts it, or a StatefulSet's "
        "volumeClaimTemplates created it.",
        "PersistentVolume phases are live status: on manifests only claims are judged.",
    ),
)


@per_object(COST_005, kinds=("PersistentVolumeClaim", "PersistentVolume"), include_owned=True)
def orphaned_storage(obj: KubeObject, ctx: Context[OrphanedStorageParams]) -> Verdict:
    if kind_of(obj) == "PersistentVolume":
        return _volume_verdict(obj, ctx.params)
    namespace = namespace_of(obj)
    if (CLAIM, name_of(obj)) in used_names(ctx.inventory, namespace):
        return ok("mounted by a pod or pod template")
    size = dig(obj, "spec", "resources", "requests").get("storage")
    detail = f" ({size})" if size else ""
    return fail(f"no pod or pod template in namespace {namespace} mounts this claim{detail}")


def _volume_verdict(volume: KubeObject, params: OrphanedStorageParams) -> Verdict:
    phase = str(dig(volume, "status").get("phase"))
    spec = dig(volume, "spec")
    size = dig(spec, "capacity").get("storage")
    detail = f"{size} " if size else ""
    if phase not in params.idle_volume_phases:
        return ok(f"phase {phase}")
    if phase == "Released":
        claim = dig(spec, "claimRef")
        policy = spec.get("persistentVolumeReclaimPolicy") or "Retain"
        return fail(
            f"phase Released: its claim {claim.get('namespace')}/{claim.get('name')} is gone "
            f"and reclaimPolicy {policy} keeps the {detail}volume"
        )
    return fail(f"phase {phase}: the {detail}volume is bound to no claim")


CHECKS = (orphaned_configmaps, orphaned_secrets, orphaned_storage)
