"""Composition root: settings -> auth -> storage -> runner -> controller -> servicers.

``AssayServer`` validates the settings, builds every part and starts them all or nothing:
each step that starts something pushes the matching stop, so a failure anywhere (a port in
use, an unreachable database, an unusable certificate, ``--workflows`` without a cluster)
stops what already started, in reverse order, and raises a
:class:`~assay.server.settings.StartupError` naming the setting. The same stack is the
graceful shutdown: health NOT_SERVING and open streams end, the scheduler and in-flight
runs stop, liveness, the gRPC server (with its grace), the controller, the health monitor,
the Kubernetes clients, the HTTP endpoints, the database.

Authentication is on when a token source or TLS is configured (the settings refuse a
listener beyond loopback otherwise, and the server logs that it is open). The health
monitor probes storage (and the controller) so gRPC health and ``/readyz`` follow outages.
``run_server`` is what ``assay serve`` calls. Tests inject a repository, a Kubernetes client
factory pointing at the API test double, and settings with short timings.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import signal
import socket
from collections.abc import Callable, Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from multiprocessing.connection import Connection

from prometheus_client import CollectorRegistry
from sqlalchemy.exc import SQLAlchemyError

from assay.server.api.server import EdgeSecurity, GrpcEndpoint, create_grpc_server
from assay.server.assessment.liveness import RunLiveness
from assay.server.assessment.progress import ProgressBus
from assay.server.assessment.providers import LiveInventory, ManifestInventory
from assay.server.assessment.runner import Runner
from assay.server.assessment.scheduler import Scheduler, ScheduleSpec
from assay.server.auth.setup import AuthParts, AuthSetupError, build_auth
from assay.server.checks import builtin_registry
from assay.server.checks.kit.catalogue import Catalogue
from assay.server.checks.kit.policy import EMPTY_POLICY, load_policy
from assay.server.checks.kit.registry import Registry
from assay.server.core.errors import AssayError, Unavailable
from assay.server.core.threads import DaemonExecutor
from assay.server.core.types import Source
from assay.server.kube.client import KubeClient
from assay.server.kube.config import KubeClientFactory, client_factory
from assay.server.kube.errors import KubeError
from assay.server.observability.health import HealthMonitor, Readiness, ReadinessCheck
from assay.server.observability.http import HealthEndpoints, MetricsEndpoint, exposed
from assay.server.observability.workflow_metrics import WorkflowMetrics
from assay.server.settings import LogLevel, Settings, StartupError, check
from assay.server.storage.engine import (
    create_engine_from_url,
    default_database_url,
    migrate,
    operator_detail,
)
from assay.server.storage.repository import Repository
from assay.server.storage.sink import StorageSink
from assay.server.storage.writer import ResultWriter
from assay.server.supervisor import stop_with_parent, supervise
from assay.server.workflow.controller import WorkflowController

log = logging.getLogger(__name__)

_START_ERRORS = (OSError, RuntimeError, AssayError, KubeError, SQLAlchemyError)
"""What a start-up step may fail with for reasons outside the program (bugs propagate)."""


@contextlib.contextmanager
def _step(setting: str, what: str) -> Iterator[None]:
    """Turn a failure of one start-up step into a StartupError naming ``setting``."""
    try:
        yield
    except StartupError:
        raise
    except _START_ERRORS as exc:
        raise StartupError(f"{what}: {exc}", setting=setting) from exc


@dataclass
class AssayServer:
    """The running process; ``await start()``, then ``port``; ``await stop()`` to end."""

    settings: Settings
    repository: Repository | None = None
    registry: Registry | None = None
    kube_client_factory: KubeClientFactory | None = None
    metrics: CollectorRegistry = field(default_factory=CollectorRegistry)
    port: int = 0
    health_port: int = 0
    metrics_port: int = 0
    # One of several processes on the listen port (SO_REUSEPORT; ``server.supervisor``).
    reuse_port: bool = False
    # Start the results writer process with the server, not on a run's first large batch:
    # for a server started to run one run at once (``assay scan``).
    writer_at_start: bool = False
    runner: Runner | None = None
    controller: WorkflowController | None = None
    monitor: HealthMonitor | None = None
    pools: ThreadPools | None = None
    _stack: AsyncExitStack | None = None
    _grpc: GrpcEndpoint | None = None
    _grace: float | None = None
    _serving: bool = False
    _shutdown: asyncio.Event = field(default_factory=asyncio.Event)
    _stopped: asyncio.Event = field(default_factory=asyncio.Event)

    async def start(self) -> None:
        """Start every part, or none: raises StartupError (or SettingsError) after stopping,
        in reverse order, whatever had started."""
        if self._stack is not None:
            raise RuntimeError("the server is already started")
        check(self.settings)
        stack = AsyncExitStack()
        try:
            await self._start(stack)
        except BaseException:
            try:
                await stack.aclose()
            except Exception:  # the start-up error is the one to report
                log.exception("cleaning up after a failed start failed")
            raise
        self._stack = stack
        log.info("assay serving gRPC on port %d", self.port)

    async def _start(self, stack: AsyncExitStack) -> None:
        settings = self.settings
        # The policy is validated against the registry before anything opens or listens.
        registry = self.registry or _load_registry()
        policy = EMPTY_POLICY
        if settings.policy:
            with _step("policy", "unusable policy"):
                policy = await asyncio.to_thread(load_policy, settings.policy, registry)
        catalogue = Catalogue(
            registry, policy, honour_annotations=settings.assessment.honour_exemptions
        )
        repository = self.repository
        if repository is None:
            with _step("database_url", "cannot open the database"):
                try:
                    repository = await asyncio.to_thread(_open_repository, settings)
                except Unavailable as exc:  # the operator's own database: say where, why
                    raise StartupError(
                        f"cannot open the database: {operator_detail(exc)}",
                        setting="database_url",
                    ) from exc
            stack.push_async_callback(asyncio.to_thread, repository.engine.dispose)
            self.repository = repository
        pools = self.pools = self._thread_pools(stack)
        replica = replica_name(settings.listen)
        writer = ResultWriter.for_database(
            repository.engine.url,
            statement_timeout_s=settings.database_statement_timeout_s,
            min_rows=settings.results_writer_min_rows,
        )
        if writer is not None:
            stack.push_async_callback(asyncio.to_thread, writer.close)  # after the runner
            if self.writer_at_start:
                writer.start()
        sink = StorageSink(repository, threads=pools.storage, owner=replica, writer=writer)
        factory = self.kube_client_factory or client_factory(settings.kube)
        auth = await self._auth(stack, factory)
        runner = Runner(
            catalogue=catalogue,
            sink=sink,
            inventories={
                Source.MANIFESTS: ManifestInventory(threads=pools.inventory),
                Source.LIVE: LiveInventory(factory),
            },
            bus=ProgressBus(),
            settings=settings.assessment,
            cluster_id=settings.cluster_id,
            shutdown_grace_s=settings.shutdown_grace_s,
            check_threads=pools.checks,
        )
        self.runner = runner
        monitor = HealthMonitor(
            self._readiness_checks(repository, pools),
            interval_s=settings.health_poll_s,
            on_change=self._report_health,
        )
        self.monitor = monitor

        if settings.health_port:
            health_http = HealthEndpoints(readiness=monitor.probe, serving=lambda: self._serving)
            with _step("health_port", f"cannot listen on port {settings.health_port}"):
                await health_http.start(settings.health_host, settings.health_port)
            stack.push_async_callback(health_http.stop)
            self.health_port = health_http.port
        if settings.metrics_port:
            metrics_http = MetricsEndpoint(exposed(self.metrics), gate=auth.metrics_gate)
            with _step("metrics_port", f"cannot listen on port {settings.metrics_port}"):
                await metrics_http.start(settings.metrics_bind_host, settings.metrics_port)
            stack.push_async_callback(metrics_http.stop)
            self.metrics_port = metrics_http.port

        if settings.workflow.enabled:
            setting = (
                "kube.context"
                if settings.kube.context
                else "kube.kubeconfig"
                if settings.kube.kubeconfig
                else "workflow.enabled"
            )
            with _step(setting, "--workflows needs a cluster"):
                kube = await factory("")
            stack.push_async_callback(kube.close)
            self.controller = WorkflowController(
                kube=kube,
                settings=settings.workflow,
                cluster_id=settings.cluster_id,
                audit=sink,
                metrics=WorkflowMetrics(self.metrics),
            )

        # A port in use fails here, before the controller starts; gRPC binds at the end.
        # (Several processes share the port: their supervisor checked it.)
        if not self.reuse_port:
            with _step("listen", f"cannot listen on {settings.listen}"):
                _check_free(settings.listen)

        if self.controller is not None:
            with _step("workflow.enabled", "the workflow controller cannot start"):
                await self.controller.start()
            stack.push_async_callback(self.controller.stop)
        # Stopped after the runs below and before the controller; bound further down.
        stack.push_async_callback(self._stop_endpoint)

        liveness = RunLiveness(
            repository,
            runner.active_runs,
            on_cancel=runner.cancel_requested,
            owner=replica,
            threads=pools.storage,
            settings=settings.assessment,
        )
        # Fail what a dead process left behind before taking work, then keep sweeping.
        with _step("database_url", "cannot read the runs of a stopped server"):
            await liveness.sweep(starting=True)
        liveness.start()
        stack.push_async_callback(liveness.stop)
        # Streams end once the runs recorded their end and every watcher has its RunFinished.
        stack.push_async_callback(self._end_streams, runner)
        # In-flight runs always get the configured grace to record their end, even when
        # the caller wants the RPCs cut at once.
        stack.push_async_callback(runner.shutdown, grace_s=settings.shutdown_grace_s)

        with _step("listen", f"cannot listen on {settings.listen}"):
            endpoint = create_grpc_server(
                listen=settings.listen,
                repository=repository,
                runner=runner,
                catalogue=catalogue,
                controller=self.controller,
                workflow_namespace=settings.workflow.namespace,
                shutdown=self._shutdown,
                metrics=self.metrics,
                security=EdgeSecurity(
                    authenticator=auth.authenticator,
                    rules=auth.rules,
                    policy=auth.policy,
                    tls=auth.tls,
                ),
                upload_limit=settings.assessment.max_upload_bytes,
                cluster_id=settings.cluster_id,
                reuse_port=self.reuse_port,
                read_threads=settings.read_threads_per_process,
            )
            self._grpc = endpoint
            await endpoint.start()
        self.port = endpoint.port
        spec = ScheduleSpec.from_settings(settings.assessment, cluster_id=settings.cluster_id)
        if spec is not None:
            scheduler = Scheduler(spec, runner=runner)
            scheduler.start()
            stack.push_async_callback(scheduler.stop)
        self._serving = True
        await self._report_health(await monitor.probe())
        monitor.start()
        stack.push_async_callback(monitor.stop)
        stack.push_async_callback(self._leave_service, endpoint)

    async def _auth(self, stack: AsyncExitStack, factory: KubeClientFactory) -> AuthParts:
        """Authentication, authorisation and TLS; logs once when the server is open."""
        settings = self.settings
        reviews: KubeClient | None = None
        if settings.auth.token_review:
            with _step("auth.token_review", "TokenReview needs a cluster"):
                reviews = await factory("")
            stack.push_async_callback(reviews.close)
        try:
            parts = build_auth(
                settings.auth,
                settings.tls,
                runner_account=settings.workflow.default_service_account,
                kube=reviews,
            )
        except AuthSetupError as exc:
            raise StartupError(str(exc), setting=exc.setting) from exc
        if not parts.authenticator.enabled:
            log.warning(
                "authentication is off: every caller on %s is trusted with everything "
                "(set ASSAY_TOKEN_FILE, ASSAY_TOKEN_REVIEW or ASSAY_TLS_CERT)",
                settings.listen_host,
            )
        return parts

    def _thread_pools(self, stack: AsyncExitStack) -> ThreadPools:
        """The bounded pools of blocking work, each its own (see docs/design.md, "Runner")."""
        config = self.settings.assessment
        pools = ThreadPools(
            inventory=DaemonExecutor(config.inventory_threads, name="inventory"),
            checks=DaemonExecutor(config.check_threads, name="check"),
            storage=DaemonExecutor(config.storage_threads, name="storage"),
        )
        for pool in pools.all():
            stack.callback(pool.shutdown)
        return pools

    def _readiness_checks(
        self, repository: Repository, pools: ThreadPools
    ) -> dict[str, ReadinessCheck]:
        loop = asyncio.get_running_loop()

        async def storage() -> str:
            try:
                await loop.run_in_executor(pools.storage, repository.ping)
            except Unavailable as exc:
                return str(exc)
            return ""

        async def migrations() -> str:
            try:
                current = await loop.run_in_executor(pools.storage, repository.schema_is_current)
            except Unavailable as exc:
                return str(exc)
            return "" if current else "the database schema is not at this version's revision"

        async def threads() -> str:
            limit = self.settings.assessment.thread_stall_s
            stalled = [
                f"{pool.name} ({pool.busy} busy, {pool.queued} waiting {pool.stall_s():.0f}s)"
                for pool in pools.all()
                if pool.stall_s() > limit
            ]
            return f"thread pools saturated: {', '.join(stalled)}" if stalled else ""

        checks: dict[str, ReadinessCheck] = {
            "storage": storage,
            "migrations": migrations,
            "threads": threads,
        }
        if self.settings.workflow.enabled:

            async def controller() -> str:
                watching = self.controller is not None and self.controller.watching
                return "" if watching else "the workflow controller is not watching"

            checks["controller"] = controller
        return checks

    async def _report_health(self, readiness: Readiness) -> None:
        """gRPC health follows readiness: everything NOT_SERVING while storage is not
        usable, the workflow service also while it is off or not watching."""
        endpoint = self._grpc
        if endpoint is None or not self._serving:
            return
        storage_ok = not any(
            readiness.failing(name) for name in ("storage", "migrations", "threads")
        )
        workflows = self.settings.workflow.enabled and not readiness.failing("controller")
        await endpoint.set_serving(storage_ok, workflows=workflows)

    async def _leave_service(self, endpoint: GrpcEndpoint) -> None:
        """First step of a shutdown: NOT_SERVING (streams end after the runs, below)."""
        log.info("assay shutting down")
        self._serving = False
        await endpoint.enter_graceful_shutdown()

    async def _end_streams(self, runner: Runner) -> None:
        """After the runs recorded their end: let every watcher take its RunFinished (for
        at most the grace), then end the open streams."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.settings.shutdown_grace_s):
                await runner.bus.delivered()
        self._shutdown.set()

    async def _stop_endpoint(self) -> None:
        endpoint, self._grpc = self._grpc, None
        if endpoint is not None:
            grace = self.settings.shutdown_grace_s if self._grace is None else self._grace
            await endpoint.stop(grace)

    async def stop(self, grace: float | None = None) -> None:
        """Graceful shutdown (``grace`` overrides the RPCs' grace); idempotent."""
        if self._stack is None:
            return
        stack, self._stack = self._stack, None
        self._grace = grace
        try:
            await stack.aclose()
        finally:
            log.info("assay stopped")
            self._stopped.set()

    async def wait_stopped(self) -> None:
        await self._stopped.wait()


@dataclass(frozen=True)
class ThreadPools:
    """One bounded pool per kind of blocking work (settings ``*_threads``)."""

    inventory: DaemonExecutor
    checks: DaemonExecutor
    storage: DaemonExecutor

    def all(self) -> tuple[DaemonExecutor, ...]:
        return (self.inventory, self.checks, self.storage)


def replica_name(listen: str) -> str:
    """This server's name on the runs it executes: host and listen address, which no other
    live server shares and a restarted one keeps (a random suffix for an ephemeral port)."""
    name = f"{socket.gethostname()}/{listen}"
    if listen.rpartition(":")[2] == "0":
        name += f"/{os.getpid()}-{secrets.token_hex(4)}"
    return name


def _check_free(listen: str) -> None:
    """OSError when ``HOST:PORT`` cannot be bound now (gRPC would only log it in C++)."""
    host, _, port = listen.rpartition(":")
    if int(port) == 0:
        return
    host = host.strip("[]")
    for family, kind, proto, _, address in socket.getaddrinfo(
        host or None, int(port), type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    ):
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(address)


def _open_repository(settings: Settings) -> Repository:
    engine = create_engine_from_url(
        settings.database_url or default_database_url(),
        statement_timeout_s=settings.database_statement_timeout_s,
    )
    try:
        migrate(engine)
    except BaseException:
        engine.dispose()
        raise
    return Repository(engine, read_pool_size=settings.read_threads_per_process)


def _load_registry() -> Registry:
    registry = builtin_registry()
    for problem in registry.load_entry_points():
        log.error("check plug-in not loaded: %s", problem)
    return registry


async def serve(
    settings: Settings, *, reuse_port: bool = False, serving: Callable[[], None] | None = None
) -> None:
    """Serve until SIGTERM or SIGINT, then shut down gracefully; ``serving()`` is called
    once the server serves.

    Any failure to start is a StartupError; an unexpected one (a bug) too, with its
    traceback logged at debug level.
    """
    server = AssayServer(settings, reuse_port=reuse_port)
    # Handled from the start: a signal while starting stops the server once it has started
    # (start-up is all or nothing), never the process by the default action.
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await server.start()
    except StartupError:
        raise
    except Exception as exc:
        log.debug("unexpected error during start-up", exc_info=exc)
        raise StartupError(
            f"unexpected error during start-up: {type(exc).__name__}: {exc} "
            "(ASSAY_LOG_LEVEL=debug shows where)"
        ) from exc
    if serving is not None:
        serving()
    await stop.wait()
    await server.stop()


def run_server(settings: Settings) -> None:
    """Configure logging and serve (``settings.processes`` of them: ``server.supervisor``);
    raises StartupError when the server cannot start."""
    _configure_logging(settings)
    if settings.processes > 1:
        supervise(settings, _replica)
    else:
        asyncio.run(serve(settings))


def _configure_logging(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    if settings.log_level is not LogLevel.DEBUG:  # one line per migration step otherwise
        logging.getLogger("alembic").setLevel(logging.WARNING)


def _replica(settings: Settings, report: Connection) -> None:
    """One of the supervisor's processes: serve on the shared port, report start-up, and
    shut down as on SIGTERM if the supervisor dies (killed, it could forward nothing)."""
    _configure_logging(settings)
    stop_with_parent()
    try:
        asyncio.run(serve(settings, reuse_port=True, serving=lambda: report.send(None)))
    except StartupError as error:
        report.send(str(error))
        raise SystemExit(1) from None
