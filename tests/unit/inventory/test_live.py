"""The live loader over real HTTP against the Kubernetes API test double."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes.aio.client
import pytest
import yaml

from assay.server.checks import builtin_registry
from assay.server.checks.kit.evaluate import evaluate
from assay.server.core.types import Source, Status
from assay.server.inventory import ClusterUnavailable
from assay.server.inventory.live import load_live_inventory
from assay.server.kube.client import KubeClient
from assay.server.kube.config import connect
from assay.server.kube.errors import KubeConfigError
from assay.server.kube.settings import KubeSettings
from tests.integration.kube.fixtures import kube_client
from tests.kubeapi import KubeApiDouble

Client = KubeClient


def namespace(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def pod(name: str, ns: str, cpu: str = "100m", memory: str = "128Mi") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": {"app": name.split("-")[0]}},
        "spec": {
            "nodeName": "node-0",
            "containers": [
                {"name": "app", "resources": {"requests": {"cpu": cpu, "memory": memory}}}
            ],
        },
        "status": {"phase": "Running"},
    }


def node(name: str, cpu: str = "4", memory: str = "16Gi") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name},
        "status": {"allocatable": {"cpu": cpu, "memory": memory}},
    }


def deployment(name: str, ns: str) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "replicas": 4,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "app", "image": "example/app:1"}]},
            },
        },
    }


def list_requests(api: KubeApiDouble, path: str) -> list[dict[str, str]]:
    return [dict(r.query) for r in api.requests if r.method == "GET" and r.path == path]


async def test_every_page_of_every_kind_is_loaded_as_raw_dicts(
    kube_api: KubeApiDouble, kube: Client
) -> None:
    kube_api.seed([namespace("shop"), namespace("payments")])
    kube_api.seed(pod(f"web-{i:04d}", "shop" if i % 2 else "payments") for i in range(1203))
    kube_api.seed([deployment("web", "shop"), node("node-0")])

    inventory = await load_live_inventory(
        kube, kinds={"Pod", "Deployment", "Node", "Namespace"}, page_size=500
    )

    assert inventory.source is Source.LIVE
    pods = inventory.objects("Pod")
    assert len(pods) == 1203
    assert all(p["kind"] == "Pod" and p["apiVersion"] == "v1" for p in pods)
    assert isinstance(pods[0], dict)
    web = inventory.get("Deployment", "shop", "web")
    assert web is not None and (web["kind"], web["apiVersion"]) == ("Deployment", "apps/v1")
    assert inventory.get("Node", "", "node-0") is not None
    assert {"shop", "payments", "default"} <= set(inventory.namespaces())

    pages = list_requests(kube_api, "/api/v1/pods")
    assert [q.get("limit") for q in pages] == ["500", "500", "500"]
    assert "continue" not in pages[0]
    assert all(q.get("continue") for q in pages[1:])
    assert inventory.missing_groups == frozenset() and inventory.diagnostics == ()


async def test_missing_groups_are_recorded_and_their_kinds_skipped(
    kube_api: KubeApiDouble, kube: Client
) -> None:
    kube_api.disable_group("autoscaling")
    inventory = await load_live_inventory(
        kube,
        kinds={"Deployment", "HorizontalPodAutoscaler", "ScaledObject"},
        groups={"metrics.k8s.io", "policy/v1", "apps/v9"},
    )
    assert inventory.missing_groups == {"autoscaling", "keda.sh", "metrics.k8s.io", "apps/v9"}
    assert not inventory.has_api("metrics.k8s.io")
    paths = {r.path for r in kube_api.requests}
    assert "/apis/apps/v1/deployments" in paths
    assert not any("autoscaling" in p or "keda" in p or "metrics" in p for p in paths)

    # A check that needs the missing API says so instead of judging without it.
    [finding] = evaluate(builtin_registry().get("SUS-004"), inventory)
    assert finding.status is Status.SKIPPED
    assert finding.message == "the cluster does not serve autoscaling/v2"


async def test_forbidden_kind_is_a_diagnostic_not_a_failure(
    kube_api: KubeApiDouble, kube: Client
) -> None:
    kube_api.seed([namespace("shop"), pod("web-1", "shop")])
    kube_api.inject(
        path_regex="^/api/v1/secrets$",
        status=403,
        times=None,
        reason="Forbidden",
        message='secrets is forbidden: User "assay" cannot list resource "secrets"',
    )
    inventory = await load_live_inventory(kube, kinds={"Pod", "Secret"})
    assert len(inventory.objects("Pod")) == 1
    [diagnostic] = inventory.diagnostics
    assert diagnostic.path == "/api/v1/secrets"
    assert "HTTP 403" in str(diagnostic) and "cannot list resource" in str(diagnostic)


async def test_expired_list_starts_over_then_gives_up_with_a_diagnostic(
    kube_api: KubeApiDouble, kube: Client
) -> None:
    kube_api.seed([namespace("shop"), *(pod(f"web-{i}", "shop") for i in range(5))])
    kube_api.inject(path_regex="^/api/v1/pods$", status=410, times=1, reason="Expired")
    inventory = await load_live_inventory(kube, kinds={"Pod"}, page_size=2)
    assert len(inventory.objects("Pod")) == 5 and inventory.diagnostics == ()

    kube_api.inject(path_regex="^/api/v1/pods$", status=410, times=None, reason="Expired")
    inventory = await load_live_inventory(kube, kinds={"Pod"}, page_size=2)
    assert inventory.objects("Pod") == ()
    assert "HTTP 410" in str(inventory.diagnostics[0])
    attempts = 1 + kube.settings.list_restarts
    assert len(list_requests(kube_api, "/api/v1/pods")) == 1 + 3 + attempts


async def test_unknown_kind_is_reported(kube: Client) -> None:
    inventory = await load_live_inventory(kube, kinds={"Gizmo"})
    assert [d.message for d in inventory.diagnostics] == [
        "unknown kind: not listed from the cluster"
    ]


async def test_unreachable_cluster_raises() -> None:
    configuration = kubernetes.aio.client.Configuration(host="http://127.0.0.1:9")
    async with KubeClient(kubernetes.aio.client.ApiClient(configuration)) as client:
        with pytest.raises(ClusterUnavailable, match="GET /api"):
            await load_live_inventory(client, kinds={"Pod"})


async def test_a_list_without_an_answer_fails_the_whole_inventory(
    kube_api: KubeApiDouble, kube: Client
) -> None:
    kube_api.seed([namespace("shop"), pod("web-1", "shop"), deployment("web", "shop")])
    kube_api.set_latency(5, path_regex="^/apis/apps/v1/deployments$")
    async with kube_client(kube_api, KubeSettings(request_timeout_s=0.2)) as hasty:
        with pytest.raises(ClusterUnavailable, match="cannot list Deployment"):
            await load_live_inventory(hasty, kinds={"Pod", "Deployment"})


async def test_discovery_refused_raises(kube_api: KubeApiDouble, kube: Client) -> None:
    kube_api.inject(path_regex="^/apis$", status=401, reason="Unauthorized")
    with pytest.raises(ClusterUnavailable, match="HTTP 401"):
        await load_live_inventory(kube, kinds={"Pod"})


async def test_checks_run_on_a_live_inventory(kube_api: KubeApiDouble, kube: Client) -> None:
    kube_api.seed([namespace("shop"), *(node(f"node-{i}") for i in range(3))])
    kube_api.seed([deployment("web", "shop"), pod("web-1", "shop")])
    registry = builtin_registry()
    kinds = {k for c in registry.all() for k in c.definition.kinds}
    inventory = await load_live_inventory(kube, kinds=kinds)

    [idle] = evaluate(registry.get("SUS-001"), inventory)
    assert idle.status is Status.FAILING and "3 nodes" in idle.message
    [static] = evaluate(registry.get("SUS-004"), inventory)
    assert static.status is Status.FAILING  # autoscaling/v2 served, but no HPA targets it
    for check in registry.all():
        assert evaluate(check, inventory)


async def test_client_from_kubeconfig_with_context(kube_api: KubeApiDouble, tmp_path: Path) -> None:
    kubeconfig = tmp_path / "config"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "double", "cluster": {"server": kube_api.url}}],
                "users": [{"name": "tester", "user": {"token": "secret-token"}}],
                "contexts": [
                    {"name": "elsewhere", "context": {"cluster": "nowhere", "user": "tester"}},
                    {"name": "test", "context": {"cluster": "double", "user": "tester"}},
                ],
                "current-context": "elsewhere",
            }
        )
    )
    settings = KubeSettings(kubeconfig=str(kubeconfig), context="elsewhere")
    async with await connect(settings, context="test") as client:
        inventory = await load_live_inventory(client, kinds={"Namespace"})
    assert "default" in inventory.namespaces()

    with pytest.raises(KubeConfigError, match="context 'missing'"):
        await connect(settings, context="missing")


async def test_the_server_version_is_recorded(kube_api: KubeApiDouble, kube: Client) -> None:
    inventory = await load_live_inventory(kube, kinds={"Namespace"})
    assert inventory.server_version == "v1.31.0-assay-double"
