"""The metrics checks (PERF-009, PERF-010, COST-001, SUS-002) and the live-status checks of
the performance and sustainability pillars over the Kubernetes API test double.

The double serves ``metrics.k8s.io/v1beta1`` ``pods`` and ``nodes`` once the test registers
them with the fixtures' ``serve_metrics_api`` (read-only resources without a CRD, as
metrics-server's aggregated API is); a cluster without metrics-server simply does not serve
the group.
"""

from __future__ import annotations

from typing import Any

import kubernetes.aio.client

from assay.server.checks.kit.evaluate import evaluate
from assay.server.core.types import Status
from tests.fixtures.fresh_cluster import serve_metrics_api
from tests.kubeapi import KubeApiDouble
from tests.unit.checks.objects import (
    container,
    deployment,
    hpa,
    meta,
    node,
    node_metrics,
    obj,
    owned_by,
    pod,
    pod_metrics,
)
from tests.unit.checks.runs import REGISTRY, container_statuses, live_inventory, manifest_inventory

Client = kubernetes.aio.client.ApiClient
METRICS_CHECKS = ("PERF-009", "PERF-010", "COST-001", "SUS-002")


def cluster() -> list[dict[str, Any]]:
    """A Deployment of two pods (one busy, one idle), three nodes and their samples."""
    app = container(
        "api",
        requests={"cpu": "1", "memory": "1Gi"},
        limits={"cpu": "2", "memory": "1Gi"},
    )
    uid = "9c0d1e2f-0005-4000-8000-000000000005"
    api_deployment = deployment("api", app, replicas=2, uid=uid)
    replica_set = obj(
        "ReplicaSet",
        "api-5d8f",
        ownerReferences=[owned_by("Deployment", "api")[0] | {"uid": uid}],
        spec=api_deployment["spec"],
    )
    pods = [
        pod(
            f"api-5d8f-{i}",
            app,
            owner=("ReplicaSet", "api-5d8f"),
            phase="Running",
            status={"startTime": "2025-03-01T00:00:00Z"},
        )
        for i in (1, 2)
    ]
    return [
        api_deployment,
        replica_set,
        *pods,
        pod_metrics("api-5d8f-1", api={"cpu": "150m", "memory": "990Mi"}),
        pod_metrics("api-5d8f-2", api={"cpu": "120m", "memory": "400Mi"}),
        node("node-a", cpu="4", memory="16Gi"),
        node("node-b", cpu="4", memory="16Gi"),
        node("node-c", cpu="4", memory="16Gi"),
        node_metrics("node-a", "3800m", "6Gi"),
        node_metrics("node-b", "2", "8Gi"),
        node_metrics("node-c", "200m", "1Gi"),
    ]


async def test_metrics_checks_judge_samples_served_by_the_metrics_api(
    kube_api: KubeApiDouble,
) -> None:
    serve_metrics_api(kube_api)
    checks = [REGISTRY.get(i) for i in METRICS_CHECKS]
    inventory = await live_inventory(kube_api, cluster(), checks=checks)
    assert len(inventory.objects("PodMetrics")) == 2 and len(inventory.objects("NodeMetrics")) == 3

    saturation = evaluate(REGISTRY.get("PERF-009"), inventory)
    # one result for the Deployment's container, not one per pod or ReplicaSet
    assert container_statuses(saturation) == {("api", "api"): Status.FAILING}
    assert "990Mi of limit 1Gi (97%) in pod api-5d8f-1" in saturation[0].message
    assert "one metrics-server sample" in saturation[0].message

    assert container_statuses(evaluate(REGISTRY.get("PERF-010"), inventory)) == {
        ("node-a", ""): Status.FAILING,
        ("node-b", ""): Status.PASSING,
        ("node-c", ""): Status.PASSING,
    }
    [over] = evaluate(REGISTRY.get("COST-001"), inventory)
    assert (over.status, over.object and over.object.kind) == (Status.FAILING, "Deployment")
    assert "cpu 150m of request 1 (15%)" in over.message and "point in time" in over.message
    assert container_statuses(evaluate(REGISTRY.get("SUS-002"), inventory)) == {
        ("node-a", ""): Status.PASSING,
        ("node-b", ""): Status.PASSING,
        ("node-c", ""): Status.FAILING,
    }


async def test_without_the_metrics_api_the_checks_are_skipped_naming_it(
    kube_api: KubeApiDouble,
) -> None:
    checks = [REGISTRY.get(i) for i in METRICS_CHECKS]
    objects = [o for o in cluster() if o["apiVersion"] != "metrics.k8s.io/v1beta1"]
    inventory = await live_inventory(kube_api, objects, checks=checks)
    assert not inventory.has_api("metrics.k8s.io")
    for check in checks:
        [finding] = evaluate(check, inventory)
        assert finding.status is Status.SKIPPED, check.id
        assert finding.message == "the cluster does not serve metrics.k8s.io", check.id


async def test_a_switched_off_metrics_api_is_absent_too(
    kube_api: KubeApiDouble,
) -> None:
    serve_metrics_api(kube_api)
    kube_api.disable_group("metrics.k8s.io")
    check = REGISTRY.get("PERF-009")
    inventory = await live_inventory(
        kube_api,
        [o for o in cluster() if "metrics" not in o["apiVersion"]],
        checks=[check],
    )
    [finding] = evaluate(check, inventory)
    assert (finding.status, finding.message) == (
        Status.SKIPPED,
        "the cluster does not serve metrics.k8s.io",
    )
    assert not any("metrics.k8s.io" in r.path for r in kube_api.requests if r.path != "/apis")


def test_the_same_objects_as_manifests_give_one_skipped_result() -> None:
    inventory = manifest_inventory(cluster())
    for check_id in METRICS_CHECKS:
        [finding] = evaluate(REGISTRY.get(check_id), inventory)
        assert finding.status is Status.SKIPPED
        assert finding.message.startswith("needs a live cluster (scope M)"), finding.message
    for check_id in ("PERF-008", "PERF-013", "SUS-006"):
        [finding] = evaluate(REGISTRY.get(check_id), inventory)
        assert finding.status is Status.SKIPPED and "live status" in finding.message


async def test_placement_capacity_and_leftovers_from_live_status(
    kube_api: KubeApiDouble,
) -> None:
    pending = pod("api-5d8f-3", owner=("ReplicaSet", "api-5d8f"), phase="Pending")
    event = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": meta("api-5d8f-3.1829d0b7c2f1a3e4"),
        "involvedObject": {"kind": "Pod", "name": "api-5d8f-3", "namespace": "shop"},
        "reason": "FailedScheduling",
        "type": "Warning",
        "message": "0/3 nodes are available: 3 Insufficient memory.",
        "lastTimestamp": "2025-03-04T10:14:02Z",
    }
    evicted = pod(
        "api-5d8f-0", owner=("ReplicaSet", "api-5d8f"), phase="Failed", status={"reason": "Evicted"}
    )
    objects = [
        *(o for o in cluster() if "metrics" not in o["apiVersion"]),
        pending,
        event,
        evicted,
        hpa("api", "api", minReplicas=2, maxReplicas=20),
    ]
    checks = [REGISTRY.get(i) for i in ("PERF-008", "PERF-013", "SUS-006")]
    inventory = await live_inventory(kube_api, objects, checks=checks, page_size=2)

    capacity = evaluate(REGISTRY.get("PERF-008"), inventory)
    assert container_statuses(capacity) == {
        ("api", ""): Status.FAILING
    }  # 20 cores on 12 allocatable
    placement = evaluate(REGISTRY.get("PERF-013"), inventory)
    assert container_statuses(placement) == {("api", ""): Status.FAILING}
    assert "3 Insufficient memory" in placement[0].message
    [leftover] = evaluate(REGISTRY.get("SUS-006"), inventory)
    assert (leftover.status, leftover.object and leftover.object.name) == (Status.FAILING, "api")
    assert "Evicted 1" in leftover.message
