"""Performance checks: parameters (through a policy file) and edge cases the fixtures cannot
show."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from assay.server.checks.kit.params import build_params
from assay.server.checks.kit.policy import PolicyError
from assay.server.checks.performance.namespaces import QuotaParams
from assay.server.checks.performance.resources import CpuLimitParams, CpuLimitPolicy
from assay.server.checks.performance.usage import SaturationParams
from assay.server.core.types import Severity, Source, Status
from tests.unit.checks.objects import (
    container,
    deployment,
    hpa,
    meta,
    namespace,
    node,
    pod,
    pod_metrics,
)
from tests.unit.checks.runs import container_statuses, policy_params, rows, run

LIVE = Source.LIVE


def test_perf002_policy_forbidden_and_optional() -> None:
    objects = [
        deployment(
            "web",
            container("limited", requests={"cpu": "100m"}, limits={"cpu": "500m"}),
            container("free", requests={"cpu": "100m"}),
            container("inverted", requests={"cpu": "1"}, limits={"cpu": "500m"}),
        )
    ]
    forbidden = policy_params("PERF-002", "{cpu_limit: forbidden}")
    assert forbidden == CpuLimitParams(CpuLimitPolicy.FORBIDDEN)
    assert container_statuses(run("PERF-002", objects, params=forbidden)) == {
        ("web", "limited"): Status.FAILING,
        ("web", "free"): Status.PASSING,
        ("web", "inverted"): Status.FAILING,
    }
    optional = build_params(CpuLimitParams, {"cpu_limit": "optional"})
    assert container_statuses(run("PERF-002", objects, params=optional)) == {
        ("web", "limited"): Status.PASSING,
        ("web", "free"): Status.PASSING,
        ("web", "inverted"): Status.FAILING,
    }
    assert container_statuses(run("PERF-002", objects))[("web", "free")] is Status.FAILING


def test_perf002_a_limit_range_default_limit_is_forbidden_too() -> None:
    limit_range = {
        "apiVersion": "v1",
        "kind": "LimitRange",
        "metadata": meta("defaults"),
        "spec": {"limits": [{"type": "Container", "default": {"cpu": "1"}}]},
    }
    forbidden = build_params(CpuLimitParams, {"cpu_limit": "forbidden"})
    [(status, _, _, message)] = rows(
        run("PERF-002", [limit_range, deployment("web", container("app"))], params=forbidden)
    )
    assert status is Status.FAILING and "from LimitRange defaults" in message


def test_perf002_an_unknown_policy_value_is_refused() -> None:
    with pytest.raises(PolicyError, match="cpu_limit"):
        policy_params("PERF-002", "{cpu_limit: sometimes}")


def prioritised(name: str, priority_class: str, **pod_spec: Any) -> dict[str, Any]:
    return deployment(
        name,
        container("app", requests={"cpu": "100m", "memory": "64Mi"}),
        priorityClassName=priority_class,
        **pod_spec,
    )


def priority_class(name: str, value: int) -> dict[str, Any]:
    return {
        "apiVersion": "scheduling.k8s.io/v1",
        "kind": "PriorityClass",
        "metadata": meta(name, None),
        "value": value,
    }


def test_perf003_min_priority_and_critical_classes() -> None:
    objects = [priority_class("medium", 500), prioritised("api", "medium")]
    assert container_statuses(run("PERF-003", objects))[("api", "")] is Status.FAILING
    raised = policy_params("PERF-003", "{min_priority: 1000}")
    assert (
        container_statuses(run("PERF-003", objects, params=raised))[("api", "")] is Status.PASSING
    )
    critical = policy_params("PERF-003", "{critical_priority_classes: [medium]}")
    [(status, _, _, message)] = rows(run("PERF-003", objects, params=critical))
    assert status is Status.SKIPPED and "nothing to assess" in message


def test_perf003_live_pods_by_priority_and_static_pods_are_not_judged() -> None:
    critical = pod("etcd-cp-1", namespace="kube-system", phase="Running")
    critical["spec"]["priority"] = 2000001000
    mirror = pod("kube-apiserver-cp-1", namespace="kube-system", phase="Running")
    mirror["metadata"]["annotations"] = {"kubernetes.io/config.mirror": "abc"}
    plain = pod("debug", phase="Running")
    assert container_statuses(run("PERF-003", [critical, mirror, plain], source=LIVE)) == {
        ("debug", ""): Status.FAILING
    }


def test_perf004_unreadable_counts_are_skipped() -> None:
    [(status, _, _, message)] = rows(run("PERF-004", [hpa("web", "web", minReplicas="two")]))
    assert status is Status.SKIPPED and "not an integer" in message


def test_perf005_last_applied_configuration_without_replicas_passes() -> None:
    applied = {"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"template": {}}}
    live = deployment(
        "web",
        replicas=5,
        annotations={"kubectl.kubernetes.io/last-applied-configuration": json.dumps(applied)},
    )
    assert container_statuses(run("PERF-005", [live, hpa("web", "web")])) == {
        ("web", ""): Status.PASSING
    }
    broken = deployment(
        "web",
        replicas=5,
        annotations={"kubectl.kubernetes.io/last-applied-configuration": "{not json"},
    )
    # unreadable: falls back to what the spec says
    assert container_statuses(run("PERF-005", [broken, hpa("web", "web")])) == {
        ("web", ""): Status.FAILING
    }


def vpa(name: str, target: str, mode: str | None = None, **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": target}
    }
    if mode is not None:
        body["updatePolicy"] = {"updateMode": mode}
    return {
        "apiVersion": "autoscaling.k8s.io/v1",
        "kind": "VerticalPodAutoscaler",
        "metadata": meta(name),
        "spec": body | spec,
    }


def test_perf007_container_policies_decide_what_the_vpa_controls() -> None:
    scaler = hpa(
        "web",
        "web",
        metrics=[
            {
                "type": "ContainerResource",
                "containerResource": {
                    "name": "memory",
                    "container": "app",
                    "target": {"type": "AverageValue", "averageValue": "500Mi"},
                },
            }
        ],
    )
    web = deployment("web", container("app"), container("proxy"))
    only_cpu = vpa(
        "web",
        "web",
        "Auto",
        resourcePolicy={
            "containerPolicies": [
                {"containerName": "*", "mode": "Off"},
                {"containerName": "app", "controlledResources": ["cpu"]},
            ]
        },
    )
    assert container_statuses(run("PERF-007", [web, scaler, only_cpu])) == {
        ("web", ""): Status.PASSING
    }
    both = vpa("web", "web", "Auto")
    assert container_statuses(run("PERF-007", [web, scaler, both])) == {("web", ""): Status.FAILING}
    # without the target in the input, the policies alone are read
    assert container_statuses(run("PERF-007", [scaler, only_cpu])) == {("web", ""): Status.PASSING}
    assert container_statuses(run("PERF-007", [scaler, both])) == {("web", ""): Status.FAILING}


def test_perf007_passive_modes_are_not_judged() -> None:
    for mode in ("Off", "Initial"):
        [(status, _, _, message)] = rows(
            run("PERF-007", [vpa("web", "web", mode), hpa("web", "web")])
        )
        assert status is Status.SKIPPED and "InPlaceOrRecreate" in message


def test_perf008_capacity_factor_and_cordoned_nodes() -> None:
    objects = [
        node("a", cpu="4"),
        node("b", cpu="4"),
        node("cordoned", cpu="64", unschedulable=True),
        deployment("api", container("api", requests={"cpu": "1", "memory": "1Gi"})),
        hpa("api", "api", maxReplicas=10),
    ]
    found = container_statuses(run("PERF-008", objects, source=LIVE))
    assert found[("api", "")] is Status.FAILING  # 10 cores on 8 schedulable
    doubled = policy_params("PERF-008", "{capacity_factor: 2}")
    assert doubled.capacity_factor == Decimal(2)
    assert (
        container_statuses(run("PERF-008", objects, params=doubled, source=LIVE))[("api", "")]
        is Status.PASSING
    )


def test_perf008_targets_it_cannot_size_are_skipped() -> None:
    objects = [
        node("a"),
        hpa("lost", "gone", maxReplicas=3),
        deployment("bare", container("bare")),
        hpa("bare", "bare", maxReplicas=3),
    ]
    found = {name: (s, m) for s, name, _, m in rows(run("PERF-008", objects, source=LIVE))}
    assert found["lost"][0] is Status.SKIPPED and "not in the inventory" in found["lost"][1]
    assert found["bare"][0] is Status.SKIPPED and "requests no cpu or memory" in found["bare"][1]
    assert "" not in found  # nothing fits alone: no cluster-wide result


def saturated(request_cpu: str, used_cpu: str) -> list[dict[str, Any]]:
    app = container("app", requests={"cpu": request_cpu, "memory": "1Gi"}, limits={"memory": "1Gi"})
    return [
        pod("worker", app, phase="Running"),
        pod_metrics("worker", app={"cpu": used_cpu, "memory": "600Mi"}),
    ]


def test_perf009_request_ratio_can_be_raised_or_turned_off() -> None:
    objects = saturated("250m", "400m")
    [finding] = run("PERF-009", objects, source=LIVE)
    assert finding.status is Status.FAILING and finding.severity is Severity.MEDIUM
    tolerant = policy_params("PERF-009", "{request_ratio: 2}")
    assert container_statuses(run("PERF-009", objects, params=tolerant, source=LIVE)) == {
        ("worker", "app"): Status.PASSING
    }
    off = policy_params("PERF-009", "{request_ratio: null}")
    assert off == SaturationParams(request_ratio=None)
    assert container_statuses(run("PERF-009", objects, params=off, source=LIVE))[
        ("worker", "app")
    ] is (Status.PASSING)


def test_perf009_limit_ratio_and_its_validation() -> None:
    objects = saturated("1", "100m")  # memory 600Mi of a 1Gi limit: 59%
    assert (
        container_statuses(run("PERF-009", objects, source=LIVE))[("worker", "app")]
        is Status.PASSING
    )
    strict = policy_params("PERF-009", "{limit_ratio: 0.5}")
    [finding] = run("PERF-009", objects, params=strict, source=LIVE)
    assert finding.status is Status.FAILING and finding.severity is None
    assert "point in time" in finding.message
    with pytest.raises(PolicyError, match="limit_ratio: must be a positive ratio"):
        policy_params("PERF-009", "{limit_ratio: -1}")


def test_perf009_pods_without_samples_are_skipped_not_judged() -> None:
    objects = [pod("worker", container("app", requests={"cpu": "1"}), phase="Running")]
    [(status, name, _, message)] = rows(run("PERF-009", objects, source=LIVE))
    assert (status, name) == (Status.SKIPPED, "worker") and "no metrics sample" in message
    broken = [*objects, pod_metrics("worker", app={"cpu": "a lot", "memory": "?"})]
    [(status, _, container_name, message)] = rows(run("PERF-009", broken, source=LIVE))
    assert (status, container_name) == (Status.SKIPPED, "app")


def test_perf010_thresholds() -> None:
    objects = [
        node("a", cpu="4", memory="16Gi"),
        {
            "apiVersion": "metrics.k8s.io/v1beta1",
            "kind": "NodeMetrics",
            "metadata": {"name": "a"},
            "usage": {"cpu": "3", "memory": "8Gi"},
        },
        node("no-sample"),
    ]
    assert container_statuses(run("PERF-010", objects, source=LIVE)) == {
        ("a", ""): Status.PASSING,
        ("no-sample", ""): Status.SKIPPED,
    }
    strict = policy_params("PERF-010", "{cpu_threshold: 0.7}")
    assert (
        container_statuses(run("PERF-010", objects, params=strict, source=LIVE))[("a", "")]
        is Status.FAILING
    )


def test_perf011_resources_and_ignored_namespaces() -> None:
    limit_range = {
        "apiVersion": "v1",
        "kind": "LimitRange",
        "metadata": meta("cpu-only"),
        "spec": {"limits": [{"type": "Container", "defaultRequest": {"cpu": "100m"}}]},
    }
    objects = [limit_range, deployment("web"), deployment("coredns", namespace="kube-system")]
    assert container_statuses(run("PERF-011", objects)) == {("shop", ""): Status.FAILING}
    cpu_only = policy_params(
        "PERF-011",
        "{resources: [cpu], ignored_namespaces: []}",
    )
    assert container_statuses(run("PERF-011", objects, params=cpu_only)) == {
        ("shop", ""): Status.PASSING,
        ("kube-system", ""): Status.FAILING,
    }


def quota(hard: dict[str, str], used: dict[str, str] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": meta("q"),
        "spec": {"hard": hard},
    }
    if used is not None:
        body["status"] = {"hard": hard, "used": used}
    return body


def test_perf012_fill_ratio() -> None:
    objects = [
        deployment("web"),
        quota({"pods": "10", "requests.cpu": "4"}, {"pods": "6", "requests.cpu": "1"}),
    ]
    assert container_statuses(run("PERF-012", objects)) == {("shop", ""): Status.PASSING}
    half = policy_params("PERF-012", "{fill_ratio: 0.5}")
    [(status, _, _, message)] = rows(run("PERF-012", objects, params=half))
    assert status is Status.FAILING and "pods 6 of 10 (60%)" in message
    with pytest.raises(PolicyError, match="fill_ratio"):
        policy_params("PERF-012", "{fill_ratio: 90}")
    assert QuotaParams().fill_ratio == Decimal("0.9")


def test_perf012_without_status_only_presence_counts_and_empty_namespaces_are_judged() -> None:
    objects = [quota({"pods": "10"}), namespace("empty")]
    [(status, name, _, message)] = rows(run("PERF-012", objects))
    assert (status, name) == (Status.PASSING, "shop") and "no usage reported" in message


def test_perf013_reserved_taints_and_cordoned_nodes() -> None:
    tainted = node(
        "cp", taints=[{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]
    )
    cordoned = node("a", unschedulable=True)
    daemon = {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": meta("agent"),
        "spec": {"template": {"spec": {"containers": [{"name": "agent"}]}}},
    }
    objects = [tainted, cordoned, deployment("web"), daemon]
    found = {name: (s, m) for s, name, _, m in rows(run("PERF-013", objects, source=LIVE))}
    assert found["web"][0] is Status.FAILING and "control-plane" in found["web"][1]
    assert found["agent"][0] is Status.PASSING  # DaemonSet pods go to cordoned nodes too
    assert "cp" not in found  # a reserved taint is meant to keep workloads off
    unreserved = policy_params("PERF-013", "{reserved_taints: []}")
    unreserved_found = container_statuses(run("PERF-013", objects, params=unreserved, source=LIVE))
    assert unreserved_found[("cp", "")] is Status.FAILING


def test_perf013_events_in_events_k8s_io_shape_are_read() -> None:
    pending = pod("batch", phase="Pending")
    event = {
        "apiVersion": "events.k8s.io/v1",
        "kind": "Event",
        "metadata": meta("batch.1"),
        "regarding": {"kind": "Pod", "name": "batch", "namespace": "shop"},
        "reason": "FailedScheduling",
        "note": "0/2 nodes are available: 2 node(s) had volume node affinity conflict.",
        "eventTime": "2025-03-04T10:14:02.000000Z",
    }
    [(status, _, _, message)] = rows(run("PERF-013", [node("a"), pending, event], source=LIVE))
    assert status is Status.FAILING and "volume node affinity conflict" in message
    # a Pending pod without FailedScheduling (just created, image pulling) is no finding
    assert container_statuses(run("PERF-013", [node("a"), pending], source=LIVE)) == {
        ("batch", ""): Status.PASSING
    }
