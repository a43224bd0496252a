"""AssayServer.start() is all or nothing, and `assay serve` fails in one line.

A start that fails half-way stops what had started (HTTP endpoints, the Kubernetes client,
the gRPC server, the controller's informers and workers, liveness) before the error
leaves ``start()``; invalid settings fail before anything is opened or bound.
"""

from __future__ import annotations

import asyncio
import dataclasses
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from typer.testing import CliRunner

from assay.client.cli.main import app
from assay.server.app import AssayServer
from assay.server.kube.client import KubeClient
from assay.server.settings import Settings, SettingsError, StartupError
from assay.server.storage.engine import create_engine_from_url, migrate
from assay.server.storage.repository import Repository
from tests.integration.api.workflow_fixtures import fast_controller
from tests.integration.kube.fixtures import kube_client
from tests.integration.workflow.harness import CRD_PATH, EXEC_NS
from tests.kubeapi import KubeApiDouble
from tests.ports import free_port

OUR_TASKS = ("wfe-", "pipelinerun-informer", "leader-elector", "run liveness", "scheduler")


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield int(holder.getsockname()[1])


def assert_free(port: int) -> None:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(("127.0.0.1", port))  # OSError if something still listens there


def our_tasks() -> list[str]:
    return [
        t.get_name()
        for t in asyncio.all_tasks()
        if not t.done() and t.get_name().startswith(OUR_TASKS)
    ]


@pytest.fixture
def cluster(kube_api: KubeApiDouble) -> KubeApiDouble:
    kube_api.load_crd(CRD_PATH)
    kube_api.register_tekton()
    kube_api.seed({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": EXEC_NS}})
    return kube_api


def workflow_server(
    api: KubeApiDouble, repository: Repository, *, listen: str, http_ports: tuple[int, int]
) -> tuple[AssayServer, list[KubeClient]]:
    clients: list[KubeClient] = []

    async def factory(context: str) -> KubeClient:
        clients.append(kube_client(api))
        return clients[-1]

    health, metrics = http_ports
    settings = Settings(
        listen=listen,
        health_host="127.0.0.1",
        health_port=health,
        metrics_port=metrics,
        workflow=fast_controller(),
    )
    return AssayServer(settings, repository=repository, kube_client_factory=factory), clients


async def test_a_port_in_use_stops_what_had_started(
    cluster: KubeApiDouble, tmp_path: Path, busy_port: int
) -> None:
    engine = create_engine_from_url(f"sqlite:///{tmp_path / 'assay.db'}")
    migrate(engine)
    http_ports = (free_port(), free_port())
    server, clients = workflow_server(
        cluster, Repository(engine), listen=f"127.0.0.1:{busy_port}", http_ports=http_ports
    )
    with pytest.raises(StartupError) as caught:
        await server.start()
    assert str(caught.value).startswith("ASSAY_LISTEN (--listen): cannot listen on")
    assert "in use" in str(caught.value)
    for port in http_ports:  # the HTTP endpoints had started: stopped again
        assert_free(port)
    assert len(clients) == 1  # made, and closed (an unclosed session fails the test)
    assert our_tasks() == []
    await server.stop()  # nothing to stop: a no-op
    engine.dispose()


async def test_a_failure_after_the_controller_started_stops_everything(
    cluster: KubeApiDouble, tmp_path: Path
) -> None:
    # A database without tables: the liveness sweep, the step after the controller and the
    # gRPC server started, fails.
    engine = create_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    grpc_port, http_ports = free_port(), (free_port(), free_port())
    server, _ = workflow_server(
        cluster, Repository(engine), listen=f"127.0.0.1:{grpc_port}", http_ports=http_ports
    )
    with pytest.raises(StartupError, match=r"^ASSAY_DATABASE_URL \(--database-url\): "):
        await server.start()
    assert server.controller is not None and not server.controller.is_leader
    assert our_tasks() == []
    for port in (grpc_port, *http_ports):
        assert_free(port)
    engine.dispose()


async def test_invalid_settings_fail_before_anything_is_opened(tmp_path: Path) -> None:
    database = tmp_path / "never.db"
    settings = Settings(
        listen="127.0.0.1:0", health_port=0, metrics_port=0, database_url=f"sqlite:///{database}"
    )
    bad = dataclasses.replace(settings, workflow=dataclasses.replace(settings.workflow, workers=0))
    with pytest.raises(SettingsError, match="ASSAY_WORKFLOW_WORKERS"):
        await AssayServer(bad).start()
    assert not database.exists()


cli = CliRunner()


def one_line_failure(args: list[str], tmp_path: Path) -> str:
    env = {
        "ASSAY_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
        "ASSAY_HEALTH_PORT": "0",
        "ASSAY_METRICS_PORT": "0",
    }
    result = cli.invoke(app, ["serve", *args], env=env)
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_serve_on_a_port_in_use_is_one_line(tmp_path: Path, busy_port: int) -> None:
    line = one_line_failure(["--listen", f"127.0.0.1:{busy_port}"], tmp_path)
    assert line.startswith(
        f"error: ASSAY_LISTEN (--listen): cannot listen on 127.0.0.1:{busy_port}"
    )


def test_serve_with_workflows_and_no_cluster_is_one_line(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: x\n"
        "clusters: [{name: c, cluster: {server: 'http://127.0.0.1:9'}}]\n"
        "users: [{name: u, user: {token: t}}]\n"
        "contexts: [{name: x, context: {cluster: c, user: u}}]\n"
    )
    line = one_line_failure(["--workflows", "--kubeconfig", str(kubeconfig)], tmp_path)
    assert line.startswith("error: ASSAY_WORKFLOWS (--workflows): the workflow controller")
    assert "cannot reach the Kubernetes API server" in line
    line = one_line_failure(
        ["--workflows", "--kubeconfig", str(kubeconfig), "--context", "y"], tmp_path
    )
    assert line.startswith(
        "error: ASSAY_KUBE_CONTEXT (--kube-context): --workflows needs a cluster"
    )


def test_serve_with_an_unreachable_database_is_one_line(tmp_path: Path) -> None:
    line = one_line_failure(["--database-url", "postgresql://postgres@127.0.0.1:9/assay"], tmp_path)
    assert line.startswith("error: ASSAY_DATABASE_URL (--database-url): cannot open the database")
    assert "Connection refused" in line
