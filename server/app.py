"""Composition root: settings -> storage -> registry -> runner -> reconciler -> servicers.

``AssayServer`` builds every part, binds the grpc.aio server (port 0 in tests), serves health
and reflection, and shuts down in order: health NOT_SERVING, open streams end, the scheduler
and in-flight runs stop, the reconciler stops, ``server.stop(grace)``. ``run_server`` is what
``assay serve`` calls. Tests inject a repository, a Kubernetes client factory pointing at the
API test double, and controller settings with short timings.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from prometheus_client import CollectorRegistry

from assay.server.api.server import GrpcEndpoint, create_grpc_server
from assay.server.assessment.liveness import LivenessSettings, RunLiveness
from assay.server.assessment.progress import ProgressBus
from assay.server.assessment.runner import (
    LiveInventory,
    ManifestInventory,
    Runner,
    RunnerConfig,
    RunRequest,
)
from assay.server.assessment.scheduler import Scheduler, ScheduleSpec
from assay.server.checks import builtin_registry
from assay.server.checks.kit.registry import Registry
from assay.server.core.types import Source
from assay.server.inventory.live import api_client_from_config
from assay.server.observability.http import HttpEndpoints
from assay.server.observability.workflow_metrics import WorkflowMetrics
from assay.server.settings import Settings
from assay.server.storage.engine import create_engine_from_url, default_database_url, migrate
from assay.server.storage.repository import Repository
from assay.server.storage.sink import StorageSink
from assay.server.workflow.controller import WorkflowController
from assay.server.workflow.settings import ControllerSettings, LeaderElectionSettings

log = logging.getLogger(__name__)

KubeClientFactory = Callable[[str], Awaitable[Any]]
"""Makes a ``kubernetes.aio`` ApiClient for a kubeconfig context ("" for the configured one)."""


@dataclass
class AssayServer:
    """The running process; ``await start()``, then ``port``; ``await stop()`` to end."""

    settings: Settings
    repository: Repository | None = None
    registry: Registry | None = None
    kube_client_factory: KubeClientFactory | None = None
    controller_settings: ControllerSettings | None = None
    metrics: CollectorRegistry = field(default_factory=CollectorRegistry)
    port: int = 0
    runner: Runner | None = None
    controller: WorkflowController | None = None
    _grpc: GrpcEndpoint | None = None
    _http: HttpEndpoints | None = None
    _scheduler: Scheduler | None = None
    _liveness: RunLiveness | None = None
    _controller_client: Any = None
    _serving: bool = False
    _shutdown: asyncio.Event = field(default_factory=asyncio.Event)
    _stopped: asyncio.Event = field(default_factory=asyncio.Event)

    async def start(self) -> None:
        settings = self.settings
        if self.repository is None:
            self.repository = await asyncio.to_thread(_open_repository, settings)
        repository = self.repository
        registry = self.registry or _load_registry()
        sink = StorageSink(repository)
        kube = self.kube_client_factory or self._default_kube_client
        self.runner = Runner(
            registry=registry,
            sink=sink,
            inventories={Source.MANIFESTS: ManifestInventory(), Source.LIVE: LiveInventory(kube)},
            bus=ProgressBus(),
            config=RunnerConfig(
                cluster_id=settings.cluster_id,
                check_timeout_s=settings.assessment.check_timeout_s,
                run_timeout_s=settings.assessment.run_timeout_s,
                honour_exemptions=settings.assessment.honour_exemptions,
                shutdown_grace_s=settings.shutdown_grace_s,
            ),
        )
        self._liveness = RunLiveness(
            repository,
            self.runner.active_runs,
            settings=LivenessSettings(
                interval_s=settings.assessment.heartbeat_s,
                stale_after_s=settings.assessment.stale_after_s,
            ),
        )
        # Fail what a dead process left behind before taking work, then keep sweeping.
        await self._liveness.sweep()
        self._liveness.start()
        if settings.workflow.enabled:
            self._controller_client = await kube("")
            self.controller = WorkflowController(
                api_client=self._controller_client,
                settings=self.controller_settings or _controller_settings(settings),
                audit=sink,
                metrics=WorkflowMetrics(self.metrics),
            )
            await self.controller.start()

        endpoint = create_grpc_server(
            listen=settings.listen,
            repository=repository,
            runner=self.runner,
            registry=registry,
            controller=self.controller,
            workflow_namespace=settings.workflow.namespace,
            shutdown=self._shutdown,
            metrics=self.metrics,
            cluster_id=settings.cluster_id,
        )
        self.port = endpoint.port
        await endpoint.start()
        self._grpc = endpoint
        await endpoint.set_serving(True)
        self._serving = True

        if settings.assessment.schedule:
            self._scheduler = Scheduler(
                ScheduleSpec(
                    settings.assessment.schedule,
                    RunRequest(
                        source=Source(settings.assessment.schedule_source),
                        path=settings.assessment.schedule_path,
                    ),
                    cluster_id=settings.cluster_id,
                ),
                runner=self.runner,
            )
            self._scheduler.start()
        if settings.http_port:
            host = settings.listen.rpartition(":")[0]
            self._http = HttpEndpoints(self.metrics, ready=lambda: self._serving)
            await self._http.start(host, settings.http_port)
        log.info("assay serving gRPC on port %d", self.port)

    async def stop(self, grace: float | None = None) -> None:
        """Graceful shutdown; idempotent."""
        if self._grpc is None:
            return
        endpoint, self._grpc = self._grpc, None
        log.info("assay shutting down")
        self._serving = False
        await endpoint.enter_graceful_shutdown()
        self._shutdown.set()
        if self._scheduler is not None:
            await self._scheduler.stop()
        if self.runner is not None:
            # In-flight runs always get the configured grace to record their end, even when
            # the caller wants the RPCs cut at once.
            await self.runner.shutdown(grace_s=self.settings.shutdown_grace_s)
        if self._liveness is not None:
            await self._liveness.stop()
        await endpoint.stop(self.settings.shutdown_grace_s if grace is None else grace)
        if self.controller is not None:
            await self.controller.stop()
        if self._controller_client is not None:
            await self._controller_client.close()
        if self._http is not None:
            await self._http.stop()
        log.info("assay stopped")
        self._stopped.set()

    async def wait_stopped(self) -> None:
        await self._stopped.wait()

    async def _default_kube_client(self, context: str) -> Any:
        return await api_client_from_config(context=context or self.settings.kube_context or None)


def _open_repository(settings: Settings) -> Repository:
    engine = create_engine_from_url(settings.database_url or default_database_url())
    migrate(engine)
    return Repository(engine)


def _load_registry() -> Registry:
    registry = builtin_registry()
    for problem in registry.load_entry_points():
        log.error("check plug-in not loaded: %s", problem)
    return registry


def _controller_settings(settings: Settings) -> ControllerSettings:
    return ControllerSettings(
        cluster_id=settings.cluster_id,
        execution_namespace=settings.workflow.namespace,
        cooldown=timedelta(seconds=settings.workflow.cooldown_s),
        workers=settings.workflow.workers,
        leader_election=LeaderElectionSettings(enabled=settings.workflow.leader_election),
    )


async def serve(settings: Settings) -> None:
    """Serve until SIGTERM or SIGINT, then shut down gracefully."""
    server = AssayServer(settings)
    await server.start()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, lambda: asyncio.ensure_future(server.stop()))
    await server.wait_stopped()


def run_server(settings: Settings) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    asyncio.run(serve(settings))
