"""Builders of plain Kubernetes objects for the check tests whose cases read better inline
than as fixture files; every test of the catalogue builds its objects here.

    deployment("web", container("app", requests={"cpu": "100m"}), replicas=2)
    pod("debug", hostNetwork=True)                     # keywords go into the pod spec
    obj("Secret", "token", type="kubernetes.io/tls")   # keywords go to the top level
    hpa("web", minReplicas=2, maxReplicas=10)          # targets the Deployment "web"

Objects live in namespace ``shop`` unless ``namespace=`` says otherwise (``None`` for a
cluster-scoped one). A workload selects and labels its pods ``app: <name>``. Objects with
the status a running cluster reports (conditions, container states, timestamps) are built
by :mod:`tests.unit.checks.cluster_state`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

Obj = dict[str, Any]

NAMESPACE = "shop"

API_VERSIONS = {
    "Deployment": "apps/v1",
    "StatefulSet": "apps/v1",
    "DaemonSet": "apps/v1",
    "ReplicaSet": "apps/v1",
    "Job": "batch/v1",
    "CronJob": "batch/v1",
    "HorizontalPodAutoscaler": "autoscaling/v2",
    "VerticalPodAutoscaler": "autoscaling.k8s.io/v1",
    "PodDisruptionBudget": "policy/v1",
    "ScaledObject": "keda.sh/v1alpha1",
    "PriorityClass": "scheduling.k8s.io/v1",
    "Role": "rbac.authorization.k8s.io/v1",
    "RoleBinding": "rbac.authorization.k8s.io/v1",
    "ClusterRole": "rbac.authorization.k8s.io/v1",
    "ClusterRoleBinding": "rbac.authorization.k8s.io/v1",
    "Ingress": "networking.k8s.io/v1",
    "NetworkPolicy": "networking.k8s.io/v1",
    "StorageClass": "storage.k8s.io/v1",
    "EndpointSlice": "discovery.k8s.io/v1",
    "APIService": "apiregistration.k8s.io/v1",
    "PodMetrics": "metrics.k8s.io/v1beta1",
    "NodeMetrics": "metrics.k8s.io/v1beta1",
}
"""apiVersion by kind; any other kind is core ``v1``."""

METADATA_FIELDS = ("labels", "annotations", "ownerReferences", "uid", "creationTimestamp")
"""Keywords of :func:`obj` that go into metadata rather than the top level."""


def meta(name: str, namespace: str | None = NAMESPACE, **fields: Any) -> Obj:
    """Object metadata: ``name``, ``namespace`` unless None, and ``fields``."""
    found: Obj = {"name": name, **fields}
    if namespace is not None:
        found["namespace"] = namespace
    return found


def obj(kind: str, name: str, namespace: str | None = NAMESPACE, **fields: Any) -> Obj:
    """An object of ``kind`` (apiVersion from :data:`API_VERSIONS` unless ``apiVersion=``);
    ``fields`` at the top level, those of :data:`METADATA_FIELDS` into metadata.

    An empty ``namespace`` is a cluster-scoped object, as None is."""
    metadata = meta(name, namespace or None)
    for key in METADATA_FIELDS:
        if key in fields:
            metadata[key] = fields.pop(key)
    api_version = fields.pop("apiVersion", API_VERSIONS.get(kind, "v1"))
    return {"apiVersion": api_version, "kind": kind, "metadata": metadata, **fields}


def owned_by(kind: str, name: str) -> list[Obj]:
    """``ownerReferences`` naming ``kind``/``name`` as the controller."""
    api_version = API_VERSIONS.get(kind, "v1")
    return [{"apiVersion": api_version, "kind": kind, "name": name, "controller": True}]


def container(
    name: str = "app",
    *,
    image: str | None = None,
    requests: Mapping[str, str] | None = None,
    limits: Mapping[str, str] | None = None,
    **fields: Any,
) -> Obj:
    """A container ``name`` of image ``registry.example.com/<name>:1``; ``requests`` and
    ``limits`` become its resources, ``fields`` are set as given."""
    found: Obj = {"name": name, "image": image or f"registry.example.com/{name}:1"}
    resources = {
        key: dict(value) for key, value in (("requests", requests), ("limits", limits)) if value
    }
    if resources:
        found["resources"] = resources
    return found | fields


def pod_spec(*containers: Obj, **spec: Any) -> Obj:
    """A pod spec of ``containers`` (one :func:`container` if none is given and ``spec`` has
    no ``containers``)."""
    if containers:
        spec["containers"] = list(containers)
    spec.setdefault("containers", [container()])
    return spec


def pod(
    name: str,
    *containers: Obj,
    namespace: str = NAMESPACE,
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
    owner: tuple[str, str] | None = None,
    phase: str | None = None,
    status: Mapping[str, Any] | None = None,
    spec: Mapping[str, Any] | None = None,
    **fields: Any,
) -> Obj:
    """A Pod of ``containers`` whose spec has ``spec`` and ``fields``, owned by ``owner``
    (kind, name) if given; ``phase`` and ``status`` make its status."""
    metadata: Obj = {}
    if labels is not None:
        metadata["labels"] = dict(labels)
    if annotations is not None:
        metadata["annotations"] = dict(annotations)
    if owner is not None:
        metadata["ownerReferences"] = owned_by(*owner)
    body = pod_spec(*containers, **{**(spec or {}), **fields})
    found = obj("Pod", name, namespace, **metadata, spec=body)
    if phase is not None or status:
        found["status"] = ({"phase": phase} if phase is not None else {}) | dict(status or {})
    return found


def workload(
    kind: str,
    name: str,
    *containers: Obj,
    namespace: str = NAMESPACE,
    replicas: int | None = None,
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
    uid: str | None = None,
    pod_labels: Mapping[str, str] | None = None,
    template_annotations: Mapping[str, str] | None = None,
    spec: Mapping[str, Any] | None = None,
    **pod_fields: Any,
) -> Obj:
    """A controller of ``kind`` whose pod template has ``containers`` and ``pod_fields``;
    it selects and labels its pods ``pod_labels`` (``app: <name>``). ``spec`` adds fields
    to the controller's own spec (strategy, schedule, ...)."""
    selected = dict(pod_labels or {"app": name})
    template_meta: Obj = {"labels": selected}
    if template_annotations is not None:
        template_meta["annotations"] = dict(template_annotations)
    body: Obj = {
        "selector": {"matchLabels": selected},
        "template": {"metadata": template_meta, "spec": pod_spec(*containers, **pod_fields)},
    }
    if replicas is not None:
        body["replicas"] = replicas
    metadata: Obj = {}
    if labels is not None:
        metadata["labels"] = dict(labels)
    if annotations is not None:
        metadata["annotations"] = dict(annotations)
    if uid is not None:
        metadata["uid"] = uid
    return obj(kind, name, namespace, **metadata, spec=body | dict(spec or {}))


def deployment(name: str, *containers: Obj, **fields: Any) -> Obj:
    """A Deployment (see :func:`workload` for the keywords)."""
    return workload("Deployment", name, *containers, **fields)


def hpa(
    name: str,
    target: str | None = None,
    *,
    kind: str = "Deployment",
    namespace: str = NAMESPACE,
    **spec: Any,
) -> Obj:
    """A HorizontalPodAutoscaler scaling the ``kind`` ``target`` (``name`` by default);
    ``spec`` fields such as minReplicas as given."""
    ref = {"apiVersion": "apps/v1", "kind": kind, "name": target or name}
    return obj("HorizontalPodAutoscaler", name, namespace, spec={"scaleTargetRef": ref, **spec})


def pdb(name: str, namespace: str = NAMESPACE, **spec: Any) -> Obj:
    """A PodDisruptionBudget selecting ``app: <name>``."""
    selector = {"matchLabels": {"app": name}}
    return obj("PodDisruptionBudget", name, namespace, spec={"selector": selector, **spec})


def namespace(name: str, **fields: Any) -> Obj:
    """A Namespace (``labels``/``annotations`` into metadata, other fields top level)."""
    return obj("Namespace", name, None, **fields)


def node(
    name: str,
    cpu: str = "4",
    memory: str = "16Gi",
    *,
    labels: Mapping[str, str] | None = None,
    **spec: Any,
) -> Obj:
    """A Node with ``cpu`` and ``memory`` allocatable (110 pods); ``spec`` fields such as
    taints or unschedulable as given."""
    allocatable = {"cpu": cpu, "memory": memory, "pods": "110"}
    return obj(
        "Node",
        name,
        None,
        labels=dict(labels or {}),
        spec=spec,
        status={"allocatable": allocatable},
    )


def pod_metrics(
    name: str,
    namespace: str = NAMESPACE,
    timestamp: str = "2025-03-04T10:15:30Z",
    **usage: Mapping[str, str],
) -> Obj:
    """metrics-server's sample of pod ``name``: ``usage`` by container name."""
    containers = [{"name": c, "usage": dict(u)} for c, u in usage.items()]
    return obj(
        "PodMetrics", name, namespace, timestamp=timestamp, window="30s", containers=containers
    )


def node_metrics(name: str, cpu: str, memory: str) -> Obj:
    """metrics-server's sample of node ``name``."""
    usage = {"cpu": cpu, "memory": memory}
    return obj(
        "NodeMetrics", name, None, timestamp="2025-03-04T10:15:27Z", window="20s", usage=usage
    )
