"""Which accesses a binding grants: ``verb resource[.group][/subresource]`` entries (the
access parameters of SEC-021 and SEC-022) matched against the rules of the binding's role,
through the RBAC index (:mod:`.authz`). Called by :mod:`.rbac`.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from assay.server.checks.security.authz import Binding, RbacIndex, Rule
from assay.server.inventory.kinds import KNOWN_RESOURCES

CLUSTER_SCOPED_RESOURCES = frozenset(
    {r.plural for r in KNOWN_RESOURCES.values() if not r.namespaced}
    | {
        "certificatesigningrequests",
        "signers",
        "users",
        "groups",
        "uids",
        "userextras",
        "tokenreviews",
        "subjectaccessreviews",
        "runtimeclasses",
        "volumeattachments",
        "csidrivers",
        "csinodes",
    }
)
"""Resources requested without a namespace: a RoleBinding cannot grant them."""


@dataclass(frozen=True, slots=True)
class Access:
    """One ``verb[,verb] resource[.group][/subresource]`` entry of an access parameter."""

    verbs: tuple[str, ...]
    group: str
    resource: str
    subresource: str

    @classmethod
    def parse(cls, entry: str) -> Access:
        verbs, _, target = entry.strip().partition(" ")
        target = target.strip()
        if not verbs or not target or " " in target:
            raise ValueError(
                f"access entry {entry!r} is not 'verb[,verb] resource[.group][/subresource]'"
            )
        resource_and_group, _, subresource = target.partition("/")
        resource, _, group = resource_and_group.partition(".")
        return cls(tuple(v for v in verbs.split(",") if v), group, resource, subresource)

    @property
    def target(self) -> str:
        name = f"{self.resource}/{self.subresource}" if self.subresource else self.resource
        return f"{name} ({self.group})" if self.group else name

    def reachable(self, verb: str, binding: Binding) -> bool:
        """A RoleBinding cannot grant cluster-scoped resources (binding a ClusterRole inside
        the namespace is the exception: the bind check runs in the binding's namespace)."""
        if binding.cluster_wide or self.resource not in CLUSTER_SCOPED_RESOURCES:
            return True
        return verb == "bind" and self.resource == "clusterroles"


def _parsed(entries: frozenset[str]) -> tuple[Access, ...]:
    return tuple(Access.parse(entry) for entry in sorted(entries))


def granted(index: RbacIndex, binding: Binding, entries: frozenset[str]) -> list[str]:
    """The accesses of ``entries`` the binding's role grants, grouped by granting rule:
    ``get, list, watch secrets (ClusterRole edit rules[1])``. The answer depends only on the
    role and whether the binding is cluster-wide, so it is computed once per pair."""
    accesses = index.cached(("access", entries), lambda: _parsed(entries))
    key = ("granted", entries, binding.role, binding.cluster_wide)
    return index.cached(key, lambda: _granted(index, binding, accesses))


def _granted(index: RbacIndex, binding: Binding, accesses: tuple[Access, ...]) -> list[str]:
    rules = index.rules(binding.role)
    by_rule: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for access in accesses:
        for verb in access.verbs:
            if not access.reachable(verb, binding):
                continue
            rule: Rule | None = next(
                (
                    r
                    for r in rules
                    if r.grants(verb, access.group, access.resource, access.subresource)
                ),
                None,
            )
            if rule is not None and verb not in by_rule[rule.where][access.target]:
                by_rule[rule.where][access.target].append(verb)
    return [
        ", ".join(f"{', '.join(verbs)} {target}" for target, verbs in targets.items())
        + f" ({where})"
        for where, targets in by_rule.items()
    ]
