"""Cost checks (COST-002..COST-010): parameters set through a policy file, edge cases the
fixtures cannot show, and the live parts over the Kubernetes API test double."""

from __future__ import annotations

from typing import Any

import kubernetes.aio.client
import pytest

from assay.server.checks.cost.sizing import RequestRatioParams
from assay.server.checks.kit.params import ParamError, build_params
from assay.server.checks.kit.references import SECRET, used_names
from assay.server.core.types import Severity, Source, Status
from assay.server.inventory import Inventory
from tests.kubeapi import KubeApiDouble
from tests.unit.checks.objects import container, deployment, namespace, obj, pod
from tests.unit.checks.runs import (
    REGISTRY,
    by_name,
    live_inventory,
    manifest_inventory,
    run,
    run_on,
    statuses,
)

Client = kubernetes.aio.client.ApiClient


def sized(
    name: str,
    namespace: str = "shop",
    *,
    requests: dict[str, str] | None = None,
    limits: dict[str, str] | None = None,
) -> dict[str, Any]:
    app = container(requests=requests, limits=limits)
    return deployment(name, app, namespace=namespace, replicas=1)


# -- COST-002 ------------------------------------------------------------------------------


def test_cost002_ratio_threshold_is_a_parameter() -> None:
    objects = [sized("web", requests={"memory": "256Mi"}, limits={"memory": "1536Mi"})]
    assert statuses(run("COST-002", objects))["web"] is Status.FAILING
    assert statuses(run("COST-002", objects, "max_limit_ratio: 8"))["web"] is Status.PASSING


def test_cost002_build_params_rejects_a_ratio_of_the_wrong_type() -> None:
    assert build_params(RequestRatioParams, {"max_limit_ratio": 3}).max_limit_ratio == 3.0
    with pytest.raises(ParamError, match="max_limit_ratio"):
        build_params(RequestRatioParams, {"max_limit_ratio": "four"})


def test_cost002_median_needs_enough_peers_and_is_configurable() -> None:
    peers = [sized(f"svc-{i}", "batch", requests={"cpu": "100m"}) for i in range(3)]
    outlier = sized("big", "batch", requests={"cpu": "2"})
    objects = [*peers, outlier]
    # four workloads: fewer than the default five, so no median comparison
    assert statuses(run("COST-002", objects))["big"] is Status.PASSING
    findings = by_name(run("COST-002", objects, "min_namespace_workloads: 4"))
    assert findings["big"].status is Status.FAILING
    assert "20.0x the median of namespace batch" in findings["big"].message
    assert (
        statuses(run("COST-002", objects, "{min_namespace_workloads: 4, median_factor: 25}"))["big"]
        is Status.PASSING
    )


def test_cost002_a_limit_without_request_is_a_ratio_of_one() -> None:
    objects = [sized("web", limits={"cpu": "4", "memory": "8Gi"})]
    assert statuses(run("COST-002", objects))["web"] is Status.PASSING


def test_cost002_invalid_quantities_are_not_judged() -> None:
    objects = [sized("web", requests={"cpu": "lots"}, limits={"cpu": "8"})]
    assert statuses(run("COST-002", objects))["web"] is Status.PASSING


# -- COST-003/004/005: every reference path, and the configurable exclusions ----------------


def test_cost003_kubernetes_own_configmaps_are_never_reported() -> None:
    objects = [
        obj("ConfigMap", "kube-apiserver-legacy-service-account-token-tracking", "kube-system"),
        obj("ConfigMap", "extension-apiserver-authentication", "kube-system"),
        obj("ConfigMap", "kube-root-ca.crt", "team-a"),
        obj("ConfigMap", "leftover", "team-a"),
    ]
    assert set(statuses(run("COST-003", objects))) == {"leftover"}


def test_cost003_release_exclusions_are_parameters() -> None:
    record = obj("ConfigMap", "sh.helm.release.v1.web.v3", labels={"owner": "helm"})
    assert run("COST-003", [record])[0].status is Status.SKIPPED
    assert run("COST-003", [record], "ignored_labels: []")[0].status is Status.FAILING


def test_cost004_reference_paths_beyond_pods() -> None:
    objects = [
        obj("Secret", "gw-cert", "edge"),
        obj("Secret", "shared-cert", "certs"),
        obj("Secret", "basic-auth", "auth"),
        obj("Secret", "ceph-node", "ceph"),
        obj("Secret", "per-claim", "ceph"),
        obj(
            "Gateway",
            "public",
            "edge",
            apiVersion="gateway.networking.k8s.io/v1",
            spec={
                "listeners": [
                    {
                        "name": "https",
                        "tls": {
                            "certificateRefs": [
                                {"name": "gw-cert"},
                                {"kind": "Secret", "name": "shared-cert", "namespace": "certs"},
                            ]
                        },
                    }
                ]
            },
        ),
        obj(
            "Ingress",
            "admin",
            "web",
            annotations={"nginx.ingress.kubernetes.io/auth-secret": "auth/basic-auth"},
        ),
        obj(
            "PersistentVolume",
            "pv-1",
            "",
            spec={"csi": {"nodeStageSecretRef": {"name": "ceph-node", "namespace": "ceph"}}},
        ),
        obj(
            "StorageClass",
            "rbd",
            "",
            parameters={
                "csi.storage.k8s.io/provisioner-secret-name": "${pvc.name}",
                "csi.storage.k8s.io/provisioner-secret-namespace": "ceph",
            },
        ),
    ]
    assert statuses(run("COST-004", objects)) == {
        "gw-cert": Status.PASSING,
        "shared-cert": Status.PASSING,
        "basic-auth": Status.PASSING,
        "ceph-node": Status.PASSING,
        # a templated StorageClass parameter names no Secret until a claim is provisioned
        "per-claim": Status.FAILING,
    }


def test_cost004_exclusions_are_parameters() -> None:
    release = obj("Secret", "release-record", type="helm.sh/release.v1")
    repo = obj("Secret", "repo", labels={"argocd.argoproj.io/secret-type": "repository"})
    token = obj("Secret", "ci-token", type="kubernetes.io/service-account-token")
    findings = run("COST-004", [release, repo, token])
    assert [f.status for f in findings] == [Status.SKIPPED]
    findings = run("COST-004", [release, repo, token], "{ignored_types: [], ignored_labels: []}")
    # ServiceAccount tokens are Kubernetes' own credentials: never reported
    assert statuses(findings) == {"release-record": Status.FAILING, "repo": Status.FAILING}


def test_cost005_volume_phases_are_a_parameter() -> None:
    failed = obj("PersistentVolume", "pv-9", "", spec={}, status={"phase": "Failed"})
    assert statuses(run("COST-005", [failed]))["pv-9"] is Status.PASSING
    assert (
        statuses(run("COST-005", [failed], "idle_volume_phases: [Failed, Released]"))["pv-9"]
        is Status.FAILING
    )


def test_used_names_index_counts_cross_namespace_references() -> None:
    inventory = Inventory.from_objects(
        [
            obj(
                "Ingress",
                "admin",
                "web",
                annotations={"nginx.ingress.kubernetes.io/auth-tls-secret": "pki/client-ca"},
            )
        ]
    )
    assert (SECRET, "client-ca") in used_names(inventory, "pki")
    assert (SECRET, "client-ca") not in used_names(inventory, "web")


# -- COST-006 ------------------------------------------------------------------------------


def test_cost006_threshold_is_a_parameter() -> None:
    balancers = [
        obj("Service", f"lb-{i}", spec={"type": "LoadBalancer", "selector": {"app": "x"}})
        for i in range(3)
    ]
    assert run("COST-006", balancers)[0].status is Status.PASSING
    [finding] = run("COST-006", balancers, "max_load_balancers: 2")
    assert finding.status is Status.FAILING and finding.object is None
    assert "3 Services of type LoadBalancer (more than 2)" in finding.message


# -- COST-007 ------------------------------------------------------------------------------


def app_pod(name: str, namespace: str, phase: str, **spec: Any) -> dict[str, Any]:
    app = name.rsplit("-", 1)[0]
    return pod(name, namespace=namespace, labels={"app": app}, phase=phase, **spec)


IDLE_CLUSTER = [
    namespace("busy"),
    namespace("waiting"),
    namespace("finished"),
    namespace("nightly"),
    namespace("empty"),
    namespace("leaving", status={"phase": "Terminating"}),
    app_pod("web-1", "busy", "Running"),
    app_pod("web-2", "waiting", "Pending"),
    app_pod("job-1", "finished", "Succeeded"),
    obj(
        "CronJob",
        "report",
        "nightly",
        spec={"schedule": "0 1 * * *", "jobTemplate": {"spec": {"template": {"spec": {}}}}},
    ),
]


async def test_cost007_live_namespaces_with_nothing_running(
    kube_api: KubeApiDouble, kube_aio_client: Client
) -> None:
    check = REGISTRY.get("COST-007")
    inventory = await live_inventory(kube_api, IDLE_CLUSTER, checks=[check])
    found = statuses(run_on("COST-007", inventory))
    assert found == {
        "busy": Status.PASSING,
        "waiting": Status.PASSING,
        "nightly": Status.PASSING,
        "finished": Status.FAILING,
        "empty": Status.FAILING,
    }
    found = statuses(run_on("COST-007", inventory, "ignored_namespaces: [empty, finished]"))
    # the double's built-in namespaces (default, kube-system ...) run nothing either
    assert found["default"] is Status.FAILING and "empty" not in found


def test_cost007_namespaces_are_not_judged_on_manifests() -> None:
    [finding] = run_on("COST-007", manifest_inventory(IDLE_CLUSTER))
    assert finding.status is Status.SKIPPED and "nothing to assess" in finding.message


# -- COST-008 ------------------------------------------------------------------------------


def test_cost008_group_subjects_bind_every_service_account_they_cover() -> None:
    objects = [
        obj("ServiceAccount", "builder", "ci"),
        obj("ServiceAccount", "scanner", "security"),
        obj(
            "ClusterRoleBinding",
            "ci-readers",
            "",
            roleRef={"kind": "ClusterRole", "name": "view"},
            subjects=[{"kind": "Group", "name": "system:serviceaccounts:ci"}],
        ),
    ]
    assert statuses(run("COST-008", objects)) == {
        "builder": Status.PASSING,
        "scanner": Status.FAILING,
    }
    everyone = obj(
        "ClusterRoleBinding",
        "all-accounts",
        "",
        roleRef={"kind": "ClusterRole", "name": "view"},
        subjects=[{"kind": "Group", "name": "system:serviceaccounts"}],
    )
    assert statuses(run("COST-008", [*objects, everyone]))["scanner"] is Status.PASSING


def test_cost008_ignored_names_and_aggregation_labels_are_parameters() -> None:
    role = obj(
        "ClusterRole",
        "crd-view",
        "",
        labels={"example.com/aggregate-to-reader": "true"},
        rules=[],
    )
    assert statuses(run("COST-008", [role]))["crd-view"] is Status.FAILING
    policy = "aggregation_labels: [example.com/aggregate-to-reader=true]"
    assert statuses(run("COST-008", [role], policy))["crd-view"] is Status.PASSING
    assert (
        statuses(run("COST-008", [role], "ignored_names: [crd-view]"))["crd-view"] is Status.PASSING
    )


# -- COST-010 ------------------------------------------------------------------------------


def spot_node(name: str) -> dict[str, Any]:
    return obj("Node", name, "", labels={"karpenter.sh/capacity-type": "spot"})


async def test_cost010_live_placement_on_spot_nodes(
    kube_api: KubeApiDouble, kube_aio_client: Client
) -> None:
    objects = [
        namespace("shop"),
        spot_node("spot-a"),
        obj("Node", "on-demand-a", "", labels={"karpenter.sh/capacity-type": "on-demand"}),
        deployment("web", replicas=3),
        deployment("api", replicas=2),
        deployment("solo", replicas=1),
        app_pod("web-1", "shop", "Running", nodeName="spot-a"),
        app_pod("web-2", "shop", "Running", nodeName="on-demand-a"),
        app_pod("api-1", "shop", "Running", nodeName="on-demand-a"),
    ]
    check = REGISTRY.get("COST-010")
    inventory = await live_inventory(kube_api, objects, checks=[check])
    assert inventory.source is Source.LIVE
    findings = by_name(run_on("COST-010", inventory))
    assert findings["web"].status is Status.PASSING
    assert findings["api"].status is Status.FAILING
    assert "spot-a" in findings["api"].message
    assert "solo" not in findings  # one replica: not a candidate
    assert statuses(run_on("COST-010", inventory, "min_replicas: 3")) == {"web": Status.PASSING}
    [offline] = run_on("COST-010", manifest_inventory(objects))
    assert offline.status is Status.SKIPPED and "live" in offline.message


def test_cost010_spot_labels_are_a_parameter() -> None:
    objects = [
        obj("Node", "n1", "", labels={"lifecycle": "Ec2Spot"}),
        deployment("web", replicas=2),
        app_pod("web-1", "shop", "Running", nodeName="n1"),
    ]
    [finding] = run("COST-010", objects, source=Source.LIVE)
    assert finding.status is Status.FAILING and finding.object is None
    findings = run("COST-010", objects, "spot_node_labels: [lifecycle=Ec2Spot]", source=Source.LIVE)
    assert statuses(findings) == {"web": Status.PASSING}


def test_cost010_an_autoscaler_minimum_makes_a_candidate() -> None:
    objects = [
        obj("Node", "n1", ""),
        deployment("web"),
        obj(
            "HorizontalPodAutoscaler",
            "web",
            spec={"scaleTargetRef": {"kind": "Deployment", "name": "web"}, "minReplicas": 2},
        ),
    ]
    [finding] = run("COST-010", objects, source=Source.LIVE)
    assert finding.status is Status.FAILING and "shop/web" in finding.message
    assert finding.severity is None and REGISTRY.get("COST-010").definition.severity is (
        Severity.INFO
    )
