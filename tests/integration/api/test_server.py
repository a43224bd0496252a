"""Server process behaviour: health, reflection, metrics, storage down, graceful shutdown."""

from __future__ import annotations

import os
import threading
import uuid
from datetime import UTC, datetime

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from sqlalchemy import URL, create_engine, make_url, text

from assay.client.api import AssayClient, ClientError
from assay.server.api.server import ASSESSMENT_SERVICE, WORKFLOW_SERVICE
from assay.server.app import AssayServer
from assay.server.assessment.liveness import CRASH_REASON
from assay.server.core.types import Run, RunId, RunScope, RunState, Source
from assay.server.storage.engine import create_engine_from_url, migrate
from assay.server.storage.repository import Repository
from assay.v1 import assessment_pb2 as apb
from tests.integration.api.server_fixtures import ServerThread, server_settings
from tests.integration.storage.backends import DEFAULT_POSTGRES_URL, postgres_schema_url

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


def test_health_is_serving_except_for_disabled_workflows(assay_server: ServerThread) -> None:
    with grpc.insecure_channel(assay_server.target) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        for service, expected in (
            ("", SERVING),
            (ASSESSMENT_SERVICE, SERVING),
            (WORKFLOW_SERVICE, NOT_SERVING),  # workflows are off on this server
        ):
            reply = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
            assert reply.status == expected, service


def test_reflection_lists_the_services(assay_server: ServerThread) -> None:
    with grpc.insecure_channel(assay_server.target) as channel:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        request = reflection_pb2.ServerReflectionRequest(list_services="")
        reply = next(iter(stub.ServerReflectionInfo(iter([request]), timeout=5)))
        names = {s.name for s in reply.list_services_response.service}
    assert {ASSESSMENT_SERVICE, WORKFLOW_SERVICE, "grpc.health.v1.Health"} <= names


def test_rpc_metrics_count_calls_by_code(assay_server: ServerThread, client: AssayClient) -> None:
    client.list_runs(apb.ListRunsRequest())
    with pytest.raises(ClientError):
        client.get_run("run_missing")
    metrics = assay_server.server.metrics
    method = "/assay.v1.AssessmentService/"
    labels_ok = {"grpc_method": method + "ListRuns", "grpc_code": "OK"}
    labels_nf = {"grpc_method": method + "GetRun", "grpc_code": "NOT_FOUND"}
    assert metrics.get_sample_value("assay_grpc_server_handled_total", labels_ok) == 1
    assert metrics.get_sample_value("assay_grpc_server_handled_total", labels_nf) == 1


@pytest.mark.postgres
def test_storage_down_is_unavailable() -> None:
    server_url = make_url(os.environ.get("ASSAY_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL))
    name = f"assay_down_{uuid.uuid4().hex[:8]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        engine = create_engine_from_url(server_url.set(database=name))
        migrate(engine)
        running = ServerThread(AssayServer(server_settings(), repository=Repository(engine)))
        with running, AssayClient(running.target, timeout_s=10) as client:
            assert client.list_runs(apb.ListRunsRequest(include_total=True)).total_size == 0
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
            with pytest.raises(ClientError) as caught:
                client.list_assessments(apb.AssessmentQuery())
        engine.dispose()
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    assert caught.value.code is grpc.StatusCode.UNAVAILABLE


def test_health_goes_not_serving_during_shutdown(repository: Repository) -> None:
    running = ServerThread(AssayServer(server_settings(), repository=repository)).__enter__()
    seen: list[int] = []
    first_event = threading.Event()
    try:
        with grpc.insecure_channel(running.target) as channel:
            stream = health_pb2_grpc.HealthStub(channel).Watch(
                health_pb2.HealthCheckRequest(service=ASSESSMENT_SERVICE), timeout=10
            )

            def read() -> None:
                try:
                    for reply in stream:
                        seen.append(reply.status)
                        first_event.set()
                except grpc.RpcError:
                    pass  # the server ending the stream at shutdown

            reader = threading.Thread(target=read)
            reader.start()
            assert first_event.wait(5)
            running.call(running.server.stop(grace=1))
            reader.join(10)
            assert not reader.is_alive()
    finally:
        running.__exit__(None, None, None)
    assert seen[0] == SERVING
    assert NOT_SERVING in seen


def test_start_up_fails_runs_of_a_dead_server(repository: Repository) -> None:
    left = Run(
        RunId("run_20260216T103000_000000_0000dead"),
        RunState.RUNNING,
        RunScope.FULL,
        Source.LIVE,
        requested_at=datetime(2026, 2, 16, 10, 30, tzinfo=UTC),
    )
    repository.create_run(left)  # its heartbeat is as old as the request
    server = ServerThread(AssayServer(server_settings(), repository=repository))
    with server as running, AssayClient(running.target, timeout_s=10) as client:
        after = client.get_run(left.run_id)
    assert after.state == apb.RUN_PHASE_FAILED
    assert after.error == CRASH_REASON


@pytest.mark.postgres
def test_read_threads_size_the_read_pool_and_its_connections(postgres_test_database: URL) -> None:
    url = postgres_schema_url(postgres_test_database)
    settings = server_settings(database_url=url, read_threads=3)
    with ServerThread(AssayServer(settings)) as running:
        server = running.server
        assert server._grpc is not None and server._grpc.reads is not None
        assert server._grpc.reads.size == 3
        assert server.repository is not None
        assert server.repository.read_engine.pool.size() == 3  # type: ignore[attr-defined]
        with AssayClient(running.target) as client:
            assert client.list_runs(apb.ListRunsRequest()).runs == []
