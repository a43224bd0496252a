"""A workflow-controller test harness over the kube API double.

Loads the real CRD from deploy/, serves Tekton, creates the namespaces, and builds
:class:`WorkflowController` instances on their own ``kubernetes.aio`` clients with fast
settings (short backoff, no resync, leader election off unless asked). Waits poll the
double's store every few milliseconds with a bounded timeout; nothing sleeps blindly.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import kubernetes.aio.client
from kubernetes.aio.client import ApiClient
from prometheus_client import CollectorRegistry

from assay.server.core.clock import SYSTEM_CLOCK, Clock
from assay.server.kube.client import KubeClient
from assay.server.kube.settings import BackoffSettings, LeaderElectionSettings
from assay.server.observability.workflow_metrics import WorkflowMetrics
from assay.server.workflow.audit import AuditSink
from assay.server.workflow.controller import WorkflowController
from assay.server.workflow.model import API_VERSION, GROUP, KIND, PLURAL, VERSION
from assay.server.workflow.settings import WorkflowSettings
from tests.integration.kube.fixtures import kube_client
from tests.kubeapi import KubeApiDouble, TektonSimulator
from tests.unit.workflow.fakes import InMemoryAuditSink

CRD_PATH = Path(__file__).parents[3] / "deploy" / "crds" / "workflowexecution.yaml"
EXEC_NS = "kubernaut-workflows"
NS = "team-a"
IMAGE = "quay.io/kubernaut/restart-pods:1.0.0"

FAST_BACKOFF = BackoffSettings(initial_s=0.01, max_s=0.2, factor=2.0)


def spec(
    target: str = "prod/deployment/web", workflow_id: str = "restart-pods", **extra: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "workflowRef": {"workflowId": workflow_id, "version": "1.0.0", "containerImage": IMAGE},
        "targetResource": target,
        "parameters": {"REPLICAS": "2"},
        "confidence": 0.9,
        "rationale": "test",
        "remediationRequestRef": {"name": "rr-1", "namespace": "kubernaut-system"},
    }
    body.update(extra)
    return body


class Harness:
    def __init__(self, api: KubeApiDouble) -> None:
        self.api = api
        api.load_crd(CRD_PATH)
        api.register_tekton()
        api.seed(
            [
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}
                for ns in (EXEC_NS, NS, "team-b")
            ]
        )
        self.sim = TektonSimulator(api)
        self.audit = InMemoryAuditSink()
        self.registry = CollectorRegistry()
        self.metrics = WorkflowMetrics(self.registry)
        self._clients: list[KubeClient] = []
        self.controllers: list[WorkflowController] = []
        self._user: ApiClient | None = None

    # -- building controllers ----------------------------------------------------------

    def settings(self, **overrides: Any) -> WorkflowSettings:
        base = WorkflowSettings(
            enabled=True,
            namespace=EXEC_NS,
            workers=4,
            watch_timeout_s=30,
            resync_period_s=0,
            backoff=FAST_BACKOFF,
            leader_election=LeaderElectionSettings(enabled=False),
        )
        return dataclasses.replace(base, **overrides)

    async def controller(
        self,
        *,
        clock: Clock = SYSTEM_CLOCK,
        start: bool = True,
        metrics: WorkflowMetrics | None = None,
        audit: AuditSink | None = None,
        **overrides: Any,
    ) -> WorkflowController:
        client = kube_client(self.api)
        self._clients.append(client)
        controller = WorkflowController(
            kube=client,
            settings=self.settings(**overrides),
            cluster_id="test-cluster",
            audit=audit or self.audit,
            metrics=metrics or self.metrics,
            clock=clock,
        )
        self.controllers.append(controller)
        if start:
            await controller.start()
        return controller

    @staticmethod
    def leader_settings(identity: str) -> LeaderElectionSettings:
        return LeaderElectionSettings(
            enabled=True,
            lease_name="assay-test-leader",
            identity=identity,
            lease_duration_s=1.0,
            renew_deadline_s=0.7,
            retry_period_s=0.1,
        )

    async def close(self) -> None:
        for controller in self.controllers:
            await controller.stop()
        for client in self._clients:
            await client.close()
        if self._user is not None:
            await cast(Any, self._user).close()

    # -- acting as a user, over HTTP with the official client -----------------------------

    @property
    def user(self) -> kubernetes.aio.client.CustomObjectsApi:
        if self._user is None:
            self._user = ApiClient(self.api.aio_configuration())
        return kubernetes.aio.client.CustomObjectsApi(self._user)

    async def create(self, name: str, namespace: str = NS, **spec_args: Any) -> dict[str, Any]:
        body = {
            "apiVersion": API_VERSION,
            "kind": KIND,
            "metadata": {"name": name, "namespace": namespace},
            "spec": spec(**spec_args),
        }
        # The custom-objects API answers raw JSON, typed `object` by the client.
        created = await self.user.create_namespaced_custom_object(
            GROUP, VERSION, namespace, PLURAL, body
        )
        return cast(dict[str, Any], created)

    async def delete(self, name: str, namespace: str = NS) -> None:
        await self.user.delete_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name)

    # -- reading the store directly ---------------------------------------------------------

    def wfe(self, name: str, namespace: str = NS) -> dict[str, Any] | None:
        return self.api.get_object(API_VERSION, KIND, name, namespace)

    def phase(self, name: str, namespace: str = NS) -> str | None:
        obj = self.wfe(name, namespace)
        if obj is None:
            return None
        return str((obj.get("status") or {}).get("phase") or "")

    def pipelineruns(self) -> list[dict[str, Any]]:
        return self.api.list_objects("tekton.dev/v1", "PipelineRun", EXEC_NS)

    def leases(self, prefix: str = "wfe-lock-") -> list[dict[str, Any]]:
        return [
            lease
            for lease in self.api.list_objects("coordination.k8s.io/v1", "Lease", EXEC_NS)
            if lease["metadata"]["name"].startswith(prefix)
        ]

    def events(self, namespace: str = NS) -> list[dict[str, Any]]:
        return self.api.list_objects("v1", "Event", namespace)

    def pr_of(self, name: str, namespace: str = NS) -> dict[str, Any]:
        obj = self.wfe(name, namespace)
        assert obj is not None
        ref = obj["status"]["pipelineRunRef"]
        pr = self.api.get_object("tekton.dev/v1", "PipelineRun", ref["name"], ref["namespace"])
        assert pr is not None
        return pr

    def metric(self, name: str, **labels: str) -> float:
        return self.registry.get_sample_value(name, labels) or 0.0

    # -- waiting ----------------------------------------------------------------------------

    async def wait_for(
        self, predicate: Callable[[], bool], *, within: float = 5.0, what: str = "condition"
    ) -> None:
        deadline = asyncio.get_running_loop().time() + within
        while not predicate():
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"timed out after {within}s waiting for {what}")
            await asyncio.sleep(0.005)

    async def wait_phase(
        self, name: str, phase: str, *, namespace: str = NS, within: float = 5.0
    ) -> dict[str, Any]:
        await self.wait_for(
            lambda: self.phase(name, namespace) == phase,
            within=within,
            what=f"{namespace}/{name} to be {phase} (is {self.phase(name)})",
        )
        obj = self.wfe(name, namespace)
        assert obj is not None
        return obj

    async def wait_idle(self, controller: WorkflowController, *, within: float = 5.0) -> None:
        await self.wait_for(
            lambda: controller.pending_work() == 0, within=within, what="the work queue to drain"
        )
