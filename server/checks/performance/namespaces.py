"""Performance checks on namespaces as a whole: the LimitRanges and ResourceQuotas that keep
one team's pods from starving another's."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from assay.server.checks.kit import (
    Applicability,
    CheckDefinition,
    Context,
    Finding,
    check,
    param,
)
from assay.server.checks.kit.params import ParamError
from assay.server.checks.kit.quantity import format_amount, quantity_or_none
from assay.server.checks.kit.resources import (
    COMPUTE,
    ContainerDefaults,
    container_defaults,
    container_resources,
)
from assay.server.checks.kit.system_objects import SYSTEM_NAMESPACES
from assay.server.core.types import ObjectRef, Pillar, Severity
from assay.server.inventory import WORKLOAD_KINDS, Inventory
from assay.server.inventory.raw import as_mapping, dig, name_of
from assay.server.inventory.workloads import ContainerKind

_WITH_RESOURCES = frozenset({ContainerKind.CONTAINER, ContainerKind.INIT})
IGNORED_HELP = (
    "namespaces not judged; Kubernetes' own hold add-ons sized by the cluster's vendor, "
    "which a LimitRange or quota there would change or block"
)


def namespace_ref(namespace: str) -> ObjectRef:
    return ObjectRef("Namespace", namespace, "")


def namespaces_with_workloads(inventory: Inventory) -> dict[str, int]:
    """Namespaces holding top-level workloads, with how many."""

    def build() -> dict[str, int]:
        counts: dict[str, int] = {}
        for workload in inventory.workloads():
            counts[workload.namespace] = counts.get(workload.namespace, 0) + 1
        return counts

    return inventory.memo("performance:namespaces-with-workloads", build)


def _has_workloads(inventory: Inventory, ctx: Context[Any]) -> bool:
    ignored = ctx.params.ignored_namespaces
    return any(ns not in ignored for ns in namespaces_with_workloads(inventory))


@dataclass(frozen=True)
class LimitRangeParams:
    resources: frozenset[str] = param(
        frozenset(COMPUTE), "resources a LimitRange must give containers a default request for"
    )
    ignored_namespaces: frozenset[str] = param(SYSTEM_NAMESPACES, IGNORED_HELP)


PERF_011 = CheckDefinition(
    id="PERF-011",
    pillar=Pillar.PERFORMANCE_EFFICIENCY,
    name="No LimitRange",
    description=(
        "Without a LimitRange, a container deployed without requests gets none: the "
        "scheduler packs it anywhere, it is BestEffort, and quotas on requests refuse it. A "
        "LimitRange with container defaults is the namespace's safety net."
    ),
    severity=Severity.MEDIUM,
    scope="N",
    remediation=(
        "Add a LimitRange with a type: Container item whose defaultRequest (and default, for "
        "limits) sets cpu and memory to a small, sane size for the namespace, e.g. "
        "defaultRequest {cpu: 100m, memory: 128Mi}, default {memory: 256Mi}."
    ),
    kinds=(*WORKLOAD_KINDS, "Namespace", "LimitRange"),
    applies_to=Applicability(
        "namespaces with workloads, except ignored_namespaces", _has_workloads
    ),
    params=LimitRangeParams,
    notes=(
        "A Container item's default request also comes from its default limit, max or min "
        "(the API server's defaulting of LimitRange objects), so any of them counts.",
        "kube-system, kube-public and kube-node-lease are not judged by default.",
    ),
)


def _containers_without_requests(inventory: Inventory, namespace: str) -> int:
    """How many containers of the namespace's workloads request no cpu or no memory."""

    def build() -> dict[str, int]:
        counts: dict[str, int] = {}
        for workload in inventory.workloads():
            for container in workload.containers(_WITH_RESOURCES):
                requests = container_resources(container).requests
                if any(r not in requests for r in COMPUTE):
                    counts[workload.namespace] = counts.get(workload.namespace, 0) + 1
        return counts

    return inventory.memo("performance:containers-without-requests", build).get(namespace, 0)


def _defaults_text(defaults: ContainerDefaults) -> str:
    parts = [
        f"{prefix} {resource} {format_amount(resource, amount)}"
        for prefix, values in (("request", defaults.requests), ("limit", defaults.limits))
        for resource, amount in sorted(values.items())
        if resource in COMPUTE
    ]
    return ", ".join(parts)


@check(PERF_011)
def no_limit_range(ctx: Context[Any]) -> Iterator[Finding]:
    params: LimitRangeParams = ctx.params
    inventory = ctx.inventory
    for namespace in sorted(namespaces_with_workloads(inventory)):
        if namespace in params.ignored_namespaces:
            continue
        ref = namespace_ref(namespace)
        limit_ranges = inventory.objects("LimitRange", namespace)
        if not limit_ranges:
            bare = _containers_without_requests(inventory, namespace)
            detail = ""
            if bare:
                lack = "container lacks" if bare == 1 else "containers lack"
                detail = f"; {bare} {lack} a cpu or memory request"
            yield Finding.failing(ref, f"no LimitRange gives containers default requests{detail}")
            continue
        defaults = container_defaults(limit_ranges)
        names = ", ".join(name_of(r) for r in limit_ranges)
        missing = sorted(r for r in params.resources if r not in defaults.requests)
        if missing:
            yield Finding.failing(
                ref, f"LimitRange {names} gives no default {' or '.join(missing)} request"
            )
        else:
            yield Finding.passing(ref, f"LimitRange {names} defaults {_defaults_text(defaults)}")


@dataclass(frozen=True)
class QuotaParams:
    fill_ratio: Decimal = param(
        Decimal("0.9"),
        "a quota whose status.used reaches this share of hard for any resource fails",
    )
    ignored_namespaces: frozenset[str] = param(SYSTEM_NAMESPACES, IGNORED_HELP)

    def __post_init__(self) -> None:
        if not 0 < self.fill_ratio <= 1:
            raise ParamError("fill_ratio", f"must be above 0 and at most 1, got {self.fill_ratio}")


def _quota_namespaces(inventory: Inventory) -> list[str]:
    found = set(namespaces_with_workloads(inventory))
    found.update(inventory.namespaces_of("ResourceQuota"))
    return sorted(found)


def _has_namespaces(inventory: Inventory, ctx: Context[Any]) -> bool:
    return any(ns not in ctx.params.ignored_namespaces for ns in _quota_namespaces(inventory))


PERF_012 = CheckDefinition(
    id="PERF-012",
    pillar=Pillar.PERFORMANCE_EFFICIENCY,
    name="No/exhausted ResourceQuota",
    description=(
        "A namespace without a ResourceQuota can claim the whole cluster; one whose quota is "
        "nearly used up will refuse the next rollout, scale-out or Job with a 403 that is "
        "easy to miss."
    ),
    severity=Severity.MEDIUM,
    scope="N (+L)",
    remediation=(
        "Give every team namespace a ResourceQuota on requests.cpu, requests.memory (and "
        "pods, persistentvolumeclaims, services.loadbalancers as needed); when status.used "
        "approaches hard, raise the quota or reclaim what the namespace no longer uses."
    ),
    kinds=(*WORKLOAD_KINDS, "Namespace", "ResourceQuota"),
    applies_to=Applicability(
        "namespaces with workloads or quotas, except ignored_namespaces", _has_namespaces
    ),
    params=QuotaParams,
    notes=(
        "The fill (status.used against status.hard, falling back to spec.hard) is only known "
        "live; on manifests only the quota's presence is judged. A hard limit of 0 blocks a "
        "resource on purpose and is never 'exhausted'.",
        "kube-system, kube-public and kube-node-lease are not judged by default.",
    ),
)


def _fills(quota: Any) -> list[tuple[Decimal, str]]:
    status = dig(quota, "status")
    hard = as_mapping(status.get("hard")) or dig(quota, "spec", "hard")
    used = as_mapping(status.get("used"))
    found = []
    for resource, limit_raw in hard.items():
        limit = quantity_or_none(limit_raw)
        amount = quantity_or_none(used.get(resource))
        if limit is None or amount is None or limit <= 0:
            continue
        base = str(resource).rsplit(".", 1)[-1]
        text = (
            f"{resource} {format_amount(base, amount)} of {format_amount(base, limit)} "
            f"({amount / limit:.0%})"
        )
        found.append((amount / limit, text))
    return found


@check(PERF_012)
def resource_quota(ctx: Context[Any]) -> Iterator[Finding]:
    params: QuotaParams = ctx.params
    inventory = ctx.inventory
    for namespace in _quota_namespaces(inventory):
        if namespace in params.ignored_namespaces:
            continue
        ref = namespace_ref(namespace)
        quotas = inventory.objects("ResourceQuota", namespace)
        if not quotas:
            yield Finding.failing(ref, "no ResourceQuota caps what the namespace may claim")
            continue
        full: list[str] = []
        highest: tuple[Decimal, str] | None = None
        for quota in quotas:
            for ratio, text in _fills(quota):
                labelled = f"ResourceQuota {name_of(quota)}: {text}"
                if ratio >= params.fill_ratio:
                    full.append(labelled)
                if highest is None or ratio > highest[0]:
                    highest = (ratio, labelled)
        names = ", ".join(name_of(q) for q in quotas)
        if full:
            yield Finding.failing(
                ref, f"{'; '.join(full)}: at or above {params.fill_ratio:.0%} of hard"
            )
        elif highest is not None:
            yield Finding.passing(ref, f"fullest is {highest[1]}")
        else:
            yield Finding.passing(ref, f"ResourceQuota {names} (no usage reported)")


CHECKS = (no_limit_range, resource_quota)
