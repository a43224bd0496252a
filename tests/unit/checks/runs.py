"""Running one built-in check the way a server does, for the catalogue's unit tests.

    results = run("COST-002", objects, policy="max_limit_ratio: 8")   # params via a policy
    by_name(results)["web"]                                           # -> Finding
    async with cluster(objects, "OPS-004", version="v1.36.2") as inventory: ...  # live

Parameters go through a real policy file (``parse_policy``), so the tests also show the
keys and value types a user writes.
"""

from __future__ import annotations

import textwrap
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

from assay.server.checks import builtin_registry
from assay.server.checks.kit import Finding
from assay.server.checks.kit.evaluate import evaluate
from assay.server.checks.kit.policy import parse_policy
from assay.server.checks.operations.versions import minor_of
from assay.server.core.types import Source, Status
from assay.server.inventory import Inventory
from tests.fixtures.fresh_cluster import serve_builtin_apis
from tests.kubeapi import KubeApiDouble
from tests.unit.checks.live import live_inventory

REGISTRY = builtin_registry()


def params_of(check_id: str, policy: str = "") -> object:
    """The check's parameters as a policy file with ``checks.<id>.params: <policy>`` sets."""
    if not policy:
        return REGISTRY.get(check_id).definition.default_params()
    indented = textwrap.indent(textwrap.dedent(policy).strip(), "      ")
    text = f"checks:\n  {check_id}:\n    params:\n{indented}\n"
    return parse_policy(text, REGISTRY, source="test-policy.yaml").params(
        REGISTRY.get(check_id).definition
    )


def run_on(check_id: str, inventory: Inventory, policy: str = "") -> list[Finding]:
    return evaluate(REGISTRY.get(check_id), inventory, params=params_of(check_id, policy))


def run(
    check_id: str,
    objects: Iterable[Mapping[str, Any]],
    policy: str = "",
    *,
    source: Source = Source.MANIFESTS,
    server_version: str | None = None,
) -> list[Finding]:
    inventory = Inventory.from_objects(
        [dict(o) for o in objects], source=source, server_version=server_version
    )
    return run_on(check_id, inventory, policy)


def by_name(findings: Sequence[Finding]) -> dict[str, Finding]:
    """Findings by object name (``""`` for the cluster-wide one)."""
    return {(f.object.name if f.object else ""): f for f in findings}


def statuses(findings: Sequence[Finding]) -> dict[str, Status]:
    return {name: f.status for name, f in by_name(findings).items()}


def obj(kind: str, name: str, namespace: str = "shop", **fields: Any) -> dict[str, Any]:
    """A minimal object of ``kind`` (apiVersion from the kind); ``fields`` at the top level,
    ``labels``/``annotations`` into metadata."""
    api = {
        "Deployment": "apps/v1",
        "StatefulSet": "apps/v1",
        "DaemonSet": "apps/v1",
        "ReplicaSet": "apps/v1",
        "Job": "batch/v1",
        "CronJob": "batch/v1",
        "HorizontalPodAutoscaler": "autoscaling/v2",
        "Role": "rbac.authorization.k8s.io/v1",
        "RoleBinding": "rbac.authorization.k8s.io/v1",
        "ClusterRole": "rbac.authorization.k8s.io/v1",
        "ClusterRoleBinding": "rbac.authorization.k8s.io/v1",
        "Ingress": "networking.k8s.io/v1",
        "StorageClass": "storage.k8s.io/v1",
    }.get(kind, "v1")
    metadata: dict[str, Any] = {"name": name}
    if namespace:
        metadata["namespace"] = namespace
    for key in ("labels", "annotations", "ownerReferences"):
        if key in fields:
            metadata[key] = fields.pop(key)
    return {"apiVersion": api, "kind": kind, "metadata": metadata, **fields}


def deployment(
    name: str, namespace: str = "shop", *, replicas: int | None = 1, **pod_spec: Any
) -> dict[str, Any]:
    """A Deployment of one container ``app`` (``pod_spec`` keys go into the pod spec;
    ``containers=[...]`` replaces the container)."""
    spec: dict[str, Any] = {"containers": [{"name": "app", "image": "registry.example.com/a:1"}]}
    spec.update(pod_spec)
    body: dict[str, Any] = {
        "selector": {"matchLabels": {"app": name}},
        "template": {"metadata": {"labels": {"app": name}}, "spec": spec},
    }
    if replicas is not None:
        body["replicas"] = replicas
    return obj("Deployment", name, namespace, spec=body)


@asynccontextmanager
async def cluster(
    objects: Iterable[dict[str, Any]],
    *check_ids: str,
    version: str | None = None,
    crds: Iterable[dict[str, Any]] = (),
    builtin_apis: bool = False,
) -> AsyncIterator[Inventory]:
    """A live inventory of ``objects`` for ``check_ids``, from a double whose /version says
    ``version`` (the double's own v1.31.0 by default), serving ``crds``."""
    info = None if version is None else {"gitVersion": version, "minor": str(minor_of(version))}
    async with KubeApiDouble(version_info=info) as api:
        if builtin_apis:
            serve_builtin_apis(api)
        for definition in crds:
            api.register_crd(definition)
        checks = [REGISTRY.get(i) for i in check_ids]
        yield await live_inventory(api, objects, checks=checks)
    assert not api.internal_errors
