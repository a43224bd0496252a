"""PodDisruptionBudget checks (REL-006, REL-007): budgets, autoscaler minimums, and what a
live inventory adds (pods a budget selects by their own labels, DaemonSet sizes, the
server version)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from assay.server.checks.kit.evaluate import evaluate
from assay.server.checks.kit.params import build_params
from assay.server.checks.reliability.disruption import Budget, HygieneParams, budget
from assay.server.core.types import Status
from tests.kubeapi import KubeApiDouble
from tests.unit.checks.objects import container, namespace, obj, pdb, workload
from tests.unit.checks.runs import (
    REGISTRY,
    live_inventory,
    manifest_inventory,
    only,
    run,
    statuses,
)


@pytest.mark.parametrize(
    ("raw", "parsed", "of_three"),
    [
        (2, Budget(2, percent=False), 2),
        ("90%", Budget(90, percent=True), 3),
        ("1%", Budget(1, percent=True), 1),
    ],
)
def test_budgets_round_percentages_up(raw: object, parsed: Budget, of_three: int) -> None:
    found = budget(raw)
    assert found == parsed and found is not None and found.of(3) == of_three


@pytest.mark.parametrize("raw", ["2", "50 %", "%", True, 1.5, None, "-5%"])
def test_values_the_api_rejects_are_not_budgets(raw: object) -> None:
    assert budget(raw) is None


def test_budget_over_a_daemonset_cannot_be_judged_offline() -> None:
    agents = workload("DaemonSet", "agent", container("a"))
    finding = only(run("REL-006", [agents, pdb("agent", minAvailable=2)]))
    assert finding.status is Status.SKIPPED
    assert finding.message == "the pod count of DaemonSet/agent is not known"


def test_keda_counts_at_its_minimum_replica_count_but_never_below_one() -> None:
    consumer = workload("Deployment", "consumer", replicas=5)
    scaled = obj("ScaledObject", "consumer", spec={"scaleTargetRef": {"name": "consumer"}})
    finding = only(run("REL-006", [consumer, scaled, pdb("consumer", minAvailable=1)]))
    assert finding.status is Status.WARNING
    assert "equals the 1 pod at the autoscaler minimum of Deployment/consumer" in finding.message


def test_budget_over_workloads_scaled_to_zero_blocks_nothing() -> None:
    idle = workload("Deployment", "idle", replicas=0)
    assert only(run("REL-006", [idle, pdb("idle", minAvailable=1)])).status is Status.PASSING


def test_budget_with_a_value_the_api_rejects_is_skipped_by_rel006() -> None:
    finding = only(run("REL-006", [pdb("web", minAvailable="1")]))
    assert finding.status is Status.SKIPPED and "'1' is neither an integer nor" in finding.message


def test_the_eviction_policy_requirement_can_be_switched_off() -> None:
    objects = [workload("Deployment", "two", replicas=2), pdb("two", maxUnavailable=1)]
    assert statuses(run("REL-007", objects)) == {"two": Status.FAILING}
    params = build_params(HygieneParams, {"require_unhealthy_pod_eviction_policy": False})
    assert statuses(run("REL-007", objects, params=params)) == {"two": Status.PASSING}


def statefulset_pods(name: str, count: int) -> list[dict[str, Any]]:
    """The pods a StatefulSet controller creates, with the labels it adds to each."""
    owner = {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": name, "uid": "9c1d"}
    return [
        obj(
            "Pod",
            f"{name}-{index}",
            spec={"containers": [{"name": "db", "image": "postgres:16.4"}]},
            labels={
                "app": name,
                "statefulset.kubernetes.io/pod-name": f"{name}-{index}",
                "apps.kubernetes.io/pod-index": str(index),
            },
            ownerReferences=[{**owner, "controller": True}],
        )
        for index in range(count)
    ]


async def test_a_budget_on_one_live_pod_selects_it_though_no_template_matches(
    kube_api: KubeApiDouble,
) -> None:
    """Operators guard a primary with a budget on its pod-name label: the StatefulSet's
    template does not carry that label, its pod does."""
    db = workload("StatefulSet", "db", container("db"), replicas=3)
    primary = obj(
        "PodDisruptionBudget",
        "db-primary",
        spec={
            "maxUnavailable": 0,
            "unhealthyPodEvictionPolicy": "AlwaysAllow",
            "selector": {"matchLabels": {"statefulset.kubernetes.io/pod-name": "db-0"}},
        },
    )
    objects = [namespace("shop"), db, *statefulset_pods("db", 3), primary]
    check = REGISTRY.get("REL-007")
    inventory = await live_inventory(kube_api, objects, checks=[check])
    [live] = evaluate(check, inventory)
    assert live.status is Status.PASSING
    [offline] = evaluate(check, manifest_inventory([db, primary]))
    assert offline.status is Status.FAILING and offline.message.startswith("selects no pods")


async def test_a_live_daemonset_is_as_large_as_its_status_says(
    kube_api: KubeApiDouble,
) -> None:
    agents = workload("DaemonSet", "agent", container("agent"))
    agents["status"] = {"desiredNumberScheduled": 3, "numberReady": 3, "currentNumberScheduled": 3}
    budget_of_all = pdb("agent", minAvailable=3)
    check = REGISTRY.get("REL-006")
    objects = [namespace("shop"), agents, budget_of_all]
    inventory = await live_inventory(kube_api, objects, checks=[check])
    [live] = evaluate(check, inventory)
    assert live.status is Status.FAILING and "with 3 pods (DaemonSet/agent)" in live.message
    [offline] = evaluate(check, manifest_inventory([workload("DaemonSet", "agent"), budget_of_all]))
    assert offline.status is Status.SKIPPED


@pytest.fixture
async def old_cluster() -> AsyncIterator[KubeApiDouble]:
    """A double that says it is Kubernetes v1.26."""
    version = {"major": "1", "minor": "26", "gitVersion": "v1.26.15"}
    async with KubeApiDouble(version_info=version) as api:
        yield api
    assert not api.internal_errors, api.internal_errors


async def test_clusters_before_v1_27_are_not_asked_for_an_eviction_policy(
    old_cluster: KubeApiDouble,
    kube_api: KubeApiDouble,
) -> None:
    objects = [
        namespace("shop"),
        workload("Deployment", "web", replicas=3),
        pdb("web", maxUnavailable=1),
    ]
    check = REGISTRY.get("REL-007")
    old = await live_inventory(old_cluster, objects, checks=[check])
    assert old.server_version == "v1.26.15"
    assert [f.status for f in evaluate(check, old)] == [Status.PASSING]
    current = await live_inventory(kube_api, objects, checks=[check])
    [finding] = evaluate(check, current)
    assert finding.status is Status.FAILING and "unhealthyPodEvictionPolicy" in finding.message
