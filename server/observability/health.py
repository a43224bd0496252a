"""Readiness: named checks run together, their verdict, and a loop that reports changes.

The composition root gives :class:`HealthMonitor` its checks (storage reachable and
migrated, the workflow controller watching when enabled), each an async callable returning
``""`` when fine or a one-line problem. ``probe()`` runs them all now (``/readyz`` calls it
on every request; concurrent callers share one run); the loop started by ``start()`` probes
every ``interval_s`` so gRPC health follows storage outages without a caller. Each change of
the verdict is logged and handed to ``on_change``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

log = logging.getLogger(__name__)

ReadinessCheck = Callable[[], Awaitable[str]]
"""``""`` when the part is ready, else why not (one line)."""


@dataclass(frozen=True)
class Readiness:
    problems: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    """Check name -> problem, for the checks that failed."""

    @property
    def ready(self) -> bool:
        return not self.problems

    def failing(self, name: str) -> bool:
        return name in self.problems


class HealthMonitor:
    def __init__(
        self,
        checks: Mapping[str, ReadinessCheck],
        *,
        interval_s: float,
        timeout_s: float = 5.0,
        on_change: Callable[[Readiness], Awaitable[None]] | None = None,
    ) -> None:
        self._checks = dict(checks)
        self._interval_s = interval_s
        self._timeout_s = timeout_s
        self._on_change = on_change
        self.latest = Readiness()
        self._running: asyncio.Future[Readiness] | None = None
        self._loop: asyncio.Task[None] | None = None

    async def probe(self) -> Readiness:
        """Run every check now (shared with a probe already running)."""
        if self._running is None or self._running.done():
            self._running = asyncio.ensure_future(self._probe())
        return await asyncio.shield(self._running)

    async def _probe(self) -> Readiness:
        names = list(self._checks)
        results = await asyncio.gather(*(self._one(name) for name in names))
        failed = {name: problem for name, problem in zip(names, results, strict=True) if problem}
        verdict = Readiness(MappingProxyType(failed))
        if verdict != self.latest:
            previous, self.latest = self.latest, verdict
            if verdict.ready:
                log.info("ready again")
            else:
                for name, problem in verdict.problems.items():
                    if previous.problems.get(name) != problem:
                        log.warning("not ready: %s: %s", name, problem)
            if self._on_change is not None:
                await self._on_change(verdict)
        return verdict

    async def _one(self, name: str) -> str:
        try:
            async with asyncio.timeout(self._timeout_s):
                return await self._checks[name]()
        except TimeoutError:
            return f"no answer within {self._timeout_s:g}s"
        except Exception as exc:  # a check that raises is a failing check
            return f"{type(exc).__name__}: {exc}"

    def start(self) -> None:
        self._loop = asyncio.create_task(self._run(), name="health-monitor")

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval_s)
            try:
                await self.probe()
            except Exception:  # keep watching whatever one round did
                log.exception("health probe failed")

    async def stop(self) -> None:
        loop, self._loop = self._loop, None
        if loop is not None:
            loop.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await loop
