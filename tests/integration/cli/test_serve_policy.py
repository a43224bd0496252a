"""``assay serve --policy`` with a bad policy file: one line naming the problem, exit 1."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from assay.client.cli.main import app


def test_a_bad_policy_file_stops_the_server_with_one_line(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text("checks:\n  SEC-999: {enabled: false}\nexemptions:\n  - checks: [all]\n")
    database = tmp_path / "assay.db"
    result = CliRunner().invoke(
        app,
        [
            "serve",
            "--policy",
            str(policy),
            "--database-url",
            f"sqlite:///{database}",
            "--listen",
            "127.0.0.1:0",
            "--health-port",
            "0",
            "--metrics-port",
            "0",
        ],
    )
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "policy file policy.yaml, line 2, checks.SEC-999: unknown check id" in lines[0]
    assert "(and 1 more problem)" in lines[0]
    assert "Traceback" not in result.output
    assert not database.exists()  # nothing opened before the policy was validated
