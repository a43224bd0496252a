"""The settings tree: every field from its variable and its flag, names derived by one rule,
every bad value rejected with its name, and ``assay serve`` failing in one line.

The parametrised tests walk :func:`options`, so a field added to any component's settings
is covered the day it appears (a value that breaks a cross-field rule goes in SAMPLES).
"""

from __future__ import annotations

import dataclasses
import enum
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from assay.client.cli.main import app
from assay.server.core.threads import available_cores
from assay.server.core.types import Source
from assay.server.settings import (
    Option,
    Settings,
    SettingsError,
    StartupError,
    auto_read_threads,
    check,
    load_settings,
    option,
    options,
)

SAMPLES: dict[str, str] = {
    # Strings whose generic sample would not be a valid value.
    "listen": "127.0.0.2:6001",
    "database_url": "sqlite:////tmp/assay-settings-test.db",
    "policy": str(Path(__file__)),
    "kube.kubeconfig": str(Path(__file__)),
    "assessment.schedule": "*/5 * * * *",
    "assessment.schedule_path": str(Path(__file__).parent),
    "metrics_host": "127.0.0.2",  # loopback: authentication is off in these samples
    "auth.token_file": str(Path(__file__)),
    "tls.cert": str(Path(__file__)),
    "tls.key": str(Path(__file__)),
    "tls.client_ca": str(Path(__file__)),
}
_FILE = str(Path(__file__))
# Variables a sample needs beside its own to be valid (TLS comes in pairs, and alone
# authenticates nobody).
COMPANIONS: dict[str, dict[str, str]] = {
    "tls.cert": {"ASSAY_TLS_KEY": _FILE, "ASSAY_TOKEN_FILE": _FILE},
    "tls.key": {"ASSAY_TLS_CERT": _FILE, "ASSAY_TOKEN_FILE": _FILE},
    "tls.client_ca": {"ASSAY_TLS_CERT": _FILE, "ASSAY_TLS_KEY": _FILE},
    "processes": {"ASSAY_DATABASE_URL": "postgresql://assay@db.example/assay"},
}


def sample(opt: Option) -> str:
    """A valid value different from the default, as text."""
    if opt.dotted in SAMPLES:
        return SAMPLES[opt.dotted]
    if opt.kind is bool:
        return "false" if opt.default else "true"
    if issubclass(opt.kind, enum.Enum):
        return next(c for c in opt.choices if c != opt.default)
    if opt.kind is int:
        return str(opt.default + 1)
    if opt.kind is float:
        return str((opt.default or 0) + 1.5)
    return "sample-value"


def expected(opt: Option, text: str) -> str:
    if opt.kind is float:
        return str(float(text))
    return opt.format(opt.kind(text) if issubclass(opt.kind, enum.Enum) else text)


def printed(output: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in output.splitlines() if "=" in line)


ALL = [pytest.param(o, id=o.dotted) for o in options()]
cli = CliRunner()


def test_names_follow_the_rule_and_keep_todays_variables() -> None:
    envs = {o.env for o in options()}
    assert {
        "ASSAY_LISTEN",
        "ASSAY_DATABASE_URL",
        "ASSAY_CLUSTER_ID",
        "ASSAY_KUBE_CONTEXT",
        "ASSAY_HEALTH_PORT",
        "ASSAY_METRICS_PORT",
        "ASSAY_TOKEN_FILE",
        "ASSAY_TOKEN_REVIEW",
        "ASSAY_TLS_CERT",
        "ASSAY_TLS_KEY",
        "ASSAY_TLS_CLIENT_CA",
        "ASSAY_WRITER_GROUPS",
        "ASSAY_ALLOWED_CONTEXTS",
        "ASSAY_ALLOWED_REGISTRIES",
        "ASSAY_ALLOWED_SERVICE_ACCOUNTS",
        "ASSAY_MAX_UPLOAD_BYTES",
        "ASSAY_SHUTDOWN_GRACE",
        "ASSAY_POLICY",
        "ASSAY_CHECK_TIMEOUT",
        "ASSAY_RUN_TIMEOUT",
        "ASSAY_SCHEDULE",
        "ASSAY_SCHEDULE_SOURCE",
        "ASSAY_SCHEDULE_PATH",
        "ASSAY_HONOUR_EXEMPTIONS",
        "ASSAY_RUN_HEARTBEAT",
        "ASSAY_RUN_STALE_AFTER",
        "ASSAY_WORKFLOWS",
        "ASSAY_WORKFLOW_NAMESPACE",
        "ASSAY_WORKFLOW_COOLDOWN",
        "ASSAY_WORKFLOW_WORKERS",
        "ASSAY_LEADER_ELECTION",
    } <= envs
    assert option("workflow.backoff.initial_s").env == "ASSAY_WORKFLOW_BACKOFF_INITIAL"
    assert option("workflow.leader_election.lease_duration_s").flags == (
        "--leader-election-lease-duration",
    )
    assert option("kube.context").flags == ("--kube-context", "--context")
    for opt in options():
        assert opt.flags[0] == "--" + opt.env.removeprefix("ASSAY_").lower().replace("_", "-")
        assert opt.help.strip()


def test_defaults() -> None:
    settings = load_settings({})
    assert settings.listen == "127.0.0.1:50051"  # not every interface, unless asked
    assert settings == dataclasses.replace(
        Settings(),
        workflow=dataclasses.replace(
            Settings().workflow, leader_election=settings.workflow.leader_election
        ),
    )
    assert settings.assessment.schedule_source is Source.LIVE


@pytest.mark.parametrize("opt", ALL)
def test_every_setting_from_its_variable(opt: Option) -> None:
    text = sample(opt)
    env = {**COMPANIONS.get(opt.dotted, {}), opt.env: text}
    result = cli.invoke(app, ["serve", "--print-settings"], env=env)
    assert result.exit_code == 0, result.output
    assert printed(result.stdout)[opt.env] == expected(opt, text)


@pytest.mark.parametrize("opt", ALL)
def test_every_setting_from_its_flag_over_its_variable(opt: Option) -> None:
    text = sample(opt)
    if opt.kind is bool:
        args = [opt.flags[0] if text == "true" else "--no-" + opt.flags[0].removeprefix("--")]
        env = {opt.env: "false" if text == "true" else "true"}
    else:
        args = [opt.flags[0], text]
        env = {opt.env: text + "-ignored"} if opt.kind is str else {}
    env.update(COMPANIONS.get(opt.dotted, {}))
    result = cli.invoke(app, ["serve", "--print-settings", *args], env=env)
    assert result.exit_code == 0, result.output
    assert printed(result.stdout)[opt.env] == expected(opt, text)


def test_a_flag_alias_and_none() -> None:
    result = cli.invoke(
        app, ["serve", "--print-settings", "--context", "prod", "--run-timeout", "none"]
    )
    assert result.exit_code == 0, result.output
    values = printed(result.stdout)
    assert (values["ASSAY_KUBE_CONTEXT"], values["ASSAY_RUN_TIMEOUT"]) == ("prod", "none")


def test_secrets_are_never_printed() -> None:
    url = "postgresql://assay:s3cret@db/assay"
    result = cli.invoke(app, ["serve", "--print-settings"], env={"ASSAY_DATABASE_URL": url})
    assert "s3cret" not in result.output
    result = cli.invoke(app, ["serve", "--print-settings", "--database-url", "nope://:s3cret@"])
    assert result.exit_code == 1 and "s3cret" not in result.output


INVALID: list[tuple[str, str, str]] = [
    ("ASSAY_LISTEN", "nonsense", "expected HOST:PORT"),
    ("ASSAY_LISTEN", "127.0.0.1:70000", "expected HOST:PORT"),
    ("ASSAY_LISTEN", "0.0.0.0:50051", "not loopback and authentication is off"),
    ("ASSAY_HEALTH_PORT", "65536", "at most 65535"),
    ("ASSAY_METRICS_PORT", "eighty", "whole number"),
    ("ASSAY_METRICS_HOST", "0.0.0.0", "not loopback and authentication is off"),
    ("ASSAY_HEALTH_POLL", "0", "greater than 0"),
    ("ASSAY_TOKEN_FILE", "/no/such/tokens.csv", "is not a file"),
    ("ASSAY_TOKEN_CACHE_TTL", "-1", "at least 0"),
    ("ASSAY_WRITER_GROUPS", "ops,a\x01b", "control characters"),
    ("ASSAY_ALLOWED_REGISTRIES", "quay.io,quay.io/Bad Org", "not a registry or registry/path"),
    ("ASSAY_ALLOWED_SERVICE_ACCOUNTS", "runner,Cluster_Admin", "not ServiceAccount names"),
    ("ASSAY_MAX_UPLOAD_BYTES", "0", "at least 1"),
    ("ASSAY_DATABASE_URL", "mysql://x/y", "unsupported database"),
    ("ASSAY_DATABASE_URL", "not a url", "not a SQLAlchemy URL"),
    ("ASSAY_CLUSTER_ID", " ", "1 to 253"),
    ("ASSAY_POLICY", "/no/such/policy.yaml", "is not a file"),
    ("ASSAY_SHUTDOWN_GRACE", "-1", "at least 0"),
    ("ASSAY_LOG_LEVEL", "loud", "one of debug, info, warning, error"),
    ("ASSAY_KUBE_CONTEXT", "a\x01b", "control characters"),
    ("ASSAY_KUBECONFIG", "/no/such/kubeconfig", "is not a file"),
    ("ASSAY_KUBE_REQUEST_TIMEOUT", "0", "greater than 0"),
    ("ASSAY_KUBE_PAGE_SIZE", "0", "at least 1"),
    ("ASSAY_KUBE_CONFLICT_RETRIES", "0", "at least 1"),
    ("ASSAY_CHECK_TIMEOUT", "0", "greater than 0"),
    ("ASSAY_CHECK_TIMEOUT", "nan", "finite number"),
    ("ASSAY_RUN_TIMEOUT", "-5", "greater than 0"),
    ("ASSAY_CHECK_CONCURRENCY", "0", "at least 1"),
    ("ASSAY_HONOUR_EXEMPTIONS", "maybe", "true or false"),
    ("ASSAY_SCHEDULE", "every hour", "not a cron expression"),
    ("ASSAY_SCHEDULE_SOURCE", "git", "one of live, manifests"),
    ("ASSAY_RUN_HEARTBEAT", "90", "below the stale-after time"),
    ("ASSAY_WORKFLOWS", "maybe", "true or false"),
    ("ASSAY_WORKFLOW_NAMESPACE", "Bad_NS", "DNS label"),
    ("ASSAY_WORKFLOW_WORKERS", "0", "at least 1"),
    ("ASSAY_WORKFLOW_WORKERS", "1.5", "whole number"),
    ("ASSAY_WORKFLOW_COOLDOWN", "-1", "at least 0"),
    ("ASSAY_WORKFLOW_BACKOFF_MAX", "0.1", "at least the initial delay"),
    ("ASSAY_LEADER_ELECTION_LEASE_NAME", "Not/A/Name", "DNS subdomain"),
    ("ASSAY_LEADER_ELECTION_RENEW_DEADLINE", "20", "retry period < renew deadline"),
]


@pytest.mark.parametrize(("env", "value", "message"), INVALID)
def test_each_invalid_value_is_named(env: str, value: str, message: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({env: value})
    [problem] = caught.value.problems
    assert problem.option.env == env
    assert message in problem.message
    assert str(caught.value).startswith(f"invalid settings: {env} (")


def test_every_problem_at_once_in_declaration_order() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({"ASSAY_WORKFLOW_WORKERS": "0", "ASSAY_LISTEN": "x"})
    assert [p.option.env for p in caught.value.problems] == [
        "ASSAY_LISTEN",
        "ASSAY_WORKFLOW_WORKERS",
    ]


def test_a_schedule_of_manifests_needs_a_path(tmp_path: Path) -> None:
    env = {"ASSAY_SCHEDULE": "0 * * * *", "ASSAY_SCHEDULE_SOURCE": "manifests"}
    with pytest.raises(SettingsError, match=r"ASSAY_SCHEDULE_PATH .*is required"):
        load_settings(env)
    with pytest.raises(SettingsError, match="does not exist"):
        load_settings({**env, "ASSAY_SCHEDULE_PATH": str(tmp_path / "absent")})
    settings = load_settings({**env, "ASSAY_SCHEDULE_PATH": str(tmp_path)})
    assert settings.assessment.schedule_path == str(tmp_path)


def test_settings_built_in_code_are_checked_the_same_way() -> None:
    bad = dataclasses.replace(
        Settings(), workflow=dataclasses.replace(Settings().workflow, workers=0)
    )
    with pytest.raises(SettingsError, match="ASSAY_WORKFLOW_WORKERS"):
        check(bad)
    valid = Settings()
    assert check(valid) is valid


def test_a_startup_error_names_its_setting() -> None:
    error = StartupError("address already in use", setting="listen")
    assert str(error) == "ASSAY_LISTEN (--listen): address already in use"
    assert str(StartupError("no setting to blame")) == "no setting to blame"


def _one_line_failure(args: list[str], env: dict[str, Any] | None = None) -> str:
    result = cli.invoke(app, ["serve", *args], env=env)
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_assay_serve_with_a_bad_value_prints_one_line() -> None:
    line = _one_line_failure(["--workflow-workers", "zero"])
    assert line == (
        "error: invalid settings: ASSAY_WORKFLOW_WORKERS (--workflow-workers): "
        "expected a whole number, got 'zero'"
    )
    line = _one_line_failure([], env={"ASSAY_SCHEDULE_SOURCE": "git"})
    assert "ASSAY_SCHEDULE_SOURCE (--schedule-source): expected one of live, manifests" in line


def test_lists_are_comma_separated_and_printed_back() -> None:
    settings = load_settings({"ASSAY_WRITER_GROUPS": " ops , sre,,", "ASSAY_ALLOWED_CONTEXTS": ""})
    assert settings.auth.writer_groups == ("ops", "sre")
    assert settings.auth.allowed_contexts == ()
    result = cli.invoke(app, ["serve", "--print-settings", "--allowed-contexts", "a,b"])
    assert result.exit_code == 0, result.output
    values = printed(result.stdout)
    assert values["ASSAY_ALLOWED_CONTEXTS"] == "a,b"
    assert values["ASSAY_WRITER_GROUPS"] == "assay:writers"


def test_every_interface_needs_authentication() -> None:
    token_file = {"ASSAY_TOKEN_FILE": _FILE}
    for env in (
        {"ASSAY_LISTEN": "0.0.0.0:50051", **token_file},
        {"ASSAY_LISTEN": "[::]:50051", "ASSAY_TOKEN_REVIEW": "true"},
        {"ASSAY_LISTEN": "[::1]:50051"},
        {"ASSAY_LISTEN": "localhost:50051"},
        {"ASSAY_METRICS_HOST": "0.0.0.0", **token_file},
        {"ASSAY_METRICS_HOST": "0.0.0.0", "ASSAY_METRICS_PORT": "0"},
    ):
        load_settings(env)
    with pytest.raises(SettingsError) as caught:
        load_settings({"ASSAY_LISTEN": "10.0.0.5:50051"})
    assert "ASSAY_LISTEN (--listen): 10.0.0.5 is not loopback" in str(caught.value)
    assert "ASSAY_TOKEN_FILE" in str(caught.value)


def test_tls_settings_are_checked_together(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"ASSAY_TLS_KEY .*needs both a certificate and a key"):
        load_settings({"ASSAY_TLS_CERT": _FILE, "ASSAY_TOKEN_FILE": _FILE})
    with pytest.raises(SettingsError, match=r"ASSAY_TLS_CERT .*TLS alone authenticates no"):
        load_settings({"ASSAY_TLS_CERT": _FILE, "ASSAY_TLS_KEY": _FILE})
    with pytest.raises(SettingsError) as caught:
        load_settings({"ASSAY_TLS_CLIENT_CA": str(tmp_path / "absent.pem")})
    assert [p.message for p in caught.value.problems] == [
        "client certificates need TLS: set ASSAY_TLS_CERT and _KEY",
        f"{str(tmp_path / 'absent.pem')!r} is not a file",
    ]
    settings = load_settings(
        {"ASSAY_TLS_CERT": _FILE, "ASSAY_TLS_KEY": _FILE, "ASSAY_TLS_CLIENT_CA": _FILE}
    )
    assert settings.auth_enabled


def test_lists_are_shown_as_comma_separated_in_help() -> None:
    result = cli.invoke(app, ["serve", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    line = next(x for x in result.stdout.splitlines() if "--allowed-contexts" in x)
    assert "LIST" in line and "Comma-separated." in line


def test_several_processes_need_postgresql_and_leader_election() -> None:
    for url in ("", "sqlite:////tmp/assay.db"):
        with pytest.raises(SettingsError, match=r"ASSAY_PROCESSES .*need a PostgreSQL"):
            load_settings({"ASSAY_PROCESSES": "2", "ASSAY_DATABASE_URL": url})
    postgres = {"ASSAY_PROCESSES": "4", "ASSAY_DATABASE_URL": "postgres://db.example/assay"}
    assert load_settings(postgres).processes == 4
    with pytest.raises(SettingsError, match=r"ASSAY_PROCESSES .*need leader election"):
        load_settings({**postgres, "ASSAY_WORKFLOWS": "true", "ASSAY_LEADER_ELECTION": "false"})


@pytest.mark.parametrize(
    ("cores", "processes", "threads"),
    [(1, 1, 2), (2, 1, 4), (2, 2, 2), (2, 4, 2), (4, 1, 8), (16, 1, 8), (16, 4, 8), (16, 8, 4)],
)
def test_read_threads_default_to_two_per_core_shared_among_processes(
    cores: int, processes: int, threads: int
) -> None:
    assert auto_read_threads(cores=cores, processes=processes) == threads


def test_read_threads_set_win_over_the_default() -> None:
    postgres = {"ASSAY_PROCESSES": "2", "ASSAY_DATABASE_URL": "postgres://db.example/assay"}
    assert load_settings({**postgres, "ASSAY_READ_THREADS": "3"}).read_threads_per_process == 3
    assert load_settings(postgres).read_threads_per_process == auto_read_threads(
        cores=available_cores(), processes=2
    )
