"""``assay workflows create|get|list|watch|audit`` against a server reconciling on the double."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import yaml
from typer.testing import CliRunner

from assay.client.cli.main import app
from assay.v1 import workflow_pb2 as wpb
from tests.integration.api.workflow_fixtures import IMAGE, NS, WorkflowEnv

runner = CliRunner()


def invoke(env: WorkflowEnv, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["--server", env.running.target, *args])
    return result.exit_code, result.stdout, result.stderr


def create_args(name: str, target: str = "prod/deployment/web") -> list[str]:
    return [
        "workflows", "create", "-n", NS, "--name", name, "--workflow-id", "restart-pods",
        "--version", "1.0.0", "--image", IMAGE, "--target", target, "--param", "REPLICAS=2",
        "--confidence", "0.8", "--timeout", "30m",
    ]  # fmt: skip


def test_create_get_list_watch_audit(workflows: WorkflowEnv) -> None:
    code, out, err = invoke(workflows, *create_args("wfe-cli"), "-o", "json")
    assert code == 0, err
    created = json.loads(out)
    assert created["name"] == "wfe-cli"
    assert created["spec"]["execution_config"]["timeout"] == "1800s"
    workflows.wait_phase("wfe-cli", wpb.WORKFLOW_PHASE_RUNNING)

    code, out, err = invoke(workflows, "workflows", "get", "wfe-cli", "-n", NS)
    assert code == 0, err
    assert "running" in out and "prod/deployment/web" in out

    watched: list[str] = []

    def watch() -> None:
        watched.append(invoke(workflows, "workflows", "watch", "wfe-cli", "-n", NS)[1])

    watcher = threading.Thread(target=watch)
    watcher.start()
    workflows.succeed("wfe-cli")
    watcher.join(20)
    assert not watcher.is_alive()
    assert "-> completed" in watched[0]

    code, out, _ = invoke(workflows, "workflows", "list", "--phase", "completed", "-o", "yaml")
    assert code == 0
    assert [e["name"] for e in yaml.safe_load(out)["executions"]] == ["wfe-cli"]

    workflows.audit_trail("wfe-cli", at_least=3)  # written just after the phase
    code, out, _ = invoke(workflows, "workflows", "audit", "--execution", "wfe-cli", "-o", "json")
    assert code == 0
    types = [e["event_type"] for e in json.loads(out)["events"]]
    assert types[:2] == ["pipelinerun_created", "completed"]
    code, out, _ = invoke(workflows, "workflows", "audit", "--type", "completed", "--total")
    assert code == 0 and "Audit events (1 of 1)" in out


def test_create_from_a_manifest_file(workflows: WorkflowEnv, tmp_path: Path) -> None:
    manifest = tmp_path / "wfe.yaml"
    manifest.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "workflowexecution.kubernaut.ai/v1alpha1",
                "kind": "WorkflowExecution",
                "metadata": {"name": "from-file", "namespace": NS},
                "spec": {
                    "workflowRef": {
                        "workflowId": "restart-pods",
                        "version": "1.0.0",
                        "containerImage": IMAGE,
                    },
                    "targetResource": "prod/deployment/api",
                    "parameters": {"REPLICAS": "3"},
                    "executionConfig": {"timeout": "1h30m"},
                },
            }
        )
    )
    code, out, err = invoke(workflows, "workflows", "create", "-f", str(manifest), "-o", "json")
    assert code == 0, err
    data = json.loads(out)
    assert data["namespace"] == NS and data["name"] == "from-file"
    assert data["spec"]["execution_config"]["timeout"] == "5400s"


def test_invalid_spec_is_one_line_naming_the_fields(workflows: WorkflowEnv) -> None:
    code, _, err = invoke(workflows, *create_args("bad", target="nonsense"), "--param", "lower=1")
    assert code == 1
    assert "spec.targetResource" in err and "spec.parameters" in err
    assert err.strip().count("\n") == 0


def test_unknown_execution(workflows: WorkflowEnv) -> None:
    code, _, err = invoke(workflows, "workflows", "get", "missing", "-n", NS)
    assert code == 1 and "not found" in err


def test_misspelt_manifest_field_is_reported(workflows: WorkflowEnv, tmp_path: Path) -> None:
    manifest = tmp_path / "typo.yaml"
    manifest.write_text(
        "kind: WorkflowExecution\nmetadata: {name: typo}\n"
        "spec: {targetResource: prod/deployment/web, workflowRefs: {workflowId: x}}\n"
    )
    code, _, err = invoke(workflows, "workflows", "create", "-f", str(manifest))
    assert code == 2
    assert "workflowRefs" in err
