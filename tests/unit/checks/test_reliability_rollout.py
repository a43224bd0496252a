"""Rollout and controller checks (REL-010, REL-011, REL-014): cases the fixture files
cannot show, and naked pods on a live inventory."""

from __future__ import annotations

from typing import Any

from assay.server.checks.kit.evaluate import evaluate
from assay.server.core.types import Status
from tests.kubeapi import KubeApiDouble
from tests.unit.checks.objects import hpa, obj, workload
from tests.unit.checks.runs import REGISTRY, live_inventory, manifest_inventory, only, run


def test_an_hpa_minimum_is_the_replica_count_of_a_rollout() -> None:
    web = workload("Deployment", "web", spec={"strategy": {"rollingUpdate": {"maxUnavailable": 2}}})
    finding = only(run("REL-010", [web, hpa("web", minReplicas=4, maxReplicas=10)]))
    assert finding.status is Status.PASSING and "keeps 2 of 4 replicas up" in finding.message
    finding = only(run("REL-010", [web, hpa("web", minReplicas=2, maxReplicas=10)]))
    assert (
        finding.status is Status.FAILING and "maxUnavailable 2 with 2 replicas" in finding.message
    )


def test_unknown_strategy_and_operator_are_reported_not_guessed() -> None:
    odd = workload("Deployment", "odd", replicas=2, spec={"strategy": {"type": "BlueGreen"}})
    finding = only(run("REL-010", [odd]))
    assert finding.status is Status.SKIPPED and "'BlueGreen'" in finding.message
    odd["spec"]["selector"] = {"matchExpressions": [{"key": "app", "operator": "Like"}]}
    finding = only(run("REL-014", [odd]))
    assert finding.status is Status.FAILING
    assert "operator 'Like' on app is not In, NotIn, Exists or DoesNotExist" in finding.message


def owned(kind: str, name: str, owner: str, uid: str) -> dict[str, Any]:
    return {"kind": kind, "name": owner, "uid": uid, "apiVersion": "apps/v1", "controller": True}


async def test_live_pods_of_a_replicaset_pass_and_a_naked_pod_fails(
    kube_api: KubeApiDouble,
) -> None:
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}}
    replica_pods = [
        obj(
            "Pod",
            f"web-5d8c7-{suffix}",
            spec={"containers": [{"name": "web", "image": "example/web:1.0"}]},
            labels={"app": "web"},
            ownerReferences=[owned("ReplicaSet", "web", "web-5d8c7", "4f1c0e2a")],
        )
        for suffix in ("a1b2c", "d3e4f")
    ]
    naked = obj("Pod", "debug", spec={"containers": [{"name": "sh", "image": "busybox:1.36"}]})
    objects = [namespace, *replica_pods, naked]
    check = REGISTRY.get("REL-011")
    inventory = await live_inventory(kube_api, objects, checks=[check])
    live = {f.object.name: f.status for f in evaluate(check, inventory) if f.object}
    assert live == {
        "debug": Status.FAILING,
        "web-5d8c7-a1b2c": Status.PASSING,
        "web-5d8c7-d3e4f": Status.PASSING,
    }
    offline = {
        f.object.name: f.status for f in evaluate(check, manifest_inventory(objects)) if f.object
    }
    assert offline == live
