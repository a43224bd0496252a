"""Node selection and taint toleration, as kube-scheduler reads them."""

from __future__ import annotations

from typing import Any

import pytest

from assay.server.checks.kit.scheduling import Placement, Taint, Toleration, taints_of


def toleration(key: str = "", operator: str = "", value: str = "", effect: str = "") -> Toleration:
    return Toleration(key, operator, value, effect)


TAINT = Taint("dedicated", "ml", "NoSchedule")


@pytest.mark.parametrize(
    ("given", "tolerates"),
    [
        (toleration("dedicated", "Equal", "ml", "NoSchedule"), True),
        (toleration("dedicated", "", "ml", "NoSchedule"), True),  # empty operator is Equal
        (toleration("dedicated", "Equal", "ml"), True),  # empty effect: every effect
        (toleration("dedicated", "Equal", "batch", "NoSchedule"), False),
        (toleration("dedicated", "Equal", "", "NoSchedule"), False),
        (toleration("dedicated", "Exists", effect="NoSchedule"), True),
        (toleration("dedicated", "Exists", "ignored"), True),
        (toleration("dedicated", "Exists", effect="NoExecute"), False),
        (toleration("other", "Exists"), False),
        (toleration(operator="Exists"), True),  # empty key with Exists: every taint
        (toleration(operator="Exists", effect="NoExecute"), False),
        (toleration("dedicated", "Gt", "ml"), False),  # unknown operator
    ],
)
def test_toleration_semantics(given: Toleration, tolerates: bool) -> None:
    assert given.tolerates(TAINT) is tolerates


def node(name: str = "n1", labels: dict[str, str] | None = None, **spec: Any) -> dict[str, Any]:
    return {"kind": "Node", "metadata": {"name": name, "labels": labels or {}}, "spec": spec}


def affinity(*terms: dict[str, Any]) -> dict[str, Any]:
    required = {"nodeSelectorTerms": list(terms)}
    return {
        "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": required}}
    }


def expr(key: str, operator: str, *values: str) -> dict[str, Any]:
    return {"key": key, "operator": operator, "values": list(values)}


LABELS = {"zone": "a", "gen": "5", "disk": "ssd"}


@pytest.mark.parametrize(
    ("pod_spec", "selects"),
    [
        ({}, True),
        ({"nodeSelector": {"disk": "ssd"}}, True),
        ({"nodeSelector": {"disk": "hdd"}}, False),
        ({"nodeSelector": {"gpu": "yes"}}, False),
        (affinity({"matchExpressions": [expr("zone", "In", "a", "b")]}), True),
        (affinity({"matchExpressions": [expr("zone", "NotIn", "a")]}), False),
        (affinity({"matchExpressions": [expr("gpu", "NotIn", "x")]}), True),
        (affinity({"matchExpressions": [expr("disk", "Exists")]}), True),
        (affinity({"matchExpressions": [expr("disk", "DoesNotExist")]}), False),
        (affinity({"matchExpressions": [expr("gen", "Gt", "4")]}), True),
        (affinity({"matchExpressions": [expr("gen", "Lt", "4")]}), False),
        (affinity({"matchExpressions": [expr("gen", "Gt", "four")]}), False),
        (affinity({"matchExpressions": [expr("zone", "Gt", "1")]}), False),
        # terms are ORed, expressions inside a term ANDed
        (
            affinity(
                {"matchExpressions": [expr("zone", "In", "b")]},
                {"matchExpressions": [expr("zone", "In", "a"), expr("disk", "In", "ssd")]},
            ),
            True,
        ),
        (
            affinity({"matchExpressions": [expr("zone", "In", "a"), expr("disk", "In", "hdd")]}),
            False,
        ),
        (affinity({"matchFields": [expr("metadata.name", "In", "n1")]}), True),
        (affinity({"matchFields": [expr("metadata.name", "NotIn", "n1")]}), False),
        (affinity({"matchFields": [expr("spec.podCIDR", "In", "x")]}), False),
        (affinity({}), False),  # an empty term matches no node
        (affinity(), False),
        (
            {
                **affinity({"matchExpressions": [expr("zone", "In", "a")]}),
                "nodeSelector": {"disk": "hdd"},
            },
            False,
        ),
    ],
)
def test_placement_selects(pod_spec: dict[str, Any], selects: bool) -> None:
    assert Placement.of(pod_spec).selects(node(labels=LABELS)) is selects


def test_blocking_taints_ignore_prefer_no_schedule_and_tolerated_ones() -> None:
    tainted = node(
        taints=[
            {"key": "dedicated", "value": "ml", "effect": "NoSchedule"},
            {"key": "spot", "value": "true", "effect": "PreferNoSchedule"},
            {"key": "maintenance", "effect": "NoExecute"},
        ]
    )
    assert len(taints_of(tainted)) == 3
    placement = Placement.of({"tolerations": [{"key": "dedicated", "operator": "Exists"}]})
    assert [str(t) for t in placement.blocking_taints(tainted)] == ["maintenance:NoExecute"]


def test_equal_constraints_are_one_placement() -> None:
    first = Placement.of({"nodeSelector": {"a": "1", "b": "2"}, **affinity({"matchFields": []})})
    second = Placement.of({"nodeSelector": {"b": "2", "a": "1"}, **affinity({"matchFields": []})})
    assert first == second and hash(first) == hash(second)
    assert first.describe() == "nodeSelector a=1, b=2 and required nodeAffinity"
    assert Placement.of({}).describe() == "no node constraint"
