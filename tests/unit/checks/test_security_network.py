"""SEC-024..SEC-026: NetworkPolicy isolation, default deny and selectors matching nothing;
policy defaults, namespace labels, parameters, and lookups that stay linear."""

from __future__ import annotations

from typing import Any

import pytest

from assay.server.checks.security.network import DefaultDenyParams, policy_types
from assay.server.core.types import ObjectRef, Status
from assay.server.inventory import Selector
from tests.unit.checks.objects import container, deployment, namespace, obj
from tests.unit.checks.runs import container_statuses, only, policy_params, run


def policy(name: str, namespace: str = "shop", **spec: Any) -> dict[str, Any]:
    return obj("NetworkPolicy", name, namespace, spec=spec)


def web(namespace: str = "shop", **labels: str) -> dict[str, Any]:
    return deployment("web", container(), namespace=namespace, pod_labels=labels or {"app": "web"})


@pytest.mark.parametrize(
    ("spec", "types"),
    [
        ({}, {"Ingress"}),
        ({"ingress": [{}]}, {"Ingress"}),
        ({"egress": [{"to": []}]}, {"Ingress", "Egress"}),
        ({"egress": []}, {"Ingress"}),
        ({"policyTypes": ["Egress"], "ingress": [{}]}, {"Egress"}),
    ],
)
def test_policy_types_default_as_the_api_server_sets_them(
    spec: dict[str, Any], types: set[str]
) -> None:
    assert policy_types(policy("p", **spec)) == types


def test_sec024_a_policy_without_pod_selector_selects_every_pod() -> None:
    deny = policy("deny", policyTypes=["Ingress", "Egress"])
    assert only(run("SEC-024", [web(), deny])).status is Status.PASSING


def test_sec024_egress_rules_make_a_policy_isolate_egress() -> None:
    allow = policy("web", podSelector={"matchLabels": {"app": "web"}}, egress=[{"to": []}])
    finding = only(run("SEC-024", [web(), allow]))
    assert finding.status is Status.PASSING and "egress is isolated by web" in finding.message


def test_sec025_namespaces_without_an_object_are_judged_and_exemptions_apply() -> None:
    objects = [web("analytics"), namespace("kube-system")]
    findings = run("SEC-025", objects)
    assert [(f.object, f.status) for f in findings] == [
        (ObjectRef("Namespace", "analytics"), Status.FAILING)
    ]
    params = policy_params("SEC-025", "exempt_namespaces: [analytics]")
    assert params == DefaultDenyParams(exempt_namespaces=frozenset({"analytics"}))
    [kube_system] = run("SEC-025", objects, params=params)
    assert kube_system.object == ObjectRef("Namespace", "kube-system")


def test_sec025_a_rule_with_ports_only_still_denies_other_traffic() -> None:
    deny = policy(
        "deny",
        podSelector={},
        policyTypes=["Ingress", "Egress"],
        ingress=[{"ports": [{"port": 8080}]}],
    )
    assert only(run("SEC-025", [namespace("shop"), deny])).status is Status.PASSING


def test_sec026_namespace_labels_and_implicit_name_label() -> None:
    peers = [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "shop"}}},
        {"namespaceSelector": {"matchLabels": {"team": "payments"}}},
        {
            "namespaceSelector": {
                "matchExpressions": [{"key": "team", "operator": "In", "values": ["payments"]}]
            },
            "podSelector": {"matchLabels": {"app": "web"}},
        },
    ]
    allow = policy("p", podSelector={}, ingress=[{"from": peers}])
    objects = [web(), web("payments"), namespace("payments", labels={"team": "payments"}), allow]
    assert only(run("SEC-026", objects)).status is Status.PASSING
    without_label = [web(), web("payments"), allow]
    finding = only(run("SEC-026", without_label))
    assert finding.status is Status.FAILING
    assert "ingress[0].from[1].namespaceSelector {team: payments}" in finding.message


def test_sec026_empty_selectors_always_pass() -> None:
    allow = policy(
        "p",
        namespace="empty",
        podSelector={},
        egress=[{"to": [{"namespaceSelector": {}}, {"podSelector": {}}]}],
    )
    assert only(run("SEC-026", [allow])).status is Status.PASSING


def _counting(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls = [0]
    original = Selector.matches

    def counted(self: Selector, labels: Any) -> bool:
        calls[0] += 1
        return original(self, labels)

    monkeypatch.setattr(Selector, "matches", counted)
    return calls


@pytest.mark.parametrize("check_id", ["SEC-024", "SEC-026"])
def test_policies_and_pods_are_matched_through_indexes(
    check_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    size = 300
    objects: list[dict[str, Any]] = []
    for i in range(size):
        objects.append(web("shop", app=f"app-{i}", team=f"team-{i % 7}"))
        objects[-1]["metadata"]["name"] = f"app-{i}"
        if i % 10 == 0:
            continue  # a few apps without a policy of their own
        peer = f"app-{i - 1}" if i % 7 else "ghost"
        objects.append(
            policy(
                f"app-{i}",
                podSelector={"matchLabels": {"app": f"app-{i}"}},
                policyTypes=["Ingress", "Egress"],
                ingress=[{"from": [{"podSelector": {"matchLabels": {"app": peer}}}]}],
            )
        )
    calls = _counting(monkeypatch)
    found = container_statuses(run(check_id, objects))
    assert len(found) >= size * 0.9 and set(found.values()) == {Status.PASSING, Status.FAILING}
    # every policy against every pod would be size**2 = 90,000 selector matches
    assert calls[0] < 10 * size


def test_sec024_system_namespaces_are_exempt_by_default_and_by_policy() -> None:
    objects = [web("kube-system"), web("shop")]
    assert {f.object.namespace for f in run("SEC-024", objects) if f.object} == {"shop"}
    params = policy_params("SEC-024", "exempt_namespaces: [shop]")
    assert {f.object.namespace for f in run("SEC-024", objects, params=params) if f.object} == {
        "kube-system"
    }
