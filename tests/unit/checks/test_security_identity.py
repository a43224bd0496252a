"""SEC-014, SEC-015: ServiceAccount token automounting and the default ServiceAccount."""

from __future__ import annotations

from typing import Any

from assay.server.core.types import Severity, Status
from tests.unit.checks.objects import container, deployment
from tests.unit.checks.runs import only, run


def account(name: str, namespace: str = "shop", **fields: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": name, "namespace": namespace},
        **fields,
    }


def role_binding(name: str, namespace: str, *subjects: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": name, "namespace": namespace},
        "subjects": list(subjects),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "r"},
    }


def test_sec014_deprecated_service_account_field_is_read() -> None:
    workload = deployment("d", container(), serviceAccount="quiet")
    objects = [workload, account("quiet", automountServiceAccountToken=False)]
    finding = only(run("SEC-014", objects))
    assert finding.status is Status.PASSING and "ServiceAccount quiet" in finding.message


def test_sec014_service_account_of_another_namespace_does_not_count() -> None:
    workload = deployment("d", container(), serviceAccountName="quiet")
    other = account("quiet", namespace="payments", automountServiceAccountToken=False)
    finding = only(run("SEC-014", [workload, other]))
    assert finding.status is Status.FAILING and "not in the inventory" in finding.message


def test_sec015_is_medium_unless_the_default_account_is_bound() -> None:
    workload = deployment("d", container())
    finding = only(run("SEC-015", [workload]))
    assert (finding.status, finding.severity) == (Status.FAILING, None)
    grant = role_binding(
        "default-can-read",
        "shop",
        {"kind": "ServiceAccount", "name": "default", "namespace": "shop"},
    )
    finding = only(run("SEC-015", [workload, grant]))
    assert (finding.status, finding.severity) == (Status.FAILING, Severity.HIGH)
    assert "RoleBinding shop/default-can-read grants Role shop/r" in finding.message


def test_sec015_namespace_group_counts_but_the_all_accounts_group_does_not() -> None:
    workload = deployment("d", container())
    group = {"kind": "Group", "name": "system:serviceaccounts:shop"}
    everyone = {"kind": "Group", "name": "system:serviceaccounts"}
    assert only(run("SEC-015", [workload, role_binding("b", "shop", group)])).severity is (
        Severity.HIGH
    )
    assert only(run("SEC-015", [workload, role_binding("b", "shop", everyone)])).severity is None


def test_sec015_default_account_of_another_namespace_is_not_this_one() -> None:
    workload = deployment("d", container())
    elsewhere = role_binding(
        "b", "shop", {"kind": "ServiceAccount", "name": "default", "namespace": "payments"}
    )
    assert only(run("SEC-015", [workload, elsewhere])).severity is None
