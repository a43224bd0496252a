"""Composition root: settings -> storage -> registry -> runner -> reconciler -> servicers.

``AssayServer`` builds every part, binds the grpc.aio server (port 0 in tests), serves health
and reflection, and shuts down in order: health NOT_SERVING, open streams end, in-flight
work stops, ``server.stop(grace)``. ``run_server`` is what ``assay serve`` calls.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from dataclasses import dataclass, field

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from prometheus_client import CollectorRegistry

from assay.server.api.assessments import AssessmentServicer
from assay.server.api.interceptors import ErrorMappingInterceptor, MetricsInterceptor
from assay.server.observability.http import HttpEndpoints
from assay.server.settings import Settings
from assay.server.storage.engine import create_engine_from_url, default_database_url, migrate
from assay.server.storage.repository import Repository
from assay.v1 import assessment_pb2, assessment_pb2_grpc, workflow_pb2

log = logging.getLogger(__name__)

ASSESSMENT_SERVICE = assessment_pb2.DESCRIPTOR.services_by_name["AssessmentService"].full_name
WORKFLOW_SERVICE = workflow_pb2.DESCRIPTOR.services_by_name["WorkflowExecutionService"].full_name


@dataclass
class AssayServer:
    """The running process; ``await start()``, then ``port``; ``await stop()`` to end."""

    settings: Settings
    repository: Repository | None = None
    metrics: CollectorRegistry = field(default_factory=CollectorRegistry)
    port: int = 0
    _server: grpc.aio.Server | None = None
    _health: health.aio.HealthServicer | None = None
    _http: HttpEndpoints | None = None
    _serving: bool = False
    _stopped: asyncio.Event = field(default_factory=asyncio.Event)

    async def start(self) -> None:
        if self.repository is None:
            self.repository = await asyncio.to_thread(_open_repository, self.settings)
        server = grpc.aio.server(
            interceptors=[MetricsInterceptor(self.metrics), ErrorMappingInterceptor()],
            options=[("grpc.so_reuseport", 0)],
        )
        assessment_pb2_grpc.add_AssessmentServiceServicer_to_server(
            AssessmentServicer(repository=self.repository), server
        )
        self._health = health.aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self._health, server)
        services = (ASSESSMENT_SERVICE, WORKFLOW_SERVICE, health.SERVICE_NAME)
        reflection.enable_server_reflection((*services, reflection.SERVICE_NAME), server)
        self.port = server.add_insecure_port(self.settings.listen)
        if self.port == 0:
            raise OSError(f"cannot listen on {self.settings.listen}")
        await server.start()
        self._server = server
        serving = health_pb2.HealthCheckResponse.SERVING
        for name in ("", ASSESSMENT_SERVICE, WORKFLOW_SERVICE):
            await self._health.set(name, serving)
        self._serving = True
        if self.settings.http_port:
            host = self.settings.listen.rpartition(":")[0]
            self._http = HttpEndpoints(self.metrics, ready=lambda: self._serving)
            await self._http.start(host, self.settings.http_port)
        log.info("assay serving gRPC on port %d", self.port)

    async def stop(self, grace: float | None = None) -> None:
        """Graceful shutdown; idempotent."""
        if self._server is None:
            return
        self._serving = False
        if self._health is not None:
            await self._health.enter_graceful_shutdown()
        await self._server.stop(self.settings.shutdown_grace_s if grace is None else grace)
        if self._http is not None:
            await self._http.stop()
        self._server = None
        self._stopped.set()

    async def wait_stopped(self) -> None:
        await self._stopped.wait()


def _open_repository(settings: Settings) -> Repository:
    engine = create_engine_from_url(settings.database_url or default_database_url())
    migrate(engine)
    return Repository(engine)


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
