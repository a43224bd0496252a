"""Operational-excellence check on port hygiene (OPS-006): named container ports, Services
that target ports by name, valid and unique port names, sound Ingress backend ports."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator

from assay.server.checks.kit import (
    USER_OBJECTS,
    CheckDefinition,
    Context,
    Finding,
    NoParams,
    check,
    problems_or_ok,
    ref_of,
)
from assay.server.checks.kit.walk import top_level
from assay.server.core.types import Pillar, Severity
from assay.server.inventory import WORKLOAD_KINDS, Workload
from assay.server.inventory.raw import KubeObject, as_mappings, dig, int_or_none

_IANA_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,13}[a-z0-9])?$")


def port_name_problem(name: str) -> str:
    """Why ``name`` is not an IANA service name (RFC 6335, as Kubernetes validates port
    names), as a predicate ("is longer than 15 characters"), or ``""``."""
    if len(name) > 15:
        return "is longer than 15 characters"
    if not _IANA_NAME.match(name):
        return "has characters other than lowercase letters, digits and inner hyphens"
    if "--" in name:
        return "has two hyphens in a row"
    if not any(c.isalpha() for c in name):
        return "has no letter"
    return ""


OPS_006 = CheckDefinition(
    id="OPS-006",
    pillar=Pillar.OPERATIONAL_EXCELLENCE,
    name="Port hygiene",
    description=(
        "Named ports decouple a Service from the number a container listens on and make "
        "probes, NetworkPolicies and Ingresses readable; duplicate or invalid names break "
        "name lookups."
    ),
    severity=Severity.INFO,
    scope="W",
    remediation=(
        "Give every containerPort a unique IANA-style name (http, grpc, metrics: at most 15 "
        "lowercase letters, digits and hyphens), point Service targetPort at that name, and "
        "set exactly one of name or number on Ingress backend ports."
    ),
    kinds=(*WORKLOAD_KINDS, "Service", "Ingress"),
    applies_to=USER_OBJECTS,
    notes=(
        "Workloads are judged through their controller (a Deployment's pods through it).",
        "Services without a selector (their endpoints are managed by hand) and ExternalName "
        "Services are not asked for named target ports: there is no pod port to name.",
        "kube-linter's invalid-target-ports checks only that port names are valid; this "
        "check also wants every container port named and Services to target names.",
    ),
)


@check(OPS_006)
def port_hygiene(ctx: Context[NoParams]) -> Iterator[Finding]:
    inventory, applies = ctx.inventory, OPS_006.applies_to
    for workload in inventory.workloads():
        if applies.applies(workload, ctx):
            verdict = problems_or_ok(_workload_problems(workload), "container ports named, unique")
            yield verdict.about(workload.ref)
    for kind, problems, passing in (
        ("Service", _service_problems, "ports named and targeted by name"),
        ("Ingress", _ingress_problems, "backend ports well formed"),
    ):
        for obj in top_level(inventory, kind):
            if applies.applies(obj, ctx):
                yield problems_or_ok(problems(obj), passing).about(ref_of(kind, obj))


def _workload_problems(workload: Workload) -> Iterator[str]:
    names: Counter[str] = Counter()
    for container in workload.containers():
        for port in as_mappings(container.spec.get("ports")):
            number = port.get("containerPort")
            protocol = port.get("protocol") or "TCP"
            name = str(port.get("name") or "")
            where = f"{container.role} {container.name}: port {number}/{protocol}"
            if not name:
                yield f"{where} has no name"
                continue
            names[name] += 1
            problem = port_name_problem(name)
            if problem:
                yield f"{where} name {name!r} {problem}"
    for name, count in sorted(names.items()):
        if count > 1:
            yield f"port name {name!r} is used {count} times in the pod"


def _service_problems(service: KubeObject) -> Iterator[str]:
    spec = dig(service, "spec")
    if spec.get("type") == "ExternalName":
        return
    selects_pods = bool(spec.get("selector"))
    names: Counter[str] = Counter()
    for port in as_mappings(spec.get("ports")):
        number = port.get("port")
        name = str(port.get("name") or "")
        if name:
            names[name] += 1
            problem = port_name_problem(name)
            if problem:
                yield f"port {number} name {name!r} {problem}"
        if not selects_pods:
            continue
        target = port.get("targetPort")
        if target is None:
            yield f"port {number} has no targetPort, so it targets the number {number}"
        elif int_or_none(target) is not None:
            yield f"port {number} targets the number {target}, not a named container port"
    for name, count in sorted(names.items()):
        if count > 1:
            yield f"port name {name!r} is used {count} times"


def _ingress_problems(ingress: KubeObject) -> Iterator[str]:
    spec = dig(ingress, "spec")
    backends = [("defaultBackend", dig(spec, "defaultBackend"))]
    for rule in as_mappings(spec.get("rules")):
        for path in as_mappings(dig(rule, "http").get("paths")):
            where = f"{rule.get('host') or '*'}{path.get('path') or ''}"
            backends.append((where, dig(path, "backend")))
    for where, backend in backends:
        service = dig(backend, "service")
        if not service:
            continue
        port = dig(service, "port")
        name, number = port.get("name"), port.get("number")
        if bool(name) == (number is not None):
            yield f"backend {where}: service.port must set exactly one of name and number"
        elif name:
            problem = port_name_problem(str(name))
            if problem:
                yield f"backend {where}: port name {name!r} {problem}"
        else:
            value = int_or_none(number)
            if value is None or not 1 <= value <= 65535:
                yield f"backend {where}: port number {number!r} is not 1-65535"


CHECKS = (port_hygiene,)
