"""Pytest plugin: a real Assay server with workflows enabled, over the kube API double.

The double, the Tekton simulator and the server share one background event loop; tests
drive them through the generated client and ``ServerThread.call``.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from typing import Any

import pytest
from google.protobuf import duration_pb2

from assay.client.api import AssayClient
from assay.server.app import AssayServer
from assay.server.kube.client import KubeClient
from assay.server.kube.settings import BackoffSettings, LeaderElectionSettings
from assay.server.storage.repository import Repository
from assay.server.workflow.settings import WorkflowSettings
from assay.v1 import common_pb2 as cpb
from assay.v1 import workflow_pb2 as wpb
from tests.integration.api.server_fixtures import ServerThread, server_settings
from tests.integration.kube.fixtures import kube_client
from tests.integration.workflow.harness import CRD_PATH, EXEC_NS
from tests.kubeapi import KubeApiDouble, TektonSimulator

NS = "team-a"
IMAGE = "quay.io/kubernaut/restart-pods:1.0.0"


@dataclasses.dataclass
class WorkflowEnv:
    running: ServerThread
    api: KubeApiDouble
    sim: TektonSimulator
    client: AssayClient

    def pipeline_run_name(self, name: str) -> str:
        execution = self.client.get_workflow(NS, name)
        return execution.status.pipeline_run_ref.name

    def succeed(self, name: str) -> None:
        self.running.call(self.sim.succeed(EXEC_NS, self.pipeline_run_name(name)))

    def fail(self, name: str, **failure: Any) -> None:
        self.running.call(self.sim.fail(EXEC_NS, self.pipeline_run_name(name), **failure))

    def audit_trail(self, name: str, *, at_least: int) -> list[wpb.AuditEvent]:
        """The execution's audit events once ``at_least`` are stored.

        The reconciler writes the status first and the audit events it implies after, so a
        reader that saw the phase change polls briefly (bounded) for the trail.
        """
        deadline = time.monotonic() + 10
        request = wpb.ListAuditEventsRequest(execution_name=name)
        while True:
            events = list(self.client.list_audit_events(request).events)
            if len(events) >= at_least or time.monotonic() > deadline:
                return events
            time.sleep(0.01)

    def wait_phase(self, name: str, phase: int) -> wpb.WorkflowExecution:
        """Follow the Watch stream of one execution until it reaches ``phase``."""
        for change in self.client.watch_workflows(wpb.WatchRequest(namespace=NS, name=name)):
            if change.execution.status.phase == phase:
                return change.execution
        raise AssertionError(f"watch of {name} ended before phase {phase}")


def fast_controller() -> WorkflowSettings:
    return WorkflowSettings(
        enabled=True,
        namespace=EXEC_NS,
        watch_timeout_s=30,
        resync_period_s=0,
        backoff=BackoffSettings(initial_s=0.01, max_s=0.2, factor=2.0),
        leader_election=LeaderElectionSettings(enabled=False),
    )


@pytest.fixture
def workflows(repository: Repository) -> Iterator[WorkflowEnv]:
    api = KubeApiDouble(bookmark_interval=0.2)

    async def setup() -> None:
        await api.start()
        api.load_crd(CRD_PATH)
        api.register_tekton()
        api.seed(
            [
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n}}
                for n in (EXEC_NS, NS)
            ]
        )

    async def client_factory(context: str) -> KubeClient:
        return kube_client(api)

    server = AssayServer(
        server_settings(cluster_id="test-cluster", workflow=fast_controller()),
        repository=repository,
        kube_client_factory=client_factory,
    )
    running = ServerThread(server, setup=setup, teardown=api.stop)
    with running, AssayClient(running.target, timeout_s=20) as client:
        yield WorkflowEnv(running, api, TektonSimulator(api), client)
    api.check_internal_errors()


def spec(
    target: str = "prod/deployment/web", workflow_id: str = "restart-pods"
) -> wpb.WorkflowExecutionSpec:
    return wpb.WorkflowExecutionSpec(
        workflow_ref=wpb.WorkflowRef(
            workflow_id=workflow_id, version="1.0.0", container_image=IMAGE
        ),
        target_resource=target,
        parameters={"REPLICAS": "2"},
        confidence=0.9,
        rationale="pods crash-looping after a bad config push",
        execution_config=wpb.ExecutionConfig(timeout=duration_pb2.Duration(seconds=1800)),
        remediation_request_ref=cpb.ObjectReference(
            name="rr-1", namespace="kubernaut-system", uid="corr-42"
        ),
    )
