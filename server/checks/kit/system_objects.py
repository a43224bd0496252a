"""Objects Kubernetes itself creates in every cluster, which checks must not report.

The API server, the controller manager and the installer (kubeadm, which kind and most
self-managed clusters use) create the same objects in every cluster: the four built-in
namespaces, a ``default`` ServiceAccount and ``kube-root-ca.crt`` in each namespace, the
``default/kubernetes`` Service, the API server's ConfigMaps in ``kube-system``, the
bootstrap RBAC roles and bindings, CoreDNS and kube-proxy, the control-plane static pods.
Nobody chose their labels, namespace or usage, so the labelling, ``default``-namespace,
orphan and hygiene checks leave them out::

    if created_by_kubernetes(obj): ...      # any raw object with its kind set

Called by the check kit's ``USER_OBJECTS`` applicability and by the pillar checks.
"""

from __future__ import annotations

from assay.server.inventory.raw import (
    KubeObject,
    annotations_of,
    kind_of,
    labels_of,
    name_of,
    namespace_of,
)

SYSTEM_NAMESPACES = frozenset({"kube-system", "kube-public", "kube-node-lease"})
"""The built-in namespaces Kubernetes' own components and state live in (all but default):
checks that judge namespaces leave them out by default."""
BUILTIN_NAMESPACES = SYSTEM_NAMESPACES | {"default"}
"""Created by the API server at start-up."""

CONTROL_PLANE_WRITTEN_KINDS = frozenset(
    {"Event", "Endpoints", "EndpointSlice", "Lease", "PodMetrics", "NodeMetrics"}
)
"""Kinds the control plane (or the metrics API) writes on its own, following other objects."""

PER_NAMESPACE = frozenset({("ServiceAccount", "default"), ("ConfigMap", "kube-root-ca.crt")})
"""Created in every namespace by the service-account and root-CA publisher controllers."""

_FIXED: frozenset[tuple[str, str, str]] = frozenset(
    {
        # the API server's own Service and its endpoints
        ("Service", "default", "kubernetes"),
        ("Endpoints", "default", "kubernetes"),
        ("EndpointSlice", "default", "kubernetes"),
        # ConfigMaps the API server and kubeadm publish
        ("ConfigMap", "kube-system", "extension-apiserver-authentication"),
        ("ConfigMap", "kube-system", "kube-apiserver-legacy-service-account-token-tracking"),
        ("ConfigMap", "kube-system", "kubeadm-config"),
        ("ConfigMap", "kube-system", "kubelet-config"),
        ("ConfigMap", "kube-system", "kube-proxy"),
        ("ConfigMap", "kube-system", "coredns"),
        ("ConfigMap", "kube-public", "cluster-info"),
        # kubeadm's add-ons: cluster DNS and kube-proxy
        ("Deployment", "kube-system", "coredns"),
        ("Service", "kube-system", "kube-dns"),
        ("ServiceAccount", "kube-system", "coredns"),
        ("DaemonSet", "kube-system", "kube-proxy"),
        ("ServiceAccount", "kube-system", "kube-proxy"),
        ("Role", "kube-system", "kube-proxy"),
        ("RoleBinding", "kube-system", "kube-proxy"),
    }
)
_RBAC_KINDS = frozenset({"ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"})
_RBAC_PREFIXES = ("system:", "kubeadm:")
BOOTSTRAP_LABEL = "kubernetes.io/bootstrapping"
"""``rbac-defaults`` on the roles and bindings the API server reconciles at start-up
(``cluster-admin``, ``admin``, ``edit``, ``view``, ``system:*``)."""
_SYSTEM_PRIORITY_CLASSES = frozenset({"system-cluster-critical", "system-node-critical"})
_TOKEN_SECRET_TYPES = frozenset(
    {"kubernetes.io/service-account-token", "bootstrap.kubernetes.io/token"}
)
MIRROR_POD_ANNOTATION = "kubernetes.io/config.mirror"
_AUTOMANAGED_APISERVICE = "kube-aggregator.kubernetes.io/automanaged"
_APF_AUTOUPDATE = "apf.kubernetes.io/autoupdate-spec"


def created_by_kubernetes(obj: KubeObject) -> bool:
    """True for an object the API server, its controllers or kubeadm create in every cluster."""
    kind, namespace, name = kind_of(obj), namespace_of(obj), name_of(obj)
    if (kind, name) in PER_NAMESPACE or (kind, namespace, name) in _FIXED:
        return True
    if kind == "Namespace":
        return name in BUILTIN_NAMESPACES
    if kind in _RBAC_KINDS:
        return name.startswith(_RBAC_PREFIXES) or labels_of(obj).get(BOOTSTRAP_LABEL) == (
            "rbac-defaults"
        )
    if kind == "Secret":
        return str(obj.get("type") or "") in _TOKEN_SECRET_TYPES
    if kind == "PriorityClass":
        return name in _SYSTEM_PRIORITY_CLASSES
    if kind == "Pod":
        return is_control_plane_static_pod(obj)
    if kind == "APIService":
        return _AUTOMANAGED_APISERVICE in labels_of(obj)
    if kind in ("FlowSchema", "PriorityLevelConfiguration"):
        return _APF_AUTOUPDATE in annotations_of(obj)
    return False


def is_control_plane_static_pod(pod: KubeObject) -> bool:
    """A kubelet mirror pod of a control-plane component (kubeadm labels them
    ``tier: control-plane``) in ``kube-system``."""
    return (
        namespace_of(pod) == "kube-system"
        and MIRROR_POD_ANNOTATION in annotations_of(pod)
        and labels_of(pod).get("tier") == "control-plane"
    )
