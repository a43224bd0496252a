"""The grpc.aio server: services, interceptors, health and reflection, bound to one address.

The composition root (``server.app``) calls :func:`create_grpc_server` with the parts it
built and drives the returned :class:`GrpcEndpoint` (start, health, graceful stop); it
never touches ``grpc`` or ``assay.v1`` itself. :class:`EdgeSecurity` is what the edge
enforces: who the caller is (authentication, TLS), what they may call (access rules) and
what a write may ask for (the request policy).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from prometheus_client import CollectorRegistry

from assay.server.api.assessments import AssessmentServicer, add_assessment_service
from assay.server.api.auth import Authentication
from assay.server.api.guard import RequestGuard
from assay.server.api.interceptors import EdgeInterceptor, ErrorMapping, RpcMetrics
from assay.server.api.tls import server_credentials
from assay.server.api.workflows import WorkflowServicer
from assay.server.assessment.runner import Runner
from assay.server.auth.access import AccessRules
from assay.server.auth.authn import Authenticator
from assay.server.auth.policy import RequestPolicy
from assay.server.auth.settings import DEFAULT_WRITER_GROUPS
from assay.server.auth.tls import TlsFiles
from assay.server.checks.kit.catalogue import Catalogue
from assay.server.core.threads import DaemonExecutor
from assay.server.storage.engine import READ_POOL_SIZE
from assay.server.storage.repository import Repository
from assay.server.workflow.controller import WorkflowController
from assay.v1 import assessment_pb2, workflow_pb2, workflow_pb2_grpc

ASSESSMENT_SERVICE = assessment_pb2.DESCRIPTOR.services_by_name["AssessmentService"].full_name
WORKFLOW_SERVICE = workflow_pb2.DESCRIPTOR.services_by_name["WorkflowExecutionService"].full_name
HEALTH_SERVICE = health.SERVICE_NAME
SERVICES = (ASSESSMENT_SERVICE, WORKFLOW_SERVICE)

DEFAULT_UPLOAD_LIMIT = 64 * 1024 * 1024


@dataclass(frozen=True)
class EdgeSecurity:
    authenticator: Authenticator = field(default_factory=Authenticator.open)
    rules: AccessRules = field(
        default_factory=lambda: AccessRules(frozenset(DEFAULT_WRITER_GROUPS))
    )
    policy: RequestPolicy = field(default_factory=RequestPolicy)
    tls: TlsFiles | None = None


@dataclass
class GrpcEndpoint:
    """A bound (not yet started) gRPC server and its health servicer."""

    server: grpc.aio.Server
    health: health.aio.HealthServicer
    port: int
    # The threads query RPCs read storage in; released once the server has stopped.
    reads: DaemonExecutor | None = None

    async def start(self) -> None:
        await self.server.start()

    async def set_serving(self, serving: bool, *, workflows: bool = True) -> None:
        """Report the server (``""``) and every service SERVING or NOT_SERVING; the workflow
        service only when ``workflows`` too (it is off, or its controller is not watching)."""
        for name in ("", *SERVICES):
            up = serving and (workflows or name != WORKFLOW_SERVICE)
            status = (
                health_pb2.HealthCheckResponse.SERVING
                if up
                else health_pb2.HealthCheckResponse.NOT_SERVING
            )
            await self.health.set(name, status)

    async def enter_graceful_shutdown(self) -> None:
        await self.health.enter_graceful_shutdown()

    async def stop(self, grace: float | None) -> None:
        await self.server.stop(grace)
        if self.reads is not None:
            self.reads.shutdown(wait=False, cancel_futures=True)


def create_grpc_server(
    *,
    listen: str,
    repository: Repository,
    runner: Runner,
    catalogue: Catalogue,
    controller: WorkflowController | None,
    workflow_namespace: str,
    shutdown: asyncio.Event,
    metrics: CollectorRegistry,
    security: EdgeSecurity,
    upload_limit: int = DEFAULT_UPLOAD_LIMIT,
    cluster_id: str = "",
    reuse_port: bool = False,
    read_threads: int = READ_POOL_SIZE,
) -> GrpcEndpoint:
    """Build the server with every service and bind ``listen`` (TLS when ``security.tls``);
    ``OSError`` if it cannot bind, TlsError if the TLS files are unusable. With
    ``reuse_port`` the port is shared with the other processes of a supervisor
    (SO_REUSEPORT); otherwise a port in use is an error."""
    # ``read_threads``: as many as the repository's read pool has connections, so none waits
    # for one. Daemon threads: a read stuck on a frozen database must not hold the process
    # at exit.
    reads = DaemonExecutor(read_threads, name="read")
    server = grpc.aio.server(
        interceptors=[
            EdgeInterceptor(
                [
                    ErrorMapping(),
                    RpcMetrics(metrics),
                    Authentication(security.authenticator, security.rules),
                    RequestGuard(),
                ]
            )
        ],
        options=[("grpc.so_reuseport", int(reuse_port))],
    )
    add_assessment_service(
        AssessmentServicer(
            repository=repository,
            runner=runner,
            catalogue=catalogue,
            shutdown=shutdown,
            policy=security.policy,
            upload_limit=upload_limit,
            cluster_id=cluster_id,
            reads=reads,
        ),
        server,
    )
    workflow_pb2_grpc.add_WorkflowExecutionServiceServicer_to_server(
        WorkflowServicer(
            repository=repository,
            controller=controller,
            default_namespace=workflow_namespace,
            shutdown=shutdown,
            policy=security.policy,
        ),
        server,
    )
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        (*SERVICES, HEALTH_SERVICE, reflection.SERVICE_NAME), server
    )
    if security.tls is not None:
        port = server.add_secure_port(listen, server_credentials(security.tls))
    else:
        port = server.add_insecure_port(listen)
    if port == 0:
        raise OSError(f"cannot listen on {listen}")
    return GrpcEndpoint(server, health_servicer, port, reads)
