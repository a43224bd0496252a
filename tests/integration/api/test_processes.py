"""``assay serve --processes N``: several server processes on one port (``server.supervisor``).

The real command in a process of its own, on a PostgreSQL schema of its own: both processes
accept connections on the one port, a process that dies is restarted, SIGTERM stops them
all, and a process that cannot start stops the server with its error in one line.
"""

from __future__ import annotations

import os
import queue
import re
import select
import shutil
import signal
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import grpc
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import URL

from assay.v1 import assessment_pb2 as apb
from assay.v1 import assessment_pb2_grpc as apb_grpc
from tests.integration.storage.backends import postgres_schema_url
from tests.ports import free_port

# Each test starts real server processes (a fresh interpreter each, a few seconds apiece).
pytestmark = [pytest.mark.postgres, pytest.mark.timeout(240)]

SERVING = re.compile(r"assay serving gRPC on 127\.0\.0\.1:(\d+) with 2 processes")
PROCESS = re.compile(r"assay process (\d+) \(pid (\d+)\) serving")


class Served:
    """``assay serve`` running with its log read line by line as it comes."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.log: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.put(line)
        self.lines.put(None)

    def wait_for(self, pattern: re.Pattern[str], timeout: float = 90) -> re.Match[str]:
        """The first coming log line that matches ``pattern`` (fails at the end of the log)."""
        while True:
            line = self.lines.get(timeout=timeout)
            if line is None:
                pytest.fail(f"the server ended without logging {pattern.pattern}:\n{self.text}")
            self.log.append(line)
            found = pattern.search(line)
            if found:
                return found

    @property
    def text(self) -> str:
        return "".join(self.log)

    def processes(self) -> dict[int, int]:
        """The server processes' pids by index, as the log last named them."""
        return {int(m[1]): int(m[2]) for m in PROCESS.finditer(self.text)}

    def children(self) -> set[int]:
        """The supervisor's child processes (server processes, multiprocessing's helper)."""
        path = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return {int(pid) for pid in path.read_text().split()}


def command(url: str) -> list[str]:
    return [
        sys.executable,
        "-c",
        "from assay.client.cli.main import main; main()",
        "serve",
        "--processes",
        "2",
        "--listen",
        "127.0.0.1:0",
        "--database-url",
        url,
    ]


# The HTTP ports off (parallel tests), a short grace; as variables, as a Deployment sets them.
ENVIRONMENT = {
    **os.environ,
    "ASSAY_HEALTH_PORT": "0",
    "ASSAY_METRICS_PORT": "0",
    "ASSAY_SHUTDOWN_GRACE": "2",
}


@contextmanager
def serving(url: str, **environment: str) -> Iterator[Served]:
    process = subprocess.Popen(
        command(url),
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env={**ENVIRONMENT, **environment},
    )
    served = Served(process)
    try:
        yield served
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(30)
        served.reader.join(30)  # the log read to its end
        assert process.stderr is not None
        process.stderr.close()


@pytest.fixture
def schema_url(postgres_test_database: URL) -> str:
    return postgres_schema_url(postgres_test_database)


def connected_sockets(pid: int, port: int) -> int:
    """How many established TCP connections of process ``pid`` have local port ``port``."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except FileNotFoundError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local_port = int(fields[1].rsplit(":", 1)[1], 16)
            if local_port == port and fields[3] == "01" and fields[9] in inodes:
                count += 1
    return count


def list_runs_on_fresh_connections(port: int, calls: int, pids: tuple[int, ...]) -> list[int]:
    """One ListRuns on each of ``calls`` new connections (each answered, with no runs yet),
    held open until each process of ``pids`` was counted: how many of them each holds."""
    with ExitStack() as stack:
        for _ in range(calls):
            channel = stack.enter_context(
                grpc.insecure_channel(
                    f"127.0.0.1:{port}", options=[("grpc.use_local_subchannel_pool", 1)]
                )
            )
            stub = apb_grpc.AssessmentServiceStub(channel)
            assert stub.ListRuns(apb.ListRunsRequest(page_size=1), timeout=30).runs == []
        return [connected_sockets(pid, port) for pid in pids]


def handled_list_runs(metrics_port: int) -> float:
    """``assay_grpc_server_handled_total`` of ListRuns (OK) as ``/metrics`` shows it."""
    with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=30) as r:
        families = text_string_to_metric_families(r.read().decode())
    return sum(
        sample.value
        for family in families
        if family.name == "assay_grpc_server_handled"
        for sample in family.samples
        if sample.name == "assay_grpc_server_handled_total"
        and sample.labels["grpc_method"].endswith("/ListRuns")
        and sample.labels["grpc_code"] == "OK"
    )


def metrics_directory(pid: int) -> Path:
    """Where server process ``pid`` keeps its metric values (its PROMETHEUS_MULTIPROC_DIR)."""
    environment = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    prefix = b"PROMETHEUS_MULTIPROC_DIR="
    return Path(next(v for v in environment if v.startswith(prefix))[len(prefix) :].decode())


def test_two_processes_share_the_port_restart_and_stop_on_sigterm(schema_url: str) -> None:
    with serving(schema_url) as served:
        port = int(served.wait_for(SERVING).group(1))
        first, second = served.processes()[0], served.processes()[1]
        assert {first, second} <= served.children()

        # Both processes accept connections on the one port: 24 fresh connections, each
        # answered, are spread by the kernel over the two listeners.
        held = list_runs_on_fresh_connections(port, 24, (first, second))
        assert sum(held) == 24, held
        assert all(held), held

        # A process that dies is replaced; the server answers throughout.
        os.kill(second, signal.SIGKILL)
        served.wait_for(re.compile(r"assay process 1 \(pid \d+\) exited with status -9"))
        served.wait_for(PROCESS)
        restarted = served.processes()[1]
        assert restarted != second
        assert {first, restarted} <= served.children()
        assert second not in served.children()
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = apb_grpc.AssessmentServiceStub(channel)
            stub.ListRuns(apb.ListRunsRequest(page_size=1), timeout=30)

        # SIGTERM to the supervisor stops every process gracefully, and it exits 0.
        served.process.send_signal(signal.SIGTERM)
        assert served.process.wait(60) == 0
        served.wait_for(re.compile("assay stopping its processes"))
        assert served.text.count("assay stopped") >= 2  # each process shut down gracefully
        assert exited(first) and exited(restarted)


def exited(pid: int, timeout: float = 60) -> bool:
    """Wait for process ``pid`` (not a child of this one) to end: True once it has."""
    try:
        handle = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        return bool(select.select([handle], [], [], timeout)[0])
    finally:
        os.close(handle)


def test_server_processes_do_not_outlive_a_killed_supervisor(schema_url: str) -> None:
    with serving(schema_url) as served:
        served.wait_for(SERVING)
        pids = served.processes().values()
        directory = metrics_directory(next(iter(pids)))
        served.process.kill()  # SIGKILL: it forwards nothing, nor removes its metrics
        assert all(exited(pid) for pid in pids)
    shutil.rmtree(directory)


def test_metrics_add_up_every_process_including_one_restarted(schema_url: str) -> None:
    metrics_port = free_port()
    with serving(schema_url, ASSAY_METRICS_PORT=str(metrics_port)) as served:
        port = int(served.wait_for(SERVING).group(1))
        first, second = served.processes()[0], served.processes()[1]
        directory = metrics_directory(first)
        assert metrics_directory(second) == directory and directory.is_dir()
        held = list_runs_on_fresh_connections(port, 24, (first, second))
        assert all(held) and sum(held) == 24, held  # both processes answered some
        assert handled_list_runs(metrics_port) == 24

        # The second process's calls still count once it died and was replaced.
        os.kill(second, signal.SIGKILL)
        served.wait_for(re.compile(r"assay process 1 \(pid \d+\) exited with status -9"))
        served.wait_for(PROCESS)
        list_runs_on_fresh_connections(port, 8, ())
        assert handled_list_runs(metrics_port) == 32

        served.process.send_signal(signal.SIGTERM)
        assert served.process.wait(60) == 0
    assert not directory.exists()


def test_a_process_that_cannot_start_stops_the_server_in_one_line() -> None:
    # Port 1 of loopback refuses every connection: the first process cannot open the database.
    url = "postgresql://postgres@127.0.0.1:1/assay?connect_timeout=5"
    done = subprocess.run(
        command(url), capture_output=True, text=True, timeout=120, check=False, env=ENVIRONMENT
    )
    assert done.returncode == 1, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("error: server process 0: ASSAY_DATABASE_URL"), done.stderr
    assert "cannot open the database" in last
    assert "Traceback" not in done.stderr
