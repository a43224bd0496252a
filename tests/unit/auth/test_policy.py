"""What a write may ask for: contexts, registries, ServiceAccounts; and who may write."""

from __future__ import annotations

import pytest

from assay.server.auth.access import Access, AccessRules
from assay.server.auth.policy import RequestPolicy
from assay.server.auth.principal import OPEN_PRINCIPAL, Principal
from assay.server.auth.settings import AuthSettings
from assay.server.core.errors import PermissionDenied

RUNNER = "kubernaut-workflow-runner"


def test_defaults_allow_no_context_any_registry_and_only_the_runner_account() -> None:
    policy = RequestPolicy.from_settings(AuthSettings(), runner_account=RUNNER)
    assert policy.context_problem("") == ""
    assert "only its own cluster" in policy.context_problem("prod")
    policy.check_bundle("anything.example/x:1", field="image")
    policy.check_service_account("", field="sa")
    policy.check_service_account(RUNNER, field="sa")
    with pytest.raises(PermissionDenied, match=r"^sa: not a ServiceAccount"):
        policy.check_service_account("cluster-admin", field="sa")


def test_configured_lists_replace_the_defaults() -> None:
    settings = AuthSettings(
        allowed_contexts=("staging",),
        allowed_registries=("quay.io/kubernaut",),
        allowed_service_accounts=("fixer",),
    )
    policy = RequestPolicy.from_settings(settings, runner_account=RUNNER)
    assert policy.context_problem("staging") == ""
    assert "not one of the contexts" in policy.context_problem("prod")
    policy.check_bundle("quay.io/kubernaut/fix:1", field="image")
    with pytest.raises(PermissionDenied, match="ASSAY_ALLOWED_REGISTRIES"):
        policy.check_bundle("quay.io/evil/fix:1", field="image")
    policy.check_service_account("fixer", field="sa")
    with pytest.raises(PermissionDenied):
        policy.check_service_account(RUNNER, field="sa")


def test_writes_need_a_writer_group_reads_do_not() -> None:
    rules = AccessRules(frozenset({"assay:writers"}))
    reader = Principal("r", frozenset({"viewers"}))
    writer = Principal("w", frozenset({"viewers", "assay:writers"}))
    assert rules.allows(reader, Access.READ) and rules.allows(writer, Access.WRITE)
    assert rules.allows(OPEN_PRINCIPAL, Access.WRITE)  # authentication off: loopback only
    with pytest.raises(PermissionDenied) as caught:
        rules.check(reader, Access.WRITE)
    assert "ASSAY_WRITER_GROUPS" in str(caught.value) and "r" not in str(caught.value).split()
