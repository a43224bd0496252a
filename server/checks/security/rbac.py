"""Security checks on RBAC: wildcard rules, cluster-admin grants, sensitive and escalating
access, and bindings to nothing (SEC-019..SEC-023).

Every check reads the one RBAC index of the run (:func:`.authz.authz`): roles with their
aggregated rules, bindings resolved to their role and subjects. Findings name the subject
and the rule (role and index) that grants the access.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from assay.server.checks.kit import (
    Applicability,
    CheckDefinition,
    Context,
    NoParams,
    Verdict,
    fail,
    ok,
    param,
    per_object,
    problems_or_ok,
)
from assay.server.checks.security.access import granted
from assay.server.checks.security.authz import (
    Binding,
    RbacIndex,
    RoleRef,
    authz,
    is_bootstrap,
)
from assay.server.core.types import Pillar, Severity
from assay.server.inventory.raw import KubeObject, kind_of, name_of, namespace_of

ROLE_KINDS = ("Role", "ClusterRole")
BINDING_KINDS = ("ClusterRoleBinding", "RoleBinding")
RBAC_KINDS = (*BINDING_KINDS, *ROLE_KINDS)


def _not_system_role(role: KubeObject, ctx: Context[Any]) -> bool:
    return not name_of(role).startswith("system:") and not is_bootstrap(role)


def _not_bootstrap(binding: KubeObject, ctx: Context[Any]) -> bool:
    return not is_bootstrap(binding)


USER_ROLES = Applicability(
    "Roles and ClusterRoles other than system:* roles and Kubernetes' own (label "
    "kubernetes.io/bootstrapping: rbac-defaults)",
    _not_system_role,
)
USER_BINDINGS = Applicability(
    "bindings other than those Kubernetes creates itself (label kubernetes.io/bootstrapping: "
    "rbac-defaults); subjects named system:* (components) are not judged, the groups "
    "system:authenticated, system:unauthenticated and system:serviceaccounts[:ns] are",
    _not_bootstrap,
)


def _binding_of(index: RbacIndex, obj: KubeObject) -> Binding:
    kind = kind_of(obj)
    namespace = namespace_of(obj) if kind == "RoleBinding" else ""
    binding = index.binding(kind, namespace, name_of(obj))
    if binding is None:  # the index is built from the same inventory
        raise LookupError(f"{kind} {namespace}/{name_of(obj)} is not in the RBAC index")
    return binding


SEC_019 = CheckDefinition(
    id="SEC-019",
    pillar=Pillar.SECURITY,
    name="RBAC wildcards",
    description=(
        "A * in a rule's verbs, resources or API groups grants more than anyone reviewed: "
        "every future resource, CRD and verb (escalate, impersonate, bind) included."
    ),
    severity=Severity.HIGH,
    scope="W",
    remediation=(
        "List the verbs, resources and API groups the role needs instead of *; kubectl "
        "auth can-i --list --as=<subject> shows what a subject uses today. For a broad "
        "read-only role, aggregate into (or bind) the built-in view ClusterRole."
    ),
    kinds=ROLE_KINDS,
    applies_to=USER_ROLES,
    notes=(
        "The same control as kube-linter's wildcard-in-rules (CIS 5.1.3). A ClusterRole is "
        "judged with the rules it aggregates, so a wildcard reaching it through an "
        "aggregationRule fails it too, naming the role the rule is written in.",
    ),
)


@per_object(SEC_019, kinds=ROLE_KINDS, include_owned=True)
def rbac_wildcards(role: KubeObject, ctx: Context[NoParams]) -> Verdict:
    kind = kind_of(role)
    ref = RoleRef(kind, namespace_of(role) if kind == "Role" else "", name_of(role))
    rules = authz(ctx.inventory).rules(ref)
    problems = [f"{rule} has * in {', '.join(w)}" for rule in rules if (w := rule.wildcard_fields)]
    count = f"{len(rules)} rule{'' if len(rules) == 1 else 's'}"
    return problems_or_ok(problems, f"{count}, none with a wildcard")


def _subjects_text(binding: Binding) -> str | None:
    judged = [str(s) for s in binding.subjects if not s.is_system]
    return ", ".join(judged) if judged else None


def _unjudged(binding: Binding) -> str:
    if not binding.subjects:
        return "binds no subject"
    return "binds only system subjects: " + ", ".join(str(s) for s in binding.subjects)


SEC_020 = CheckDefinition(
    id="SEC-020",
    pillar=Pillar.SECURITY,
    name="cluster-admin granted",
    description=(
        "cluster-admin (or any role allowing every verb on every resource) is full control: "
        "reading every Secret, running privileged pods on any node, rewriting RBAC. A "
        "subject holding it is the cluster's weakest point."
    ),
    severity=Severity.CRITICAL,
    scope="X",
    remediation=(
        "Bind a role with only the permissions the subject uses (kubectl auth can-i --list "
        "--as=<subject>), in the namespaces it works in; keep cluster-admin to a break-glass "
        "group whose use is audited."
    ),
    kinds=RBAC_KINDS,
    applies_to=USER_BINDINGS,
    notes=(
        "Like Polaris's clusterrolebindingClusterAdmin and rolebindingClusterAdmin checks, a "
        "role equivalent to cluster-admin (* or all of get, list, watch, create, update, "
        "patch, delete on * resources in * groups) counts; unlike kube-linter's "
        "cluster-admin-role-binding, RoleBindings to it fail too, naming their namespace.",
    ),
)


@per_object(SEC_020, kinds=BINDING_KINDS, include_owned=True)
def cluster_admin_granted(obj: KubeObject, ctx: Context[NoParams]) -> Verdict:
    index = authz(ctx.inventory)
    binding = _binding_of(index, obj)
    subjects = _subjects_text(binding)
    if subjects is None:
        return ok(_unjudged(binding))
    role = binding.role
    if role.kind == "ClusterRole" and role.name == "cluster-admin":
        return fail(f"grants ClusterRole cluster-admin {binding.scope} to {subjects}")
    if not index.exists(role):
        return ok(f"{role} does not exist, so the binding grants nothing (see SEC-023)")
    admin = next((r for r in index.rules(role) if r.is_cluster_admin_equivalent), None)
    if admin is not None:
        return fail(
            f"grants {role}, equivalent to cluster-admin through {admin}, "
            f"{binding.scope} to {subjects}"
        )
    return ok(f"{role} is not equivalent to cluster-admin")


def _access_verdict(obj: KubeObject, ctx: Context[Any], entries: frozenset[str]) -> Verdict:
    index = authz(ctx.inventory)
    binding = _binding_of(index, obj)
    subjects = _subjects_text(binding)
    if subjects is None:
        return ok(_unjudged(binding))
    found = granted(index, binding, entries)
    if found:
        return fail(f"{subjects} can, {binding.scope} through {binding.role}: {'; '.join(found)}")
    return ok(f"{binding.role} grants none of the listed access")


@dataclass(frozen=True)
class SensitiveAccessParams:
    access: frozenset[str] = param(
        frozenset(
            {
                "get,list,watch secrets",
                "create pods",
                "create pods/exec",
                "create pods/attach",
                "create pods/portforward",
                "get,create nodes/proxy",
            }
        ),
        "access that fails, each 'verb[,verb] resource[.group][/subresource]' (core group "
        "when no group is given), e.g. 'create deployments.apps' or 'get pods/exec'",
    )


SEC_021 = CheckDefinition(
    id="SEC-021",
    pillar=Pillar.SECURITY,
    name="Sensitive RBAC access",
    description=(
        "Reading Secrets yields other identities' tokens and passwords; creating pods (or "
        "exec, attach and port-forward into them) runs code as any ServiceAccount of the "
        "namespace; nodes/proxy reaches the kubelet API of every node."
    ),
    severity=Severity.HIGH,
    scope="X",
    remediation=(
        "Remove the rule or narrow it: resourceNames for the one Secret a workload reads, "
        "a dedicated role without pods/exec for people who only need logs, and no "
        "nodes/proxy outside monitoring agents that need it."
    ),
    kinds=RBAC_KINDS,
    applies_to=USER_BINDINGS,
    params=SensitiveAccessParams,
    notes=(
        "Covers kube-linter's access-to-secrets and access-to-create-pods and Polaris's "
        "pod exec/attach checks in one result per binding, resolved through aggregated "
        "ClusterRoles. Rules limited by resourceNames do not count (they reach only the "
        "named objects), and a RoleBinding cannot grant nodes/proxy.",
    ),
)


@per_object(SEC_021, kinds=BINDING_KINDS, include_owned=True)
def sensitive_access(obj: KubeObject, ctx: Context[SensitiveAccessParams]) -> Verdict:
    return _access_verdict(obj, ctx, ctx.params.access)


@dataclass(frozen=True)
class EscalationParams:
    access: frozenset[str] = param(
        frozenset(
            {
                "bind,escalate roles.rbac.authorization.k8s.io",
                "bind,escalate clusterroles.rbac.authorization.k8s.io",
                "impersonate users",
                "impersonate groups",
                "impersonate serviceaccounts",
                "impersonate uids.authentication.k8s.io",
                "create,update,patch,delete "
                "mutatingwebhookconfigurations.admissionregistration.k8s.io",
                "create,update,patch,delete "
                "validatingwebhookconfigurations.admissionregistration.k8s.io",
                "update,patch certificatesigningrequests.certificates.k8s.io/approval",
                "approve signers.certificates.k8s.io",
                "update,patch services/status",
            }
        ),
        "access that fails, each 'verb[,verb] resource[.group][/subresource]' (core group "
        "when no group is given)",
    )


SEC_022 = CheckDefinition(
    id="SEC-022",
    pillar=Pillar.SECURITY,
    name="RBAC escalation verbs",
    description=(
        "These permissions turn into any other permission: bind and escalate grant roles "
        "beyond one's own, impersonate acts as another user, webhooks see and rewrite every "
        "object written to the API, approving CSRs mints credentials, and writing "
        "services/status redirects traffic (CVE-2020-8554)."
    ),
    severity=Severity.HIGH,
    scope="X",
    remediation=(
        "Remove the rule; keep these verbs to the controllers that need them (cert-manager "
        "approves its own CSRs, a webhook's installer writes its configuration) and bind "
        "those roles to their ServiceAccount only, with resourceNames where possible."
    ),
    kinds=RBAC_KINDS,
    applies_to=USER_BINDINGS,
    params=EscalationParams,
    notes=(
        "Broader than Trivy's and kubescape's escalate/bind/impersonate controls: webhook "
        "configurations, CSR approval and services/status are included, following the "
        "Kubernetes RBAC good-practices guide.",
    ),
)


@per_object(SEC_022, kinds=BINDING_KINDS, include_owned=True)
def escalation_verbs(obj: KubeObject, ctx: Context[EscalationParams]) -> Verdict:
    return _access_verdict(obj, ctx, ctx.params.access)


SEC_023 = CheckDefinition(
    id="SEC-023",
    pillar=Pillar.SECURITY,
    name="Dangling RBAC binding",
    description=(
        "A binding to a role or ServiceAccount that does not exist grants nothing today, "
        "but anyone who later creates an object of that name inherits the access: a typo "
        "or a leftover becomes a trap."
    ),
    severity=Severity.LOW,
    scope="X",
    remediation=(
        "Delete the binding if its role or ServiceAccount is gone, or fix the name in "
        "roleRef or subjects (a ServiceAccount subject needs the namespace it lives in)."
    ),
    kinds=(*RBAC_KINDS, "ServiceAccount"),
    notes=(
        "Kubernetes' default ClusterRoles (cluster-admin, admin, edit, view, system:*) count "
        "as existing unless the inventory holds Kubernetes' own roles, as a live cluster "
        "does; every namespace's default ServiceAccount counts as existing.",
    ),
)


@per_object(SEC_023, kinds=BINDING_KINDS, include_owned=True)
def dangling_binding(obj: KubeObject, ctx: Context[NoParams]) -> Verdict:
    index = authz(ctx.inventory)
    binding = _binding_of(index, obj)
    problems = []
    role = binding.role
    if role.kind not in ROLE_KINDS or not role.name:
        problems.append(f"roleRef names no Role or ClusterRole ({role.kind!r} {role.name!r})")
    elif not index.exists(role):
        problems.append(f"roleRef {role} does not exist")
    for subject in binding.subjects:
        if subject.kind != "ServiceAccount":
            continue
        if not subject.namespace:
            problems.append(f"ServiceAccount subject {subject.name} names no namespace")
        elif subject.name != "default" and (
            ctx.inventory.get("ServiceAccount", subject.namespace, subject.name) is None
        ):
            problems.append(f"{subject} does not exist")
    return problems_or_ok(problems, f"{role} and every ServiceAccount subject exist")


CHECKS = (
    rbac_wildcards,
    cluster_admin_granted,
    sensitive_access,
    escalation_verbs,
    dangling_binding,
)
