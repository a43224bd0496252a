"""SEC-009..SEC-013: host namespaces, host paths, runtime sockets and host ports; their
parameters and the path arithmetic."""

from __future__ import annotations

from typing import Any

import pytest

from assay.server.checks.kit.params import build_params
from assay.server.checks.security.host import HostPathParams, SocketParams, contains, normalise
from assay.server.core.types import Severity, Status
from tests.unit.checks.objects import container, pod
from tests.unit.checks.runs import only, policy_params, run


def host_path_pod(path: str, *, read_only: bool = True, mounted: bool = True) -> dict[str, Any]:
    mounts = [{"name": "host", "mountPath": "/host", "readOnly": read_only}] if mounted else []
    spec = {
        "containers": [container(volumeMounts=mounts)],
        "volumes": [{"name": "host", "hostPath": {"path": path}}],
    }
    return pod("p", spec=spec)


@pytest.mark.parametrize(
    ("written", "normal"),
    [
        ("/var/lib/kubelet/", "/var/lib/kubelet"),
        ("//etc//kubernetes/./pki", "/etc/kubernetes/pki"),
        ("/srv/../etc", "/etc"),
        ("/var/run/docker.sock", "/run/docker.sock"),
        ("/var/running", "/var/running"),
        ("C:\\ProgramData\\docker", "C:\\ProgramData\\docker"),
    ],
)
def test_paths_are_normalised(written: str, normal: str) -> None:
    assert normalise(written) == normal


def test_contains_is_by_path_component() -> None:
    assert contains("/etc", "/etc/ssl") and contains("/", "/etc") and contains("/etc", "/etc")
    assert not contains("/etc", "/etcetera")


@pytest.mark.parametrize(
    ("path", "read_only", "severity"),
    [
        ("/var/log/app", True, None),
        ("/var/log/app", False, Severity.CRITICAL),
        ("/", True, Severity.CRITICAL),
        ("/proc/sys/net", True, Severity.CRITICAL),
        ("/var/lib", True, Severity.CRITICAL),
        ("/var/lib/docker", True, None),
        ("/root/.ssh", True, Severity.CRITICAL),
    ],
)
def test_sec011_severity(path: str, read_only: bool, severity: Severity | None) -> None:
    finding = only(run("SEC-011", [host_path_pod(path, read_only=read_only)]))
    assert (finding.status, finding.severity) == (Status.FAILING, severity)


def test_sec011_unmounted_host_path_still_fails_high() -> None:
    finding = only(run("SEC-011", [host_path_pod("/opt/agent", mounted=False)]))
    assert finding.severity is None and "not mounted by any container" in finding.message


def test_sec011_sensitive_paths_from_the_policy() -> None:
    params = policy_params("SEC-011", "sensitive_paths: [/opt/agent]")
    assert params == HostPathParams(sensitive_paths=frozenset({"/opt/agent"}))
    finding = only(run("SEC-011", [host_path_pod("/opt/agent/state")], params=params))
    assert finding.severity is Severity.CRITICAL and "/opt/agent is sensitive" in finding.message
    finding = only(run("SEC-011", [host_path_pod("/etc")], params=params))
    assert finding.severity is None


def test_sec012_socket_names_and_custom_locations() -> None:
    assert only(run("SEC-012", [host_path_pod("/srv/docker/docker.sock")])).status is (
        Status.FAILING
    )
    assert only(run("SEC-012", [host_path_pod("/")])).status is Status.FAILING
    custom = host_path_pod("/opt/runtime/api.sock")
    assert only(run("SEC-012", [custom])).status is Status.PASSING
    params = build_params(SocketParams, {"socket_paths": ["/opt/runtime/api.sock"]})
    finding = only(run("SEC-012", [custom], params=params))
    assert finding.status is Status.FAILING and "/opt/runtime/api.sock" in finding.message
    assert policy_params("SEC-012", "socket_names: [podman.sock]") == SocketParams(
        socket_names=frozenset({"podman.sock"})
    )


def test_sec010_reports_both_namespaces() -> None:
    spec = {"hostPID": True, "hostIPC": True, "containers": [container()]}
    assert only(run("SEC-010", [pod("p", spec=spec)])).message == "hostPID is true; hostIPC is true"


def test_sec013_zero_host_port_is_unset() -> None:
    spec = {"containers": [container(ports=[{"containerPort": 80, "hostPort": 0}])]}
    assert only(run("SEC-013", [pod("p", spec=spec)])).status is Status.PASSING
