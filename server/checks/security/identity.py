"""Security checks on the identity a pod runs with: its ServiceAccount token and the default
ServiceAccount (SEC-014, SEC-015). Both look the pod's ServiceAccount up in the inventory;
SEC-015 also reads who the default ServiceAccount is bound to (:mod:`.authz`).
"""

from __future__ import annotations

from assay.server.checks.kit import (
    CheckDefinition,
    Context,
    NoParams,
    Verdict,
    fail,
    ok,
    per_workload,
)
from assay.server.checks.security.authz import (
    SERVICE_ACCOUNTS_GROUP,
    Subject,
    authz,
    service_account,
)
from assay.server.core.types import Pillar, Severity
from assay.server.inventory import WORKLOAD_KINDS, Workload

DEFAULT_ACCOUNT = "default"


def account_name(workload: Workload) -> str:
    """The pod's ServiceAccount: ``serviceAccountName``, the deprecated ``serviceAccount``,
    else ``default``."""
    spec = workload.pod_spec
    return str(spec.get("serviceAccountName") or spec.get("serviceAccount") or DEFAULT_ACCOUNT)


SEC_014 = CheckDefinition(
    id="SEC-014",
    pillar=Pillar.SECURITY,
    name="ServiceAccount token automounted",
    description=(
        "Unless switched off, every container gets a token of the pod's ServiceAccount at "
        "/var/run/secrets/kubernetes.io/serviceaccount: anyone who gets code running in the "
        "container can call the API server with the account's permissions."
    ),
    severity=Severity.MEDIUM,
    scope="X",
    remediation=(
        "Set automountServiceAccountToken: false on the ServiceAccount (every pod using it "
        "inherits it) or in the pod spec. Pods that call the API keep it, ideally with a "
        "dedicated ServiceAccount bound to a minimal Role, or mount a projected token with a "
        "short expirationSeconds and an audience."
    ),
    kinds=(*WORKLOAD_KINDS, "ServiceAccount"),
    notes=(
        "The pod's setting wins over its ServiceAccount's, as the API server applies them, "
        "like Polaris's automountServiceAccountToken and kubescape's C-0034. When the "
        "ServiceAccount is not in the inventory its setting is unknown and the token counts "
        "as mounted (the default), which may be stricter than the cluster.",
    ),
)


@per_workload(SEC_014)
def token_automounted(workload: Workload, ctx: Context[NoParams]) -> Verdict:
    pod_setting = workload.pod_spec.get("automountServiceAccountToken")
    name = account_name(workload)
    if pod_setting is False:
        return ok("the pod sets automountServiceAccountToken: false")
    if pod_setting is True:
        return fail(f"the pod sets automountServiceAccountToken: true (ServiceAccount {name})")
    account = ctx.inventory.get("ServiceAccount", workload.namespace, name)
    if account is None:
        return fail(
            f"the pod does not set automountServiceAccountToken: false and ServiceAccount "
            f"{name} is not in the inventory, so the token is mounted by default"
        )
    account_setting = account.get("automountServiceAccountToken")
    if account_setting is False:
        return ok(f"ServiceAccount {name} sets automountServiceAccountToken: false")
    setting = "sets it to true" if account_setting is True else "does not set it to false"
    return fail(
        f"neither the pod nor ServiceAccount {name} turns the token off "
        f"(the pod leaves automountServiceAccountToken unset; the ServiceAccount {setting})"
    )


SEC_015 = CheckDefinition(
    id="SEC-015",
    pillar=Pillar.SECURITY,
    name="Default ServiceAccount used",
    description=(
        "Every pod of a namespace that does not name a ServiceAccount shares the default one: "
        "a permission granted to it for one workload is granted to all, and its activity "
        "cannot be told apart in audit logs."
    ),
    severity=Severity.MEDIUM,
    scope="X",
    remediation=(
        "Create a ServiceAccount per workload (automountServiceAccountToken: false unless it "
        "calls the API), set spec.serviceAccountName to it, and move any RoleBinding that "
        "names the default ServiceAccount to the dedicated one."
    ),
    kinds=(*WORKLOAD_KINDS, "ServiceAccount", "RoleBinding", "ClusterRoleBinding"),
    notes=(
        "Stricter than kube-linter's default-service-account: a default ServiceAccount bound "
        "to any role, directly or through the group system:serviceaccounts:<namespace>, makes "
        "the finding high. Bindings to the group of all ServiceAccounts "
        "(system:serviceaccounts) do not count: clusters bind it to discovery roles.",
    ),
)


@per_workload(SEC_015)
def default_service_account(workload: Workload, ctx: Context[NoParams]) -> Verdict:
    name = account_name(workload)
    if name != DEFAULT_ACCOUNT:
        return ok(f"runs as ServiceAccount {name}")
    namespace = workload.namespace
    subjects = (
        service_account(namespace, DEFAULT_ACCOUNT),
        Subject("Group", f"{SERVICE_ACCOUNTS_GROUP}:{namespace}"),
    )
    bindings = authz(ctx.inventory).bindings_of(subjects)
    if bindings:
        grants = "; ".join(f"{b} grants {b.role} {b.scope}" for b in bindings)
        return fail(
            f"runs as the default ServiceAccount of namespace {namespace}, which is bound to "
            f"roles: {grants}",
            severity=Severity.HIGH,
        )
    how = (
        "sets serviceAccountName: default"
        if workload.pod_spec.get("serviceAccountName")
        else "sets no serviceAccountName"
    )
    return fail(f"{how}, so it runs as the default ServiceAccount of namespace {namespace}")


CHECKS = (token_automounted, default_service_account)
