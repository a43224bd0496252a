"""COST-001 and the sustainability checks: parameters (through a policy file) and edge cases
the fixtures cannot show."""

from __future__ import annotations

from typing import Any

import pytest

from assay.server.checks.kit.policy import PolicyError
from assay.server.core.types import Source, Status
from tests.unit.checks.objects import (
    container,
    deployment,
    meta,
    namespace,
    node,
    node_metrics,
    pod,
    pod_metrics,
)
from tests.unit.checks.runs import container_statuses, policy_params, rows, run

LIVE = Source.LIVE


def idle_api(cpu_used: str, started: str = "2025-03-01T00:00:00Z") -> list[dict[str, Any]]:
    app = container("api", requests={"cpu": "1", "memory": "1Gi"})
    return [
        pod("api", app, phase="Running", status={"startTime": started}),
        pod_metrics("api", api={"cpu": cpu_used, "memory": "800Mi"}),
    ]


def test_cost001_idle_ratio() -> None:
    objects = idle_api("400m")
    assert container_statuses(run("COST-001", objects, source=LIVE)) == {
        ("api", "api"): Status.PASSING
    }
    strict = policy_params("COST-001", "{idle_ratio: 0.5}")
    [(status, _, _, message)] = rows(run("COST-001", objects, params=strict, source=LIVE))
    assert status is Status.FAILING and "cpu 400m of request 1 (40%)" in message
    assert "point in time" in message


def test_cost001_minimum_requests_are_quantities() -> None:
    objects = idle_api("10m")
    assert container_statuses(run("COST-001", objects, source=LIVE)) == {
        ("api", "api"): Status.FAILING
    }
    large = policy_params(
        "COST-001",
        "{min_cpu_request: '2', min_memory_request: 2Gi}",
    )
    [(status, _, _, message)] = rows(run("COST-001", objects, params=large, source=LIVE))
    assert status is Status.SKIPPED and "at least 2" in message
    with pytest.raises(PolicyError, match="min_cpu_request: 'two cores' is not a quantity"):
        policy_params("COST-001", "{min_cpu_request: two cores}")


def test_cost001_pods_still_starting_are_left_out() -> None:
    objects = idle_api("10m", started="2025-03-04T10:14:00Z")  # 90 s before the sample
    [(status, _, _, message)] = rows(run("COST-001", objects, source=LIVE))
    assert status is Status.SKIPPED and "600s" in message
    eager = policy_params("COST-001", "{min_pod_age_seconds: 60}")
    assert container_statuses(run("COST-001", objects, params=eager, source=LIVE)) == {
        ("api", "api"): Status.FAILING
    }


def test_cost001_each_pod_is_compared_with_its_own_request() -> None:
    # a VPA gave the second pod a smaller request: it is the busiest relative to its request
    small = container("api", requests={"cpu": "100m", "memory": "1Gi"})
    objects = [
        *idle_api("20m"),
        pod("api-2", small, phase="Running", status={"startTime": "2025-03-01T00:00:00Z"}),
        pod_metrics("api-2", api={"cpu": "80m", "memory": "800Mi"}),
    ]
    for item in objects:
        if item["kind"] == "Pod":
            item["metadata"]["ownerReferences"] = [
                {"kind": "Deployment", "name": "api", "controller": True}
            ]
    objects.append(deployment("api", container("api")))
    assert container_statuses(run("COST-001", objects, source=LIVE)) == {
        ("api", "api"): Status.PASSING
    }


def test_sus002_cluster_size_and_thresholds() -> None:
    objects = [node("solo", cpu="8", memory="32Gi"), node_metrics("solo", "200m", "1Gi")]
    [(status, _, _, message)] = rows(run("SUS-002", objects, source=LIVE))
    assert status is Status.SKIPPED and "nothing to assess" in message
    single = policy_params("SUS-002", "{min_nodes: 1}")
    assert container_statuses(run("SUS-002", objects, params=single, source=LIVE)) == {
        ("solo", ""): Status.FAILING
    }
    with pytest.raises(PolicyError, match="cpu_threshold"):
        policy_params("SUS-002", "{cpu_threshold: 20}")


def tiny(name: str, **extra: Any) -> dict[str, Any]:
    return deployment(
        name, container(name, requests={"cpu": "50m", "memory": "64Mi"}), replicas=1, **extra
    )


def test_sus003_sprawl_size_and_tiny_size() -> None:
    objects = [tiny(f"t{i}") for i in range(3)]
    assert container_statuses(run("SUS-003", objects)) == {("shop", ""): Status.PASSING}
    three = policy_params("SUS-003", "{min_sprawl: 3}")
    assert container_statuses(run("SUS-003", objects, params=three)) == {
        ("shop", ""): Status.FAILING
    }
    smaller = policy_params("SUS-003", "{min_sprawl: 3, tiny_cpu: 10m}")
    assert container_statuses(run("SUS-003", objects, params=smaller)) == {
        ("shop", ""): Status.PASSING
    }
    for bad in ("{min_sprawl: 1}", "{tiny_memory: small}"):
        with pytest.raises(PolicyError):
            policy_params("SUS-003", bad)


def dev(name: str = "dev", **metadata: Any) -> dict[str, Any]:
    labels = metadata.pop("labels", {"environment": "dev"})
    return namespace(name, labels=labels, **metadata)


def test_sus005_only_labelled_namespaces_and_custom_labels() -> None:
    objects = [
        namespace("team-a", labels={"tier": "nonprod"}),
        deployment("web", namespace="team-a", replicas=2),
    ]
    [(status, _, _, message)] = rows(run("SUS-005", objects))
    assert status is Status.SKIPPED and "nothing to assess" in message
    custom = policy_params(
        "SUS-005",
        """
        environment_labels: [tier]
        non_production: [nonprod]
        """,
    )
    assert container_statuses(run("SUS-005", objects, params=custom)) == {
        ("team-a", ""): Status.FAILING
    }


@pytest.mark.parametrize(
    ("annotations", "covered"),
    [
        ({"downscaler/uptime": "Mon-Fri 08:00-18:00 UTC"}, True),
        ({"downscaler/downscale-period": "Sat-Sun 00:00-24:00 UTC"}, True),
        ({"downscaler/force-downtime": "true"}, True),
        ({"downscaler/uptime": "always"}, False),
        ({"downscaler/downtime": "never"}, False),
        ({"downscaler/uptime": "Mon-Fri 08:00-18:00 UTC", "downscaler/exclude": "true"}, False),
        (
            {
                "downscaler/uptime": "Mon-Fri 08:00-18:00 UTC",
                "downscaler/exclude-until": "2030-01-01",
            },
            False,
        ),
    ],
)
def test_sus005_downscaler_annotations(annotations: dict[str, str], covered: bool) -> None:
    objects = [dev(), deployment("web", namespace="dev", replicas=2, annotations=annotations)]
    expected = Status.PASSING if covered else Status.FAILING
    assert container_statuses(run("SUS-005", objects)) == {("dev", ""): expected}


def scaled_object(target: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": meta(target, "dev"),
        "spec": {"scaleTargetRef": {"name": target}, "triggers": [{"type": "prometheus"}]} | spec,
    }


def test_sus005_keda_scaled_objects() -> None:
    web = deployment("web", namespace="dev", replicas=2)
    assert container_statuses(run("SUS-005", [dev(), web, scaled_object("web")])) == {
        ("dev", ""): Status.PASSING
    }
    always = scaled_object("web", minReplicaCount=1)
    assert container_statuses(run("SUS-005", [dev(), web, always])) == {("dev", ""): Status.FAILING}


def sleep_info(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "kube-green.com/v1alpha1",
        "kind": "SleepInfo",
        "metadata": meta("nights", "dev"),
        "spec": {"weekdays": "1-5", "sleepAt": "20:00", "wakeUpAt": "08:00"} | spec,
    }


def test_sus005_kube_green_exclusions() -> None:
    web = deployment("web", namespace="dev", replicas=2, labels={"keep": "on"})
    db = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": meta("db", "dev"),
        "spec": {"replicas": 1, "template": {"spec": {"containers": [{"name": "db"}]}}},
    }
    assert container_statuses(run("SUS-005", [dev(), web, db, sleep_info()])) == {
        ("dev", ""): Status.PASSING
    }
    excluded = sleep_info(excludeRef=[{"matchLabels": {"keep": "on"}}], suspendStatefulSets=False)
    [(status, _, _, message)] = rows(run("SUS-005", [dev(), web, db, excluded]))
    assert status is Status.FAILING and "Deployment web" in message and "StatefulSet db" in message


def job(
    name: str, *, ttl: int | None = None, finished: bool = True, **metadata: Any
) -> dict[str, Any]:
    spec: dict[str, Any] = {"template": {"spec": {"containers": [{"name": "j"}]}}}
    if ttl is not None:
        spec["ttlSecondsAfterFinished"] = ttl
    status = {"conditions": [{"type": "Complete", "status": "True"}]} if finished else {"active": 1}
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": meta(name, **metadata),
        "spec": spec,
        "status": status,
    }


def test_sus006_jobs() -> None:
    cron = {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": meta("nightly"),
        "spec": {"schedule": "0 1 * * *", "jobTemplate": {"spec": {}}},
    }
    objects = [
        cron,
        job(
            "nightly-1",
            ownerReferences=[{"kind": "CronJob", "name": "nightly", "controller": True}],
        ),
        job("running", finished=False),
        job("done"),
        pod("done-x", phase="Succeeded", owner=("Job", "done")),
    ]
    [(status, name, _, message)] = rows(run("SUS-006", objects, source=LIVE))
    assert (status, name) == (Status.FAILING, "done") and "1 pod left" in message


def test_sus006_a_pod_whose_job_is_gone_is_a_bare_pod() -> None:
    orphan = pod("gone-x", phase="Failed", owner=("Job", "gone"))
    assert container_statuses(run("SUS-006", [orphan], source=LIVE)) == {
        ("gone-x", ""): Status.FAILING
    }
