"""Every way `assay serve` cannot start: one line naming the setting, exit 1, nothing left.

Through the real entry point: typer's CliRunner (in-process) for the message, and a
subprocess for what an operator sees of the process: prompt exit, no traceback, and no
listener left behind (``heavy``: a process start costs seconds).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.integration.api.test_startup import assert_free, busy_port, one_line_failure
from tests.ports import free_port

__all__ = ["busy_port"]  # the fixture, used by name

# The console script installed beside this interpreter: the command operators run.
ASSAY = str(Path(sys.executable).with_name("assay"))
PREFIX = "error: ASSAY_DATABASE_URL (--database-url): "


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--health-port", "70000"], "ASSAY_HEALTH_PORT (--health-port): must be at most 65535"),
        (["--metrics-port", "-1"], "ASSAY_METRICS_PORT (--metrics-port): must be at least 0"),
        (["--listen", "127.0.0.1:99999"], "ASSAY_LISTEN (--listen): expected HOST:PORT"),
        (["--database-url", "mysql://u@db/assay"], "unsupported database 'mysql'"),
        (["--database-url", "::garbage::"], "not a SQLAlchemy URL"),
    ],
)
def test_invalid_settings_are_one_line(tmp_path: Path, args: list[str], expected: str) -> None:
    line = one_line_failure(args, tmp_path)
    assert line.startswith("error: invalid settings: ")
    assert expected in line


def test_a_busy_health_port_is_one_line(tmp_path: Path, busy_port: int) -> None:
    line = one_line_failure(
        ["--health-host", "127.0.0.1", "--health-port", str(busy_port)], tmp_path
    )
    assert line.startswith(
        f"error: ASSAY_HEALTH_PORT (--health-port): cannot listen on port {busy_port}"
    )


def test_a_busy_metrics_port_is_one_line(tmp_path: Path, busy_port: int) -> None:
    line = one_line_failure(["--metrics-port", str(busy_port)], tmp_path)
    assert line.startswith("error: ASSAY_METRICS_PORT (--metrics-port): cannot listen on port")


@pytest.mark.postgres
def test_a_missing_postgresql_database_is_one_line(tmp_path: Path) -> None:
    url = "postgresql://postgres@127.0.0.1:5432/assay_no_such_database"
    line = one_line_failure(["--database-url", url], tmp_path)
    assert line.startswith(PREFIX + "cannot open the database")
    assert 'database "assay_no_such_database" does not exist' in line


def test_an_uncreatable_sqlite_directory_is_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    line = one_line_failure(["--database-url", f"sqlite:///{blocker}/sub/assay.db"], tmp_path)
    assert line.startswith(PREFIX + "cannot open the database")
    assert "cannot create database directory" in line


def _serve(args: list[str], tmp_path: Path) -> tuple[subprocess.CompletedProcess[str], float]:
    env = {
        **os.environ,
        "ASSAY_DATABASE_URL": f"sqlite:///{tmp_path / 'proc.db'}",
        "ASSAY_HEALTH_PORT": "0",
        "ASSAY_METRICS_PORT": "0",
    }
    command = [ASSAY, "serve", *args]
    started = time.monotonic()
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=90, check=False)
    return done, time.monotonic() - started


@pytest.mark.heavy  # a process each: seconds of interpreter start-up
@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    "case", ["grpc-port-busy", "health-port-busy", "postgres-unreachable", "sqlite-dir"]
)
def test_the_process_exits_promptly_and_leaves_nothing_listening(
    tmp_path: Path, busy_port: int, case: str
) -> None:
    grpc_port, metrics_port = free_port(), free_port()
    args = ["--listen", f"127.0.0.1:{grpc_port}", "--metrics-port", str(metrics_port)]
    if case == "grpc-port-busy":
        args = ["--listen", f"127.0.0.1:{busy_port}", "--metrics-port", str(metrics_port)]
    elif case == "health-port-busy":
        args += ["--health-host", "127.0.0.1", "--health-port", str(busy_port)]
    elif case == "postgres-unreachable":
        args += ["--database-url", "postgresql://postgres@127.0.0.1:9/assay"]
    else:
        (tmp_path / "file").write_text("")
        args += ["--database-url", f"sqlite:///{tmp_path / 'file' / 'x' / 'assay.db'}"]
    done, elapsed = _serve(args, tmp_path)
    assert done.returncode == 1, done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, done.stderr
    assert "Traceback" not in done.stderr
    # Interpreter start-up and imports are most of it (seconds on a loaded machine); a
    # half-started server that hung would reach the subprocess timeout instead.
    assert elapsed < 45, f"took {elapsed:.1f} s to give up"
    for port in (grpc_port, metrics_port):
        assert_free(port)


@pytest.mark.heavy
@pytest.mark.timeout(120)
def test_serve_starts_and_answers_sigterm_promptly(tmp_path: Path) -> None:
    """The counterpart: the same command with nothing wrong serves, and stops on SIGTERM."""
    grpc_port = free_port()
    env = {
        **os.environ,
        "ASSAY_DATABASE_URL": f"sqlite:///{tmp_path / 'ok.db'}",
        "ASSAY_HEALTH_PORT": "0",
        "ASSAY_METRICS_PORT": "0",
    }
    command = [
        ASSAY,
        "serve",
        "--listen",
        f"127.0.0.1:{grpc_port}",
    ]
    with subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True) as process:
        try:
            deadline = time.monotonic() + 30
            while True:
                with socket.socket() as probe:
                    if probe.connect_ex(("127.0.0.1", grpc_port)) == 0:
                        break
                assert process.poll() is None, process.stderr.read() if process.stderr else ""
                assert time.monotonic() < deadline
                time.sleep(0.1)
            process.terminate()
            assert process.wait(timeout=20) == 0
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    assert_free(grpc_port)
