"""What the CLI prints, end to end against a real server: tables at 80 and 200 columns,
``-o wide``, json/yaml values the filters take back, and server strings that look like Rich
markup printed as they are."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from assay.client.cli.main import app
from assay.v1 import workflow_pb2 as wpb
from tests.integration.api.server_fixtures import ServerThread
from tests.integration.api.workflow_fixtures import NS, WorkflowEnv
from tests.integration.cli.test_workflows_cli import create_args
from tests.unit.client.tables import column

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
runner = CliRunner()
# What the CLI prints does not depend on the database: SQLite only.
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

# Server strings that can carry brackets: container names and images are not Kubernetes
# names (the inventory does not hold them to DNS rules), file names reach the diagnostics.
CONTAINER = "[reindex]"
IMAGE = "fluent/fluent-bit:[bold]3.1.9"
BROKEN = "[red]broken:fire:.yaml"
HOSTILE = f"""\
apiVersion: apps/v1
kind: DaemonSet
metadata: {{name: log-shipper, namespace: monitoring}}
spec:
  selector: {{matchLabels: {{app: log-shipper}}}}
  template:
    metadata: {{labels: {{app: log-shipper}}}}
    spec:
      containers:
        - name: "{CONTAINER}"
          image: "{IMAGE}"
          securityContext: {{privileged: true}}
"""
ENUM_PREFIX = re.compile(
    r"\b(STATUS|PILLAR|SEVERITY|RUN_PHASE|RUN_SCOPE|INVENTORY_SOURCE|WORKFLOW_PHASE|"
    r"AUDIT_EVENT_TYPE|FAILURE_REASON|SKIP_REASON)_[A-Z]"
)


def invoke(target: str, *args: str, width: int = 80) -> tuple[int, str, str]:
    result = runner.invoke(app, ["--server", target, *args], env={"COLUMNS": str(width)})
    return result.exit_code, result.stdout, result.stderr


def ok(target: str, *args: str, width: int = 80) -> str:
    code, out, err = invoke(target, *args, width=width)
    assert code == 0, err
    assert not ENUM_PREFIX.search(out), out
    return out


def data(target: str, *args: str, output: str = "json") -> Any:
    out = ok(target, *args, "-o", output)
    return json.loads(out) if output == "json" else yaml.load(out, Loader=yaml.CSafeLoader)


def fits(out: str, width: int) -> None:
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= width
    assert all(line == line.rstrip() for line in lines)


@pytest.fixture
def target(assay_server: ServerThread, tmp_path: Path) -> str:
    """A server holding two finished runs: one over examples/, one over manifests whose
    strings look like markup (and a file that does not parse)."""
    (tmp_path / "shipper.yaml").write_text(HOSTILE)
    (tmp_path / BROKEN).write_text("kind: [unclosed\n")
    ok(assay_server.target, "run", "--path", str(EXAMPLES), "-o", "json")
    out = ok(assay_server.target, "run", "--path", str(tmp_path), width=200)
    assert "Input error" in out and BROKEN in out
    return assay_server.target


def _latest_run(target: str) -> str:
    run_id: str = data(target, "query", "runs", "list", "--limit", "1")["runs"][0]["run_id"]
    return run_id


def test_markup_like_server_strings_are_printed_literally(target: str) -> None:
    for width in (80, 200):
        out = ok(target, "query", "assessments", "list", "--check", "SEC-029", width=width)
        fits(out, width)
        message = column(out, "MESSAGE")
        assert message.replace(" ", "") == f"image{IMAGE}isnotpinnedbydigest"
        obj = column(out, "OBJECT", "MESSAGE")
        assert obj.replace(" ", "") == f"DaemonSetmonitoring/log-shipper({CONTAINER})"
        wide = ok(target, "query", "assessments", "list", "--check", "SEC-001", "-o", "wide")
        assert f"  {CONTAINER}  " in wide
        run = ok(target, "query", "runs", "get", _latest_run(target), width=width)
        assert BROKEN in "".join(run.split())
    listed = data(target, "query", "assessments", "list", "--check", "SEC-001")["results"]
    assert [r["container"] for r in listed] == [CONTAINER]
    [result_id] = [r["id"] for r in listed]
    shown = ok(target, "query", "assessments", "get", result_id, width=200)
    assert f"Container    {CONTAINER}\n" in shown


def test_an_error_quoting_markup_is_printed_literally(target: str) -> None:
    code, _, err = invoke(target, "query", "runs", "get", "run_[bold]x:fire:")
    assert code == 1
    assert err.strip() == "error: not found: run 'run_[bold]x:fire:' not found"


COMMANDS = [
    ("query", "assessments", "list", "--all-runs", "--limit", "30"),
    ("query", "assessments", "summary"),
    ("query", "assessments", "history"),
    ("query", "runs", "list"),
    ("checks", "list"),
]


@pytest.mark.parametrize("width", [80, 200])
def test_every_listing_fits_the_terminal_and_wide_shows_full_ids(target: str, width: int) -> None:
    run_id = _latest_run(target)
    [result] = data(target, "query", "assessments", "list", "--check", "SEC-001")["results"]
    commands = [
        *COMMANDS,
        ("query", "runs", "get", run_id),
        ("query", "assessments", "get", result["id"]),
    ]
    for command in commands:
        fits(ok(target, *command, width=width), width)
        wide = ok(target, *command, "-o", "wide", width=width)
        assert all(line == line.rstrip() for line in wide.splitlines())
    for listing in (("query", "runs", "list"), ("query", "assessments", "history")):
        out = ok(target, *listing, width=width)
        assert run_id[-8:] in out and run_id not in out
        assert run_id in ok(target, *listing, "-o", "wide", width=width)
    rows = ok(target, "query", "assessments", "list", "--all-runs", "-o", "wide", "--limit", "5")
    assert len(rows.splitlines()) == 2 + 5 + 1  # title, header, one line per row, caption
    assert result["id"] in ok(
        target, "query", "assessments", "list", "--check", "SEC-001", "-o", "wide"
    )


def test_json_and_yaml_values_are_the_names_the_filters_take(target: str) -> None:
    listing = ("query", "assessments", "list", "--all-runs", "--limit", "1000")
    results = data(target, *listing, "--all")["results"]
    assert data(target, *listing, output="yaml")["results"] == results[:1000]
    first = next(r for r in results if r["object"] is not None)
    assert set(first["object"]) >= {"kind", "namespace", "name"}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", first["assessed_at"])
    for key, option in (("status", "--status"), ("pillar", "--pillar")):
        values = {r[key] for r in results}
        assert len(values) > 2
        for value in values:
            args = ("query", "assessments", "list", "--all-runs", option, value, "--limit", "5")
            assert {r[key] for r in data(target, *args)["results"]} == {value}
    runs = data(target, "query", "runs", "list")["runs"]
    for state in {r["state"] for r in runs}:
        assert data(target, "query", "runs", "list", "--state", state)["runs"]
    assert {r["scope"] for r in runs} == {"full"} and {r["source"] for r in runs} == {"manifests"}
    checks = data(target, "checks", "list")
    for pillar in {c["pillar"] for c in checks}:
        assert {c["pillar"] for c in data(target, "checks", "list", "--pillar", pillar)} == {pillar}
    assert {c["severity"] for c in checks} == {"info", "low", "medium", "high", "critical"}


def test_a_workflow_failure_quoting_markup_is_printed_literally(workflows: WorkflowEnv) -> None:
    target = workflows.running.target
    ok(target, *create_args("wfe-markup"))
    workflows.wait_phase("wfe-markup", wpb.WORKFLOW_PHASE_RUNNING)
    message = "[red]boom[/red] evil[/bold]name :fire:"  # the registry's answer, quoted
    workflows.fail("wfe-markup", reason="ImagePullBackOff", message=message)
    failed = workflows.wait_phase("wfe-markup", wpb.WORKFLOW_PHASE_FAILED)
    assert message in failed.status.failure_details.message
    for width in (80, 200):
        out = ok(target, "workflows", "get", "wfe-markup", "-n", NS, width=width)
        fits(out, width)
        assert message in " ".join(out.split())
        listed = ok(target, "workflows", "list", width=width)
        fits(listed, width)
        assert "wfe-markup" in listed and "failed" in listed
    workflows.audit_trail("wfe-markup", at_least=2)
    audit = ok(target, "workflows", "audit", "--execution", "wfe-markup", "-o", "wide")
    assert "failed" in audit
    events = data(target, "workflows", "audit", "--execution", "wfe-markup")["events"]
    assert {"pipelinerun_created", "failed"} <= {e["event_type"] for e in events}
    execution = data(target, "workflows", "get", "wfe-markup", "-n", NS, output="yaml")
    assert execution["status"]["phase"] == "failed"
    assert message in execution["status"]["failure_details"]["message"]
