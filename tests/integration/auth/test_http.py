"""The HTTP ports: /healthz and /readyz (with /health and /ready) on the health port, open;
/metrics on the metrics port, behind a bearer token when authentication is on. Readiness
and gRPC health follow storage: not ready (NOT_SERVING) while it is down, ready after."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from sqlalchemy import create_engine, make_url, text

from assay.server.api.server import ASSESSMENT_SERVICE, WORKFLOW_SERVICE
from assay.server.auth.settings import AuthSettings
from assay.server.storage.engine import create_engine_from_url, migrate
from assay.server.storage.repository import Repository
from tests.integration.api.server_fixtures import server_settings
from tests.integration.auth.harness import (
    METRICS_TOKEN,
    READER_TOKEN,
    Secured,
    get,
    secured_settings,
    serve,
    with_http,
)
from tests.integration.storage.backends import DEFAULT_POSTGRES_URL
from tests.kubeapi import KubeApiDouble

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


@pytest.fixture
def secured(sqlite_repository: Repository, tmp_path: Path) -> Iterator[Secured]:
    with serve(sqlite_repository, with_http(secured_settings(tmp_path))) as running:
        yield running


def test_liveness_and_readiness_need_no_credentials(secured: Secured) -> None:
    port = secured.server.health_port
    for path in ("/healthz", "/health"):
        assert get(port, path) == (200, "ok\n")
    for path in ("/readyz", "/ready"):
        assert get(port, path) == (200, "ready\n")
    assert get(port, "/metrics")[0] == 404  # not on the health port


def test_metrics_need_a_token_of_a_metrics_group(secured: Secured) -> None:
    port = secured.server.metrics_port
    assert get(port, "/metrics")[0] == 401
    assert get(port, "/metrics", "not-a-token")[0] == 401
    assert get(port, "/metrics", READER_TOKEN)[0] == 403
    status, body = get(port, "/metrics", METRICS_TOKEN)
    assert status == 200 and "assay_grpc_server_handled_total" in body
    assert get(port, "/healthz")[0] == 404  # not on the metrics port


def test_metrics_are_open_on_loopback_when_authentication_is_off(
    sqlite_repository: Repository,
) -> None:
    with serve(sqlite_repository, with_http(server_settings())) as running:
        assert get(running.server.metrics_port, "/metrics")[0] == 200


def test_metrics_access_by_rbac_with_token_review(sqlite_repository: Repository) -> None:
    api = KubeApiDouble()
    api.reviews.accept_token(
        "prom",
        user="system:serviceaccount:monitoring:prometheus",
        groups=["system:serviceaccounts:monitoring"],
    )
    api.reviews.accept_token("app", user="system:serviceaccount:default:app")
    api.reviews.accept_token("job", user="system:serviceaccount:default:job")
    api.reviews.allow_non_resource("/metrics", group="system:serviceaccounts:monitoring")
    settings = with_http(server_settings(auth=AuthSettings(token_review=True)))
    with serve(sqlite_repository, settings, api=api) as running:
        port = running.server.metrics_port
        assert get(port, "/metrics", "prom")[0] == 200
        assert get(port, "/metrics", "app")[0] == 403
        assert get(port, "/metrics")[0] == 401
        api.inject(method="POST", path_regex="subjectaccessreviews", status=500, times=None)
        # Answers are cached; a caller not seen yet cannot be told now.
        assert get(port, "/metrics", "app")[0] == 403
        assert get(port, "/metrics", "job")[0] == 503


def test_readiness_needs_the_schema_at_this_version(secured: Secured) -> None:
    engine = secured.server.repository.engine if secured.server.repository else None
    assert engine is not None
    with engine.begin() as connection:
        head = connection.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
        connection.execute(text("UPDATE alembic_version SET version_num = '0001'"))
    assert get(secured.server.health_port, "/readyz") == (503, "not ready: migrations\n")
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": head})
    assert get(secured.server.health_port, "/readyz") == (200, "ready\n")


def watch_health(target: str, service: str = "") -> Iterator[int]:
    channel = grpc.insecure_channel(target)
    try:
        stub = health_pb2_grpc.HealthStub(channel)
        for reply in stub.Watch(health_pb2.HealthCheckRequest(service=service), timeout=30):
            yield reply.status
    finally:
        channel.close()


@pytest.mark.postgres
def test_not_ready_and_not_serving_while_storage_is_down(tmp_path: Path) -> None:
    server_url = make_url(os.environ.get("ASSAY_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL))
    name = f"assay_outage_{uuid.uuid4().hex[:8]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    engine = create_engine_from_url(server_url.set(database=name))
    try:
        migrate(engine)
        settings = with_http(secured_settings(tmp_path))
        with serve(Repository(engine), settings) as running:
            port = running.server.health_port
            statuses = watch_health(running.target)
            assert next(statuses) == SERVING
            with admin.connect() as connection:
                connection.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false'))
                connection.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = :name"
                    ),
                    {"name": name},
                )
            assert next(statuses) == NOT_SERVING  # the monitor saw it
            status, body = get(port, "/readyz")
            assert status == 503 and body.startswith("not ready: migrations, storage")
            assert get(port, "/healthz")[0] == 200  # alive all along
            with admin.connect() as connection:
                connection.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
            assert next(statuses) == SERVING
            assert get(port, "/readyz") == (200, "ready\n")
    finally:
        engine.dispose()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_the_workflow_service_follows_its_controller(
    sqlite_repository: Repository, tmp_path: Path
) -> None:
    settings = with_http(secured_settings(tmp_path, workflows=True))
    with serve(sqlite_repository, settings, api=KubeApiDouble()) as running:
        controller = running.server.controller
        assert controller is not None and controller.watching
        workflow = watch_health(running.target, WORKFLOW_SERVICE)
        assert next(workflow) == SERVING
        assert get(running.server.health_port, "/readyz") == (200, "ready\n")
        running.running.call(controller.stop())  # as if its informers had died
        assert get(running.server.health_port, "/readyz") == (503, "not ready: controller\n")
        assert next(workflow) == NOT_SERVING
        with grpc.insecure_channel(running.target) as channel:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=ASSESSMENT_SERVICE), timeout=5
            )
        assert reply.status == SERVING  # assessments do not need the controller
