"""Security checks on what is reachable from outside the cluster: Ingresses without TLS and
Services exposed on node ports, open load balancers or the SSH port (SEC-027, SEC-028).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

from assay.server.checks.kit import (
    CheckDefinition,
    Context,
    Verdict,
    fail,
    ok,
    param,
    per_object,
    problems_or_ok,
)
from assay.server.core.types import Pillar, Severity
from assay.server.inventory import WORKLOAD_KINDS, Selector
from assay.server.inventory.raw import (
    KubeObject,
    annotations_of,
    as_mappings,
    dig,
    int_or_none,
    namespace_of,
)

SOURCE_RANGES_ANNOTATION = "service.beta.kubernetes.io/load-balancer-source-ranges"


@dataclass(frozen=True)
class IngressTlsParams:
    tls_annotations: frozenset[str] = param(
        frozenset(
            {
                "alb.ingress.kubernetes.io/certificate-arn",
                "networking.gke.io/managed-certificates",
                "ingress.gcp.kubernetes.io/pre-shared-cert",
            }
        ),
        "annotations by which a cloud load balancer terminates TLS with its own certificate, "
        "outside spec.tls: an Ingress carrying one of them passes",
    )


def host_covered(tls_host: str, host: str) -> bool:
    """``tls_host`` (possibly ``*.example.com``) covers ``host``: a wildcard covers exactly
    one more label, as in X.509."""
    tls_host, host = tls_host.lower().rstrip("."), host.lower().rstrip(".")
    if tls_host == host:
        return True
    if tls_host.startswith("*."):
        _, _, rest = host.partition(".")
        return rest == tls_host[2:] and not host.startswith("*.")
    return False


SEC_027 = CheckDefinition(
    id="SEC-027",
    pillar=Pillar.SECURITY,
    name="Ingress without TLS",
    description=(
        "An Ingress host without TLS serves its traffic, credentials and cookies included, "
        "in clear text to anyone on the path between the client and the cluster."
    ),
    severity=Severity.MEDIUM,
    scope="W",
    remediation=(
        "Add spec.tls with every host of spec.rules and a Secret holding its certificate "
        "(cert-manager's cluster-issuer annotation can issue and renew it), and have the "
        "controller redirect HTTP to HTTPS."
    ),
    kinds=("Ingress",),
    params=IngressTlsParams,
    notes=(
        "Stricter than Polaris's tlsSettingsMissing, which only requires spec.tls: each "
        "host of spec.rules must be covered by a spec.tls host (a wildcard covers one label) "
        "or by a tls entry without hosts; softer in accepting the listed cloud annotations.",
    ),
)


@per_object(SEC_027, kinds=("Ingress",), include_owned=True)
def ingress_without_tls(ingress: KubeObject, ctx: Context[IngressTlsParams]) -> Verdict:
    annotations = annotations_of(ingress)
    terminated = sorted(a for a in ctx.params.tls_annotations if annotations.get(a))
    if terminated:
        return ok(f"TLS terminated by the load balancer ({', '.join(terminated)})")
    spec = dig(ingress, "spec")
    hosts = [str(r["host"]) for r in as_mappings(spec.get("rules")) if r.get("host")]
    tls = as_mappings(spec.get("tls"))
    if not tls:
        if len(hosts) > 1:
            served = f"hosts {', '.join(hosts)} are"
        else:
            served = f"host {hosts[0]} is" if hosts else "every request is"
        return fail(f"spec.tls is empty: {served} served over plain HTTP")
    if any(not entry.get("hosts") for entry in tls):
        return ok("a spec.tls entry without hosts covers every host")
    tls_hosts = [str(h) for entry in tls for h in entry.get("hosts") or [] if isinstance(h, str)]
    uncovered = [h for h in hosts if not any(host_covered(t, h) for t in tls_hosts)]
    if uncovered:
        return fail(f"hosts not covered by spec.tls: {', '.join(uncovered)}")
    return ok(f"spec.tls covers {', '.join(hosts) if hosts else 'the default backend'}")


@dataclass(frozen=True)
class ExposureParams:
    internal_annotations: frozenset[str] = param(
        frozenset(
            {
                "service.beta.kubernetes.io/aws-load-balancer-internal=true",
                "service.beta.kubernetes.io/aws-load-balancer-scheme=internal",
                "networking.gke.io/load-balancer-type=internal",
                "cloud.google.com/load-balancer-type=internal",
                "service.beta.kubernetes.io/azure-load-balancer-internal=true",
                "service.beta.kubernetes.io/oci-load-balancer-internal=true",
                "service.beta.kubernetes.io/openstack-internal-load-balancer=true",
            }
        ),
        "key=value annotations (value compared case-insensitively) that keep a LoadBalancer "
        "inside the private network: such Services need no source ranges",
    )
    shell_ports: frozenset[int] = param(
        frozenset({22}), "ports of remote shells that fail whatever the Service type"
    )


def _internal(service: KubeObject, params: ExposureParams) -> str | None:
    annotations = annotations_of(service)
    for entry in sorted(params.internal_annotations):
        key, _, value = entry.partition("=")
        if annotations.get(key, "").lower() == value.lower() and key in annotations:
            return key
    return None


def _source_ranges(service: KubeObject) -> list[str]:
    ranges = dig(service, "spec").get("loadBalancerSourceRanges")
    if isinstance(ranges, list) and ranges:
        return [str(r).strip() for r in ranges]
    annotation = annotations_of(service).get(SOURCE_RANGES_ANNOTATION, "")
    return [r.strip() for r in annotation.split(",") if r.strip()]


def _open_to_all(cidr: str) -> bool:
    try:
        return ipaddress.ip_network(cidr, strict=False).prefixlen == 0
    except ValueError:
        return False


def _target_ports(service: KubeObject, name: str, ctx: Context[Any]) -> set[int]:
    """Container ports called ``name`` in the workloads the Service selects."""
    selector = Selector.from_map(dig(service, "spec").get("selector"))
    found = set()
    for workload in ctx.inventory.workloads_selected(namespace_of(service), selector):
        for container in workload.containers():
            for port in as_mappings(container.spec.get("ports")):
                number = int_or_none(port.get("containerPort"))
                if port.get("name") == name and number is not None:
                    found.add(number)
    return found


def _shell_ports(service: KubeObject, ctx: Context[ExposureParams]) -> list[str]:
    exposed = []
    for port in as_mappings(dig(service, "spec").get("ports")):
        number = int_or_none(port.get("port"))
        target = port.get("targetPort")
        if isinstance(target, str) and int_or_none(target) is None:
            targets = _target_ports(service, target, ctx)
        else:
            resolved = int_or_none(target) if target is not None else number
            targets = {resolved} if resolved is not None else set()
        candidates = targets | ({number} if number is not None else set())
        bad = sorted(candidates & ctx.params.shell_ports)
        if bad:
            label = port.get("name") or number
            exposed.append(
                f"port {label} ({number} -> {target if target is not None else number}) "
                f"exposes port {', '.join(map(str, bad))}"
            )
    return exposed


SEC_028 = CheckDefinition(
    id="SEC-028",
    pillar=Pillar.SECURITY,
    name="Externally exposed Service",
    description=(
        "A NodePort opens the port on every node's address, and a LoadBalancer without "
        "source ranges accepts connections from the whole internet; an SSH port is a remote "
        "shell wherever it is reachable."
    ),
    severity=Severity.MEDIUM,
    scope="W",
    remediation=(
        "Use type ClusterIP behind an Ingress or Gateway for HTTP; for a LoadBalancer, set "
        "spec.loadBalancerSourceRanges to the client networks (or the cloud's internal "
        "load-balancer annotation); remove SSH from the image and use kubectl exec or an "
        "audited bastion instead."
    ),
    kinds=("Service", *WORKLOAD_KINDS),
    params=ExposureParams,
    notes=(
        "Softer than kube-linter's exposed-services, which fails every NodePort and "
        "LoadBalancer: internal load balancers and LoadBalancers limited to source ranges "
        "pass (a range of /0 does not count as a limit). A targetPort given by name is "
        "resolved through the container ports of the selected workloads to find port 22, "
        "as kube-linter's ssh-port finds it on containers.",
    ),
)


@per_object(SEC_028, kinds=("Service",), include_owned=True)
def exposed_service(service: KubeObject, ctx: Context[ExposureParams]) -> Verdict:
    spec = dig(service, "spec")
    kind = str(spec.get("type") or "ClusterIP")
    problems = []
    if kind == "NodePort":
        problems.append("type NodePort opens its ports on every node")
    elif kind == "LoadBalancer":
        internal = _internal(service, ctx.params)
        ranges = _source_ranges(service)
        if internal is None and not ranges:
            problems.append("type LoadBalancer without loadBalancerSourceRanges is open to all")
        elif internal is None and any(_open_to_all(r) for r in ranges):
            wide = ", ".join(r for r in ranges if _open_to_all(r))
            problems.append(f"loadBalancerSourceRanges includes {wide}")
    problems.extend(_shell_ports(service, ctx))
    return problems_or_ok(problems, f"type {kind}: no node port, open load balancer or shell port")


CHECKS = (ingress_without_tls, exposed_service)
