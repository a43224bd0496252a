"""Builders shared by the performance, cost and sustainability check tests: objects, a policy
file's parameters, and results as plain tuples."""

from __future__ import annotations

import textwrap
from typing import Any

from assay.server.checks import builtin_registry
from assay.server.checks.kit import Finding
from assay.server.checks.kit.catalogue import Catalogue
from assay.server.checks.kit.evaluate import evaluate
from assay.server.checks.kit.policy import parse_policy
from assay.server.core.types import Source, Status
from assay.server.inventory import Inventory

REGISTRY = builtin_registry()

Row = tuple[Status, str, str, str]
"""(status, object name or "", container, message)"""


def policy_params(check_id: str, text: str) -> Any:
    """The parameters a policy file (YAML ``text``) gives ``check_id``."""
    catalogue = Catalogue(REGISTRY, parse_policy(textwrap.dedent(text), REGISTRY, source="p.yaml"))
    return catalogue.params(REGISTRY.get(check_id))


def findings(
    check_id: str,
    objects: list[dict[str, Any]],
    *,
    params: Any = None,
    source: Source = Source.MANIFESTS,
) -> list[Finding]:
    inventory = Inventory.from_objects(objects, source=source)
    return evaluate(REGISTRY.get(check_id), inventory, params=params)


def rows(
    check_id: str,
    objects: list[dict[str, Any]],
    *,
    params: Any = None,
    source: Source = Source.MANIFESTS,
) -> list[Row]:
    return [
        (f.status, f.object.name if f.object else "", f.container, f.message)
        for f in findings(check_id, objects, params=params, source=source)
    ]


def statuses(
    check_id: str,
    objects: list[dict[str, Any]],
    *,
    params: Any = None,
    source: Source = Source.MANIFESTS,
) -> dict[tuple[str, str], Status]:
    """Status by (object name, container)."""
    return {
        (name, container): status
        for status, name, container, _ in rows(check_id, objects, params=params, source=source)
    }


def meta(name: str, namespace: str | None = "shop", **extra: Any) -> dict[str, Any]:
    found: dict[str, Any] = {"name": name, **extra}
    if namespace is not None:
        found["namespace"] = namespace
    return found


def deployment(
    name: str,
    *containers: dict[str, Any],
    namespace: str = "shop",
    replicas: int | None = None,
    pod: dict[str, Any] | None = None,
    **metadata: Any,
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "selector": {"matchLabels": {"app": name}},
        "template": {
            "metadata": {"labels": {"app": name}},
            "spec": {"containers": list(containers) or [{"name": name}], **(pod or {})},
        },
    }
    if replicas is not None:
        spec["replicas"] = replicas
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta(name, namespace, **metadata),
        "spec": spec,
    }


def container(name: str, **resources: dict[str, str]) -> dict[str, Any]:
    return {"name": name, "image": f"registry.example.com/{name}:1", "resources": resources}


def hpa(name: str, target: str, *, namespace: str = "shop", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": meta(name, namespace),
        "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": target}}
        | spec,
    }


def node(name: str, cpu: str = "4", memory: str = "16Gi", **extra: Any) -> dict[str, Any]:
    labels = extra.pop("labels", {})
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": meta(name, None, labels=labels),
        "spec": extra,
        "status": {"allocatable": {"cpu": cpu, "memory": memory, "pods": "110"}},
    }


def namespace(name: str, **metadata: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": meta(name, None, **metadata)}


def pod(
    name: str,
    *containers: dict[str, Any],
    namespace: str = "shop",
    phase: str = "Running",
    owner: tuple[str, str] | None = None,
    **status: Any,
) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    if owner is not None:
        extra["ownerReferences"] = [{"kind": owner[0], "name": owner[1], "controller": True}]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta(name, namespace, **extra),
        "spec": {"containers": list(containers) or [{"name": "main"}]},
        "status": {"phase": phase, **status},
    }


def pod_metrics(
    name: str, namespace: str = "shop", timestamp: str = "2025-03-04T10:15:30Z", **usage: Any
) -> dict[str, Any]:
    return {
        "apiVersion": "metrics.k8s.io/v1beta1",
        "kind": "PodMetrics",
        "metadata": meta(name, namespace),
        "timestamp": timestamp,
        "window": "30s",
        "containers": [{"name": c, "usage": u} for c, u in usage.items()],
    }


def node_metrics(name: str, cpu: str, memory: str) -> dict[str, Any]:
    return {
        "apiVersion": "metrics.k8s.io/v1beta1",
        "kind": "NodeMetrics",
        "metadata": meta(name, None),
        "timestamp": "2025-03-04T10:15:27Z",
        "window": "20s",
        "usage": {"cpu": cpu, "memory": memory},
    }
