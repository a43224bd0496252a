"""RBAC as an index: which subject is bound to which role, where, and by which rules.

Built once per inventory (``authz(inventory)``, through ``inventory.memo``) and read by the
RBAC checks (SEC-019..SEC-023) and the default-ServiceAccount check (SEC-015). It resolves
bindings the way the API server's authorizer does:

* a RoleBinding grants a Role of its own namespace, or a ClusterRole, only in its own
  namespace; a ClusterRoleBinding grants a ClusterRole everywhere;
* a ClusterRole with an ``aggregationRule`` holds its own rules plus those of every
  ClusterRole its ``clusterRoleSelectors`` select, transitively (the aggregation controller
  keeps them in sync on a live cluster; in manifests only the selectors are written);
* a ServiceAccount subject is matched by namespace and name; in a RoleBinding an empty
  namespace means the binding's own;
* Kubernetes' default user-facing ClusterRoles (cluster-admin, admin, edit, view) are
  rarely in manifest files, so when the inventory lacks them their relevant default rules
  are used (:data:`DEFAULT_CLUSTER_ROLES`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import TypeVar, cast

from assay.server.core.types import ObjectRef
from assay.server.inventory.model import Inventory
from assay.server.inventory.raw import (
    KubeObject,
    as_mapping,
    as_mappings,
    dig,
    labels_of,
    name_of,
    namespace_of,
)
from assay.server.inventory.selectors import LabelIndex, Selector

T = TypeVar("T")

SYSTEM_PREFIX = "system:"
BOOTSTRAP_LABEL = ("kubernetes.io/bootstrapping", "rbac-defaults")
BROAD_GROUPS = frozenset({"system:authenticated", "system:unauthenticated"})
SERVICE_ACCOUNTS_GROUP = "system:serviceaccounts"
WRITE_VERBS = frozenset({"get", "list", "watch", "create", "update", "patch", "delete"})


def is_bootstrap(obj: KubeObject) -> bool:
    """Created by the API server itself (``kubernetes.io/bootstrapping: rbac-defaults``)."""
    key, value = BOOTSTRAP_LABEL
    return labels_of(obj).get(key) == value


@dataclass(frozen=True, slots=True, order=True)
class Subject:
    """A binding subject: ``User``, ``Group`` or ``ServiceAccount`` (with its namespace)."""

    kind: str
    name: str
    namespace: str = ""

    @property
    def is_system(self) -> bool:
        """A Kubernetes component's own identity: a User or Group named ``system:...``.

        The groups of ordinary principals are not: ``system:authenticated``,
        ``system:unauthenticated`` and ``system:serviceaccounts[:<namespace>]``; nor is any
        ServiceAccount, whose token a compromised pod may hold.
        """
        if self.kind == "ServiceAccount" or not self.name.startswith(SYSTEM_PREFIX):
            return False
        if self.kind == "Group":
            broad = self.name in BROAD_GROUPS or self.name == SERVICE_ACCOUNTS_GROUP
            return not (broad or self.name.startswith(SERVICE_ACCOUNTS_GROUP + ":"))
        return True

    def __str__(self) -> str:
        if self.kind == "ServiceAccount":
            return f"ServiceAccount {self.namespace}/{self.name}"
        return f"{self.kind} {self.name}"


def service_account(namespace: str, name: str) -> Subject:
    return Subject("ServiceAccount", name, namespace)


@dataclass(frozen=True, slots=True)
class Rule:
    """One policy rule, with where it is written (``ClusterRole edit``, index 2)."""

    verbs: frozenset[str]
    api_groups: frozenset[str]
    resources: frozenset[str]
    resource_names: frozenset[str]
    non_resource_urls: frozenset[str]
    role: str
    index: int

    @classmethod
    def parse(cls, raw: KubeObject, role: str, index: int) -> Rule:
        def strings(field: str) -> frozenset[str]:
            values = raw.get(field)
            if not isinstance(values, list):
                return frozenset()
            return frozenset(str(v) for v in values if isinstance(v, str))

        return cls(
            strings("verbs"),
            strings("apiGroups"),
            strings("resources"),
            strings("resourceNames"),
            strings("nonResourceURLs"),
            role,
            index,
        )

    def grants(self, verb: str, group: str, resource: str, subresource: str = "") -> bool:
        """Allows ``verb`` on every object of ``resource`` (``/subresource``) in ``group``.

        A rule limited by ``resourceNames`` allows only named objects, so it does not count.
        """
        if self.resource_names:
            return False
        if "*" not in self.verbs and verb not in self.verbs:
            return False
        if "*" not in self.api_groups and group not in self.api_groups:
            return False
        wanted = f"{resource}/{subresource}" if subresource else resource
        if "*" in self.resources or wanted in self.resources:
            return True
        return bool(subresource) and f"*/{subresource}" in self.resources

    @property
    def wildcard_fields(self) -> list[str]:
        """Which of verbs, resources and apiGroups contain a ``*``."""
        fields = (("verbs", self.verbs), ("resources", self.resources))
        found = [name for name, values in fields if any("*" in v for v in values)]
        if "*" in self.api_groups:
            found.append("apiGroups")
        return found

    @property
    def is_cluster_admin_equivalent(self) -> bool:
        """Every verb (``*`` or all seven read/write verbs) on every resource of every group."""
        every_verb = "*" in self.verbs or self.verbs >= WRITE_VERBS
        return (
            every_verb
            and "*" in self.api_groups
            and "*" in self.resources
            and (not self.resource_names)
        )

    @property
    def where(self) -> str:
        return f"{self.role} rules[{self.index}]"

    def __str__(self) -> str:
        def listed(values: frozenset[str]) -> str:
            return "[" + ", ".join(repr(v) if v == "" else v for v in sorted(values)) + "]"

        if self.non_resource_urls and not self.resources:
            return f"{self.where}: verbs {listed(self.verbs)} on {listed(self.non_resource_urls)}"
        text = (
            f"{self.where}: verbs {listed(self.verbs)} on resources {listed(self.resources)} "
            f"in apiGroups {listed(self.api_groups)}"
        )
        if self.resource_names:
            text += f" named {listed(self.resource_names)}"
        return text


@dataclass(frozen=True, slots=True, order=True)
class RoleRef:
    """A Role (with its namespace) or a ClusterRole (namespace ``""``)."""

    kind: str
    namespace: str
    name: str

    def __str__(self) -> str:
        if self.kind == "Role":
            return f"Role {self.namespace}/{self.name}"
        return f"ClusterRole {self.name}"


@dataclass(frozen=True, slots=True)
class Binding:
    """A RoleBinding or ClusterRoleBinding, resolved: its role and subjects."""

    kind: str
    namespace: str
    name: str
    obj: KubeObject
    role: RoleRef
    subjects: tuple[Subject, ...]

    @property
    def ref(self) -> ObjectRef:
        return ObjectRef(self.kind, self.name, self.namespace)

    @property
    def cluster_wide(self) -> bool:
        return self.kind == "ClusterRoleBinding"

    @property
    def scope(self) -> str:
        return "cluster-wide" if self.cluster_wide else f"in namespace {self.namespace}"

    def __str__(self) -> str:
        if self.cluster_wide:
            return f"ClusterRoleBinding {self.name}"
        return f"RoleBinding {self.namespace}/{self.name}"


def _rules(*specs: tuple[str, str, str]) -> tuple[KubeObject, ...]:
    """Rules written compactly: (verbs, apiGroup, resources), space-separated lists."""
    return tuple(
        {"verbs": verbs.split(), "apiGroups": [group], "resources": resources.split()}
        for verbs, group, resources in specs
    )


_POD_WRITE = "create delete deletecollection patch update"
_EDIT_RULES = _rules(
    (f"get list watch {_POD_WRITE}", "", "pods pods/attach pods/exec pods/portforward pods/proxy"),
    (f"get list watch {_POD_WRITE}", "", "secrets configmaps services persistentvolumeclaims"),
    ("impersonate", "", "serviceaccounts"),
    (f"get list watch {_POD_WRITE}", "apps", "deployments statefulsets daemonsets replicasets"),
    (f"get list watch {_POD_WRITE}", "batch", "jobs cronjobs"),
)
DEFAULT_CLUSTER_ROLES: Mapping[str, tuple[KubeObject, ...]] = {
    "cluster-admin": (
        {"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]},
        {"verbs": ["*"], "nonResourceURLs": ["*"]},
    ),
    "admin": (
        *_EDIT_RULES,
        *_rules(
            (f"get list watch {_POD_WRITE}", "rbac.authorization.k8s.io", "roles rolebindings")
        ),
    ),
    "edit": _EDIT_RULES,
    "view": _rules(
        ("get list watch", "", "pods configmaps services persistentvolumeclaims"),
        ("get list watch", "apps", "deployments statefulsets daemonsets replicasets"),
    ),
}
"""The parts of Kubernetes' default ClusterRoles the RBAC checks judge (pods, exec,
secrets, impersonation), used when the inventory does not hold the role itself."""


def is_builtin_cluster_role(name: str) -> bool:
    return name in DEFAULT_CLUSTER_ROLES or name.startswith(SYSTEM_PREFIX)


class RbacIndex:
    """Roles with their resolved rules, bindings, and bindings by subject.

    Built eagerly (every role's rules resolved once) so concurrent checks only read it.
    """

    def __init__(self, inventory: Inventory) -> None:
        self.roles: dict[RoleRef, KubeObject] = {}
        for obj in inventory.objects("Role"):
            self.roles[RoleRef("Role", namespace_of(obj), name_of(obj))] = obj
        for obj in inventory.objects("ClusterRole"):
            self.roles[RoleRef("ClusterRole", "", name_of(obj))] = obj
        self.full_cluster = any(is_bootstrap(o) for o in inventory.objects("ClusterRole"))
        """The inventory holds Kubernetes' own ClusterRoles (a live cluster): a missing
        built-in role is then really missing."""
        self._by_labels = LabelIndex(
            ("", labels_of(o), name_of(o)) for o in inventory.objects("ClusterRole")
        )
        self._rules = {ref: self._resolve(ref) for ref in self.roles}
        self._answers: dict[Hashable, object] = {}
        self.bindings: dict[tuple[str, str, str], Binding] = {}
        self._by_subject: dict[Subject, list[Binding]] = defaultdict(list)
        for kind in ("ClusterRoleBinding", "RoleBinding"):
            for obj in inventory.objects(kind):
                binding = _binding(kind, obj)
                self.bindings[(kind, binding.namespace, binding.name)] = binding
                for subject in set(binding.subjects):
                    self._by_subject[subject].append(binding)

    def cached(self, key: Hashable, compute: Callable[[], T]) -> T:
        """``compute()`` once per key: answers that depend on a role rather than on the
        binding (bindings share roles: every RoleBinding to edit asks the same question).
        Concurrent checks may compute a key twice; the answer is the same."""
        try:
            return cast(T, self._answers[key])
        except KeyError:
            answer = compute()
            self._answers[key] = answer
            return answer

    def exists(self, role: RoleRef) -> bool:
        """In the inventory, or a built-in ClusterRole of a cluster the inventory does not
        fully hold (manifest files rarely carry Kubernetes' own roles)."""
        if role in self.roles:
            return True
        return (
            role.kind == "ClusterRole"
            and not self.full_cluster
            and is_builtin_cluster_role(role.name)
        )

    def rules(self, role: RoleRef) -> tuple[Rule, ...]:
        """The rules ``role`` grants, aggregated ones included; for a default ClusterRole
        absent from the inventory, its default rules; else none."""
        found = self._rules.get(role)
        if found is not None:
            return found
        defaults = DEFAULT_CLUSTER_ROLES.get(role.name) if role.kind == "ClusterRole" else None
        if defaults is None:
            return ()
        label = f"{role} (Kubernetes default)"
        return tuple(Rule.parse(r, label, i) for i, r in enumerate(defaults))

    def binding(self, kind: str, namespace: str, name: str) -> Binding | None:
        return self.bindings.get((kind, namespace, name))

    def bindings_of(self, subjects: Iterable[Subject]) -> list[Binding]:
        """Bindings naming any of ``subjects``, each once, in inventory order."""
        found: dict[int, Binding] = {}
        for subject in subjects:
            for binding in self._by_subject.get(subject, ()):
                found.setdefault(id(binding), binding)
        return list(found.values())

    def _own(self, ref: RoleRef) -> list[Rule]:
        obj = self.roles.get(ref)
        if obj is None:
            return []
        label = str(ref)
        return [Rule.parse(r, label, i) for i, r in enumerate(as_mappings(obj.get("rules")))]

    def _selected(self, ref: RoleRef) -> list[RoleRef]:
        """The ClusterRoles ``ref``'s aggregationRule selects (none for other roles)."""
        obj = self.roles.get(ref)
        if obj is None or ref.kind != "ClusterRole":
            return []
        selectors = as_mappings(dig(obj, "aggregationRule").get("clusterRoleSelectors"))
        return [
            RoleRef("ClusterRole", "", name)
            for raw in selectors
            for name in self._by_labels.select("", Selector.from_label_selector(raw))
        ]

    def _resolve(self, ref: RoleRef) -> tuple[Rule, ...]:
        """The role's own rules plus those of every ClusterRole its aggregation reaches,
        directly or through other aggregated roles (cycles included): the state the
        aggregation controller converges to."""
        rules = self._own(ref)
        seen, pending = {ref}, [ref]
        while pending:
            for source in self._selected(pending.pop()):
                if source not in seen:
                    seen.add(source)
                    pending.append(source)
                    rules.extend(self._own(source))
        unique: dict[tuple[frozenset[str], ...], Rule] = {}
        for rule in rules:
            key = (
                rule.verbs,
                rule.api_groups,
                rule.resources,
                rule.resource_names,
                rule.non_resource_urls,
            )
            unique.setdefault(key, rule)
        return tuple(unique.values())


def _binding(kind: str, obj: KubeObject) -> Binding:
    namespace = namespace_of(obj) if kind == "RoleBinding" else ""
    ref = as_mapping(obj.get("roleRef"))
    role_kind = str(ref.get("kind") or "")
    role = RoleRef(role_kind, namespace if role_kind == "Role" else "", str(ref.get("name") or ""))
    subjects = []
    for raw in as_mappings(obj.get("subjects")):
        subject_kind = str(raw.get("kind") or "")
        subject_namespace = ""
        if subject_kind == "ServiceAccount":
            subject_namespace = str(raw.get("namespace") or namespace)
        subjects.append(Subject(subject_kind, str(raw.get("name") or ""), subject_namespace))
    return Binding(kind, namespace, name_of(obj), obj, role, tuple(subjects))


def authz(inventory: Inventory) -> RbacIndex:
    """The inventory's RBAC index, built once per inventory."""
    return inventory.memo("security:rbac", lambda: RbacIndex(inventory))
