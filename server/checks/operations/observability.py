"""Operational-excellence checks on observability: the metrics pipeline (OPS-007), whether
Prometheus scrapes what runs (OPS-008), and Warning events (OPS-009)."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field

from assay.server.checks.kit import (
    LONG_RUNNING,
    USER_OBJECTS,
    Applicability,
    CheckDefinition,
    Context,
    Finding,
    NoParams,
    check,
    param,
    ref_of,
)
from assay.server.checks.kit.system_objects import created_by_kubernetes
from assay.server.checks.kit.text import counted
from assay.server.core.types import ObjectRef, Pillar, Severity, Source
from assay.server.inventory import WORKLOAD_KINDS, Inventory, Selector, Workload
from assay.server.inventory.raw import (
    KubeObject,
    annotations_of,
    as_mappings,
    dig,
    int_or_none,
    labels_of,
    name_of,
    namespace_of,
)
from assay.server.inventory.selectors import LabelIndex

# -- OPS-007 ------------------------------------------------------------------------------

METRICS_DEPENDENTS = "PERF-009, PERF-010, COST-001 and SUS-002"


@dataclass(frozen=True)
class MetricsPipelineParams:
    apiservice: str = param(
        "v1beta1.metrics.k8s.io", "the APIService that serves the resource metrics API"
    )


OPS_007 = CheckDefinition(
    id="OPS-007",
    pillar=Pillar.OPERATIONAL_EXCELLENCE,
    name="Metrics pipeline present",
    description=(
        "Without the resource metrics API (metrics-server or an adapter) kubectl top, "
        "HorizontalPodAutoscalers on CPU or memory and VerticalPodAutoscalers do not work, "
        "and usage-based checks cannot run."
    ),
    severity=Severity.MEDIUM,
    scope="C+L",
    remediation=(
        "Install metrics-server (or the Prometheus Adapter serving metrics.k8s.io) and check "
        "that its APIService v1beta1.metrics.k8s.io reports Available=True; when it does "
        "not, its condition's message names the failing service or network path."
    ),
    kinds=("APIService",),
    params=MetricsPipelineParams,
    notes=(
        f"When the metrics API is absent, {METRICS_DEPENDENTS} give a skipped result naming "
        "it; this check is the one finding about the absence.",
    ),
)


def _apiservices_unreadable(inventory: Inventory) -> str:
    """Why the inventory cannot say whether an APIService exists, or ``""``."""
    if not inventory.has_api("apiregistration.k8s.io"):
        return "the cluster does not serve apiregistration.k8s.io"
    for diagnostic in inventory.diagnostics:
        if diagnostic.path.endswith("/apiservices"):
            return diagnostic.message
    return ""


@check(OPS_007)
def metrics_pipeline(ctx: Context[MetricsPipelineParams]) -> Iterator[Finding]:
    inventory, name = ctx.inventory, ctx.params.apiservice
    unreadable = _apiservices_unreadable(inventory)
    if unreadable:
        yield Finding.skipped(None, f"cannot tell whether {name} exists: {unreadable}")
        return
    service = inventory.get("APIService", "", name)
    if service is None:
        yield Finding.failing(
            None,
            f"no APIService {name}: the resource metrics API is not installed (kubectl top, "
            f"CPU/memory autoscaling and {METRICS_DEPENDENTS} do not work)",
        )
        return
    ref = ref_of("APIService", service)
    for condition in as_mappings(dig(service, "status").get("conditions")):
        if condition.get("type") != "Available":
            continue
        if condition.get("status") == "True":
            yield Finding.passing(ref, "Available: the resource metrics API is served")
        else:
            why = _clip(f"{condition.get('reason')}: {condition.get('message')}")
            yield Finding.failing(ref, f"not Available ({why})")
        return
    yield Finding.failing(ref, "reports no Available condition: the aggregator has not served it")


def _clip(text: object, most: int = 200) -> str:
    flat = " ".join(str(text).split())
    return flat if len(flat) <= most else flat[: most - 3] + "..."


# -- OPS-008 ------------------------------------------------------------------------------

SCRAPE_ANNOTATION = "prometheus.io/scrape"
OPERATOR_GROUP = "monitoring.coreos.com"


@dataclass
class Coverage:
    """Which Services and workloads the monitors of one inventory select."""

    services: set[tuple[str, str]] = field(default_factory=set)
    workloads: set[tuple[str, str, str]] = field(default_factory=set)
    matched: dict[tuple[str, str, str], int] = field(default_factory=dict)
    """(kind, namespace, name) of each ServiceMonitor or PodMonitor -> objects it selects."""
    annotated: bool = False
    """Some Service or pod template carries the scrape annotation."""


def _monitored_namespaces(monitor: KubeObject, every: tuple[str, ...]) -> tuple[str, ...]:
    selector = dig(monitor, "spec", "namespaceSelector")
    if selector.get("any") is True:
        return every
    names = [str(n) for n in selector.get("matchNames") or [] if isinstance(n, str)]
    return tuple(names) if names else (namespace_of(monitor),)


def coverage(inventory: Inventory) -> Coverage:
    """What every ServiceMonitor and PodMonitor selects, computed once per inventory."""

    def compute() -> Coverage:
        found = Coverage()
        services = LabelIndex(
            (namespace_of(s), labels_of(s), (namespace_of(s), name_of(s)))
            for s in inventory.objects("Service")
        )
        every = inventory.namespaces()
        for monitor in inventory.objects("ServiceMonitor"):
            selector = Selector.from_label_selector(dig(monitor, "spec").get("selector"))
            hits = [
                key
                for ns in _monitored_namespaces(monitor, every)
                for key in services.select(ns, selector)
            ]
            found.services.update(hits)
            found.matched[("ServiceMonitor", namespace_of(monitor), name_of(monitor))] = len(hits)
        for monitor in inventory.objects("PodMonitor"):
            selector = Selector.from_label_selector(dig(monitor, "spec").get("selector"))
            selected = [
                workload.ref
                for ns in _monitored_namespaces(monitor, every)
                for workload in inventory.workloads_selected(ns, selector)
            ]
            found.workloads.update((r.kind, r.namespace, r.name) for r in selected)
            found.matched[("PodMonitor", namespace_of(monitor), name_of(monitor))] = len(selected)
        found.annotated = any(
            SCRAPE_ANNOTATION in annotations_of(s) for s in inventory.objects("Service")
        ) or any(SCRAPE_ANNOTATION in w.template_annotations for w in inventory.workloads())
        return found

    return inventory.memo("operations:monitoring", compute)


def _monitored(obj: KubeObject, ctx: Context[NoParams]) -> bool:
    return not created_by_kubernetes(obj) and bool(dig(obj, "spec").get("selector"))


OPS_008 = CheckDefinition(
    id="OPS-008",
    pillar=Pillar.OPERATIONAL_EXCELLENCE,
    name="Monitoring coverage",
    description=(
        "Once a cluster is monitored with Prometheus, a Service or workload nobody scrapes "
        "is a blind spot, and a ServiceMonitor that selects nothing is a typo that leaves "
        "one."
    ),
    severity=Severity.LOW,
    scope="X",
    remediation=(
        "Add a ServiceMonitor (or PodMonitor for pods without a Service) whose selector and "
        "namespaceSelector match the Service's labels, or annotate the Service or pod "
        'template prometheus.io/scrape: "true" (with prometheus.io/port and path) where '
        'Prometheus discovers by annotation; set prometheus.io/scrape: "false" on what is '
        "deliberately not scraped; fix or delete monitors that select nothing."
    ),
    kinds=("Service", "ServiceMonitor", "PodMonitor", *WORKLOAD_KINDS),
    applies_to=USER_OBJECTS
    & Applicability("Services with a pod selector, long-running workloads no Service selects"),
    notes=(
        "Recognises the Prometheus Operator's ServiceMonitor and PodMonitor "
        "(monitoring.coreos.com/v1; selector and namespaceSelector) and the "
        "prometheus.io/scrape annotation on Services and pod templates. When neither is "
        "present (live: the cluster does not serve monitoring.coreos.com), the check is not "
        "applicable and gives one skipped result.",
    ),
)


@check(OPS_008)
def monitoring_coverage(ctx: Context[NoParams]) -> Iterator[Finding]:
    inventory = ctx.inventory
    found = coverage(inventory)
    operator = inventory.source is Source.LIVE and inventory.has_api(OPERATOR_GROUP)
    if not (found.matched or found.annotated or operator):
        yield Finding.skipped(
            None,
            "not applicable: no ServiceMonitor or PodMonitor (monitoring.coreos.com/v1) and no "
            f"{SCRAPE_ANNOTATION} annotation: no monitoring this check recognises",
        )
        return
    for service in inventory.objects("Service"):
        if _monitored(service, ctx) and dig(service, "spec").get("type") != "ExternalName":
            yield _service_finding(inventory, service, found)
    for workload in inventory.workloads():
        if (
            LONG_RUNNING.applies(workload, ctx)
            and not created_by_kubernetes(workload.obj)
            and not inventory.selecting("Service", workload.namespace, workload.labels)
        ):
            yield _workload_finding(workload, found)
    for (kind, namespace, name), count in sorted(found.matched.items()):
        ref = ObjectRef(kind, name, namespace)
        target = "Service" if kind == "ServiceMonitor" else "workload"
        if count:
            yield Finding.passing(ref, f"selects {counted(count, target)}")
        else:
            yield Finding.failing(ref, f"selects no {target} in its namespaces")


def _annotation_verdict(annotations: dict[str, str]) -> str:
    value = annotations.get(SCRAPE_ANNOTATION)
    return "" if value is None else value.strip().lower()


def _service_finding(inventory: Inventory, service: KubeObject, found: Coverage) -> Finding:
    ref = ref_of("Service", service)
    key = (ref.namespace, ref.name)
    scrape = _annotation_verdict(annotations_of(service))
    if scrape == "false":
        return Finding.passing(ref, f"deliberately not scraped ({SCRAPE_ANNOTATION}: false)")
    if scrape == "true" or key in found.services:
        return Finding.passing(ref, "scraped (ServiceMonitor or scrape annotation)")
    selector = Selector.from_map(dig(service, "spec").get("selector"))
    for workload in inventory.workloads_selected(ref.namespace, selector):
        if _workload_scraped(workload, found):
            return Finding.passing(ref, f"its pods are scraped ({workload.kind} {workload.name})")
    return Finding.failing(
        ref,
        "no ServiceMonitor or PodMonitor selects it or its pods, and neither carries "
        f"{SCRAPE_ANNOTATION}",
    )


def _workload_scraped(workload: Workload, found: Coverage) -> bool:
    ref = workload.ref
    return (ref.kind, ref.namespace, ref.name) in found.workloads or _annotation_verdict(
        workload.template_annotations
    ) in ("true", "false")


def _workload_finding(workload: Workload, found: Coverage) -> Finding:
    if _workload_scraped(workload, found):
        return Finding.passing(workload.ref, "its pods are scraped (PodMonitor or annotation)")
    return Finding.failing(
        workload.ref,
        f"no Service selects its pods and no PodMonitor or {SCRAPE_ANNOTATION} annotation "
        "covers them",
    )


# -- OPS-009 ------------------------------------------------------------------------------


@dataclass(frozen=True)
class WarningEventParams:
    reasons: frozenset[str] = param(
        frozenset({"FailedScheduling", "BackOff", "FailedMount", "Unhealthy", "Evicted"}),
        "Warning event reasons that are findings",
    )
    min_count: int = param(1, "fewest occurrences (summed over an object's events) that fail")


OPS_009 = CheckDefinition(
    id="OPS-009",
    pillar=Pillar.OPERATIONAL_EXCELLENCE,
    name="Warning events",
    description=(
        "Warning events are the cluster telling you something is failing right now: pods "
        "that cannot be scheduled, crash-looping containers, volumes that do not mount, "
        "failing probes, evictions."
    ),
    severity=Severity.MEDIUM,
    scope="L",
    remediation=(
        "Read the events of the object (kubectl events --for <kind>/<name> -n <namespace>) "
        "and fix the cause the message names: capacity or affinity for FailedScheduling, "
        "the crashing container's logs for BackOff, the volume or Secret for FailedMount, "
        "the probe or the app for Unhealthy, node pressure for Evicted."
    ),
    kinds=("Event",),
    params=WarningEventParams,
    notes=(
        "Events are read through the core v1 API (the same objects as events.k8s.io/v1; "
        "both shapes are understood). The API server keeps events for its --event-ttl "
        "(one hour by default), so every event listed is recent.",
    ),
)


@check(OPS_009)
def warning_events(ctx: Context[WarningEventParams]) -> Iterator[Finding]:
    events = ctx.inventory.objects("Event")
    if not events:
        return
    counts: dict[ObjectRef, Counter[str]] = defaultdict(Counter)
    samples: dict[tuple[ObjectRef, str], str] = {}
    for event in events:
        reason = str(event.get("reason") or "")
        if event.get("type") != "Warning" or reason not in ctx.params.reasons:
            continue
        about = dig(event, "regarding") or dig(event, "involvedObject")
        ref = ObjectRef(
            str(about.get("kind") or ""),
            str(about.get("name") or ""),
            str(about.get("namespace") or ""),
        )
        counts[ref][reason] += _occurrences(event)
        samples.setdefault((ref, reason), _clip(event.get("note") or event.get("message"), 120))
    failing = 0
    for ref, reasons in sorted(counts.items(), key=lambda item: str(item[0])):
        if sum(reasons.values()) < ctx.params.min_count:
            continue
        failing += 1
        parts = [f"{r} x{n} ({samples[(ref, r)]})" for r, n in reasons.most_common()]
        yield Finding.failing(ref, "Warning events: " + "; ".join(parts))
    if not failing:
        watched = ", ".join(sorted(ctx.params.reasons))
        yield Finding.passing(None, f"{counted(len(events), 'event')}, none a Warning of {watched}")


def _occurrences(event: KubeObject) -> int:
    for value in (
        dig(event, "series").get("count"),
        event.get("count"),
        event.get("deprecatedCount"),
    ):
        number = int_or_none(value)
        if number is not None and number > 0:
            return number
    return 1


CHECKS = (metrics_pipeline, monitoring_coverage, warning_events)
