"""Security checks on NetworkPolicies: pods no policy isolates, namespaces without a default
deny, and policies whose selectors match nothing (SEC-024..SEC-026).

Selectors have full label-selector semantics (``matchLabels`` and every ``matchExpressions``
operator, :class:`~assay.server.inventory.Selector`). Lookups go through indexes built once
per run (``inventory.memo``): policies by the labels they select, workloads by pod-template
labels within a namespace and across namespaces, namespaces by their labels (every namespace
carries ``kubernetes.io/metadata.name``). No policy is compared with every pod.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from assay.server.checks.kit import (
    Applicability,
    CheckDefinition,
    Context,
    Finding,
    NoParams,
    Verdict,
    check,
    fail,
    ok,
    param,
    per_object,
    per_workload,
    problems_or_ok,
    ref_of,
)
from assay.server.checks.kit.system_objects import SYSTEM_NAMESPACES
from assay.server.core.types import ObjectRef, Pillar, Severity
from assay.server.inventory import WORKLOAD_KINDS, Inventory, Selector, Workload
from assay.server.inventory.raw import (
    KubeObject,
    as_mapping,
    as_mappings,
    dig,
    labels_of,
    name_of,
    namespace_of,
)
from assay.server.inventory.selectors import LabelIndex, SelectorIndex

INGRESS, EGRESS = "Ingress", "Egress"
NAME_LABEL = "kubernetes.io/metadata.name"


def pod_selector(policy: KubeObject) -> Selector:
    """``spec.podSelector``; the field is a required struct, so absent means ``{}``."""
    raw = dig(policy, "spec").get("podSelector")
    return Selector.from_label_selector({} if raw is None else raw)


def policy_types(policy: KubeObject) -> frozenset[str]:
    """``spec.policyTypes``, or the API server's default: Ingress, plus Egress when the
    policy has egress rules."""
    spec = dig(policy, "spec")
    written = spec.get("policyTypes")
    if isinstance(written, list) and written:
        return frozenset(str(t) for t in written)
    return frozenset({INGRESS, EGRESS} if as_mappings(spec.get("egress")) else {INGRESS})


def describe(selector: Selector) -> str:
    """``{app: web, tier In (a, b), canary DoesNotExist}``."""
    parts = [f"{k}: {v}" for k, v in selector.match_labels]
    for r in selector.expressions:
        values = f" ({', '.join(sorted(r.values))})" if r.values else ""
        parts.append(f"{r.key} {r.operator}{values}")
    return "{" + ", ".join(parts) + "}"


def _policies_selecting(inventory: Inventory) -> SelectorIndex[KubeObject]:
    return inventory.memo(
        "security:netpol-selecting",
        lambda: SelectorIndex(
            (namespace_of(p), pod_selector(p), p) for p in inventory.objects("NetworkPolicy")
        ),
    )


@dataclass(frozen=True)
class IsolationParams:
    exempt_namespaces: frozenset[str] = param(
        SYSTEM_NAMESPACES,
        "namespaces whose workloads are not judged: the control plane's own, as for SEC-025",
    )


def _isolatable(workload: Workload, ctx: Context[Any]) -> bool:
    return (
        workload.pod_spec.get("hostNetwork") is not True
        and workload.namespace not in ctx.params.exempt_namespaces
    )


SEC_024 = CheckDefinition(
    id="SEC-024",
    pillar=Pillar.SECURITY,
    name="Pod not isolated by NetworkPolicy",
    description=(
        "A pod that no NetworkPolicy selects accepts connections from, and opens connections "
        "to, every pod in the cluster and beyond: one compromised pod can reach it, and it "
        "can reach anything."
    ),
    severity=Severity.HIGH,
    scope="X",
    remediation=(
        "Add a NetworkPolicy in the pod's namespace whose podSelector matches its template "
        "labels, with policyTypes [Ingress, Egress] and rules for the traffic it needs (or "
        "a namespace-wide default deny plus allow rules); check that the cluster's CNI "
        "enforces NetworkPolicy."
    ),
    kinds=(*WORKLOAD_KINDS, "NetworkPolicy"),
    applies_to=Applicability(
        "workloads not on the host network (NetworkPolicy does not apply to host-network "
        "pods), outside the exempt namespaces",
        _isolatable,
    ),
    params=IsolationParams,
    notes=(
        "Stricter than kube-linter's non-isolated-pod and kube-score's pod-networkpolicy, "
        "which accept any selecting policy: ingress and egress are judged apart, and a pod "
        "isolated in one direction only fails naming the other. The control plane's "
        "namespaces are exempt by default, as for SEC-025.",
    ),
)


@per_workload(SEC_024)
def not_isolated(workload: Workload, ctx: Context[IsolationParams]) -> Verdict:
    policies = _policies_selecting(ctx.inventory).selecting(workload.namespace, workload.labels)
    by_type: dict[str, list[str]] = {INGRESS: [], EGRESS: []}
    for policy in policies:
        for kind in policy_types(policy) & by_type.keys():
            by_type[kind].append(name_of(policy))
    open_ = [kind for kind in (INGRESS, EGRESS) if not by_type[kind]]
    isolated = [
        f"{k.lower()} is isolated by {', '.join(by_type[k])}"
        for k in (INGRESS, EGRESS)
        if by_type[k]
    ]
    where = f"namespace {workload.namespace}"
    if len(open_) == 2:
        reason = "no policy selects its pod labels" if not policies else "none lists either type"
        return fail(
            f"ingress and egress are open: no NetworkPolicy in {where} isolates them ({reason})"
        )
    if open_:
        kind = open_[0]
        return fail(
            f"{kind.lower()} is open: no NetworkPolicy in {where} with {kind} in policyTypes "
            f"selects its pod labels ({isolated[0]})"
        )
    return ok("; ".join(isolated))


@dataclass(frozen=True)
class DefaultDenyParams:
    exempt_namespaces: frozenset[str] = param(
        SYSTEM_NAMESPACES,
        "namespaces not judged: the control plane's own, where a default deny breaks "
        "cluster add-ons",
    )


def _allows_everything(rule: KubeObject, peers: str) -> bool:
    return not as_mappings(rule.get(peers)) and not as_mappings(rule.get("ports"))


def default_deny(policies: list[KubeObject], kind: str) -> list[str]:
    """Policies of a namespace that deny ``kind`` traffic by default: an empty podSelector,
    ``kind`` in policyTypes, and no rule of that direction allowing everything."""
    rules_field, peers = ("ingress", "from") if kind == INGRESS else ("egress", "to")
    return [
        name_of(p)
        for p in policies
        if pod_selector(p).selects_everything
        and kind in policy_types(p)
        and not any(
            _allows_everything(r, peers) for r in as_mappings(dig(p, "spec").get(rules_field))
        )
    ]


def _namespace_ref(inventory: Inventory, namespace: str) -> ObjectRef:
    obj = inventory.get("Namespace", "", namespace)
    return ref_of("Namespace", obj) if obj is not None else ObjectRef("Namespace", namespace)


SEC_025 = CheckDefinition(
    id="SEC-025",
    pillar=Pillar.SECURITY,
    name="No default-deny NetworkPolicy",
    description=(
        "Without a default-deny policy, every new pod of the namespace starts open and stays "
        "so until someone writes a policy for it; with one, forgetting a policy breaks "
        "traffic loudly instead of exposing it silently."
    ),
    severity=Severity.MEDIUM,
    scope="N",
    remediation=(
        "Add a NetworkPolicy with podSelector: {} and policyTypes [Ingress, Egress] and no "
        "rules (or only narrow ones, such as DNS egress to kube-system), then one allow "
        "policy per workload for the traffic it needs."
    ),
    kinds=("Namespace", "NetworkPolicy"),
    applies_to=Applicability(
        "every namespace in the inventory (Namespace objects and namespaces holding objects) "
        "except the exempt ones"
    ),
    params=DefaultDenyParams,
    notes=(
        "Two policies, one denying ingress and one egress, count as well as one with both "
        "types; a policy whose rules include an allow-all rule (no peers, no ports) for a "
        "direction does not deny it. Softer than kubescape's C-0030 in exempting the "
        "control-plane namespaces by default.",
    ),
)


@check(SEC_025)
def no_default_deny(ctx: Context[DefaultDenyParams]) -> Iterator[Finding]:
    inventory = ctx.inventory
    for namespace in inventory.namespaces():
        if namespace in ctx.params.exempt_namespaces:
            continue
        policies = list(inventory.objects("NetworkPolicy", namespace))
        ref = _namespace_ref(inventory, namespace)
        missing, denied = [], []
        for kind in (INGRESS, EGRESS):
            names = default_deny(policies, kind)
            if names:
                denied.append(f"{kind.lower()} is denied by default by {', '.join(names)}")
            else:
                missing.append(kind.lower())
        if missing:
            types = " and ".join(k.capitalize() for k in missing)
            also = f"; {denied[0]}" if denied else ""
            yield Finding.failing(
                ref,
                f"no default deny for {' and '.join(missing)}: no NetworkPolicy has an empty "
                f"podSelector, {types} in policyTypes and no allow-all rule{also}",
            )
        else:
            yield Finding.passing(ref, "; ".join(denied))


@dataclass
class _Reach:
    """Which selectors match something: workloads by labels within and across namespaces,
    namespaces by labels. Answers are cached per selector: policies repeat their peers (the
    DNS egress rule, the ingress controller's namespace)."""

    inventory: Inventory
    anywhere: LabelIndex[str]
    namespaces: LabelIndex[str]
    _namespaces_cache: dict[Selector, frozenset[str]] = field(default_factory=dict)
    _peer_cache: dict[tuple[Selector, Selector], bool] = field(default_factory=dict)

    @classmethod
    def of(cls, inventory: Inventory) -> _Reach:
        labels: dict[str, dict[str, str]] = {n: {NAME_LABEL: n} for n in inventory.namespaces()}
        for obj in inventory.objects("Namespace"):
            labels[name_of(obj)] = labels_of(obj) | {NAME_LABEL: name_of(obj)}
        return cls(
            inventory,
            LabelIndex(("", w.labels, w.namespace) for w in inventory.workloads()),
            LabelIndex(("", found, name) for name, found in labels.items()),
        )

    def namespaces_matching(self, selector: Selector) -> frozenset[str]:
        found = self._namespaces_cache.get(selector)
        if found is None:
            found = frozenset(self.namespaces.select("", selector))
            self._namespaces_cache[selector] = found
        return found

    def pods_in(self, namespace: str, selector: Selector) -> bool:
        return bool(self.inventory.workloads_selected(namespace, selector))

    def pods_in_any(self, namespaces: Selector, pods: Selector) -> bool:
        key = (namespaces, pods)
        found = self._peer_cache.get(key)
        if found is None:
            wanted = self.namespaces_matching(namespaces)
            found = any(ns in wanted for ns in self.anywhere.select("", pods))
            self._peer_cache[key] = found
        return found


def _reach(inventory: Inventory) -> _Reach:
    return inventory.memo("security:netpol-reach", lambda: _Reach.of(inventory))


def _peer_problems(reach: _Reach, namespace: str, where: str, peer: KubeObject) -> list[str]:
    raw_pods, raw_namespaces = peer.get("podSelector"), peer.get("namespaceSelector")
    pods = None if raw_pods is None else Selector.from_label_selector(raw_pods)
    if raw_namespaces is None:
        if pods is None or pods.selects_everything or reach.pods_in(namespace, pods):
            return []
        return [f"{where}.podSelector {describe(pods)} matches no pod in namespace {namespace}"]
    namespaces_selector = Selector.from_label_selector(raw_namespaces)
    matched = reach.namespaces_matching(namespaces_selector)
    if not matched:
        return [f"{where}.namespaceSelector {describe(namespaces_selector)} matches no namespace"]
    if pods is None or pods.selects_everything or reach.pods_in_any(namespaces_selector, pods):
        return []
    return [
        f"{where}.podSelector {describe(pods)} matches no pod in the namespaces "
        f"{where}.namespaceSelector {describe(namespaces_selector)} selects"
    ]


SEC_026 = CheckDefinition(
    id="SEC-026",
    pillar=Pillar.SECURITY,
    name="NetworkPolicy selects nothing",
    description=(
        "A policy whose selector matches nothing is usually a typo: the pods it was written "
        "for stay unprotected, or the traffic it was meant to allow is blocked by the "
        "namespace's default deny."
    ),
    severity=Severity.MEDIUM,
    scope="X",
    remediation=(
        "Compare the selector with the pod-template labels (kubectl get pods -n <ns> "
        "--show-labels) and the namespace labels (kubectl get ns --show-labels); fix the "
        "label or delete the policy if its workload is gone."
    ),
    kinds=("NetworkPolicy", "Namespace", *WORKLOAD_KINDS),
    notes=(
        "Broader than kube-linter's dangling-networkpolicy and dangling-networkpolicypeer-"
        "podselector: namespaceSelectors and peers with both selectors are judged too, with "
        "matchExpressions; namespaces match on their labels plus kubernetes.io/metadata.name, "
        "which the API server sets on every namespace. Empty selectors ({}) always pass.",
    ),
)


@per_object(SEC_026, kinds=("NetworkPolicy",), include_owned=True)
def selects_nothing(policy: KubeObject, ctx: Context[NoParams]) -> Verdict:
    reach = _reach(ctx.inventory)
    namespace = namespace_of(policy)
    spec = dig(policy, "spec")
    problems = []
    selector = pod_selector(policy)
    if not selector.selects_everything and not reach.pods_in(namespace, selector):
        problems.append(
            f"spec.podSelector {describe(selector)} matches no pod in namespace {namespace}"
        )
    for rules_field, peers_field in (("ingress", "from"), ("egress", "to")):
        for i, rule in enumerate(as_mappings(spec.get(rules_field))):
            for j, peer in enumerate(as_mappings(as_mapping(rule).get(peers_field))):
                where = f"{rules_field}[{i}].{peers_field}[{j}]"
                problems.extend(_peer_problems(reach, namespace, where, peer))
    return problems_or_ok(problems, "every selector matches something")


CHECKS = (not_isolated, no_default_deny, selects_nothing)
