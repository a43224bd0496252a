"""What the inventory knows about Kubernetes kinds: which are workloads, which are
cluster-scoped, and where the live loader lists each one.

Read by the manifest loader (to give namespaced objects without a namespace ``default``),
by :class:`~assay.server.inventory.model.Inventory` (to index cluster-scoped objects under
the empty namespace) and by the live loader (to build list URLs).
"""

from __future__ import annotations

from dataclasses import dataclass

WORKLOAD_KINDS: tuple[str, ...] = (
    "Pod",
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "ReplicaSet",
    "ReplicationController",
    "Job",
    "CronJob",
)
"""The kinds the check reference (docs/checks.md) calls "workloads" (they carry a pod spec)."""


@dataclass(frozen=True, slots=True)
class ResourceType:
    """Where a kind is served: ``group`` is empty for the core API."""

    kind: str
    group: str
    version: str
    plural: str
    namespaced: bool = True

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def list_path(self) -> str:
        """The all-namespaces list URL path (``/api/v1/pods``, ``/apis/apps/v1/deployments``)."""
        prefix = f"/apis/{self.group}" if self.group else "/api"
        return f"{prefix}/{self.version}/{self.plural}"


def _r(kind: str, group_version: str, plural: str, *, namespaced: bool = True) -> ResourceType:
    group, _, version = group_version.rpartition("/")
    return ResourceType(kind, group, version, plural, namespaced)


KNOWN_RESOURCES: dict[str, ResourceType] = {
    r.kind: r
    for r in (
        _r("Pod", "v1", "pods"),
        _r("Service", "v1", "services"),
        _r("ConfigMap", "v1", "configmaps"),
        _r("Secret", "v1", "secrets"),
        _r("ServiceAccount", "v1", "serviceaccounts"),
        _r("PersistentVolumeClaim", "v1", "persistentvolumeclaims"),
        _r("ReplicationController", "v1", "replicationcontrollers"),
        _r("Endpoints", "v1", "endpoints"),
        _r("Event", "v1", "events"),
        _r("LimitRange", "v1", "limitranges"),
        _r("ResourceQuota", "v1", "resourcequotas"),
        _r("Namespace", "v1", "namespaces", namespaced=False),
        _r("Node", "v1", "nodes", namespaced=False),
        _r("PersistentVolume", "v1", "persistentvolumes", namespaced=False),
        _r("Deployment", "apps/v1", "deployments"),
        _r("StatefulSet", "apps/v1", "statefulsets"),
        _r("DaemonSet", "apps/v1", "daemonsets"),
        _r("ReplicaSet", "apps/v1", "replicasets"),
        _r("Job", "batch/v1", "jobs"),
        _r("CronJob", "batch/v1", "cronjobs"),
        _r("HorizontalPodAutoscaler", "autoscaling/v2", "horizontalpodautoscalers"),
        _r("PodDisruptionBudget", "policy/v1", "poddisruptionbudgets"),
        _r("NetworkPolicy", "networking.k8s.io/v1", "networkpolicies"),
        _r("Ingress", "networking.k8s.io/v1", "ingresses"),
        _r("IngressClass", "networking.k8s.io/v1", "ingressclasses", namespaced=False),
        _r("EndpointSlice", "discovery.k8s.io/v1", "endpointslices"),
        _r("Role", "rbac.authorization.k8s.io/v1", "roles"),
        _r("RoleBinding", "rbac.authorization.k8s.io/v1", "rolebindings"),
        _r("ClusterRole", "rbac.authorization.k8s.io/v1", "clusterroles", namespaced=False),
        _r(
            "ClusterRoleBinding",
            "rbac.authorization.k8s.io/v1",
            "clusterrolebindings",
            namespaced=False,
        ),
        _r("PriorityClass", "scheduling.k8s.io/v1", "priorityclasses", namespaced=False),
        _r("StorageClass", "storage.k8s.io/v1", "storageclasses", namespaced=False),
        _r(
            "CustomResourceDefinition",
            "apiextensions.k8s.io/v1",
            "customresourcedefinitions",
            namespaced=False,
        ),
        _r("APIService", "apiregistration.k8s.io/v1", "apiservices", namespaced=False),
        _r(
            "ValidatingWebhookConfiguration",
            "admissionregistration.k8s.io/v1",
            "validatingwebhookconfigurations",
            namespaced=False,
        ),
        _r(
            "MutatingWebhookConfiguration",
            "admissionregistration.k8s.io/v1",
            "mutatingwebhookconfigurations",
            namespaced=False,
        ),
        _r("PodMetrics", "metrics.k8s.io/v1beta1", "pods"),
        _r("NodeMetrics", "metrics.k8s.io/v1beta1", "nodes", namespaced=False),
        _r("ScaledObject", "keda.sh/v1alpha1", "scaledobjects"),
        _r("VerticalPodAutoscaler", "autoscaling.k8s.io/v1", "verticalpodautoscalers"),
        _r(
            "ValidatingAdmissionPolicy",
            "admissionregistration.k8s.io/v1",
            "validatingadmissionpolicies",
            namespaced=False,
        ),
        _r(
            "ValidatingAdmissionPolicyBinding",
            "admissionregistration.k8s.io/v1",
            "validatingadmissionpolicybindings",
            namespaced=False,
        ),
        _r("Gateway", "gateway.networking.k8s.io/v1", "gateways"),
        # Well-known add-ons' custom resources (Prometheus Operator, Argo CD, Flux, Kyverno,
        # Gatekeeper); a cluster without the add-on simply does not serve them.
        _r("ServiceMonitor", "monitoring.coreos.com/v1", "servicemonitors"),
        _r("PodMonitor", "monitoring.coreos.com/v1", "podmonitors"),
        _r("Application", "argoproj.io/v1alpha1", "applications"),
        _r("ApplicationSet", "argoproj.io/v1alpha1", "applicationsets"),
        _r("Kustomization", "kustomize.toolkit.fluxcd.io/v1", "kustomizations"),
        _r("HelmRelease", "helm.toolkit.fluxcd.io/v2", "helmreleases"),
        _r("ClusterPolicy", "kyverno.io/v1", "clusterpolicies", namespaced=False),
        _r("Policy", "kyverno.io/v1", "policies"),
        _r(
            "ConstraintTemplate",
            "templates.gatekeeper.sh/v1",
            "constrainttemplates",
            namespaced=False,
        ),
        _r("SleepInfo", "kube-green.com/v1alpha1", "sleepinfos"),
        _r("HTTPRoute", "gateway.networking.k8s.io/v1", "httproutes"),
        _r("Schedule", "velero.io/v1", "schedules"),
        _r("Backup", "velero.io/v1", "backups"),
        _r("BackupConfiguration", "stash.appscode.com/v1beta1", "backupconfigurations"),
    )
}
"""Kinds the live loader can list, by kind name (kinds are unique across these groups)."""

CLUSTER_SCOPED_KINDS: frozenset[str] = frozenset(
    {r.kind for r in KNOWN_RESOURCES.values() if not r.namespaced}
    | {
        "ComponentStatus",
        "CSIDriver",
        "CSINode",
        "RuntimeClass",
        "VolumeAttachment",
        "CertificateSigningRequest",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
        "FlowSchema",
        "PriorityLevelConfiguration",
        "ClusterIssuer",
        "GatewayClass",
        "PodSecurityPolicy",
        "VolumeAttributesClass",
        "DeviceClass",
        "ResourceSlice",
        "DeviceTaintRule",
    }
)
"""Kinds whose objects have no namespace; any other kind is treated as namespaced."""
