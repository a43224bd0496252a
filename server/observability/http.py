"""HTTP endpoints beside gRPC (aiohttp): health on one port, Prometheus metrics on another.

Started by ``server.app``:

- :class:`HealthEndpoints` on ``ASSAY_HEALTH_HOST:ASSAY_HEALTH_PORT`` (8081, the pod address
  kubelet probes), never authenticated: ``/healthz`` (alias ``/health``) answers while the
  process serves; ``/readyz`` (alias ``/ready``) runs the readiness checks
  (:mod:`.health`) and answers 503 naming the failing ones (details go to the log, not to
  an unauthenticated caller) or while the server shuts down.
- :class:`MetricsEndpoint` on ``ASSAY_METRICS_PORT`` (9090): ``/metrics`` in the Prometheus
  text format (of every process of a supervisor: :func:`exposed`), behind a
  :class:`MetricsGate` when authentication is on (401 without valid credentials, 403 when
  the caller may not read metrics, 503 when that cannot be decided now). The gate is
  injected by the composition root; this package knows nothing of how callers are
  authenticated.
"""

from __future__ import annotations

import enum
import os
from collections.abc import Awaitable, Callable
from typing import Protocol

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from assay.server.observability.health import Readiness

# Where each of a supervisor's processes keeps its metric values (``server.supervisor``).
MULTIPROCESS_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"


def exposed(registry: CollectorRegistry) -> CollectorRegistry:
    """What ``/metrics`` shows: ``registry``, or in a supervisor's process the values of
    every process it started, added up from the directory they keep them in (this
    process's included, so ``registry`` itself is not shown twice)."""
    directory = os.environ.get(MULTIPROCESS_DIR_VARIABLE)
    if not directory:
        return registry
    merged = CollectorRegistry()
    MultiProcessCollector(merged, path=directory)  # type: ignore[no-untyped-call]
    return merged


class Verdict(enum.Enum):
    ALLOWED = 200
    UNAUTHENTICATED = 401
    FORBIDDEN = 403
    UNAVAILABLE = 503


class MetricsGate(Protocol):
    async def __call__(self, authorization: tuple[str, ...]) -> Verdict:
        """May the caller with these ``Authorization`` header values read the metrics?"""
        ...


class _Site:
    """One aiohttp application on one host and port."""

    def __init__(self) -> None:
        self._runner: web.AppRunner | None = None
        self.port = 0

    async def _serve(self, app: web.Application, host: str, port: int) -> None:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        try:
            site = web.TCPSite(runner, host, port)
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self.port = int(runner.addresses[0][1])

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()


class HealthEndpoints(_Site):
    def __init__(
        self, *, readiness: Callable[[], Awaitable[Readiness]], serving: Callable[[], bool]
    ) -> None:
        super().__init__()
        self._readiness = readiness
        self._serving = serving

    async def start(self, host: str, port: int) -> None:
        app = web.Application()
        for path in ("/healthz", "/health"):
            app.router.add_get(path, self._alive)
        for path in ("/readyz", "/ready"):
            app.router.add_get(path, self._ready)
        await self._serve(app, host, port)

    async def _alive(self, request: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    async def _ready(self, request: web.Request) -> web.Response:
        if not self._serving():
            return web.Response(status=503, text="not ready: not serving\n")
        readiness = await self._readiness()
        if readiness.ready:
            return web.Response(text="ready\n")
        failing = ", ".join(sorted(readiness.problems))
        return web.Response(status=503, text=f"not ready: {failing}\n")


class MetricsEndpoint(_Site):
    def __init__(self, registry: CollectorRegistry, *, gate: MetricsGate | None) -> None:
        super().__init__()
        self._registry = registry
        self._gate = gate

    async def start(self, host: str, port: int) -> None:
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        await self._serve(app, host, port)

    async def _metrics(self, request: web.Request) -> web.Response:
        if self._gate is not None:
            verdict = await self._gate(tuple(request.headers.getall("Authorization", ())))
            if verdict is not Verdict.ALLOWED:
                headers = {"WWW-Authenticate": "Bearer"} if verdict.value == 401 else {}
                return web.Response(
                    status=verdict.value, text=f"{verdict.name.lower()}\n", headers=headers
                )
        body = generate_latest(self._registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
