"""A PostgreSQL that freezes (SIGSTOP) or stops under a running server, mid-run.

Each test starts its own throwaway PostgreSQL (tests/pgcluster.py): the shared one must
never be frozen. With a 1 s statement timeout, every call fails UNAVAILABLE within a few
seconds, long before the client's deadline, with a message naming neither the host nor
any SQL, and the server answers again once the database is back.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator

import grpc
import pytest

from assay.client.api import AssayClient, ClientError
from assay.server.app import AssayServer
from assay.server.storage.engine import create_engine_from_url, migrate
from assay.server.storage.repository import Repository
from assay.v1 import assessment_pb2 as apb
from tests.integration.api.server_fixtures import ServerThread, server_settings
from tests.pgcluster import PgCluster

STATEMENT_TIMEOUT_S = 1.0
# The client deadline the calls must beat by far.
DEADLINE_S = 60.0
# Pre-ping (timeout + 2 s margin) and a reconnect (connect timeout 2 s), with slack.
BOUND_S = 12.0
MANIFESTS = "".join(
    f"---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: c{i}, namespace: shop}}\n"
    for i in range(200)
)


@dataclasses.dataclass
class Served:
    cluster: PgCluster
    client: AssayClient


@pytest.fixture
def served(pg_cluster: PgCluster) -> Iterator[Served]:
    url = pg_cluster.create_database("assay")
    engine = create_engine_from_url(url, statement_timeout_s=STATEMENT_TIMEOUT_S)
    migrate(engine)
    settings = server_settings(database_statement_timeout_s=STATEMENT_TIMEOUT_S)
    server = AssayServer(settings, repository=Repository(engine))
    try:
        with (
            ServerThread(server) as running,
            AssayClient(running.target, timeout_s=DEADLINE_S) as client,
        ):
            yield Served(pg_cluster, client)
    finally:
        pg_cluster.thaw()
        engine.dispose()


def _start_run(client: AssayClient) -> str:
    run = client.start_manifest_run(apb.StartRunRequest(), [("shop.yaml", [MANIFESTS.encode()])])
    return str(run.run_id)


def _unavailable_in_bounded_time(client: AssayClient, run_id: str) -> ClientError:
    started = time.monotonic()
    with pytest.raises(ClientError) as caught:
        client.get_run(run_id)
    elapsed = time.monotonic() - started
    assert caught.value.code is grpc.StatusCode.UNAVAILABLE, caught.value
    assert elapsed < BOUND_S, f"took {elapsed:.1f} s"
    return caught.value


def _no_leak(error: ClientError, cluster: PgCluster) -> None:
    text = str(error)
    for leaked in ("127.0.0.1", str(cluster.port), "SELECT", "FROM ", "runs."):
        assert leaked not in text, text


def _answers_again(client: AssayClient, run_id: str) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            client.get_run(run_id)
            return
        except ClientError as error:
            if error.code is not grpc.StatusCode.UNAVAILABLE or time.monotonic() > deadline:
                raise
        time.sleep(0.2)


@pytest.mark.timeout(120)
def test_a_frozen_postgresql_fails_calls_in_bounded_time_and_recovers(served: Served) -> None:
    run_id = _start_run(served.client)
    served.client.get_run(run_id)  # pooled connections exist
    with served.cluster.frozen():
        error = _unavailable_in_bounded_time(served.client, run_id)
        _no_leak(error, served.cluster)
        # Still frozen: a second call does not hang on what the first left behind.
        _unavailable_in_bounded_time(served.client, run_id)
    _answers_again(served.client, run_id)
    assert served.client.list_runs(apb.ListRunsRequest()).runs


@pytest.mark.timeout(120)
def test_a_stopped_postgresql_is_unavailable_at_once_and_recovers(served: Served) -> None:
    run_id = _start_run(served.client)
    served.cluster.stop()
    error = _unavailable_in_bounded_time(served.client, run_id)
    _no_leak(error, served.cluster)
    with pytest.raises(ClientError) as caught:
        _start_run(served.client)
    assert caught.value.code is grpc.StatusCode.UNAVAILABLE
    served.cluster.start()
    _answers_again(served.client, run_id)
    _start_run(served.client)
