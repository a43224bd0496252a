"""Performance checks: parameters (through a policy file) and edge cases the fixtures cannot
show."""

from __future__ import annotations

import json
from typing import Any

import pytest

from assay.server.checks.kit.params import build_params
from assay.server.checks.kit.policy import PolicyError
from assay.server.checks.performance.resources import CpuLimitParams, CpuLimitPolicy
from assay.server.core.types import Source, Status
from tests.unit.checks.perf_helpers import (
    container,
    deployment,
    hpa,
    meta,
    pod,
    policy_params,
    rows,
    statuses,
)

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
    forbidden = policy_params(
        "PERF-002", "checks:\n  PERF-002:\n    params: {cpu_limit: forbidden}\n"
    )
    assert forbidden == CpuLimitParams(CpuLimitPolicy.FORBIDDEN)
    assert statuses("PERF-002", objects, params=forbidden) == {
        ("web", "limited"): Status.FAILING,
        ("web", "free"): Status.PASSING,
        ("web", "inverted"): Status.FAILING,
    }
    optional = build_params(CpuLimitParams, {"cpu_limit": "optional"})
    assert statuses("PERF-002", objects, params=optional) == {
        ("web", "limited"): Status.PASSING,
        ("web", "free"): Status.PASSING,
        ("web", "inverted"): Status.FAILING,
    }
    assert statuses("PERF-002", objects)[("web", "free")] is Status.FAILING


def test_perf002_a_limit_range_default_limit_is_forbidden_too() -> None:
    limit_range = {
        "apiVersion": "v1",
        "kind": "LimitRange",
        "metadata": meta("defaults"),
        "spec": {"limits": [{"type": "Container", "default": {"cpu": "1"}}]},
    }
    forbidden = build_params(CpuLimitParams, {"cpu_limit": "forbidden"})
    [(status, _, _, message)] = rows(
        "PERF-002", [limit_range, deployment("web", container("app"))], params=forbidden
    )
    assert status is Status.FAILING and "from LimitRange defaults" in message


def test_perf002_an_unknown_policy_value_is_refused() -> None:
    with pytest.raises(PolicyError, match="cpu_limit"):
        policy_params("PERF-002", "checks:\n  PERF-002:\n    params: {cpu_limit: sometimes}\n")


def prioritised(name: str, priority_class: str, **pod_spec: Any) -> dict[str, Any]:
    return deployment(
        name,
        container("app", requests={"cpu": "100m", "memory": "64Mi"}),
        pod={"priorityClassName": priority_class, **pod_spec},
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
    assert statuses("PERF-003", objects)[("api", "")] is Status.FAILING
    raised = policy_params("PERF-003", "checks:\n  PERF-003:\n    params: {min_priority: 1000}\n")
    assert statuses("PERF-003", objects, params=raised)[("api", "")] is Status.PASSING
    critical = policy_params(
        "PERF-003", "checks:\n  PERF-003:\n    params: {critical_priority_classes: [medium]}\n"
    )
    [(status, _, _, message)] = rows("PERF-003", objects, params=critical)
    assert status is Status.SKIPPED and "nothing to assess" in message


def test_perf003_live_pods_by_priority_and_static_pods_are_not_judged() -> None:
    critical = pod("etcd-cp-1", namespace="kube-system")
    critical["spec"]["priority"] = 2000001000
    mirror = pod("kube-apiserver-cp-1", namespace="kube-system")
    mirror["metadata"]["annotations"] = {"kubernetes.io/config.mirror": "abc"}
    plain = pod("debug")
    assert statuses("PERF-003", [critical, mirror, plain], source=LIVE) == {
        ("debug", ""): Status.FAILING
    }


def test_perf004_unreadable_counts_are_skipped() -> None:
    [(status, _, _, message)] = rows("PERF-004", [hpa("web", "web", minReplicas="two")])
    assert status is Status.SKIPPED and "not an integer" in message


def test_perf005_last_applied_configuration_without_replicas_passes() -> None:
    applied = {"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"template": {}}}
    live = deployment(
        "web",
        replicas=5,
        annotations={"kubectl.kubernetes.io/last-applied-configuration": json.dumps(applied)},
    )
    assert statuses("PERF-005", [live, hpa("web", "web")]) == {("web", ""): Status.PASSING}
    broken = deployment(
        "web",
        replicas=5,
        annotations={"kubectl.kubernetes.io/last-applied-configuration": "{not json"},
    )
    # unreadable: falls back to what the spec says
    assert statuses("PERF-005", [broken, hpa("web", "web")]) == {("web", ""): Status.FAILING}


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
    assert statuses("PERF-007", [web, scaler, only_cpu]) == {("web", ""): Status.PASSING}
    both = vpa("web", "web", "Auto")
    assert statuses("PERF-007", [web, scaler, both]) == {("web", ""): Status.FAILING}
    # without the target in the input, the policies alone are read
    assert statuses("PERF-007", [scaler, only_cpu]) == {("web", ""): Status.PASSING}
    assert statuses("PERF-007", [scaler, both]) == {("web", ""): Status.FAILING}


def test_perf007_passive_modes_are_not_judged() -> None:
    for mode in ("Off", "Initial"):
        [(status, _, _, message)] = rows("PERF-007", [vpa("web", "web", mode), hpa("web", "web")])
        assert status is Status.SKIPPED and "InPlaceOrRecreate" in message
