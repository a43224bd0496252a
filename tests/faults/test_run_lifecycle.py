"""The run lifecycle under faults, against real servers: cancel through the replica that does
not own the run, owners that died, admission, SIGTERM with a watcher attached, kill -9.

The subprocess cases (``heavy``) run ``assay serve`` itself over a SQLite file and a
generated directory of manifests large enough that the run is still going when the signal
arrives.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_status import rpc_status
from sqlalchemy import URL, text
from typer.testing import CliRunner

from assay.client.api import AssayClient, ClientError
from assay.client.cli.main import app
from assay.server.app import AssayServer, replica_name
from assay.server.assessment.liveness import CRASH_REASON
from assay.server.assessment.settings import AssessmentSettings
from assay.server.core.types import Run, RunId, RunScope, RunState, Source, Status
from assay.server.storage.engine import create_engine_from_url, migrate
from assay.server.storage.repository import Repository
from assay.v1 import assessment_pb2 as apb
from assay.v1 import assessment_pb2_grpc as apb_grpc
from tests.integration.api.server_fixtures import ServerThread, server_settings
from tests.integration.api.uploads import start_manifest_run
from tests.integration.storage.backends import postgres_schema_url
from tests.pgcluster import PgCluster
from tests.ports import free_port
from tests.unit.assessment.fakes import Gate, fake_check, registry

MANIFEST = """\
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: default}
spec:
  containers: [{name: app, image: nginx:1.27}]
"""


@pytest.fixture
def manifest(tmp_path: Path) -> Path:
    path = tmp_path / "pod.yaml"
    path.write_text(MANIFEST)
    return path


def blocking_server(database_url: str, gate: Gate, **assessment: object) -> ServerThread:
    """A server whose one check blocks on ``gate``; fast heartbeats."""
    fields: dict[str, object] = {
        "run_heartbeat_s": 0.2,
        "run_stale_after_s": 30,
        "check_timeout_s": 60,
        **assessment,
    }
    config = AssessmentSettings(**fields)  # type: ignore[arg-type]
    settings = server_settings(database_url=database_url, assessment=config)
    return ServerThread(AssayServer(settings, registry=registry(fake_check("SEC-001", gate))))


def invoke(target: str, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["--server", target, *args])
    return result.exit_code, result.stdout, result.stderr


# -- cancel across replicas -------------------------------------------------------------------


@pytest.mark.postgres
def test_cancel_through_the_replica_that_does_not_own_the_run(
    postgres_test_database: URL, gate: Gate, manifest: Path
) -> None:
    url = postgres_schema_url(postgres_test_database)
    with (
        blocking_server(url, gate) as owner,
        blocking_server(url, gate) as other,
        AssayClient(owner.target, timeout_s=10) as to_owner,
        AssayClient(other.target, timeout_s=10) as to_other,
    ):
        run = start_manifest_run(to_owner, manifest)
        assert gate.entered.wait(10)
        answered = to_other.cancel_run(run.run_id)
        assert answered.state == apb.RUN_PHASE_RUNNING  # the request waits for the owner

        code, out, err = invoke(other.target, "runs", "cancel", run.run_id, "-o", "json")
        assert code == 0, err
        assert "cancelled" in out.lower()
        for client in (to_owner, to_other):
            after = client.get_run(run.run_id)
            assert after.state == apb.RUN_PHASE_CANCELLED
            assert after.error == "cancelled by request"
        history = to_other.get_history(apb.GetHistoryRequest())
        assert [e.run_id for e in history.entries] == [run.run_id]


def test_cancel_of_a_run_whose_owner_died_fails_it_at_once(
    database_url: str, gate: Gate, manifest: Path
) -> None:
    with blocking_server(database_url, gate, run_heartbeat_s=60, run_stale_after_s=120) as server:
        repository = server.server.repository
        assert repository is not None
        requested = datetime.now(UTC) - timedelta(minutes=5)  # its heartbeat is that old
        left = Run(
            RunId("run_20260216T103000_000000_0000dead"),
            RunState.RUNNING,
            RunScope.FULL,
            Source.MANIFESTS,
            requested_at=requested,
        )
        repository.create_run(left, owner="a-replica-that-died")
        with AssayClient(server.target, timeout_s=10) as client:
            answered = client.cancel_run(left.run_id)
            assert answered.state == apb.RUN_PHASE_FAILED
            assert answered.error == CRASH_REASON
            entries = client.get_history(apb.GetHistoryRequest()).entries
            assert [(e.run_id, e.state) for e in entries] == [(left.run_id, apb.RUN_PHASE_FAILED)]
            with pytest.raises(ClientError) as again:
                client.cancel_run(left.run_id)
        assert again.value.code is grpc.StatusCode.FAILED_PRECONDITION
        assert "another" not in str(again.value)


def test_a_server_restarted_under_its_name_fails_its_predecessors_runs_at_once(
    repository: Repository, database_url: str
) -> None:
    port = free_port()
    listen = f"127.0.0.1:{port}"
    left = Run(
        RunId("run_20260216T103000_000000_00000001"),
        RunState.RUNNING,
        RunScope.FULL,
        Source.MANIFESTS,
        requested_at=datetime.now(UTC),  # a fresh heartbeat: only the name tells
    )
    repository.create_run(left, owner=replica_name(listen))
    settings = dataclasses.replace(server_settings(database_url=database_url), listen=listen)
    with ServerThread(AssayServer(settings)) as server, AssayClient(server.target) as client:
        after = client.get_run(left.run_id)
        assert after.state == apb.RUN_PHASE_FAILED
        assert after.error == CRASH_REASON
        with pytest.raises(ClientError) as cancel:
            client.cancel_run(left.run_id)
    assert cancel.value.code is grpc.StatusCode.FAILED_PRECONDITION
    assert "replica" not in str(cancel.value)
    assert [e.run_id for e in repository.history().items] == [left.run_id]


# -- admission --------------------------------------------------------------------------------


def test_runs_beyond_the_limit_are_resource_exhausted_with_retry_info(
    tmp_path: Path, gate: Gate, manifest: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'assay.db'}"
    with (
        blocking_server(url, gate, max_runs=1) as server,
        AssayClient(server.target, timeout_s=10) as client,
    ):
        first = start_manifest_run(client, manifest)
        assert gate.entered.wait(10)
        with grpc.insecure_channel(server.target) as channel:
            stub = apb_grpc.AssessmentServiceStub(channel)
            with pytest.raises(grpc.RpcError) as refused:
                stub.StartRun(apb.StartRunRequest(), timeout=10)
        error = refused.value
        assert isinstance(error, grpc.Call)
        assert error.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
        status = rpc_status.from_call(error)
        assert status is not None
        [detail] = status.details
        retry = error_details_pb2.RetryInfo()
        assert detail.Unpack(retry)
        assert retry.retry_delay.seconds > 0
        with pytest.raises(ClientError) as upload:
            start_manifest_run(client, manifest)
        assert upload.value.code is grpc.StatusCode.RESOURCE_EXHAUSTED
        assert client.cancel_run(first.run_id).state == apb.RUN_PHASE_CANCELLED


# -- signals against `assay serve` ------------------------------------------------------------


def write_workloads(directory: Path, count: int) -> Path:
    """``count`` Deployments in files of 500, enough for a run of several seconds."""
    directory.mkdir()
    per_file = 500
    for start in range(0, count, per_file):
        docs = [
            f"apiVersion: apps/v1\nkind: Deployment\n"
            f"metadata: {{name: app-{n}, namespace: ns-{n % 50}}}\n"
            f"spec:\n  replicas: 1\n  selector: {{matchLabels: {{app: app-{n}}}}}\n"
            f"  template:\n    metadata: {{labels: {{app: app-{n}}}}}\n"
            f"    spec:\n      containers: [{{name: c, image: 'nginx:latest'}}]\n"
            for n in range(start, min(count, start + per_file))
        ]
        (directory / f"apps-{start}.yaml").write_text("---\n".join(docs))
    return directory


class Serve:
    """``assay serve`` in a subprocess on a fixed port and SQLite file."""

    def __init__(self, database: Path, port: int, grace_s: float = 10.0) -> None:
        self.target = f"127.0.0.1:{port}"
        env = {
            **os.environ,
            "ASSAY_LISTEN": self.target,
            "ASSAY_DATABASE_URL": f"sqlite:///{database}",
            "ASSAY_HEALTH_PORT": "0",
            "ASSAY_METRICS_PORT": "0",
            "ASSAY_SHUTDOWN_GRACE": str(grace_s),
        }
        self.process = subprocess.Popen(
            [str(Path(sys.executable).with_name("assay")), "serve"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with grpc.insecure_channel(self.target) as channel:
                try:
                    grpc.channel_ready_future(channel).result(timeout=0.5)
                    return
                except grpc.FutureTimeoutError:
                    if self.process.poll() is not None:
                        break
        self.process.kill()
        raise AssertionError(f"assay serve did not start: {self.process.communicate()[0]}")

    def stop(self) -> str:
        if self.process.poll() is None:
            self.process.kill()
        return self.process.communicate(timeout=30)[0]


@pytest.fixture
def workloads(tmp_path: Path) -> Path:
    return write_workloads(tmp_path / "workloads", 15_000)


def open_repository(database: Path) -> Iterator[Repository]:
    engine = create_engine_from_url(f"sqlite:///{database}")
    migrate(engine)
    try:
        yield Repository(engine)
    finally:
        engine.dispose()


@pytest.mark.heavy
def test_sigterm_sends_every_watcher_run_finished_cancelled_before_the_stream_ends(
    tmp_path: Path, workloads: Path
) -> None:
    database = tmp_path / "assay.db"
    serve = Serve(database, free_port())
    try:
        with AssayClient(serve.target, timeout_s=60) as client:
            run = start_manifest_run(client, workloads)
            events: list[apb.RunEvent] = []
            running = threading.Event()

            def watch() -> None:
                for event in client.watch_run(run.run_id):
                    events.append(event)
                    if event.WhichOneof("event") == "check_started":
                        running.set()

            watcher = threading.Thread(target=watch)
            watcher.start()
            assert running.wait(60), "the run never started its checks"
            serve.process.send_signal(signal.SIGTERM)
            watcher.join(60)
            assert not watcher.is_alive()
        assert serve.process.wait(60) == 0
    finally:
        log = serve.stop()
    assert events, log
    last = events[-1]
    assert last.WhichOneof("event") == "run_finished", log
    assert last.run_finished.run.state == apb.RUN_PHASE_CANCELLED
    assert last.run_finished.run.error == "server shutting down"
    for repository in open_repository(database):
        stored = repository.get_run(RunId(run.run_id))
        assert stored.state is RunState.CANCELLED
        [entry] = repository.history().items
        assert entry.run_id == run.run_id and entry.state is RunState.CANCELLED


@pytest.mark.heavy
def test_kill_9_mid_run_then_restart_counts_equal_results_and_the_run_fails(
    tmp_path: Path, workloads: Path
) -> None:
    database = tmp_path / "assay.db"
    port = free_port()
    serve = Serve(database, port)
    try:
        with AssayClient(serve.target, timeout_s=60) as client:
            run = start_manifest_run(client, workloads)
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:  # until some results are stored
                seen = client.get_run(run.run_id)
                if seen.counts.passing + seen.counts.failing + seen.counts.warning > 0:
                    break
                time.sleep(0.05)
            assert seen.state == apb.RUN_PHASE_RUNNING
        serve.process.send_signal(signal.SIGKILL)
        serve.process.wait(30)
    finally:
        serve.stop()

    restarted = Serve(database, port)  # the same name: its predecessor's run fails at once
    try:
        with AssayClient(restarted.target, timeout_s=60) as client:
            after = client.get_run(run.run_id)
    finally:
        restarted.process.send_signal(signal.SIGTERM)
        restarted.process.wait(60)
        restarted.stop()
    assert after.state == apb.RUN_PHASE_FAILED
    assert after.error == CRASH_REASON
    for repository in open_repository(database):
        with repository.engine.connect() as connection:
            stored: dict[str, int] = dict(
                connection.execute(
                    text(
                        "SELECT status, count(*) FROM assessments WHERE run_id = :r GROUP BY status"
                    ),
                    {"r": run.run_id},
                ).all()
            )
        failed = repository.get_run(RunId(run.run_id))
        for status in Status:
            assert failed.counts.get(status) == stored.get(status.value, 0), status
        [entry] = repository.history().items
        assert entry.run_id == run.run_id and entry.state is RunState.FAILED
        assert entry.counts == failed.counts


# -- readiness --------------------------------------------------------------------------------


SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


@contextlib.contextmanager
def health_statuses(target: str) -> Iterator[Callable[[int], None]]:
    """Follow the server's overall health (service ``""``) with a Watch stream; yields a
    function that waits (30 s at most) for the next report of a status."""
    statuses: queue.Queue[int] = queue.Queue()
    with grpc.insecure_channel(target) as channel:
        stream = health_pb2_grpc.HealthStub(channel).Watch(
            health_pb2.HealthCheckRequest(service=""), timeout=60
        )

        def read() -> None:
            with contextlib.suppress(grpc.RpcError):
                for reply in stream:
                    statuses.put(reply.status)

        def next_status(wanted: int) -> None:
            while statuses.get(timeout=30) != wanted:
                pass

        threading.Thread(target=read, daemon=True).start()
        try:
            yield next_status
        finally:
            stream.cancel()


def test_readiness_follows_storage_going_away_and_coming_back(
    pg_cluster: PgCluster,
) -> None:
    health_port = free_port()
    settings = dataclasses.replace(
        server_settings(database_url=pg_cluster.url),
        health_port=health_port,
        health_poll_s=0.2,
    )
    with ServerThread(AssayServer(settings)) as server, health_statuses(server.target) as next_:
        next_(SERVING)
        assert readyz(health_port) == 200
        pg_cluster.stop()
        next_(NOT_SERVING)
        assert readyz(health_port) == 503
        pg_cluster.start()
        next_(SERVING)
        assert readyz(health_port) == 200


def test_readiness_reports_a_saturated_thread_pool_and_its_recovery(tmp_path: Path) -> None:
    """Inventory loads stuck (a slow file) saturate their pool: NOT_SERVING while a load
    waits for a thread longer than the stall limit, SERVING once they move again."""
    health_port = free_port()
    settings = dataclasses.replace(
        server_settings(
            database_url=f"sqlite:///{tmp_path / 'assay.db'}",
            assessment=AssessmentSettings(inventory_threads=1, thread_stall_s=0.2),
        ),
        health_port=health_port,
        health_poll_s=0.1,
    )
    release = threading.Event()
    with ServerThread(AssayServer(settings)) as server, health_statuses(server.target) as next_:
        pools = server.server.pools
        assert pools is not None
        next_(SERVING)
        stuck = [pools.inventory.submit(release.wait, 30) for _ in range(2)]
        next_(NOT_SERVING)
        assert readyz(health_port) == 503
        release.set()
        assert all(f.result(10) for f in stuck)
        next_(SERVING)
        assert readyz(health_port) == 200


def readyz(port: int) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=10) as reply:
            status: int = reply.status
            return status
    except urllib.error.HTTPError as error:
        return error.code
