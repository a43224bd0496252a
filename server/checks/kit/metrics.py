"""Resource usage from the resource metrics API (``metrics.k8s.io/v1beta1``), as numbers.

metrics-server (or another implementation of that API) serves one ``PodMetrics`` per running
pod (per-container ``usage``) and one ``NodeMetrics`` per node (``usage``), each with the
``timestamp`` of the sample and the ``window`` it averages CPU over. The live loader lists
them as the kinds ``PodMetrics`` and ``NodeMetrics``; checks read them here, parsed once per
inventory::

    usage = pod_usage(inventory, "shop", "web-7d9f-x2")     # PodUsage | None
    usage.containers["app"].cpu                              # Decimal cores | None
    node_usage(inventory, "node-a").usage.memory             # Decimal bytes | None
    node_shares(inventory, node)                             # usage against allocatable
    for workload in workload_samples(inventory): ...         # usage next to requests/limits

A sample is one point in time (CPU averaged over a window of seconds, memory the working
set at that moment), not a trend: :meth:`Sample.caveat` says so in every message that
judges from it. Malformed values are kept as ``problems`` rather than raised.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from assay.server.checks.kit.definition import Finding
from assay.server.checks.kit.owners import pods_by_workload
from assay.server.checks.kit.quantity import QuantityError, format_amount, parse_quantity, shown
from assay.server.checks.kit.resources import COMPUTE, Resources, container_resources
from assay.server.checks.kit.scheduling import allocatable
from assay.server.core.types import ObjectRef
from assay.server.inventory.model import Inventory
from assay.server.inventory.raw import (
    KubeObject,
    as_mapping,
    as_mappings,
    dig,
    name_of,
    namespace_of,
)
from assay.server.inventory.workloads import Container, ContainerKind, containers

METRICS_KINDS = ("PodMetrics", "NodeMetrics")
USAGE_RESOURCES = ("cpu", "memory")
_RUNNING = frozenset({ContainerKind.CONTAINER, ContainerKind.INIT})

_DURATION_PART = re.compile(r"([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(ns|us|\u00b5s|\u03bcs|ms|s|m|h)")
_DURATION_SECONDS = {
    "ns": 1e-9,
    "us": 1e-6,
    "\u00b5s": 1e-6,
    "\u03bcs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}
_MAX_DURATION_S = 366 * 86400.0


@dataclass(frozen=True, slots=True)
class Sample:
    """When a metrics sample was taken and the window CPU usage is averaged over."""

    timestamp: datetime | None
    window: timedelta | None

    @property
    def caveat(self) -> str:
        """The sentence every judgement from this sample carries."""
        when = ""
        if self.timestamp is not None:
            when = f" taken {self.timestamp.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}"
        over = f" over a {_seconds(self.window)} window" if self.window is not None else ""
        return f"one metrics-server sample{when}{over}: a point in time, not a trend"


@dataclass(frozen=True, slots=True)
class Usage:
    """CPU (cores) and memory (bytes) in use; ``None`` where the sample has no valid value."""

    cpu: Decimal | None
    memory: Decimal | None

    def get(self, resource: str) -> Decimal | None:
        if resource == "cpu":
            return self.cpu
        if resource == "memory":
            return self.memory
        return None


@dataclass(frozen=True, slots=True)
class PodUsage:
    namespace: str
    name: str
    sample: Sample
    containers: Mapping[str, Usage]
    problems: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class NodeUsage:
    name: str
    sample: Sample
    usage: Usage
    problems: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ContainerSample:
    """One running container's usage next to what it requests and is limited to."""

    pod: str
    container: Container
    usage: Usage
    resources: Resources
    sample: Sample
    pod_started: datetime | None


@dataclass(frozen=True, slots=True)
class WorkloadSamples:
    """The samples of a top-level workload's running pods, by container name."""

    ref: ObjectRef
    running_pods: int
    sampled_pods: int
    containers: Mapping[str, tuple[ContainerSample, ...]]


def workload_samples(inventory: Inventory) -> tuple[WorkloadSamples, ...]:
    """Every top-level workload with running pods, and the samples of those pods' containers
    and sidecars (compared with the pod's own resources, as admitted)."""
    return inventory.memo("kit:workload-samples", lambda: _workload_samples(inventory))


def _workload_samples(inventory: Inventory) -> tuple[WorkloadSamples, ...]:
    found = []
    for ref, pods in pods_by_workload(inventory).items():
        running = [p for p in pods if dig(p, "status").get("phase") == "Running"]
        if not running:
            continue
        by_container: dict[str, list[ContainerSample]] = {}
        sampled = 0
        for pod in running:
            usage = pod_usage(inventory, namespace_of(pod), name_of(pod))
            if usage is None:
                continue
            sampled += 1
            started = parse_timestamp(dig(pod, "status").get("startTime"))
            for container in containers(dig(pod, "spec"), _RUNNING):
                if container.kind is ContainerKind.INIT and not container.is_sidecar:
                    continue
                measured = usage.containers.get(container.name)
                if measured is None:
                    continue
                by_container.setdefault(container.name, []).append(
                    ContainerSample(
                        name_of(pod),
                        container,
                        measured,
                        container_resources(container),
                        usage.sample,
                        started,
                    )
                )
        found.append(
            WorkloadSamples(
                ref, len(running), sampled, {k: tuple(v) for k, v in by_container.items()}
            )
        )
    return tuple(found)


def pod_usage(inventory: Inventory, namespace: str, name: str) -> PodUsage | None:
    """The pod's last sample, or ``None`` when the metrics API has none (the pod is not
    running, or was not scraped yet)."""
    return _pod_index(inventory).get((namespace, name))


def node_usage(inventory: Inventory, name: str) -> NodeUsage | None:
    return _node_index(inventory).get(name)


def unsampled(workload: WorkloadSamples) -> Finding:
    """The skipped result of a workload whose running pods have no sample yet."""
    return Finding.skipped(
        workload.ref,
        f"no metrics sample for its {workload.running_pods} running pods (not scraped yet)",
    )


NO_NODE_SAMPLE = "no NodeMetrics sample (node not ready or not scraped)"


@dataclass(frozen=True, slots=True)
class NodeShare:
    """One resource of a node's sampled usage against its allocatable amount."""

    resource: str
    used: Decimal
    allocatable: Decimal

    @property
    def ratio(self) -> Decimal:
        return self.used / self.allocatable

    def text(self, of: str = "") -> str:
        """``cpu 310m of 8 (4%)``, with ``of`` said after the allocatable amount."""
        used, total = (format_amount(self.resource, n) for n in (self.used, self.allocatable))
        return f"{self.resource} {used} of {total}{of} ({self.ratio:.0%})"


def node_shares(
    inventory: Inventory, node: KubeObject
) -> tuple[NodeUsage, tuple[NodeShare, ...]] | None:
    """The node's sample and the share of its allocatable CPU and memory in use (a resource
    without usable usage or allocatable is left out); ``None`` without a sample."""
    measured = node_usage(inventory, name_of(node))
    if measured is None:
        return None
    capacity = allocatable(node)
    shares = tuple(
        NodeShare(resource, used, capacity[resource])
        for resource in COMPUTE
        if (used := measured.usage.get(resource)) is not None and capacity[resource]
    )
    return measured, shares


def has_metrics(inventory: Inventory) -> bool:
    """Whether the inventory holds any sample (the API may be served yet return nothing)."""
    return bool(inventory.objects("PodMetrics") or inventory.objects("NodeMetrics"))


def _pod_index(inventory: Inventory) -> dict[tuple[str, str], PodUsage]:
    def build() -> dict[tuple[str, str], PodUsage]:
        found = {}
        for obj in inventory.objects("PodMetrics"):
            usage = read_pod_metrics(obj)
            found[(usage.namespace, usage.name)] = usage
        return found

    return inventory.memo("kit:pod-metrics", build)


def _node_index(inventory: Inventory) -> dict[str, NodeUsage]:
    def build() -> dict[str, NodeUsage]:
        return {name_of(o): read_node_metrics(o) for o in inventory.objects("NodeMetrics")}

    return inventory.memo("kit:node-metrics", build)


def read_pod_metrics(obj: KubeObject) -> PodUsage:
    """A ``PodMetrics`` object as numbers; bad fields become ``problems``."""
    problems: list[str] = []
    sample = _sample(obj, problems)
    containers: dict[str, Usage] = {}
    for entry in as_mappings(obj.get("containers")):
        container = str(entry.get("name") or "")
        containers[container] = _usage(entry.get("usage"), f"container {container}", problems)
    return PodUsage(namespace_of(obj), name_of(obj), sample, containers, tuple(problems))


def read_node_metrics(obj: KubeObject) -> NodeUsage:
    problems: list[str] = []
    sample = _sample(obj, problems)
    usage = _usage(obj.get("usage"), "node", problems)
    return NodeUsage(name_of(obj), sample, usage, tuple(problems))


def _sample(obj: KubeObject, problems: list[str]) -> Sample:
    timestamp = parse_timestamp(obj.get("timestamp"))
    if obj.get("timestamp") is not None and timestamp is None:
        problems.append(f"timestamp {shown(obj.get('timestamp'))} is not an RFC 3339 time")
    window = parse_duration(obj.get("window"))
    if obj.get("window") is not None and window is None:
        problems.append(f"window {shown(obj.get('window'))} is not a duration")
    return Sample(timestamp, window)


def _usage(raw: object, where: str, problems: list[str]) -> Usage:
    values: dict[str, Decimal | None] = {}
    usage = as_mapping(raw)
    for resource in USAGE_RESOURCES:
        value = usage.get(resource)
        values[resource] = None
        if value is None:
            continue
        try:
            amount = parse_quantity(value)
        except QuantityError as exc:
            problems.append(f"{where} {resource} usage: {exc}")
            continue
        if amount < 0:
            problems.append(f"{where} {resource} usage {shown(value)} is negative")
            continue
        values[resource] = amount
    return Usage(values["cpu"], values["memory"])


def parse_timestamp(value: object) -> datetime | None:
    """An RFC 3339 time (``2024-05-01T10:00:05Z``) with its offset, or ``None``. A YAML
    timestamp a manifest reader already parsed is taken as is (UTC when it has no zone)."""
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    if not isinstance(value, str) or not 20 <= len(value) <= 40:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def parse_duration(value: object) -> timedelta | None:
    """A Go duration string (``30s``, ``1m0s``, ``20.05s``, ``1h2m``), or ``None``.

    Durations above a year or longer than 64 characters are refused as implausible.
    """
    if not isinstance(value, str) or not value or len(value) > 64:
        return None
    if value == "0":
        return timedelta(0)
    seconds = 0.0
    position = 0
    while position < len(value):
        part = _DURATION_PART.match(value, position)
        if part is None:
            return None
        seconds += float(part[1]) * _DURATION_SECONDS[part[2]]
        if seconds > _MAX_DURATION_S:
            return None
        position = part.end()
    return timedelta(seconds=seconds)


def _seconds(window: timedelta) -> str:
    seconds = window.total_seconds()
    return f"{seconds:g}s"
