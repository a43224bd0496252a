"""A freshly installed cluster gives the performance, cost and sustainability checks of this
package nothing to report about the objects Kubernetes and its installer create.

The objects are what kubeadm (with metrics-server) leaves behind: the system namespaces, the
control-plane static pods (mirror pods owned by their node), CoreDNS, kube-proxy,
metrics-server, the system priority classes, a tainted control-plane node and two workers,
served by the Kubernetes API test double with the metrics API.
"""

from __future__ import annotations

from typing import Any

import kubernetes.aio.client

from assay.server.checks.kit.evaluate import evaluate
from assay.server.core.types import Status
from tests.fixtures.fresh_cluster import serve_metrics_api
from tests.kubeapi import KubeApiDouble
from tests.unit.checks.objects import meta, node, node_metrics, pod_metrics
from tests.unit.checks.runs import REGISTRY, live_inventory

Client = kubernetes.aio.client.ApiClient
CHECKS = (  # noqa: SIM905 - one readable line of ids
    "PERF-002 PERF-003 PERF-004 PERF-005 PERF-007 PERF-008 PERF-009 PERF-010 PERF-011 "
    "PERF-012 PERF-013 COST-001 SUS-003 SUS-005 SUS-006"
).split()
"""SUS-001 and SUS-002 judge the capacity the owner provisioned (an empty cluster is idle by
definition), not objects Kubernetes creates, so they are not part of this test."""

CONTROL_PLANE_TAINT = {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}


def _pod_template(name: str, priority_class: str, **spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"labels": {"k8s-app": name}},
        "spec": {"priorityClassName": priority_class, **spec},
    }


def _static_pod(component: str, cpu: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta(
            f"{component}-cp-1",
            "kube-system",
            annotations={"kubernetes.io/config.mirror": "5f2b1c"},
            ownerReferences=[
                {"apiVersion": "v1", "kind": "Node", "name": "cp-1", "controller": True}
            ],
        ),
        "spec": {
            "nodeName": "cp-1",
            "priorityClassName": "system-node-critical",
            "priority": 2000001000,
            "hostNetwork": True,
            "containers": [
                {
                    "name": component,
                    "image": f"registry.k8s.io/{component}:v1.31.2",
                    "resources": {"requests": {"cpu": cpu}},
                }
            ],
        },
        "status": {"phase": "Running", "startTime": "2025-03-01T00:00:00Z"},
    }


def fresh_cluster() -> list[dict[str, Any]]:
    coredns_container = {
        "name": "coredns",
        "image": "registry.k8s.io/coredns/coredns:v1.11.3",
        "resources": {"requests": {"cpu": "100m", "memory": "70Mi"}, "limits": {"memory": "170Mi"}},
    }
    coredns_spec = {
        "containers": [coredns_container],
        "tolerations": [
            {"key": "CriticalAddonsOnly", "operator": "Exists"},
            {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"},
        ],
    }
    metrics_server_container = {
        "name": "metrics-server",
        "image": "registry.k8s.io/metrics-server/metrics-server:v0.7.2",
        "resources": {"requests": {"cpu": "100m", "memory": "200Mi"}},
    }
    objects: list[dict[str, Any]] = [
        *(
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n}}
            for n in ("default", "kube-system", "kube-public", "kube-node-lease")
        ),
        *(
            {
                "apiVersion": "scheduling.k8s.io/v1",
                "kind": "PriorityClass",
                "metadata": {"name": name},
                "value": value,
            }
            for name, value in (
                ("system-cluster-critical", 2000000000),
                ("system-node-critical", 2000001000),
            )
        ),
        node("cp-1", cpu="2", memory="4Gi", taints=[CONTROL_PLANE_TAINT])
        | {"metadata": meta("cp-1", None, labels={"node-role.kubernetes.io/control-plane": ""})},
        node("worker-1"),
        node("worker-2"),
        *(
            _static_pod(component, cpu)
            for component, cpu in (
                ("etcd", "100m"),
                ("kube-apiserver", "250m"),
                ("kube-controller-manager", "200m"),
                ("kube-scheduler", "100m"),
            )
        ),
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": meta("coredns", "kube-system", labels={"k8s-app": "kube-dns"}),
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"k8s-app": "coredns"}},
                "template": _pod_template("coredns", "system-cluster-critical", **coredns_spec),
            },
        },
        {
            "apiVersion": "apps/v1",
            "kind": "DaemonSet",
            "metadata": meta("kube-proxy", "kube-system"),
            "spec": {
                "selector": {"matchLabels": {"k8s-app": "kube-proxy"}},
                "template": _pod_template(
                    "kube-proxy",
                    "system-node-critical",
                    hostNetwork=True,
                    tolerations=[{"operator": "Exists"}],
                    containers=[
                        {"name": "kube-proxy", "image": "registry.k8s.io/kube-proxy:v1.31.2"}
                    ],
                ),
            },
        },
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": meta("metrics-server", "kube-system"),
            "spec": {
                "selector": {"matchLabels": {"k8s-app": "metrics-server"}},
                "template": _pod_template(
                    "metrics-server",
                    "system-cluster-critical",
                    containers=[metrics_server_container],
                ),
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": meta(
                "coredns-7c65d6cfc9-x8k2p",
                "kube-system",
                ownerReferences=[{"kind": "Deployment", "name": "coredns", "controller": True}],
            ),
            "spec": {
                **coredns_spec,
                "nodeName": "worker-1",
                "priorityClassName": "system-cluster-critical",
                "priority": 2000000000,
            },
            "status": {"phase": "Running", "startTime": "2025-03-01T00:00:00Z"},
        },
        pod_metrics(
            "coredns-7c65d6cfc9-x8k2p", "kube-system", coredns={"cpu": "3m", "memory": "18Mi"}
        ),
        pod_metrics("etcd-cp-1", "kube-system", etcd={"cpu": "25m", "memory": "60Mi"}),
        node_metrics("cp-1", "310m", "1500Mi"),
        node_metrics("worker-1", "90m", "900Mi"),
        node_metrics("worker-2", "40m", "600Mi"),
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": meta("kubernetes", "default"),
            "spec": {"ports": [{"port": 443, "targetPort": 6443}]},
        },
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": meta("kube-root-ca.crt", "default"),
            "data": {"ca.crt": "-----BEGIN CERTIFICATE-----"},
        },
    ]
    return objects


async def test_a_fresh_cluster_is_quiet(kube_api: KubeApiDouble) -> None:
    serve_metrics_api(kube_api)
    checks = [REGISTRY.get(check_id) for check_id in CHECKS]
    inventory = await live_inventory(kube_api, fresh_cluster(), checks=checks)
    assert inventory.has_api("metrics.k8s.io") and inventory.objects("NodeMetrics")
    judged = 0
    for check in checks:
        findings = evaluate(check, inventory)
        loud = [
            (f.object, f.container, f.message)
            for f in findings
            if f.status in (Status.FAILING, Status.WARNING)
        ]
        assert not loud, (check.id, loud)
        judged += sum(f.status is Status.PASSING for f in findings)
    assert judged > 0, "the checks looked at something"
