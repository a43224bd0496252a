"""Reliability checks on how workloads are controlled and rolled out: unsafe Deployment
strategies (REL-010), pods no controller manages (REL-011) and controller selectors that do
not match their own pod template (REL-014). Listed in the pillar's ``CHECKS``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from assay.server.checks.kit import (
    Applicability,
    CheckDefinition,
    Context,
    NoParams,
    Verdict,
    fail,
    ok,
    per_object,
    per_workload,
    skip,
)
from assay.server.checks.kit.applies import CONTROLLER_KINDS, controllers, expected_replicas
from assay.server.checks.kit.text import shown
from assay.server.core.types import Pillar, Severity
from assay.server.inventory import Workload
from assay.server.inventory.raw import KubeObject, dig, name_of
from assay.server.inventory.selectors import OPERATORS, Requirement, Selector
from assay.server.inventory.workloads import controller_owner, owner_references

_PERCENT = re.compile(r"^(\d{1,9})%$")


def _deployments(workload: Workload, ctx: Context[Any]) -> bool:
    return workload.kind == "Deployment"


REL_010 = CheckDefinition(
    id="REL-010",
    pillar=Pillar.RELIABILITY,
    name="Unsafe rollout strategy",
    description=(
        "A Recreate rollout stops every pod before starting the new ones, so a Service in "
        "front of the Deployment has no endpoint until they are ready; a RollingUpdate whose "
        "maxUnavailable covers every replica can do the same."
    ),
    severity=Severity.LOW,
    scope="W",
    remediation=(
        "Use strategy.type: RollingUpdate with a maxUnavailable below the replica count "
        "(0 with maxSurge: 1 keeps full capacity during a rollout); keep Recreate only for "
        "workloads that cannot run two versions at once (a ReadWriteOnce volume, a "
        "singleton), and then exempt them with the reason."
    ),
    kinds=("Deployment", "Service", "HorizontalPodAutoscaler", "ScaledObject"),
    applies_to=Applicability("Deployments", _deployments),
    notes=(
        "Softer than kube-linter's no-rolling-update-strategy, which flags every Recreate "
        "Deployment: Recreate fails only when a Service selects the pods. maxUnavailable "
        "percentages round down, as the Deployment controller rounds them; the replica count "
        "is spec.replicas, or an autoscaler's minimum when higher.",
    ),
)


@per_workload(REL_010)
def unsafe_rollout(workload: Workload, ctx: Context[NoParams]) -> Verdict:
    strategy = dig(workload.spec, "strategy")
    kind = strategy.get("type") or "RollingUpdate"
    if kind == "Recreate":
        services = ctx.inventory.selecting("Service", workload.namespace, workload.labels)
        if not services:
            return ok("Recreate, and no Service selects its pods")
        names = ", ".join(shown(name_of(s), 60) for s in services[:3])
        return fail(
            f"strategy Recreate while Service {names} routes to its pods: every rollout "
            "leaves the Service without endpoints until the new pods are ready"
        )
    if kind != "RollingUpdate":
        return skip(f"strategy.type {shown(kind)} is neither RollingUpdate nor Recreate")
    raw = dig(strategy, "rollingUpdate").get("maxUnavailable", "25%")
    replicas = expected_replicas(ctx.inventory, workload)
    unavailable = _unavailable(raw, replicas)
    if unavailable is None:
        return skip(f"maxUnavailable {shown(raw)} is neither an integer nor a percentage")
    if replicas > 0 and unavailable >= replicas:
        said = f"maxUnavailable {raw}" + (f" (= {unavailable})" if isinstance(raw, str) else "")
        return fail(
            f"{said} with {replicas} replica{'s' if replicas != 1 else ''}: a rollout may take "
            "every pod down at once"
        )
    return ok(f"RollingUpdate keeps {replicas - unavailable} of {replicas} replicas up")


def _unavailable(raw: object, replicas: int) -> int | None:
    """maxUnavailable as a pod count; percentages round down (the controller's rule)."""
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw
    match = _PERCENT.match(raw) if isinstance(raw, str) else None
    return replicas * int(match.group(1)) // 100 if match else None


REL_011 = CheckDefinition(
    id="REL-011",
    pillar=Pillar.RELIABILITY,
    name="Naked Pod",
    description=(
        "A Pod no controller owns is gone for good when it is deleted, evicted or its node "
        "fails: nothing recreates it, and it cannot be rolled out or scaled."
    ),
    severity=Severity.MEDIUM,
    scope="W",
    remediation=(
        "Run the pod through a controller: a Deployment (or StatefulSet for stable identity "
        "and storage) for long-running work, a Job for work that runs to completion, a "
        "DaemonSet for one pod per node; move its spec into the controller's template."
    ),
    kinds=("Pod",),
    applies_to=Applicability(
        "Pods, except those whose controller is in the inventory (reported through it)"
    ),
    notes=(
        "A Pod fails when no ownerReference is marked controller: an owner that is not a "
        "controller only garbage-collects the pod, it does not recreate it. Mirror pods of "
        "static pods are owned by their Node and pass.",
    ),
)


@per_object(REL_011)
def naked_pod(pod: KubeObject, ctx: Context[NoParams]) -> Verdict:
    controller = controller_owner(pod)
    if controller is not None:
        return ok(f"controlled by {_owner(controller)}")
    owners = [_owner(o) for o in owner_references(pod)]
    if owners:
        return fail(f"owned by {', '.join(owners[:3])} but by no controller: nothing recreates it")
    return fail("has no ownerReferences: nothing recreates it if it is deleted or its node fails")


def _owner(reference: KubeObject) -> str:
    kind = reference.get("kind")
    plain = isinstance(kind, str) and kind.isidentifier() and len(kind) <= 63
    return f"{kind if plain else shown(kind, 40)} {shown(reference.get('name'), 60)}"


REL_014 = CheckDefinition(
    id="REL-014",
    pillar=Pillar.RELIABILITY,
    name="Selector/label mismatch",
    description=(
        "A controller whose selector does not match its own pod template labels cannot own "
        "the pods it creates: apps/v1 rejects the object, so the release fails at apply time, "
        "and selectors cannot be changed later without recreating the controller."
    ),
    severity=Severity.CRITICAL,
    scope="W",
    remediation=(
        "Make spec.selector.matchLabels a subset of spec.template.metadata.labels (use the "
        "same stable labels, e.g. app.kubernetes.io/name and instance, never a version); on "
        "an existing object, delete and recreate it, since the selector is immutable."
    ),
    kinds=CONTROLLER_KINDS,
    applies_to=controllers("Deployments, StatefulSets, DaemonSets and ReplicaSets"),
    notes=(
        "Like kube-linter's mismatching-selector, plus absent and empty selectors (both "
        "rejected by apps/v1) and matchExpressions.",
    ),
)


@per_workload(REL_014)
def selector_mismatch(workload: Workload, ctx: Context[NoParams]) -> Verdict:
    raw = workload.spec.get("selector")
    if not isinstance(raw, Mapping):
        return fail("has no spec.selector (apps/v1 requires one)")
    selector = Selector.from_label_selector(raw)
    if selector.selects_everything:
        return fail("spec.selector is empty: apps/v1 rejects it (it would claim every pod)")
    labels = workload.labels
    problems = [
        f"{key}={shown(value, 60)} but the template has {_label(labels, key)}"
        for key, value in selector.match_labels
        if labels.get(key) != value
    ]
    problems.extend(
        _requirement_problem(requirement, labels)
        for requirement in selector.expressions
        if not requirement.matches(labels)
    )
    if problems:
        return fail("spec.selector does not match the pod template labels: " + "; ".join(problems))
    return ok("spec.selector matches the pod template labels")


def _label(labels: Mapping[str, str], key: str) -> str:
    return f"{key}={shown(labels[key], 60)}" if key in labels else f"no {key} label"


def _requirement_problem(requirement: Requirement, labels: Mapping[str, str]) -> str:
    key, operator = requirement.key, requirement.operator
    if operator not in OPERATORS:
        return f"operator {shown(operator)} on {key} is not In, NotIn, Exists or DoesNotExist"
    values = ",".join(sorted(requirement.values))
    condition = f"{key} {operator}" + (f" ({shown(values, 60)})" if values else "")
    return f"{condition} but the template has {_label(labels, key)}"


CHECKS = (unsafe_rollout, naked_pod, selector_mismatch)
