"""Cross-object security checks over a live inventory loaded from the Kubernetes API double:
the kinds each check declares are the kinds the live loader lists, so the RBAC, identity
and NetworkPolicy checks see the same objects as from manifests."""

from __future__ import annotations

from typing import Any

from assay.server.checks.kit.evaluate import evaluate
from assay.server.core.types import Severity, Status
from tests.kubeapi import KubeApiDouble
from tests.unit.checks.runs import REGISTRY, live_inventory, manifest_inventory

RBAC = "rbac.authorization.k8s.io"

OBJECTS: list[dict[str, Any]] = [
    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "legacy", "labels": {}}},
    {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "order-sync", "namespace": "legacy"},
        "spec": {
            "selector": {"matchLabels": {"app": "order-sync"}},
            "template": {
                "metadata": {"labels": {"app": "order-sync", "tier": "batch"}},
                "spec": {"containers": [{"name": "sync", "image": "example/sync:1"}]},
            },
        },
    },
    {
        "apiVersion": f"{RBAC}/v1",
        "kind": "ClusterRole",
        "metadata": {"name": "secret-reader", "labels": {"aggregate-to-support": "true"}},
        "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}],
    },
    {
        "apiVersion": f"{RBAC}/v1",
        "kind": "ClusterRole",
        "metadata": {"name": "support"},
        "aggregationRule": {
            "clusterRoleSelectors": [{"matchLabels": {"aggregate-to-support": "true"}}]
        },
        "rules": [],
    },
    {
        "apiVersion": f"{RBAC}/v1",
        "kind": "RoleBinding",
        "metadata": {"name": "default-support", "namespace": "legacy"},
        "subjects": [{"kind": "ServiceAccount", "name": "default", "namespace": "legacy"}],
        "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": "support"},
    },
    {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "batch", "namespace": "legacy"},
        "spec": {
            "podSelector": {
                "matchExpressions": [{"key": "tier", "operator": "In", "values": ["batch"]}]
            },
            "policyTypes": ["Ingress"],
        },
    },
]


async def _results(
    kube_api: KubeApiDouble, check_id: str
) -> list[tuple[str, Status, Severity | None, str]]:
    check = REGISTRY.get(check_id)
    inventory = await live_inventory(kube_api, OBJECTS, checks=[check])
    found = [
        (f.object.name if f.object else "", f.status, f.severity, f.message)
        for f in evaluate(check, inventory)
    ]
    offline = manifest_inventory(OBJECTS)
    assert [(n, s) for n, s, _, _ in found] == [
        (f.object.name if f.object else "", f.status) for f in evaluate(check, offline)
    ]
    return found


async def test_default_service_account_bound_through_an_aggregated_role_live(
    kube_api: KubeApiDouble,
) -> None:
    [(name, status, severity, message)] = await _results(kube_api, "SEC-015")
    assert (name, status, severity) == ("order-sync", Status.FAILING, Severity.HIGH)
    assert "RoleBinding legacy/default-support grants ClusterRole support" in message


async def test_secret_access_through_aggregation_live(kube_api: KubeApiDouble) -> None:
    [(name, status, _, message)] = await _results(kube_api, "SEC-021")
    assert (name, status) == ("default-support", Status.FAILING)
    assert "get secrets (ClusterRole secret-reader rules[0])" in message


async def test_network_checks_live(kube_api: KubeApiDouble) -> None:
    [(_, status, _, message)] = await _results(kube_api, "SEC-024")
    assert status is Status.FAILING and message.startswith("egress is open")
    [(_, status, _, _)] = await _results(kube_api, "SEC-026")
    assert status is Status.PASSING
