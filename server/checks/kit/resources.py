"""Container resources as the pods will really get them, and the pod QoS class they give.

What a manifest or a controller's pod template says is not what its pods run with: the API
server copies a limit into a missing request, and the ``LimitRanger`` admission plug-in then
fills missing requests and limits from the namespace's LimitRanges. Checks that judge
requests and limits of templates read them through here::

    defaults = limit_range_defaults(inventory, "shop")
    res = container_resources(container, defaults)
    res.requests["cpu"], res.limits.get("memory"), res.defaulted, res.problems

Malformed or negative values are reported in ``problems`` (and left out), never raised.
Used by the performance and cost checks; :func:`qos_class` follows the kubelet's rules.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from assay.server.checks.kit.quantity import (
    QuantityError,
    format_amount,
    parse_quantity,
    quantity_or_none,
    shown,
)
from assay.server.inventory.model import Inventory
from assay.server.inventory.raw import KubeObject, as_mapping, as_mappings, dig, name_of
from assay.server.inventory.workloads import Container, ContainerKind, containers

COMPUTE = ("cpu", "memory")
_WITH_RESOURCES = frozenset({ContainerKind.CONTAINER, ContainerKind.INIT})


@dataclass(frozen=True, slots=True)
class ContainerDefaults:
    """What a namespace's LimitRanges give a container that does not set a value:
    ``requests``/``limits`` by resource, and which LimitRange each came from."""

    requests: Mapping[str, Decimal] = field(default_factory=dict)
    limits: Mapping[str, Decimal] = field(default_factory=dict)
    sources: Mapping[str, str] = field(default_factory=dict)
    """``"requests.cpu"`` -> the LimitRange's name."""


NO_DEFAULTS = ContainerDefaults()


@dataclass(frozen=True, slots=True)
class Resources:
    """A container's effective requests and limits (valid, non-negative values only)."""

    requests: Mapping[str, Decimal]
    limits: Mapping[str, Decimal]
    defaulted: Mapping[str, str]
    """``"limits.cpu"`` -> where the value came from (``LimitRange x``, ``its limit``)."""
    problems: Mapping[str, str]
    """``"limits.cpu"`` -> why the declared value was left out."""

    def problems_with(self, resource: str) -> list[str]:
        """The messages about ``resource``'s request and limit."""
        return [
            self.problems[k]
            for k in (f"requests.{resource}", f"limits.{resource}")
            if k in self.problems
        ]


def limit_range_defaults(inventory: Inventory, namespace: str) -> ContainerDefaults:
    """The container defaults the namespace's LimitRanges apply at admission."""
    index = inventory.memo("kit:limit-range-defaults", lambda: _defaults_by_namespace(inventory))
    return index.get(namespace, NO_DEFAULTS)


def _defaults_by_namespace(inventory: Inventory) -> dict[str, ContainerDefaults]:
    found = {}
    for namespace in inventory.namespaces_of("LimitRange"):
        found[namespace] = container_defaults(inventory.objects("LimitRange", namespace))
    return found


def container_defaults(limit_ranges: Iterable[KubeObject]) -> ContainerDefaults:
    """Defaults of ``Container`` items, the first LimitRange (by name) winning per value.

    A LimitRange item's ``default`` falls back to its ``max`` and ``defaultRequest`` to its
    ``default``, then its ``min`` (the API server's defaulting of LimitRange objects).
    """
    requests: dict[str, Decimal] = {}
    limits: dict[str, Decimal] = {}
    sources: dict[str, str] = {}
    for limit_range in limit_ranges:
        for item in as_mappings(dig(limit_range, "spec").get("limits")):
            if item.get("type") != "Container":
                continue
            default = _quantities(item.get("max")) | _quantities(item.get("default"))
            default_request = (
                _quantities(item.get("min")) | default | _quantities(item.get("defaultRequest"))
            )
            for target, values, prefix in (
                (limits, default, "limits"),
                (requests, default_request, "requests"),
            ):
                for resource, amount in values.items():
                    if resource not in target:
                        target[resource] = amount
                        sources[f"{prefix}.{resource}"] = name_of(limit_range)
    return ContainerDefaults(requests, limits, sources)


def _quantities(raw: object) -> dict[str, Decimal]:
    found = {}
    for resource, value in as_mapping(raw).items():
        try:
            amount = parse_quantity(value)
        except QuantityError:
            continue
        if amount >= 0:
            found[str(resource)] = amount
    return found


def container_resources(
    container: Container, defaults: ContainerDefaults = NO_DEFAULTS
) -> Resources:
    """The requests and limits ``container``'s pods run with (see the module docstring)."""
    spec = dig(container.spec, "resources")
    problems: dict[str, str] = {}
    requests = _read(spec.get("requests"), "requests", problems)
    limits = _read(spec.get("limits"), "limits", problems)
    declared_requests = set(as_mapping(spec.get("requests")))
    declared_limits = set(as_mapping(spec.get("limits")))
    defaulted: dict[str, str] = {}
    for resource, amount in limits.items():
        if resource not in declared_requests:
            requests[resource] = amount
            defaulted[f"requests.{resource}"] = "its limit"
    for resource, amount in defaults.limits.items():
        if resource not in declared_limits:
            limits[resource] = amount
            defaulted[f"limits.{resource}"] = f"LimitRange {defaults.sources[f'limits.{resource}']}"
    for resource, amount in defaults.requests.items():
        if resource not in declared_requests and resource not in requests:
            requests[resource] = amount
            source = defaults.sources[f"requests.{resource}"]
            defaulted[f"requests.{resource}"] = f"LimitRange {source}"
    return Resources(requests, limits, defaulted, problems)


def _read(raw: object, where: str, problems: dict[str, str]) -> dict[str, Decimal]:
    found = {}
    for resource, value in as_mapping(raw).items():
        key = f"{where}.{resource}"
        try:
            amount = parse_quantity(value)
        except QuantityError as exc:
            problems[key] = f"{key}: {exc}"
            continue
        if amount < 0:
            problems[key] = f"{key} {shown(value)} is negative"
            continue
        found[str(resource)] = amount
    return found


def pod_requests(
    pod_spec: KubeObject, defaults: ContainerDefaults = NO_DEFAULTS
) -> dict[str, Decimal]:
    """What the scheduler reserves for one pod, by compute resource: the larger of (regular
    containers + sidecars) and any init container (with the sidecars started before it),
    plus the pod overhead; pod-level ``spec.resources.requests`` win where set."""
    pod_level = _pod_level(pod_spec)[0] if "resources" in pod_spec else {}
    overhead = _read(pod_spec.get("overhead"), "overhead", {}) if "overhead" in pod_spec else {}
    running = dict.fromkeys(COMPUTE, Decimal(0))
    init_peak = dict.fromkeys(COMPUTE, Decimal(0))
    for container in containers(pod_spec, _WITH_RESOURCES):
        regular = container.kind is ContainerKind.CONTAINER or container.is_sidecar
        for resource in COMPUTE:
            amount = _request(container.spec, resource, defaults)
            if regular:
                running[resource] += amount
            else:
                init_peak[resource] = max(init_peak[resource], amount + running[resource])
    return {
        resource: pod_level.get(resource, max(running[resource], init_peak[resource]))
        + overhead.get(resource, Decimal(0))
        for resource in COMPUTE
    }


def _request(spec: KubeObject, resource: str, defaults: ContainerDefaults) -> Decimal:
    """The effective request of one resource, as :func:`container_resources` reads it
    (the request, else the limit, else the LimitRange default; invalid values count 0),
    without building the whole reading: the scheduler sums are taken over every pod."""
    resources = dig(spec, "resources")
    declared = as_mapping(resources.get("requests"))
    if resource in declared:
        return _valid(declared[resource])
    limit = as_mapping(resources.get("limits")).get(resource)
    if limit is not None:
        amount = _valid(limit)
        if amount or _is_zero(limit):
            return amount
    return defaults.requests.get(resource, Decimal(0))


def _valid(value: object) -> Decimal:
    amount = quantity_or_none(value)
    return amount if amount is not None and amount >= 0 else Decimal(0)


def _is_zero(value: object) -> bool:
    return quantity_or_none(value) == 0


def _pod_level(pod_spec: KubeObject) -> tuple[dict[str, Decimal], dict[str, Decimal]]:
    """Pod-level ``spec.resources`` requests and limits (a limit alone is also the request)."""
    spec = dig(pod_spec, "resources")
    requests = _read(spec.get("requests"), "requests", {})
    limits = _read(spec.get("limits"), "limits", {})
    declared = as_mapping(spec.get("requests"))
    for resource, amount in limits.items():
        if resource not in declared:
            requests[resource] = amount
    return requests, limits


class QoS(enum.StrEnum):
    GUARANTEED = "Guaranteed"
    BURSTABLE = "Burstable"
    BEST_EFFORT = "BestEffort"


_Declared = tuple[str, Mapping[str, Decimal], Mapping[str, Decimal]]


def qos_class(pod_spec: KubeObject, defaults: ContainerDefaults = NO_DEFAULTS) -> tuple[QoS, str]:
    """The pod's QoS class and why it is not Guaranteed (empty when it is).

    As the kubelet computes it: only CPU and memory count and zero values are ignored; the
    pod is BestEffort when nothing is requested or limited, and Guaranteed when every
    container and init container (or the pod-level ``spec.resources``, when set) limits
    both, with requests equal to limits.
    """
    pod_requests_, pod_limits = _pod_level(pod_spec)
    parts: list[_Declared] = []
    if pod_requests_ or pod_limits:
        parts.append(("the pod", pod_requests_, pod_limits))
    else:
        for container in containers(pod_spec, _WITH_RESOURCES):
            res = container_resources(container, defaults)
            parts.append((f"{container.role} {container.name}", res.requests, res.limits))
    declared = any(
        values.get(resource, Decimal(0)) > 0
        for _, requests, limits in parts
        for values in (requests, limits)
        for resource in COMPUTE
    )
    if not declared:
        return QoS.BEST_EFFORT, "no container requests or limits cpu or memory"
    for who, requests, limits in parts:
        for resource in COMPUTE:
            limit = limits.get(resource, Decimal(0))
            request = requests.get(resource, Decimal(0))
            if limit <= 0:
                return QoS.BURSTABLE, f"{who} has no {resource} limit"
            if request != limit:
                return QoS.BURSTABLE, (
                    f"{who} requests {format_amount(resource, request)} {resource} "
                    f"but limits {format_amount(resource, limit)}"
                )
    return QoS.GUARANTEED, ""
