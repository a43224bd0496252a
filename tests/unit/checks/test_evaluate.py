"""The rules every check shares, applied by ``evaluate``: exemptions (annotations and policy
rules), live-only skipping, missing API groups, and one skipped result when nothing was
looked at."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from typing import Any

import pytest

from assay.server.checks.kit.definition import (
    Applicability,
    CheckDefinition,
    Context,
    Finding,
    Scope,
    check,
)
from assay.server.checks.kit.evaluate import evaluate
from assay.server.checks.kit.exemptions import ExemptionRule, Exemptions, Glob
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


def every_workload_fails(ctx: Context[Any]) -> Iterator[Finding]:
    for workload in ctx.inventory.workloads():
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
    exemptions = Exemptions(inventory, **kwargs) if kwargs else None
    return {
        f.object.name if f.object else "": (f.status, f.message)
        for f in evaluate(FAILS, inventory, exemptions=exemptions)
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
    assert statuses(inventory, honour_annotations=False)["agent"][0] is Status.FAILING


def test_exemptions_leave_cluster_findings_and_unknown_objects_alone() -> None:
    inventory = Inventory.from_objects(
        [deployment("agent", annotations={"assay.kubernaut.ai/exempt": "all"})]
    )
    cluster = Finding.failing(None, "cluster-wide")
    gone = Finding.failing(ObjectRef("Deployment", "gone", "shop"), "bad")
    assert Exemptions(inventory).apply("SEC-001", [cluster, gone]) == [cluster, gone]


def test_exempt_findings_are_marked_exempted() -> None:
    inventory = Inventory.from_objects(
        [deployment("agent", annotations={"assay.kubernaut.ai/exempt": "SEC-001"})]
    )
    [finding] = evaluate(FAILS, inventory)
    assert finding.status is Status.SKIPPED and finding.exempted


def test_container_scoped_annotation_exempts_only_that_container() -> None:
    two = deployment("web", annotations={"assay.kubernaut.ai/exempt.proxy": "sec-001"})
    two["spec"]["template"]["spec"]["containers"] = [{"name": "app"}, {"name": "proxy"}]

    def per_container(ctx: Context[Any]) -> Iterator[Finding]:
        for workload in ctx.inventory.workloads():
            for container in workload.containers():
                yield Finding.failing(workload.ref, "bad", container.name)

    inventory = Inventory.from_objects([two])
    found = evaluate(check(DEFINITION)(per_container), inventory)
    assert {(f.container, f.status) for f in found} == {
        ("app", Status.FAILING),
        ("proxy", Status.SKIPPED),
    }
    assert statuses(inventory)["web"][0] is Status.FAILING  # container-less finding stays


def test_container_scoped_annotation_on_the_pod_template() -> None:
    inventory = Inventory.from_objects(
        [deployment("web", template_annotations={"assay.kubernaut.ai/exempt.app": "SEC-001"})]
    )
    assert statuses(inventory)["web"][0] is Status.SKIPPED


def rule(**criteria: Any) -> ExemptionRule:
    globs = {k: Glob(v) for k, v in criteria.items() if k in ("namespace", "name", "container")}
    return ExemptionRule(
        checks=criteria.get("checks", frozenset({"SEC-001"})),
        reason="vendor image",
        kind=criteria.get("kind"),
        expires=criteria.get("expires"),
        origin="policy.yaml:3",
        **globs,
    )


@pytest.mark.parametrize(
    ("criteria", "exempt"),
    [
        ({}, True),
        ({"checks": frozenset({"ALL"})}, True),
        ({"checks": frozenset({"REL-001"})}, False),
        ({"namespace": "sh*"}, True),
        ({"namespace": "other"}, False),
        ({"kind": "Deployment"}, True),
        ({"kind": "StatefulSet"}, False),
        ({"name": "cart*"}, True),
        ({"name": "web"}, False),
        ({"container": "*"}, True),
        ({"container": "app"}, True),
        ({"container": "sidecar"}, False),
    ],
)
def test_policy_rule_criteria(criteria: dict[str, Any], exempt: bool) -> None:
    inventory = Inventory.from_objects([deployment("cart-api")])
    exemptions = Exemptions(inventory, rules=[rule(**criteria)], today=date(2027, 1, 1))
    [finding] = evaluate(FAILS, inventory, exemptions=exemptions)
    assert (finding.status is Status.SKIPPED) is exempt
    if exempt:
        assert finding.exempted and "policy policy.yaml:3" in finding.message
        assert "vendor image" in finding.message and "would be failing: bad" in finding.message


def test_rule_with_object_criteria_does_not_match_cluster_findings() -> None:
    cluster = Finding.failing(None, "cluster-wide")
    inventory = Inventory.from_objects([])
    by_name = Exemptions(inventory, rules=[rule(name="*")])
    assert by_name.apply("SEC-001", [cluster]) == [cluster]
    by_check = Exemptions(inventory, rules=[rule()])
    assert by_check.apply("SEC-001", [cluster])[0].status is Status.SKIPPED


def test_expired_rule_no_longer_applies_says_so_and_is_reported() -> None:
    inventory = Inventory.from_objects([deployment("cart-api")])
    reported: list[ExemptionRule] = []
    expired = rule(expires=date(2027, 3, 31))
    exemptions = Exemptions(
        inventory, rules=[expired], today=date(2027, 4, 1), on_expired=reported.append
    )
    [finding] = evaluate(FAILS, inventory, exemptions=exemptions)
    assert finding.status is Status.FAILING and not finding.exempted
    assert "expired on 2027-03-31" in finding.message and "vendor image" in finding.message
    assert reported == [expired]
    still = Exemptions(inventory, rules=[expired], today=date(2027, 3, 31))
    assert evaluate(FAILS, inventory, exemptions=still)[0].status is Status.SKIPPED


def test_not_applicable_check_says_what_it_applies_to() -> None:
    narrow = check(replace(DEFINITION, applies_to=Applicability("StatefulSets only")))(
        lambda ctx: iter(())
    )
    [finding] = evaluate(narrow, Inventory.from_objects([deployment("web")]))
    assert finding.status is Status.SKIPPED
    assert "it applies to StatefulSets only" in finding.message
    assert "it reads Deployment, Pod" in finding.message


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
