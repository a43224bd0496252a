"""``assay query assessments diff`` on runs stored by a real server, over gRPC; and the
``assay run --fail-on`` gate on a partial run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from assay.client.api import AssayClient
from assay.client.cli.main import app
from assay.v1 import assessment_pb2 as apb
from tests.integration.api.server_fixtures import ServerThread
from tests.integration.api.uploads import start_manifest_run
from tests.integration.cli.test_scan_cli import deployment, write

runner = CliRunner()


def stored_run(client: AssayClient, directory: Path) -> str:
    run = start_manifest_run(client, directory, check_id="SEC-001")
    finished = list(client.watch_run(run.run_id))[-1].run_finished.run
    assert finished.state == apb.RUN_PHASE_COMPLETED
    return run.run_id


def diff(target: str, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(
        app, ["--server", target, "query", "assessments", "diff", *args], env={"COLUMNS": "200"}
    )
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def two_runs(assay_server: ServerThread, client: AssayClient, tmp_path: Path) -> tuple[str, str]:
    before = write(
        tmp_path / "before",
        {
            "web.yaml": deployment("web", privileged=True),  # still failing
            "api.yaml": deployment("api", privileged=True),  # fixed
            "old.yaml": deployment("old", privileged=True),  # removed
            "jobs.yaml": deployment("jobs", privileged=True),  # renamed to jobs-v2
        },
    )
    after = write(
        tmp_path / "after",
        {
            "web.yaml": deployment("web", privileged=True),
            "api.yaml": deployment("api", privileged=False),
            "jobs.yaml": deployment("jobs-v2", privileged=True),
            "new.yaml": deployment("new", privileged=True),  # new
        },
    )
    return stored_run(client, before), stored_run(client, after)


def _names(items: list[dict[str, object]]) -> list[str]:
    return sorted(str(i["object"]["name"]) for i in items)  # type: ignore[index]


@pytest.mark.parametrize("output", ["json", "yaml"])
def test_diff_lists_new_fixed_and_still_failing(
    assay_server: ServerThread, two_runs: tuple[str, str], output: str
) -> None:
    run_a, run_b = two_runs
    code, out, err = diff(assay_server.target, run_a, run_b, "-o", output)
    assert code == 0, err
    data = json.loads(out) if output == "json" else yaml.safe_load(out)
    assert (data["run_a"], data["run_b"]) == (run_a, run_b)
    assert _names(data["new"]) == ["jobs-v2", "new"]
    assert _names(data["fixed"]) == ["api", "jobs", "old"]
    assert _names(data["still_failing"]) == ["web"]


def test_diff_table(assay_server: ServerThread, two_runs: tuple[str, str]) -> None:
    run_a, run_b = two_runs
    code, out, err = diff(assay_server.target, run_a, run_b)
    assert code == 0, err
    assert f"From {run_a} to {run_b}: 2 new, 3 fixed, 1 still failing" in out
    new, _, rest = out.partition("Fixed (")
    fixed, _, still = rest.partition("Still failing (")
    assert "Deployment/shop/new [app]" in new and "Deployment/shop/jobs-v2 [app]" in new
    assert "Deployment/shop/old [app]" in fixed and "Deployment/shop/api [app]" in fixed
    assert "Deployment/shop/web [app]" in still


def test_diff_of_a_run_with_itself_is_all_still_failing(
    assay_server: ServerThread, two_runs: tuple[str, str]
) -> None:
    run_a, _ = two_runs
    code, out, _ = diff(assay_server.target, run_a, run_a, "-o", "json")
    data = json.loads(out)
    assert code == 0 and data["new"] == [] and data["fixed"] == []
    assert len(data["still_failing"]) == 4


def test_diff_of_an_unknown_run_is_one_line(
    assay_server: ServerThread, two_runs: tuple[str, str]
) -> None:
    code, out, err = diff(assay_server.target, two_runs[0], "run_nope")
    assert code == 1 and out == ""
    assert "not found" in err and len(err.strip().splitlines()) == 1
