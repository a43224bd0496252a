"""Reliability checks on traffic routing: Ingress and Gateway API HTTPRoute backends.

REL-018 looks every backend up by namespace and name (``inventory.get``) and matches its
port against the Service's ports, so it costs one lookup per backend.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from assay.server.checks.kit import (
    Applicability,
    CheckDefinition,
    Context,
    Finding,
    NoParams,
    check,
    ref_of,
)
from assay.server.checks.kit.observed import unreadable_kinds
from assay.server.checks.kit.text import shown
from assay.server.core.types import Pillar, Severity
from assay.server.inventory import Inventory
from assay.server.inventory.raw import KubeObject, as_mappings, dig, namespace_of

INGRESS = "Ingress"
HTTP_ROUTE = "HTTPRoute"
SERVICE = "Service"


@dataclass(frozen=True, slots=True)
class Backend:
    """One reference to a Service port: ``port`` is a number, a port name, or ``None``
    when the reference gives none."""

    where: str
    namespace: str
    service: str
    port: int | str | None


def _port_value(value: object) -> int | str | None:
    if isinstance(value, bool) or value is None or value == "":
        return None
    if isinstance(value, int):
        return value
    return str(value)


def ingress_backends(ingress: KubeObject) -> Iterator[Backend]:
    """The Service backends of an Ingress (networking.k8s.io/v1, and the serviceName /
    servicePort shape of the retired v1beta1 APIs); resource backends are left out."""
    namespace = namespace_of(ingress)
    spec = dig(ingress, "spec")
    default = dig(spec, "defaultBackend") or dig(spec, "backend")
    located = [("defaultBackend", default)] if default else []
    for rule in as_mappings(spec.get("rules")):
        host = rule.get("host") or "*"
        for path in as_mappings(dig(rule, "http").get("paths")):
            route = f"{host}{path.get('path') or '/'}"
            where = f"path {shown(route, 100)}"
            located.append((where, dig(path, "backend")))
    for where, backend in located:
        service = dig(backend, "service")
        if service.get("name"):
            port = dig(service, "port")
            value = port.get("number") if "number" in port else port.get("name")
            yield Backend(where, namespace, str(service["name"]), _port_value(value))
        elif backend.get("serviceName"):
            port_value = _port_value(backend.get("servicePort"))
            yield Backend(where, namespace, str(backend["serviceName"]), port_value)


def route_backends(route: KubeObject) -> Iterator[Backend]:
    """The Service backendRefs of an HTTPRoute's rules (and of their request mirrors);
    references to other kinds (group not core, kind not Service) are left out."""
    namespace = namespace_of(route)
    for index, rule in enumerate(as_mappings(dig(route, "spec").get("rules"))):
        refs = list(as_mappings(rule.get("backendRefs")))
        for filter_ in as_mappings(rule.get("filters")):
            mirror = dig(filter_, "requestMirror", "backendRef")
            if mirror:
                refs.append(mirror)
        for ref in refs:
            if str(ref.get("group") or "") != "" or str(ref.get("kind") or SERVICE) != SERVICE:
                continue
            if not ref.get("name"):
                continue
            target_namespace = str(ref.get("namespace") or namespace)
            port = _port_value(ref.get("port"))
            yield Backend(f"rules[{index}]", target_namespace, str(ref["name"]), port)


def backend_problem(inventory: Inventory, backend: Backend) -> str | None:
    """What is wrong with ``backend``, or ``None`` when its Service and port exist."""
    service = inventory.get(SERVICE, backend.namespace, backend.service)
    target = f"{backend.where}: Service {backend.namespace}/{backend.service}"
    if service is None:
        return f"{target} does not exist"
    if backend.port is None:
        return f"{target} is referenced without a port"
    spec = dig(service, "spec")
    ports = as_mappings(spec.get("ports"))
    if not ports and spec.get("type") == "ExternalName":
        return None  # an ExternalName Service declares no ports; traffic keeps its own
    field = "port" if isinstance(backend.port, int) else "name"
    if any(p.get(field) == backend.port for p in ports):
        return None
    known = ", ".join(shown(p.get(field), 60) for p in ports if p.get(field) is not None) or "none"
    if field == "port":
        return f"{target} has no port {backend.port} (has: {known})"
    return f"{target} has no port name {shown(backend.port, 60)} (has: {known})"


REL_018 = CheckDefinition(
    id="REL-018",
    pillar=Pillar.RELIABILITY,
    name="Ingress/Route backend missing",
    description=(
        "An Ingress path or HTTPRoute rule whose backend Service or Service port does not "
        "exist answers with errors (503 or 404 from the controller) for every request it "
        "matches."
    ),
    severity=Severity.HIGH,
    scope="X",
    remediation=(
        "Point the backend at an existing Service in the right namespace and at one of its "
        "spec.ports (by port number, or by port name for Ingress), or create the missing "
        "Service; check for typos after a rename."
    ),
    kinds=(INGRESS, HTTP_ROUTE, SERVICE),
    applies_to=Applicability("Ingresses and HTTPRoutes with Service backends"),
    notes=(
        "Reads networking.k8s.io/v1 Ingresses (serviceName/servicePort of older manifests "
        "too) and gateway.networking.k8s.io/v1 HTTPRoutes: rule backendRefs and "
        "requestMirror filters whose kind is Service, across namespaces where the route "
        "names one; a numeric port must equal a Service port (spec.ports[].port, not the "
        "targetPort). Backends of other kinds are not judged.",
        "Like kube-score's ingress-targets-service and kube-linter's dangling-ingress, "
        "extended to Ingress port names, default backends and HTTPRoutes.",
    ),
)


@check(REL_018)
def backend_missing(ctx: Context[NoParams]) -> Iterator[Finding]:
    services_unknown = SERVICE in unreadable_kinds(ctx.inventory)
    for kind, read in ((INGRESS, ingress_backends), (HTTP_ROUTE, route_backends)):
        for obj in ctx.inventory.objects(kind):
            ref = ref_of(kind, obj)
            found = list(read(obj))
            if not found:
                yield Finding.skipped(ref, "has no Service backend")
                continue
            if services_unknown:
                yield Finding.skipped(ref, "Services could not be listed")
                continue
            problems = [p for b in found if (p := backend_problem(ctx.inventory, b))]
            if problems:
                yield Finding.failing(ref, "; ".join(problems))
            else:
                services = sorted({f"{b.service}:{b.port}" for b in found})
                yield Finding.passing(ref, f"every backend exists: {', '.join(services)}")


CHECKS = (backend_missing,)
