"""Probe checks (REL-002, REL-003): cases the fixture files cannot show."""

from __future__ import annotations

from typing import Any

import pytest

from assay.server.core.types import Status
from tests.unit.checks.objects import pod
from tests.unit.checks.runs import only, run


@pytest.mark.parametrize(
    ("handler", "same"),
    [
        ({"exec": {"command": ["cat", "/tmp/ready"]}}, True),
        ({"grpc": {"port": 9090}}, True),
        ({"httpGet": {"path": "/", "port": 8080}}, True),
        ({"httpGet": {"port": 8080}}, True),  # path defaults to "/"
        ({"httpGet": {"path": "/", "port": 8080, "scheme": "HTTPS"}}, False),
        (
            {"httpGet": {"path": "/", "port": 8080, "httpHeaders": [{"name": "X", "value": "1"}]}},
            False,
        ),
    ],
)
def test_liveness_repeating_readiness_is_found_for_every_handler(
    handler: dict[str, Any], same: bool
) -> None:
    readiness = {"httpGet": {"path": "/", "port": 8080}} if "httpGet" in handler else handler
    container = {
        "name": "app",
        "ports": [{"containerPort": 8080}, {"containerPort": 9090}],
        "readinessProbe": readiness,
        "livenessProbe": handler,
    }
    finding = only(run("REL-003", [pod("p", container)]))
    assert (finding.status is Status.FAILING) is same, finding.message


def test_liveness_that_waits_longer_than_readiness_is_the_documented_pattern() -> None:
    container: dict[str, Any] = {
        "name": "app",
        "ports": [{"name": "http", "containerPort": 8080}],
        "readinessProbe": {"httpGet": {"path": "/health", "port": "http"}, "periodSeconds": 5},
        "livenessProbe": {"httpGet": {"path": "/health", "port": 8080}, "failureThreshold": 3},
    }
    assert only(run("REL-003", [pod("p", container)])).status is Status.PASSING
    container["livenessProbe"]["periodSeconds"] = 5
    finding = only(run("REL-003", [pod("p", container)]))
    assert finding.status is Status.FAILING
    assert "gives up after 15s, no later than readiness (15s)" in finding.message


@pytest.mark.parametrize(
    ("probe", "message"),
    [
        ({"tcpSocket": {"port": 70000}}, "livenessProbe.tcpSocket.port 70000 is not a valid port"),
        ({"tcpSocket": {}}, "livenessProbe.tcpSocket.port is not set"),
        ({"grpc": {"port": 9091}}, "livenessProbe.grpc.port 9091 is not among the container's"),
        ({"httpGet": {"port": "x" * 500}}, "livenessProbe.httpGet.port 'xxxxxxx"),
    ],
)
def test_probe_port_problems_name_the_field_and_value(probe: dict[str, Any], message: str) -> None:
    container = {"name": "app", "ports": [{"containerPort": 9090}], "livenessProbe": probe}
    finding = only(run("REL-003", [pod("p", container)]))
    assert finding.status is Status.FAILING and message in finding.message
    assert len(finding.message) < 200


def test_containers_without_probes_give_nothing_to_assess() -> None:
    spec = pod(
        "p",
        {"name": "app", "image": "example/app:1.0"},
        initContainers=[{"name": "setup", "image": "example/setup:1.0"}],
    )
    [finding] = run("REL-003", [spec])
    assert finding.status is Status.SKIPPED and finding.object is None


def test_liveness_is_required_of_neither_init_nor_sidecar_containers() -> None:
    spec = pod(
        "p",
        {"name": "app", "livenessProbe": {"tcpSocket": {"port": 8080}}},
        initContainers=[{"name": "setup"}, {"name": "proxy", "restartPolicy": "Always"}],
    )
    assert [(f.container, f.status) for f in run("REL-002", [spec])] == [("app", Status.PASSING)]
