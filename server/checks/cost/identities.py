"""Cost checks on identities: ServiceAccounts, Roles and ClusterRoles nothing uses.

Who is bound to what is read once per run from every RoleBinding and ClusterRoleBinding
(:func:`rbac_usage`); which ServiceAccounts pods run as comes from the kit's reference
walker.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from assay.server.checks.kit import (
    USER_OBJECTS,
    CheckDefinition,
    Context,
    Verdict,
    fail,
    ok,
    param,
    per_object,
)
from assay.server.checks.kit.references import SERVICE_ACCOUNT, used_names
from assay.server.core.types import Pillar, Severity
from assay.server.inventory import WORKLOAD_KINDS, Inventory, Selector
from assay.server.inventory.raw import (
    KubeObject,
    annotations_of,
    as_mappings,
    dig,
    kind_of,
    labels_of,
    name_of,
    namespace_of,
)

SA_USER_PREFIX = "system:serviceaccount:"
SA_GROUP = "system:serviceaccounts"
TOKEN_TYPE = "kubernetes.io/service-account-token"
TOKEN_ACCOUNT_ANNOTATION = "kubernetes.io/service-account.name"


@dataclass
class RbacUsage:
    """What the bindings of one inventory refer to."""

    accounts: set[tuple[str, str]] = field(default_factory=set)
    """(namespace, name) of ServiceAccounts named as subjects."""
    tokens: set[tuple[str, str]] = field(default_factory=set)
    """(namespace, name) of ServiceAccounts a long-lived token Secret was issued for."""
    account_namespaces: set[str] = field(default_factory=set)
    """Namespaces whose every ServiceAccount is bound (group system:serviceaccounts:<ns>)."""
    every_account: bool = False
    """The group system:serviceaccounts is bound: every ServiceAccount is."""
    roles: set[tuple[str, str]] = field(default_factory=set)
    cluster_roles: set[str] = field(default_factory=set)
    aggregation: list[Selector] = field(default_factory=list)

    def account_bound(self, namespace: str, name: str) -> bool:
        return (
            self.every_account
            or namespace in self.account_namespaces
            or (namespace, name) in self.accounts
        )


def rbac_usage(inventory: Inventory) -> RbacUsage:
    """The bindings' subjects and role references, computed once per inventory."""
    return inventory.memo("cost:rbac-usage", lambda: _usage(inventory))


def _usage(inventory: Inventory) -> RbacUsage:
    usage = RbacUsage()
    for kind in ("RoleBinding", "ClusterRoleBinding"):
        for binding in inventory.objects(kind):
            namespace = namespace_of(binding)
            _add_subjects(usage, binding.get("subjects"), namespace)
            ref = dig(binding, "roleRef")
            name = str(ref.get("name") or "")
            if ref.get("kind") == "ClusterRole":
                usage.cluster_roles.add(name)
            elif ref.get("kind") == "Role" and kind == "RoleBinding":
                usage.roles.add((namespace, name))
    for secret in inventory.objects("Secret"):
        account = annotations_of(secret).get(TOKEN_ACCOUNT_ANNOTATION)
        if secret.get("type") == TOKEN_TYPE and account:
            usage.tokens.add((namespace_of(secret), account))
    for role in inventory.objects("ClusterRole"):
        for selector in as_mappings(dig(role, "aggregationRule").get("clusterRoleSelectors")):
            usage.aggregation.append(Selector.from_label_selector(selector))
    return usage


def _add_subjects(usage: RbacUsage, subjects: object, binding_namespace: str) -> None:
    for subject in as_mappings(subjects):
        kind, name = subject.get("kind"), str(subject.get("name") or "")
        if kind == "ServiceAccount":
            namespace = str(subject.get("namespace") or binding_namespace)
            usage.accounts.add((namespace, name))
        elif kind == "User" and name.startswith(SA_USER_PREFIX):
            namespace, _, account = name.removeprefix(SA_USER_PREFIX).partition(":")
            usage.accounts.add((namespace, account))
        elif kind == "Group" and name == SA_GROUP:
            usage.every_account = True
        elif kind == "Group" and name.startswith(SA_GROUP + ":"):
            usage.account_namespaces.add(name.removeprefix(SA_GROUP + ":"))


@dataclass(frozen=True)
class UnusedIdentityParams:
    aggregation_labels: frozenset[str] = param(
        frozenset(
            f"rbac.authorization.k8s.io/aggregate-to-{role}=true"
            for role in ("admin", "edit", "view")
        ),
        "labels that aggregate a ClusterRole into a built-in role (which every cluster has, "
        "even when the manifests do not show it); entries are key=value",
    )
    ignored_names: frozenset[str] = param(
        frozenset(), "names of ServiceAccounts, Roles and ClusterRoles kept on purpose"
    )


COST_008 = CheckDefinition(
    id="COST-008",
    pillar=Pillar.COST_OPTIMIZATION,
    name="Unused identities/roles",
    description=(
        "ServiceAccounts no pod runs as and no binding names, and Roles or ClusterRoles no "
        "binding grants, are dead weight in every RBAC review and can be bound by mistake "
        "later."
    ),
    severity=Severity.INFO,
    scope="X",
    remediation=(
        "Delete the unused ServiceAccount, Role or ClusterRole (and any token Secret of the "
        "ServiceAccount), or bind it where it is meant to be used; keep roles that exist "
        "for aggregation labelled rbac.authorization.k8s.io/aggregate-to-*."
    ),
    kinds=(
        "ServiceAccount",
        "Role",
        "ClusterRole",
        "RoleBinding",
        "ClusterRoleBinding",
        "Secret",
        *WORKLOAD_KINDS,
    ),
    applies_to=USER_OBJECTS,
    params=UnusedIdentityParams,
    notes=(
        "A ServiceAccount counts as used when a pod or template runs as it, a binding names "
        "it (directly, as the user system:serviceaccount:<ns>:<name>, or through the groups "
        "system:serviceaccounts[:<ns>]), or a long-lived token Secret was issued for it "
        "(an external client); Popeye only looks at pods and bindings.",
        "A ClusterRole also counts as used when another ClusterRole's aggregationRule selects it.",
    ),
)


@per_object(COST_008, kinds=("ServiceAccount", "Role", "ClusterRole"))
def unused_identities(obj: KubeObject, ctx: Context[UnusedIdentityParams]) -> Verdict:
    name, namespace = name_of(obj), namespace_of(obj)
    if name in ctx.params.ignored_names:
        return ok("kept on purpose (ignored_names)")
    usage = rbac_usage(ctx.inventory)
    kind = kind_of(obj)
    if kind == SERVICE_ACCOUNT:
        if (SERVICE_ACCOUNT, name) in used_names(ctx.inventory, namespace):
            return ok("a pod or pod template runs as it")
        if usage.account_bound(namespace, name):
            return ok("a RoleBinding or ClusterRoleBinding names it")
        if (namespace, name) in usage.tokens:
            return ok("a long-lived token Secret was issued for it (an external client)")
        return fail(
            "no pod or pod template runs as it, no RoleBinding or ClusterRoleBinding names it "
            "and no token Secret was issued for it"
        )
    if kind == "Role":
        if (namespace, name) in usage.roles:
            return ok("a RoleBinding grants it")
        return fail(f"no RoleBinding in namespace {namespace} refers to it")
    if name in usage.cluster_roles:
        return ok("a binding grants it")
    labels = labels_of(obj)
    if _aggregated(labels, ctx.params.aggregation_labels, usage.aggregation):
        return ok("aggregated into another ClusterRole")
    return fail(
        "no ClusterRoleBinding or RoleBinding refers to it and no aggregationRule selects it"
    )


def _aggregated(labels: dict[str, str], builtin: Iterable[str], selectors: list[Selector]) -> bool:
    for entry in builtin:
        key, _, value = entry.partition("=")
        if labels.get(key) == value:
            return True
    return any(selector.matches(labels) for selector in selectors)


CHECKS = (unused_identities,)
