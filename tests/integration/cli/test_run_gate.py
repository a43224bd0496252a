"""``assay run --fail-on`` follows the rule of ``assay scan``: a partial run (a check errored
or timed out) exits 3, findings at the threshold 2; the table ends with the failing findings
grouped by check."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from assay.client.cli.main import app
from assay.server.app import AssayServer
from assay.server.storage.repository import Repository
from tests.integration.api.server_fixtures import ServerThread, server_settings
from tests.integration.cli.test_scan_cli import deployment, plugin, write

__all__ = ["plugin"]
runner = CliRunner()


@pytest.fixture
def server_with_plugin(plugin: Any, repository: Repository) -> Iterator[ServerThread]:
    """A server started after the test plug-in was installed, so its registry has it."""
    with ServerThread(AssayServer(server_settings(), repository=repository)) as running:
        yield running


def run(target: str, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["--server", target, "run", *args], env={"COLUMNS": "200"})
    return result.exit_code, result.stdout, result.stderr


def test_partial_run_exits_3_under_fail_on(
    server_with_plugin: ServerThread, tmp_path: Path
) -> None:
    write(tmp_path, {"ok.yaml": deployment("web", privileged=False)})
    args = ("--path", str(tmp_path), "--check", "OPS-991")
    code, out, err = run(server_with_plugin.target, *args, "--fail-on", "high")
    assert code == 3, err
    assert "partial" in out and "partial" in err
    # Without --fail-on, assay run is no gate.
    assert run(server_with_plugin.target, *args)[0] == 0


def test_run_table_ends_with_failing_findings_by_check(
    server_with_plugin: ServerThread, tmp_path: Path
) -> None:
    write(tmp_path, {f"w{i}.yaml": deployment(f"w{i}", privileged=True) for i in range(7)})
    code, out, err = run(server_with_plugin.target, "--path", str(tmp_path), "--check", "SEC-001")
    assert code == 0, err
    grouped = out.partition("Failing findings by check (1 check, 7 results)")[2]
    assert "critical SEC-001" in grouped
    assert grouped.count("Deployment/shop/w") == 5
    assert "... and 2 more" in grouped
    code, out, _ = run(
        server_with_plugin.target, "--path", str(tmp_path), "--check", "SEC-001", "--show", "all"
    )
    assert out.partition("Failing findings by check")[2].count("Deployment/shop/w") == 7
