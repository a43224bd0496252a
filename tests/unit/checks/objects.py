"""Small builders of Kubernetes objects, and a way to run one built-in check over them, for
check tests whose cases are clearer inline than as fixture files.

    findings("REL-004", [workload("Deployment", "web", {}, replicas=1)])
"""

from __future__ import annotations

from typing import Any

from assay.server.checks import builtin_registry
from assay.server.checks.kit import Finding
from assay.server.checks.kit.evaluate import evaluate
from assay.server.core.types import Status
from assay.server.inventory import Inventory

REGISTRY = builtin_registry()
NAMESPACE = "shop"

API_VERSIONS = {
    "Pod": "v1",
    "Service": "v1",
    "Namespace": "v1",
    "PodDisruptionBudget": "policy/v1",
    "HorizontalPodAutoscaler": "autoscaling/v2",
    "ScaledObject": "keda.sh/v1alpha1",
    "PriorityClass": "scheduling.k8s.io/v1",
    "Job": "batch/v1",
    "CronJob": "batch/v1",
}


def obj(kind: str, name: str, spec: dict[str, Any], **metadata: Any) -> dict[str, Any]:
    """An object of ``kind`` in namespace ``shop`` (unless ``namespace=`` says otherwise)."""
    meta = {"name": name, "namespace": NAMESPACE, **metadata}
    return {
        "apiVersion": API_VERSIONS.get(kind, "apps/v1"),
        "kind": kind,
        "metadata": meta,
        "spec": spec,
    }


def workload(kind: str, name: str, pod_spec: dict[str, Any], **spec: Any) -> dict[str, Any]:
    """A controller selecting and labelling its pods ``app: <name>``."""
    template = {"metadata": {"labels": {"app": name}}, "spec": pod_spec}
    return obj(
        kind, name, {"selector": {"matchLabels": {"app": name}}, "template": template, **spec}
    )


def pod(name: str, *containers: dict[str, Any], **spec: Any) -> dict[str, Any]:
    return obj("Pod", name, {"containers": list(containers), **spec})


def pdb(name: str, **spec: Any) -> dict[str, Any]:
    """A PodDisruptionBudget selecting ``app: <name>``."""
    return obj("PodDisruptionBudget", name, {"selector": {"matchLabels": {"app": name}}, **spec})


def hpa(name: str, min_replicas: int, kind: str = "Deployment") -> dict[str, Any]:
    target = {"apiVersion": "apps/v1", "kind": kind, "name": name}
    spec = {"scaleTargetRef": target, "minReplicas": min_replicas, "maxReplicas": 10}
    return obj("HorizontalPodAutoscaler", name, spec)


def findings(
    check_id: str, objects: list[dict[str, Any]], params: object | None = None
) -> list[Finding]:
    """The check's results over ``objects`` loaded as manifests."""
    return evaluate(REGISTRY.get(check_id), Inventory.from_objects(objects), params=params)


def only(check_id: str, objects: list[dict[str, Any]], params: object | None = None) -> Finding:
    [finding] = findings(check_id, objects, params)
    return finding


def statuses(
    check_id: str, objects: list[dict[str, Any]], params: object | None = None
) -> dict[str, Status]:
    """``name/container`` -> status of each result about an object."""
    return {
        f"{f.object.name}/{f.container}": f.status
        for f in findings(check_id, objects, params)
        if f.object is not None
    }
