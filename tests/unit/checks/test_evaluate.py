"""The rules every check shares, applied by ``evaluate``: exemptions, live-only skipping,
missing API groups, and one skipped result when nothing was looked at."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from assay.server.checks.kit.definition import (
    CheckDefinition,
    Finding,
    Scope,
    apply_exemptions,
    check,
    evaluate,
    exemption_reason,
)
from assay.server.core.types import ObjectRef, Pillar, Severity, Source, Status
from assay.server.inventory import Inventory

DEFINITION = CheckDefinition(
    id="SEC-001",
    pillar=Pillar.SECURITY,
    name="Every workload fails",
    description="Test check.",
    severity=Severity.HIGH,
    scope="W",
    remediation="None.",
    kinds=("Deployment", "Pod"),
)


def every_workload_fails(inventory: Inventory) -> Iterator[Finding]:
    for workload in inventory.workloads():
        yield Finding.failing(workload.ref, "bad", "app")


FAILS = check(DEFINITION)(every_workload_fails)


def deployment(name: str, *, annotations: Any = None, template_annotations: Any = None) -> Any:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "shop", "annotations": annotations or {}},
        "spec": {
            "template": {
                "metadata": {"annotations": template_annotations or {}},
                "spec": {"containers": [{"name": "app"}]},
            }
        },
    }


def statuses(inventory: Inventory, **kwargs: Any) -> dict[str, tuple[Status, str]]:
    return {
        f.object.name if f.object else "": (f.status, f.message)
        for f in evaluate(FAILS, inventory, **kwargs)
    }


def test_exempt_by_id_list_on_object_with_reason() -> None:
    inventory = Inventory.from_objects(
        [
            deployment(
                "agent",
                annotations={
                    "assay.kubernaut.ai/exempt": "REL-004, sec-001",
                    "assay.kubernaut.ai/exempt-reason": "node agent",
                },
            ),
            deployment("web"),
        ]
    )
    result = statuses(inventory)
    assert result["web"][0] is Status.FAILING
    status, message = result["agent"]
    assert status is Status.SKIPPED
    assert "node agent" in message and "would be failing: bad" in message


def test_exempt_all_on_pod_template_without_reason() -> None:
    inventory = Inventory.from_objects(
        [deployment("agent", template_annotations={"assay.kubernaut.ai/exempt": "all"})]
    )
    status, message = statuses(inventory)["agent"]
    assert status is Status.SKIPPED and "no reason given" in message


def test_exemption_for_other_checks_does_not_apply() -> None:
    inventory = Inventory.from_objects(
        [deployment("web", annotations={"assay.kubernaut.ai/exempt": "SEC-0010,REL-001"})]
    )
    assert statuses(inventory)["web"][0] is Status.FAILING


def test_exemptions_can_be_ignored() -> None:
    inventory = Inventory.from_objects(
        [deployment("agent", annotations={"assay.kubernaut.ai/exempt": "all"})]
    )
    assert statuses(inventory, honour_exemptions=False)["agent"][0] is Status.FAILING


def test_exemption_helpers_leave_cluster_findings_and_unknown_objects_alone() -> None:
    inventory = Inventory.from_objects([])
    cluster = Finding.failing(None, "cluster-wide")
    gone = Finding.failing(ObjectRef("Deployment", "gone", "shop"), "bad")
    assert apply_exemptions(DEFINITION, [cluster, gone], inventory) == [cluster, gone]
    assert exemption_reason(inventory, ObjectRef("Deployment", "gone", "shop"), "SEC-001") is None


def test_nothing_to_look_at_gives_one_skipped_result() -> None:
    [finding] = evaluate(FAILS, Inventory.from_objects([]))
    assert finding.status is Status.SKIPPED and finding.object is None
    assert "nothing to assess" in finding.message


@pytest.mark.parametrize("scope", ["L", "C+L", "M", "X+M"])
def test_live_only_scope_is_skipped_on_manifests(scope: str) -> None:
    live_only = check(replace(DEFINITION, scope=scope))(every_workload_fails)
    inventory = Inventory.from_objects([deployment("web")], source=Source.MANIFESTS)
    [finding] = evaluate(live_only, inventory)
    assert finding.status is Status.SKIPPED and "needs a live cluster" in finding.message


@pytest.mark.parametrize("scope", ["W", "X (+L)", "W/X"])
def test_offline_scopes_run_on_manifests(scope: str) -> None:
    offline = check(replace(DEFINITION, scope=scope))(every_workload_fails)
    inventory = Inventory.from_objects([deployment("web")], source=Source.MANIFESTS)
    assert [f.status for f in evaluate(offline, inventory)] == [Status.FAILING]


def test_metrics_scope_is_skipped_live_when_metrics_api_is_missing() -> None:
    metrics = check(replace(DEFINITION, scope="M"))(every_workload_fails)
    objects = [deployment("web")]
    missing = Inventory.from_objects(objects, source=Source.LIVE, missing_groups={"metrics.k8s.io"})
    [finding] = evaluate(metrics, missing)
    assert finding.status is Status.SKIPPED and "metrics.k8s.io" in finding.message
    served = Inventory.from_objects(objects, source=Source.LIVE)
    assert [f.status for f in evaluate(metrics, served)] == [Status.FAILING]


def test_needed_group_version_missing_live_skips() -> None:
    needs_v2 = check(replace(DEFINITION, needs=frozenset({"autoscaling/v2"})))(every_workload_fails)
    inventory = Inventory.from_objects(
        [deployment("web")], source=Source.LIVE, missing_groups={"autoscaling"}
    )
    [finding] = evaluate(needs_v2, inventory)
    assert finding.status is Status.SKIPPED and "autoscaling/v2" in finding.message


def test_scope_parsing() -> None:
    assert Scope.parse("X+L") == Scope(frozenset({"X", "L"}))
    assert Scope.parse("X (+L)") == Scope(frozenset({"X"}), frozenset({"L"}))
    assert Scope.parse("C+L").live_only and not Scope.parse("N (+L)").live_only
    with pytest.raises(ValueError, match="scope"):
        Scope.parse("W + X")
