"""The Deployment in deploy/ passes settings the server accepts, and serves beyond loopback."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from typer.testing import CliRunner

from assay.client.cli.main import app

DEPLOYMENT = Path(__file__).parents[2] / "deploy" / "base" / "deployment.yaml"
# What the cluster fills in for valueFrom entries.
FROM_CLUSTER = {"ASSAY_DATABASE_URL": "postgresql://assay@db/assay"}


def container() -> dict[str, Any]:
    deployment = yaml.safe_load(DEPLOYMENT.read_text())
    [only] = deployment["spec"]["template"]["spec"]["containers"]
    return dict(only)


def test_the_deployment_settings_are_valid_and_listen_on_every_interface() -> None:
    spec = container()
    assert spec["args"][0] == "serve"
    env = {
        e["name"]: e["value"] if "value" in e else FROM_CLUSTER.get(e["name"], "pod-0")
        for e in spec.get("env", [])
    }
    result = CliRunner().invoke(app, [*spec["args"], "--print-settings"], env=env)
    assert result.exit_code == 0, result.output
    values = dict(line.split("=", 1) for line in result.stdout.splitlines())
    assert values["ASSAY_LISTEN"] == "0.0.0.0:50051"  # the probes dial the pod IP
    assert values["ASSAY_WORKFLOWS"] == "true"
    assert values["ASSAY_LEADER_ELECTION_IDENTITY"] == "pod-0"
    ports = {p["name"]: p["containerPort"] for p in spec["ports"]}
    assert values["ASSAY_TOKEN_REVIEW"] == "true"  # beyond loopback only with authentication
    assert ports == {
        "grpc": 50051,
        "health": int(values["ASSAY_HEALTH_PORT"]),
        "metrics": int(values["ASSAY_METRICS_PORT"]),
    }
    assert values["ASSAY_HEALTH_HOST"] == "0.0.0.0"  # kubelet probes the pod IP
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        assert spec[probe]["httpGet"] == {"path": path, "port": "health"}
