"""SEC-027..SEC-030: Ingress TLS, exposed Services, image provenance and Pod Security
Admission; parameters and parsing."""

from __future__ import annotations

from typing import Any

import pytest

from assay.server.checks.kit.images import ImageRef
from assay.server.checks.kit.params import build_params
from assay.server.checks.security.exposure import ExposureParams, IngressTlsParams, host_covered
from assay.server.checks.security.images import ProvenanceParams
from assay.server.checks.security.namespaces import PodSecurityParams
from assay.server.core.types import Severity, Status
from tests.unit.checks.objects import container, pod
from tests.unit.checks.runs import container_statuses, only, policy_params, run


def ingress(
    rules: list[str], tls: list[dict[str, Any]] | None = None, *, annotations: Any = None
) -> Any:
    spec: dict[str, Any] = {"rules": [{"host": h} if h else {} for h in rules]}
    if tls is not None:
        spec["tls"] = tls
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": "i", "namespace": "shop", "annotations": annotations or {}},
        "spec": spec,
    }


def service(spec: dict[str, Any], **annotations: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "s", "namespace": "shop", "annotations": annotations},
        "spec": spec,
    }


@pytest.mark.parametrize(
    ("tls_host", "host", "covered"),
    [
        ("shop.example.com", "SHOP.example.com.", True),
        ("*.example.com", "shop.example.com", True),
        ("*.example.com", "api.shop.example.com", False),
        ("*.example.com", "example.com", False),
        ("*.example.com", "*.example.com", True),
    ],
)
def test_tls_host_coverage(tls_host: str, host: str, covered: bool) -> None:
    assert host_covered(tls_host, host) is covered


def test_sec027_tls_entry_without_hosts_covers_all_and_annotations_are_a_parameter() -> None:
    assert only(run("SEC-027", [ingress(["a.example.com"], [{"secretName": "s"}])])).status is (
        Status.PASSING
    )
    terminated = ingress(["a.example.com"], annotations={"example.com/tls-by-lb": "cert-1"})
    assert only(run("SEC-027", [terminated])).status is Status.FAILING
    params = policy_params("SEC-027", "tls_annotations: [example.com/tls-by-lb]")
    assert params == IngressTlsParams(tls_annotations=frozenset({"example.com/tls-by-lb"}))
    assert only(run("SEC-027", [terminated], params=params)).status is Status.PASSING


def test_sec027_hostless_rules_need_only_some_tls() -> None:
    assert only(run("SEC-027", [ingress([""])])).message == (
        "spec.tls is empty: every request is served over plain HTTP"
    )
    with_tls = ingress(["", "a.example.com"], [{"hosts": ["a.example.com"]}])
    assert only(run("SEC-027", [with_tls])).status is Status.PASSING


def test_sec028_source_ranges_annotation_and_internal_annotations() -> None:
    ranges = service(
        {"type": "LoadBalancer", "ports": [{"port": 443}]},
        **{"service.beta.kubernetes.io/load-balancer-source-ranges": "203.0.113.0/24"},
    )
    assert only(run("SEC-028", [ranges])).status is Status.PASSING
    internal = service(
        {"type": "LoadBalancer", "ports": [{"port": 443}]},
        **{"networking.gke.io/load-balancer-type": "Internal"},
    )
    assert only(run("SEC-028", [internal])).status is Status.PASSING
    custom = service(
        {"type": "LoadBalancer", "ports": [{"port": 443}]}, **{"example.com/private": "yes"}
    )
    assert only(run("SEC-028", [custom])).status is Status.FAILING
    params = build_params(ExposureParams, {"internal_annotations": ["example.com/private=YES"]})
    assert only(run("SEC-028", [custom], params=params)).status is Status.PASSING


def test_sec028_shell_ports_parameter_and_port_without_target() -> None:
    ssh = service({"ports": [{"name": "ssh", "port": 22}]})
    finding = only(run("SEC-028", [ssh]))
    assert finding.status is Status.FAILING and "exposes port 22" in finding.message
    telnet = service({"ports": [{"port": 8023, "targetPort": 23}]})
    assert only(run("SEC-028", [telnet])).status is Status.PASSING
    params = policy_params("SEC-028", "shell_ports: [22, 23]")
    assert params == ExposureParams(shell_ports=frozenset({22, 23}))
    assert only(run("SEC-028", [telnet], params=params)).status is Status.FAILING


def test_sec028_ipv6_open_range() -> None:
    open_v6 = service(
        {"type": "LoadBalancer", "loadBalancerSourceRanges": ["::/0"], "ports": [{"port": 443}]}
    )
    finding = only(run("SEC-028", [open_v6]))
    assert finding.status is Status.FAILING and "::/0" in finding.message


@pytest.mark.parametrize(
    ("image", "registry", "path", "tag", "pinned"),
    [
        ("nginx", "docker.io", "library/nginx", "", False),
        ("nginx:1.25", "docker.io", "library/nginx", "1.25", False),
        ("bitnami/redis:7.2", "docker.io", "bitnami/redis", "7.2", False),
        ("index.docker.io/library/busybox:1.36", "docker.io", "library/busybox", "1.36", False),
        ("localhost:5000/app:dev", "localhost:5000", "app", "dev", False),
        ("Registry.Example.com/team/app:1", "registry.example.com", "team/app", "1", False),
        ("ghcr.io/acme/api@sha256:" + "a" * 64, "ghcr.io", "acme/api", "", True),
        ("ghcr.io/acme/api:1@sha256:abc", "ghcr.io", "acme/api", "1", False),
    ],
)
def test_image_references(image: str, registry: str, path: str, tag: str, pinned: bool) -> None:
    ref = ImageRef.parse(image)
    assert (ref.registry, ref.path, ref.tag, ref.pinned) == (registry, path, tag, pinned)


@pytest.mark.parametrize(
    ("entry", "image", "inside"),
    [
        ("ghcr.io/acme", "ghcr.io/acme/api:1", True),
        ("ghcr.io/acme", "ghcr.io/acme-labs/api:1", False),
        ("*.dkr.ecr.eu-west-1.amazonaws.com", "1234.dkr.ecr.eu-west-1.amazonaws.com/a:1", True),
        ("docker.io", "nginx:1.25", True),
        ("index.docker.io/library", "nginx:1.25", True),
        ("registry.example.com", "registry.example.com.evil.io/a:1", False),
    ],
)
def test_allow_list_entries(entry: str, image: str, inside: bool) -> None:
    assert ImageRef.parse(image).within(entry) is inside


def test_sec029_allow_list_from_the_policy_is_high() -> None:
    digest = "@sha256:" + "b" * 64
    spec = {
        "initContainers": [container("init", image="ghcr.io/acme/init:1" + digest)],
        "containers": [container("app", image="docker.io/someone/app:1" + digest)],
    }
    objects = [pod("p", spec=spec)]
    assert set(container_statuses(run("SEC-029", objects)).values()) == {Status.PASSING}
    params = policy_params("SEC-029", "allowed_registries: [ghcr.io/acme]")
    assert params == ProvenanceParams(allowed_registries=frozenset({"ghcr.io/acme"}))
    findings = {f.container: f for f in run("SEC-029", objects, params=params)}
    assert findings["init"].status is Status.PASSING
    assert (findings["app"].status, findings["app"].severity) == (Status.FAILING, Severity.HIGH)
    assert "from docker.io, not an allowed registry" in findings["app"].message


def test_sec029_digest_requirement_can_be_switched_off() -> None:
    objects = [pod("p", container(image="registry.example.com/a:1"))]
    assert only(run("SEC-029", objects)).status is Status.FAILING
    params = build_params(ProvenanceParams, {"require_digest": False})
    assert only(run("SEC-029", objects, params=params)).status is Status.PASSING


def test_sec030_exempt_namespaces_from_the_policy() -> None:
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "legacy"}}
    assert only(run("SEC-030", [namespace])).status is Status.FAILING
    params = policy_params("SEC-030", "exempt_namespaces: [legacy]")
    assert params == PodSecurityParams(exempt_namespaces=frozenset({"legacy"}))
    finding = only(run("SEC-030", [namespace], params=params))
    assert finding.status is Status.SKIPPED and "nothing to assess" in finding.message
