"""SEC-019..SEC-023 and the RBAC index: rule matching, aggregation, binding scope, subjects,
parameters and the cases fixtures cannot show."""

from __future__ import annotations

from typing import Any

import pytest

from assay.server.checks.kit.evaluate import evaluate
from assay.server.checks.kit.params import build_params
from assay.server.checks.security.access import Access
from assay.server.checks.security.authz import RoleRef, Rule, Subject, authz, service_account
from assay.server.checks.security.rbac import EscalationParams, SensitiveAccessParams
from assay.server.core.types import Source, Status
from assay.server.inventory import Inventory
from tests.unit.checks.runs import REGISTRY, only, policy_params, run

RBAC = "rbac.authorization.k8s.io"


def cluster_role(
    name: str,
    *rules: dict[str, Any],
    labels: dict[str, str] | None = None,
    aggregate: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "apiVersion": f"{RBAC}/v1",
        "kind": "ClusterRole",
        "metadata": {"name": name, "labels": labels or {}},
        "rules": list(rules),
    }
    if aggregate is not None:
        obj["aggregationRule"] = {"clusterRoleSelectors": aggregate}
    return obj


def rule(verbs: str, resources: str, group: str = "", **extra: Any) -> dict[str, Any]:
    return {"apiGroups": [group], "resources": resources.split(), "verbs": verbs.split(), **extra}


def binding(
    kind: str, name: str, role: tuple[str, str], *subjects: dict[str, str], namespace: str = "shop"
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if kind == "RoleBinding":
        meta["namespace"] = namespace
    return {
        "apiVersion": f"{RBAC}/v1",
        "kind": kind,
        "metadata": meta,
        "subjects": list(subjects),
        "roleRef": {"apiGroup": RBAC, "kind": role[0], "name": role[1]},
    }


def user(name: str) -> dict[str, str]:
    return {"kind": "User", "name": name, "apiGroup": RBAC}


def sa(name: str, namespace: str | None = None) -> dict[str, str]:
    subject = {"kind": "ServiceAccount", "name": name}
    if namespace is not None:
        subject["namespace"] = namespace
    return subject


def parsed(raw: dict[str, Any]) -> Rule:
    return Rule.parse(raw, "ClusterRole r", 0)


@pytest.mark.parametrize(
    ("raw", "wanted", "granted"),
    [
        (rule("get", "secrets"), ("get", "", "secrets", ""), True),
        (rule("*", "secrets"), ("list", "", "secrets", ""), True),
        (rule("get", "secrets", "*"), ("get", "", "secrets", ""), True),
        (rule("get", "secrets", "apps"), ("get", "", "secrets", ""), False),
        (rule("create", "pods"), ("create", "", "pods", "exec"), False),
        (rule("create", "pods/*"), ("create", "", "pods", "exec"), False),
        (rule("create", "*/exec"), ("create", "", "pods", "exec"), True),
        (rule("create", "*"), ("create", "", "pods", "exec"), True),
        (rule("get", "secrets", resourceNames=["tls"]), ("get", "", "secrets", ""), False),
    ],
)
def test_rule_grants(raw: dict[str, Any], wanted: tuple[str, str, str, str], granted: bool) -> None:
    assert parsed(raw).grants(*wanted) is granted


def test_cluster_admin_equivalence_needs_every_verb_on_everything() -> None:
    every = "get list watch create update patch delete"
    assert parsed(rule(every, "*", "*")).is_cluster_admin_equivalent
    assert parsed(rule("*", "*", "*")).is_cluster_admin_equivalent
    assert not parsed(
        rule("get list watch create update patch", "*", "*")
    ).is_cluster_admin_equivalent
    assert not parsed(rule("*", "pods", "*")).is_cluster_admin_equivalent


@pytest.mark.parametrize(
    ("subject", "system"),
    [
        (Subject("User", "system:kube-scheduler"), True),
        (Subject("Group", "system:masters"), True),
        (Subject("Group", "system:authenticated"), False),
        (Subject("Group", "system:unauthenticated"), False),
        (Subject("Group", "system:serviceaccounts"), False),
        (Subject("Group", "system:serviceaccounts:shop"), False),
        (Subject("ServiceAccount", "system:odd", "kube-system"), False),
        (Subject("User", "alice"), False),
    ],
)
def test_system_subjects(subject: Subject, system: bool) -> None:
    assert subject.is_system is system


def test_aggregation_is_transitive_deduplicated_and_survives_cycles() -> None:
    objects = [
        cluster_role("leaf", rule("get", "secrets"), labels={"agg": "mid"}),
        cluster_role(
            "mid",
            rule("get", "secrets"),
            labels={"agg": "top"},
            aggregate=[{"matchLabels": {"agg": "mid"}}],
        ),
        cluster_role(
            "top",
            aggregate=[{"matchExpressions": [{"key": "agg", "operator": "In", "values": ["top"]}]}],
            labels={"agg": "mid"},
        ),
    ]
    index = authz(Inventory.from_objects(objects))
    top = index.rules(RoleRef("ClusterRole", "", "top"))
    assert [(r.role, r.index) for r in top] == [("ClusterRole mid", 0)]
    assert index.rules(RoleRef("ClusterRole", "", "mid"))


def test_the_index_is_built_once_per_inventory() -> None:
    inventory = Inventory.from_objects([cluster_role("a", rule("get", "pods"))])
    assert authz(inventory) is authz(inventory)


def test_service_account_subject_defaults_to_the_binding_namespace() -> None:
    rb = binding("RoleBinding", "b", ("Role", "r"), sa("builder"), namespace="ci")
    index = authz(Inventory.from_objects([rb]))
    [found] = index.bindings_of([service_account("ci", "builder")])
    assert found.name == "b" and not index.bindings_of([service_account("shop", "builder")])


def test_cluster_role_binding_to_nodes_proxy_fails_where_a_role_binding_does_not() -> None:
    role = cluster_role("kubelet-api", rule("get", "nodes/proxy"))
    crb = binding("ClusterRoleBinding", "crb", ("ClusterRole", "kubelet-api"), user("mon"))
    rb = binding("RoleBinding", "rb", ("ClusterRole", "kubelet-api"), user("mon"))
    statuses = {f.object.name: f.status for f in run("SEC-021", [role, crb, rb]) if f.object}
    assert statuses == {"crb": Status.FAILING, "rb": Status.PASSING}


def test_sec021_access_parameter_from_the_policy_file() -> None:
    role = cluster_role("deployer", rule("create update", "deployments", "apps"))
    crb = binding("ClusterRoleBinding", "ci", ("ClusterRole", "deployer"), sa("ci", "ci"))
    assert only(run("SEC-021", [role, crb])).status is Status.PASSING
    params = policy_params("SEC-021", "access: ['create deployments.apps']")
    assert params == SensitiveAccessParams(access=frozenset({"create deployments.apps"}))
    finding = only(run("SEC-021", [role, crb], params=params))
    assert finding.status is Status.FAILING
    assert "create deployments (apps) (ClusterRole deployer rules[0])" in finding.message


def test_sec022_access_parameter_and_malformed_entries() -> None:
    role = cluster_role("token-minter", rule("create", "serviceaccounts/token"))
    crb = binding("ClusterRoleBinding", "m", ("ClusterRole", "token-minter"), user("u"))
    assert only(run("SEC-022", [role, crb])).status is Status.PASSING
    params = build_params(EscalationParams, {"access": ["create serviceaccounts/token"]})
    assert only(run("SEC-022", [role, crb], params=params)).status is Status.FAILING
    broken = build_params(EscalationParams, {"access": ["impersonate"]})
    with pytest.raises(ValueError, match="access entry 'impersonate' is not"):
        evaluate(REGISTRY.get("SEC-022"), Inventory.from_objects([role, crb]), params=broken)


def test_access_entries_parse_groups_and_subresources() -> None:
    access = Access.parse("update,patch certificatesigningrequests.certificates.k8s.io/approval")
    assert access == Access(
        ("update", "patch"), "certificates.k8s.io", "certificatesigningrequests", "approval"
    )
    assert access.target == "certificatesigningrequests/approval (certificates.k8s.io)"


def test_sec020_binding_to_a_missing_role_grants_nothing() -> None:
    crb = binding("ClusterRoleBinding", "x", ("ClusterRole", "gone"), user("u"))
    finding = only(run("SEC-020", [crb]))
    assert finding.status is Status.PASSING and "does not exist" in finding.message


def test_bootstrap_bindings_are_not_judged_for_access() -> None:
    crb = binding(
        "ClusterRoleBinding",
        "system:controller:x",
        ("ClusterRole", "cluster-admin"),
        sa("x", "kube-system"),
    )
    crb["metadata"]["labels"] = {"kubernetes.io/bootstrapping": "rbac-defaults"}
    finding = only(run("SEC-020", [crb]))
    assert finding.status is Status.SKIPPED and "nothing to assess" in finding.message


def test_sec023_built_in_roles_count_as_missing_in_a_full_cluster_listing() -> None:
    rb = binding("RoleBinding", "b", ("ClusterRole", "view"), user("u"))
    assert only(run("SEC-023", [rb])).status is Status.PASSING
    bootstrap = cluster_role("admin", labels={"kubernetes.io/bootstrapping": "rbac-defaults"})
    finding = only(run("SEC-023", [rb, bootstrap], source=Source.LIVE))
    assert finding.status is Status.FAILING and "ClusterRole view does not exist" in finding.message


def test_sec023_service_account_subject_of_a_cluster_role_binding_needs_a_namespace() -> None:
    crb = binding("ClusterRoleBinding", "b", ("ClusterRole", "view"), sa("robot"))
    finding = only(run("SEC-023", [crb]))
    assert finding.status is Status.FAILING
    assert finding.message == "ServiceAccount subject robot names no namespace"


def test_sec019_judges_aggregated_rules_with_their_origin() -> None:
    objects = [
        cluster_role("wild", rule("*", "pods"), labels={"team": "a"}),
        cluster_role("team-a", aggregate=[{"matchLabels": {"team": "a"}}]),
    ]
    findings = {f.object.name: f for f in run("SEC-019", objects) if f.object}
    assert findings["team-a"].status is Status.FAILING
    assert findings["team-a"].message.startswith("ClusterRole wild rules[0]")
