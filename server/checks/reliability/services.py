"""Reliability checks on Services and what backs them: selectors, target ports, endpoints.

REL-015 and REL-016 judge a Service against the pod templates (and pods) its selector
matches, through the inventory's label index; REL-015's live part and REL-017 count the
ready endpoints of its EndpointSlices (:mod:`.endpoints`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from assay.server.checks.kit import (
    RUNNING_CONTAINERS,
    Applicability,
    CheckDefinition,
    Context,
    Finding,
    NoParams,
    check,
    ref_of,
)
from assay.server.checks.kit.text import listed, shown
from assay.server.checks.reliability.endpoints import (
    ENDPOINT_SLICE,
    ENDPOINTS_NOTE,
    endpoints_of,
    endpoints_unreadable,
)
from assay.server.core.types import Pillar, Severity, Source
from assay.server.inventory import WORKLOAD_KINDS, Inventory, Selector, Workload
from assay.server.inventory.raw import KubeObject, as_mappings, dig, name_of, namespace_of

SERVICE = "Service"
PROTOCOLS = frozenset({"TCP", "UDP", "SCTP"})


def _selects_pods(service: KubeObject, ctx: Context[Any]) -> bool:
    spec = dig(service, "spec")
    return spec.get("type") != "ExternalName" and bool(dig(spec, "selector"))


SERVICES_WITH_SELECTOR = Applicability(
    "Services with a pod selector (ExternalName Services and Services without a selector, "
    "whose endpoints are managed by hand or by another controller, are left out)",
    _selects_pods,
)


def selector_of(service: KubeObject) -> Selector:
    return Selector.from_map(dig(service, "spec", "selector"))


def selector_text(service: KubeObject) -> str:
    """The selector as ``'app=web, tier=front'`` (quoted and bounded: labels are free text
    in manifests)."""
    pairs = sorted(dig(service, "spec", "selector").items())
    return shown(", ".join(f"{key}={value}" for key, value in pairs), 120)


def backends(inventory: Inventory, service: KubeObject) -> list[Workload]:
    """The top-level workloads whose pod template the Service selects, else the pods it
    selects (a pod relabelled by hand, a pod whose controller is not in the inventory)."""
    namespace, selector = namespace_of(service), selector_of(service)
    found = inventory.workloads_selected(namespace, selector)
    if found:
        return found
    pods = (
        inventory.workload("Pod", namespace, name_of(pod))
        for pod in inventory.pods_selected(namespace, selector)
    )
    return [pod for pod in pods if pod is not None]


def _names(workloads: Sequence[Workload]) -> str:
    return listed([f"{w.kind}/{w.name}" for w in workloads], 3)


def _services(ctx: Context[Any], definition: CheckDefinition) -> Iterator[KubeObject]:
    for service in ctx.inventory.objects(SERVICE):
        if definition.applies_to.applies(service, ctx):
            yield service


REL_015 = CheckDefinition(
    id="REL-015",
    pillar=Pillar.RELIABILITY,
    name="Service selects no pods",
    description=(
        "A Service whose selector matches no pod has no endpoints: clients resolve its name "
        "and get connection refused or time out. Usually a label typo or a renamed app."
    ),
    severity=Severity.HIGH,
    scope="X (+L)",
    remediation=(
        "Make the Service's spec.selector equal to labels of the pod template it should "
        "route to (kubectl get pods -l <selector> -n <namespace> must list pods); on a live "
        "cluster, find why the selected pods are not ready (kubectl describe pod) or scale "
        "the workload above zero."
    ),
    kinds=(SERVICE, *WORKLOAD_KINDS, ENDPOINT_SLICE),
    applies_to=SERVICES_WITH_SELECTOR,
    notes=(
        "Offline, a selector passes when it matches a pod template or a pod; on a live "
        "cluster it must also have at least one ready endpoint.",
        "Softer than kube-linter's dangling-service, which also fails Services without a "
        "selector: those are backed by endpoints managed by hand or by another controller.",
        ENDPOINTS_NOTE,
    ),
)


@check(REL_015)
def service_selects_no_pods(ctx: Context[NoParams]) -> Iterator[Finding]:
    inventory = ctx.inventory
    live = inventory.source is Source.LIVE
    unreadable = endpoints_unreadable(inventory) if live else None
    for service in _services(ctx, REL_015):
        ref = ref_of(SERVICE, service)
        namespace = namespace_of(service)
        selected = backends(inventory, service)
        if not selected:
            yield Finding.failing(
                ref,
                f"selector {selector_text(service)} matches no pod or pod template in "
                f"namespace {namespace}",
            )
            continue
        matched = f"selector {selector_text(service)} matches {_names(selected)}"
        if not live:
            yield Finding.passing(ref, matched)
        elif unreadable:
            yield Finding.passing(ref, f"{matched} (ready endpoints not judged: {unreadable})")
        else:
            endpoints = endpoints_of(inventory, namespace, name_of(service))
            if endpoints.ready:
                yield Finding.passing(ref, f"{matched}; {endpoints.describe()}")
            else:
                yield Finding.failing(
                    ref, f"{matched} but no endpoint is ready ({endpoints.describe()})"
                )


REL_016 = CheckDefinition(
    id="REL-016",
    pillar=Pillar.RELIABILITY,
    name="Service port mismatch",
    description=(
        "A Service port whose targetPort names a port no selected container declares gets "
        "no endpoint port at all; a numeric targetPort the containers do not declare usually "
        "points at a port nothing listens on."
    ),
    severity=Severity.HIGH,
    scope="X",
    remediation=(
        "Set each Service port's targetPort to a containerPort (number) or a port name "
        "(ports[].name) that every selected container declares with the same protocol, or "
        "declare the port in the container spec (containers[].ports)."
    ),
    kinds=(SERVICE, *WORKLOAD_KINDS),
    applies_to=SERVICES_WITH_SELECTOR,
    notes=(
        "Stricter than Kubernetes itself, which routes a numeric targetPort whether or not "
        "a container declares it: the check asks for the declaration so that the contract "
        "between Service and pod is visible (and nameable). Popeye makes the same demand; "
        "kube-score and kube-linter do not check target ports.",
        "A targetPort left out defaults to the Service port; protocols must match (TCP by "
        "default); regular and sidecar containers (restartPolicy: Always init containers) "
        "count; every selected workload must expose the port.",
    ),
)


def _declared(workload: Workload) -> tuple[set[tuple[int, str]], set[tuple[str, str]]]:
    numbers: set[tuple[int, str]] = set()
    names: set[tuple[str, str]] = set()
    for container in workload.containers():
        if not RUNNING_CONTAINERS(container):
            continue
        for port in as_mappings(container.spec.get("ports")):
            protocol = str(port.get("protocol") or "TCP")
            number = port.get("containerPort")
            if isinstance(number, int) and not isinstance(number, bool):
                numbers.add((number, protocol))
            if port.get("name"):
                names.add((str(port["name"]), protocol))
    return numbers, names


def _protocol(value: str) -> str:
    return value if value in PROTOCOLS else shown(value, 20)


def _port_problems(service: KubeObject, workloads: Sequence[Workload]) -> Iterator[str]:
    declared = {(w.kind, w.name): _declared(w) for w in workloads}
    for port in as_mappings(dig(service, "spec").get("ports")):
        protocol = str(port.get("protocol") or "TCP")
        target = port.get("targetPort", port.get("port"))
        name = port.get("name")
        label = f"port {shown(name, 60)}" if name else f"port {port.get('port')}"
        for workload in workloads:
            numbers, names = declared[(workload.kind, workload.name)]
            owner = f"{workload.kind}/{workload.name}"
            if isinstance(target, int) and not isinstance(target, bool):
                if (target, protocol) not in numbers:
                    known = ", ".join(f"{n}/{_protocol(p)}" for n, p in sorted(numbers))
                    yield (
                        f"{label}: targetPort {target}/{_protocol(protocol)} is not declared by "
                        f"any container of {owner} (declared: {known or 'none'})"
                    )
            elif (str(target), protocol) not in names:
                known = ", ".join(f"{shown(n, 60)}/{_protocol(p)}" for n, p in sorted(names))
                yield (
                    f"{label}: targetPort {shown(str(target), 60)}/{_protocol(protocol)} is not "
                    f"a named port of {owner} (named ports: {known or 'none'})"
                )


@check(REL_016)
def service_port_mismatch(ctx: Context[NoParams]) -> Iterator[Finding]:
    for service in _services(ctx, REL_016):
        ref = ref_of(SERVICE, service)
        selected = backends(ctx.inventory, service)
        if not selected:
            yield Finding.skipped(ref, "selects no pod or pod template (REL-015 reports it)")
            continue
        if not as_mappings(dig(service, "spec").get("ports")):
            yield Finding.skipped(ref, "declares no ports (a headless Service may omit them)")
            continue
        problems = list(_port_problems(service, selected))
        if problems:
            yield Finding.failing(ref, "; ".join(problems))
        else:
            yield Finding.passing(ref, f"every target port is declared by {_names(selected)}")


REL_017 = CheckDefinition(
    id="REL-017",
    pillar=Pillar.RELIABILITY,
    name="Single-endpoint Service",
    description=(
        "A Service with exactly one ready endpoint is one pod restart, eviction or node "
        "failure away from refusing every request."
    ),
    severity=Severity.MEDIUM,
    scope="L",
    remediation=(
        "Run at least two ready replicas behind the Service (raise the workload's replicas "
        "or its HPA minReplicas), spread them across nodes, and protect them with a "
        "PodDisruptionBudget; if the other replicas exist but are not ready, find out why "
        "(kubectl describe pod)."
    ),
    kinds=(SERVICE, ENDPOINT_SLICE),
    needs=frozenset({"discovery.k8s.io/v1"}),
    applies_to=SERVICES_WITH_SELECTOR,
    notes=(
        "Services without a selector (endpoints managed by hand, such as an external "
        "database) are left out: more replicas behind them are not the cluster's to add. "
        "A Service with no ready endpoint is REL-015's finding and is skipped here.",
        ENDPOINTS_NOTE,
    ),
)


@check(REL_017)
def single_endpoint_service(ctx: Context[NoParams]) -> Iterator[Finding]:
    unreadable = endpoints_unreadable(ctx.inventory)
    if unreadable:
        yield Finding.skipped(None, f"endpoints not judged: {unreadable}")
        return
    for service in _services(ctx, REL_017):
        ref = ref_of(SERVICE, service)
        endpoints = endpoints_of(ctx.inventory, namespace_of(service), name_of(service))
        count = len(endpoints.ready)
        if count == 0:
            yield Finding.skipped(ref, f"no ready endpoint ({endpoints.describe()}): see REL-015")
        elif count == 1:
            (only,) = endpoints.ready
            yield Finding.failing(ref, f"exactly one ready endpoint ({only})")
        else:
            yield Finding.passing(ref, f"{count} ready endpoints")


CHECKS = (service_selects_no_pods, service_port_mismatch, single_endpoint_service)
