"""Edge cases of individual built-in checks that the fixture files do not show."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from assay.server.checks.kit.podspec import pod_request
from assay.server.core.types import Source, Status
from tests.unit.checks.objects import pod
from tests.unit.checks.runs import rows, run


def test_sec003_low_uid_is_a_warning_not_a_failure() -> None:
    spec = {
        "securityContext": {"runAsNonRoot": True, "runAsUser": 1000},
        "containers": [{"name": "a"}],
    }
    [(status, _, container, message)] = rows(run("SEC-003", [pod("p", spec=spec)]))
    assert (status, container) == (Status.WARNING, "a") and "UID 1000" in message


def test_sec003_container_overrides_pod_level_setting() -> None:
    spec = {
        "securityContext": {"runAsNonRoot": True, "runAsUser": 10001},
        "containers": [{"name": "a", "securityContext": {"runAsNonRoot": False}}],
    }
    [(status, _, _, message)] = rows(run("SEC-003", [pod("p", spec=spec)]))
    assert status is Status.FAILING and "runAsNonRoot is false" in message


def test_sec001_container_can_opt_out_of_pod_level_host_process() -> None:
    spec = {
        "securityContext": {"windowsOptions": {"hostProcess": True}},
        "containers": [
            {"name": "host", "securityContext": {}},
            {"name": "isolated", "securityContext": {"windowsOptions": {"hostProcess": False}}},
        ],
    }
    statuses = {c: s for s, _, c, _ in rows(run("SEC-001", [pod("p", spec=spec)]))}
    assert statuses == {"host": Status.FAILING, "isolated": Status.PASSING}


def test_live_pods_of_a_deployment_give_one_result_through_the_deployment() -> None:
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {"template": {"spec": {"containers": [{"name": "app"}]}}},
    }
    replica_set = {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": "web-1",
            "namespace": "shop",
            "ownerReferences": [{"kind": "Deployment", "name": "web", "controller": True}],
        },
        "spec": deployment["spec"],
    }
    owned_pod = pod("web-1-x", {"name": "app"}, owner=("ReplicaSet", "web-1"))
    found = rows(run("REL-001", [deployment, replica_set, owned_pod], source=Source.LIVE))
    assert [(s, name) for s, name, _, _ in found] == [(Status.FAILING, "web")]


def test_rel001_ignores_run_to_completion_pods() -> None:
    found = rows(run("REL-001", [pod("once", {}, restartPolicy="Never")]))
    [(status, _, _, message)] = found
    assert status is Status.SKIPPED and "nothing to assess" in message


def test_ops005_skips_objects_kubernetes_creates_in_default() -> None:
    objects = [
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "kubernetes", "namespace": "default"},
        },
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default"}},
        {"apiVersion": "v1", "kind": "Event", "metadata": {"name": "e.1", "namespace": "default"}},
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}},
    ]
    [(status, _, _, _)] = rows(run("OPS-005", objects))
    assert status is Status.SKIPPED


def test_cost003_ignores_configmaps_read_through_the_api() -> None:
    def configmap(name: str, **metadata: Any) -> Any:
        return {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": "monitoring", **metadata},
        }

    objects = [
        configmap("dashboards", labels={"grafana_dashboard": "1"}),
        configmap("lock", annotations={"control-plane.alpha.kubernetes.io/leader": "{}"}),
        configmap("owned", ownerReferences=[{"kind": "Prometheus", "name": "k8s"}]),
        configmap("kube-root-ca.crt"),
        configmap("stale"),
    ]
    assert [(s, n) for s, n, _, _ in rows(run("COST-003", objects))] == [(Status.FAILING, "stale")]


def test_perf006_container_resource_metric_checks_only_that_container() -> None:
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {"name": "app", "resources": {"requests": {"cpu": "1"}}},
                        {"name": "sidecar"},
                    ]
                }
            }
        },
    }
    hpa = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {
            "scaleTargetRef": {"kind": "Deployment", "name": "web"},
            "metrics": [
                {
                    "type": "ContainerResource",
                    "containerResource": {
                        "name": "cpu",
                        "container": "app",
                        "target": {"type": "Utilization", "averageUtilization": 60},
                    },
                }
            ],
        },
    }
    [(status, _, _, _)] = rows(run("PERF-006", [deployment, hpa]))
    assert status is Status.PASSING
    orphan_hpa = {**hpa, "metadata": {"name": "lost", "namespace": "shop"}}
    orphan_hpa["spec"] = {"scaleTargetRef": {"kind": "Deployment", "name": "gone"}}
    [(status, _, _, message)] = rows(run("PERF-006", [orphan_hpa]))
    assert status is Status.SKIPPED and "not in the inventory" in message


def test_pod_request_counts_sidecars_init_peaks_and_overhead() -> None:
    spec = {
        "initContainers": [
            {
                "name": "sidecar",
                "restartPolicy": "Always",
                "resources": {"requests": {"cpu": "100m"}},
            },
            {"name": "heavy-init", "resources": {"requests": {"cpu": "2"}}},
        ],
        "containers": [
            {"name": "a", "resources": {"requests": {"cpu": "500m"}}},
            {"name": "b", "resources": {"limits": {"cpu": "250m"}}},
        ],
        "overhead": {"cpu": "50m"},
    }
    # init peak: 2 + 0.1 sidecar = 2.1 > running 0.1 + 0.5 + 0.25; plus overhead
    assert pod_request(spec, "cpu") == Decimal("2.15")
    assert pod_request({}, "memory") == 0


def test_sus001_live_only_is_skipped_on_manifests() -> None:
    [(status, _, _, message)] = rows(run("SUS-001", []))
    assert status is Status.SKIPPED and "live" in message
