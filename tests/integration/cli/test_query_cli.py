"""``assay query ...`` in-process (typer CliRunner) against a real server on port 0."""

from __future__ import annotations

import json
import socket
from datetime import timedelta
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from assay.client.cli.main import app
from assay.server.core.types import Pillar, Severity, Status
from assay.server.storage.repository import Repository
from tests.integration.api.seed import ROWS, T0, seed_run
from tests.integration.api.server_fixtures import ServerThread

runner = CliRunner()


@pytest.fixture
def target(assay_server: ServerThread, repository: Repository) -> str:
    seed_run(repository, "run_a", T0, ROWS)
    seed_run(
        repository,
        "run_b",
        T0 + timedelta(hours=1),
        [(Pillar.SECURITY, "SEC-001", Status.PASSING, Severity.CRITICAL)],
    )
    return assay_server.target


def invoke(target: str, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["--server", target, *args])
    return result.exit_code, result.stdout, result.stderr


FORMATS = ["table", "json", "yaml"]


@pytest.mark.parametrize("output", FORMATS)
def test_assessments_list(target: str, output: str) -> None:
    code, out, err = invoke(
        target,
        "query",
        "assessments",
        "list",
        "--run-id",
        "run_a",
        "--pillar",
        "security,rel",
        "--status",
        "failing",
        "--status",
        "warning",
        "--total",
        "--output",
        output,
    )
    assert code == 0, err
    if output == "table":
        assert "SEC-003" in out and "REL-005" in out and "REL-001" not in out
        return
    data = json.loads(out) if output == "json" else yaml.safe_load(out)
    checks = sorted(r["check_id"] for r in data["results"])
    assert checks == ["REL-005", "SEC-001", "SEC-003"]
    assert data["total_size"] == 3
    assert data["run_id"] == "run_a"


def _json(target: str, *args: str) -> dict[str, Any]:
    code, out, err = invoke(target, *args, "-o", "json")
    assert code == 0, err
    data: dict[str, Any] = json.loads(out)
    return data


def test_assessments_list_reads_the_latest_run_unless_told_otherwise(target: str) -> None:
    latest = _json(target, "query", "assessments", "list")
    assert latest["run_id"] == "run_b" and len(latest["results"]) == 1
    everything = _json(target, "query", "assessments", "list", "--all-runs", "--total")
    assert everything["total_size"] == len(ROWS) + 1
    assert [r["run_id"] for r in everything["results"]] == ["run_b"] + ["run_a"] * len(ROWS)
    recent = _json(
        target, "query", "assessments", "list", "--all-runs", "--since", "2026-02-16T11:00:00"
    )
    assert [r["run_id"] for r in recent["results"]] == ["run_b"]


def test_assessments_list_pages_with_tokens(target: str) -> None:
    first = _json(target, "query", "assessments", "list", "--run-id", "run_a", "--limit", "3")
    assert len(first["results"]) == 3 and first["next_page_token"]
    second = _json(
        target,
        "query",
        "assessments",
        "list",
        "--run-id",
        "run_a",
        "--limit",
        "3",
        "--page-token",
        first["next_page_token"],
    )
    every = _json(
        target, "query", "assessments", "list", "--run-id", "run_a", "--limit", "3", "--all"
    )
    ids = [r["id"] for r in every["results"]]
    assert len(ids) == len(set(ids)) == len(ROWS)
    assert ids[:6] == [r["id"] for r in first["results"] + second["results"]]
    assert every["next_page_token"] == ""  # the last page

    code, out, err = invoke(
        target, "query", "assessments", "list", "--run-id", "run_a", "--limit", "3", "--total"
    )
    assert code == 0, err
    assert "more: --page-token" in out and f"(3 of {len(ROWS)})" in out


def test_a_token_with_other_filters_is_refused_naming_the_field(target: str) -> None:
    token = _json(target, "query", "assessments", "list", "--run-id", "run_a", "--limit", "1")[
        "next_page_token"
    ]
    code, _, err = invoke(
        target, "query", "assessments", "list", "--all-runs", "--page-token", token
    )
    assert code == 1
    assert "page_token" in err and err.strip().count("\n") == 0


def test_runs_history_and_audit_page_with_tokens(target: str) -> None:
    runs = _json(target, "query", "runs", "list", "--limit", "1", "--all", "--total")
    assert [r["run_id"] for r in runs["runs"]] == ["run_b", "run_a"]
    assert runs["total_size"] == 2
    history = _json(target, "query", "assessments", "history", "--limit", "1")
    rest = _json(
        target,
        "query",
        "assessments",
        "history",
        "--limit",
        "1",
        "--page-token",
        history["next_page_token"],
    )
    assert [e["run_id"] for e in history["entries"] + rest["entries"]] == ["run_b", "run_a"]


def test_run_id_and_all_runs_exclude_each_other(target: str) -> None:
    code, _, err = invoke(target, "query", "assessments", "list", "--run-id", "x", "--all-runs")
    assert code == 2
    assert "exclude each other" in err


@pytest.mark.parametrize("output", FORMATS)
def test_assessments_summary(target: str, output: str) -> None:
    code, out, err = invoke(
        target, "query", "assessments", "summary", "--run-id", "run_a", "-o", output
    )
    assert code == 0, err
    if output == "table":
        assert "score 40.0" in out and "security" in out
        return
    data = json.loads(out) if output == "json" else yaml.safe_load(out)
    assert data["score"] == pytest.approx(40.0)
    assert data["counts"]["failing"] == 2


@pytest.mark.parametrize("output", FORMATS)
def test_assessments_history(target: str, output: str) -> None:
    code, out, err = invoke(target, "query", "assessments", "history", "-o", output)
    assert code == 0, err
    if output == "table":
        assert "run_a" in out and "run_b" in out
        return
    data = json.loads(out) if output == "json" else yaml.safe_load(out)
    assert [e["run_id"] for e in data["entries"]] == ["run_b", "run_a"]


@pytest.mark.parametrize("output", FORMATS)
def test_assessments_get(target: str, repository: Repository, output: str) -> None:
    _, out, _ = invoke(
        target, "query", "assessments", "list", "--all-runs", "--check", "SEC-003", "-o", "json"
    )
    wanted = json.loads(out)["results"][0]["id"]
    code, out, err = invoke(target, "query", "assessments", "get", wanted, "-o", output)
    assert code == 0, err
    if output == "table":
        assert wanted in out and "Fix SEC-003" in out
        return
    data = json.loads(out) if output == "json" else yaml.safe_load(out)
    assert data["id"] == wanted and data["status"] == "failing"


@pytest.mark.parametrize("output", FORMATS)
def test_runs_list_and_get(target: str, output: str) -> None:
    code, out, err = invoke(target, "query", "runs", "list", "--state", "partial", "-o", output)
    assert code == 0, err
    if output != "table":
        data = json.loads(out) if output == "json" else yaml.safe_load(out)
        assert [r["run_id"] for r in data["runs"]] == ["run_a"]
    else:
        assert "run_a" in out and "run_b" not in out
    code, out, err = invoke(target, "query", "runs", "get", "run_b", "-o", output)
    assert code == 0, err
    assert "run_b" in out


def test_rpc_error_is_one_readable_line(target: str) -> None:
    code, out, err = invoke(target, "query", "runs", "get", "run_nope")
    assert code == 1
    assert err.strip().count("\n") == 0
    assert "not found" in err and "Traceback" not in err + out


def test_invalid_argument_names_the_field(target: str) -> None:
    code, _, err = invoke(target, "query", "assessments", "list", "--limit", "-1")
    assert code == 1
    assert "page_size" in err and err.strip().count("\n") == 0


def test_bad_flag_value_is_a_usage_error(target: str) -> None:
    code, _, err = invoke(target, "query", "assessments", "list", "--pillar", "nonsense")
    assert code == 2
    assert "unknown pillar 'nonsense'" in err


def test_no_server_gives_one_line_and_non_zero_exit() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = runner.invoke(
        app, ["--server", f"127.0.0.1:{port}", "--rpc-timeout", "5", "query", "runs", "list"]
    )
    assert result.exit_code == 1
    assert "cannot reach the Assay server" in result.stderr
    assert result.stderr.strip().count("\n") == 0
    assert "Traceback" not in result.output
