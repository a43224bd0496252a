"""Run liveness across replicas: heartbeats for the runs this process executes, and the
sweep that fails the runs whose process died.

The composition root starts one :class:`RunLiveness` per replica, next to the runner, with
the assessment settings. Every ``run_heartbeat_s`` it stamps ``heartbeat_at`` on the runs
this process executes -- and learns which of them another replica was asked to cancel
(``on_cancel``) -- and fails, with :data:`CRASH_REASON`, every queued or running run whose
heartbeat is older than ``run_stale_after_s`` -- a run whose process crashed, was killed or
evicted. The first sweep runs at start-up, before the runner takes work, and also fails
the runs this replica's name (``owner``) left: a server restarted under the same name (host
and port) knows its predecessor is dead without waiting. Every run failed so gets its
counts from the stored results and its history row.

Why heartbeats rather than "fail everything unfinished at start-up": with several replicas
on one PostgreSQL database, a replica starting up cannot tell a dead process's run from one
another live replica is executing; only a fresh heartbeat can. The cost is that a run left
by a crash is failed up to ``run_stale_after_s`` later, not at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor
from datetime import datetime, timedelta
from functools import partial
from typing import Protocol, TypeVar

from assay.server.assessment.settings import AssessmentSettings
from assay.server.core.clock import SYSTEM_CLOCK, Clock
from assay.server.core.errors import Unavailable
from assay.server.core.types import RunId

log = logging.getLogger(__name__)

T = TypeVar("T")

CRASH_REASON = "the server executing this run stopped before it finished"


class LivenessStore(Protocol):
    """Storage of run heartbeats (the storage Repository is one); called in a worker thread."""

    def heartbeat(self, run_ids: Sequence[RunId], now: datetime) -> Mapping[RunId, str]:
        """Stamp the runs; the ones with a cancel request, and its reason."""

    def fail_unfinished_runs(
        self,
        reason: str,
        now: datetime,
        *,
        stale_before: datetime | None = None,
        owner: str | None = None,
        keep: Sequence[RunId] = (),
    ) -> list[RunId]: ...


class RunLiveness:
    def __init__(
        self,
        store: LivenessStore,
        active: Callable[[], Sequence[RunId]],
        *,
        on_cancel: Callable[[RunId, str], None] | None = None,
        owner: str | None = None,
        threads: Executor | None = None,
        settings: AssessmentSettings | None = None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        """``threads``: where storage calls run (the storage pool; asyncio's default
        executor when not given)."""
        self._store = store
        self._active = active
        self._on_cancel = on_cancel
        self._owner = owner
        self._threads = threads
        self._settings = settings or AssessmentSettings()
        self._clock = clock
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    async def beat(self) -> None:
        """Stamp the runs this process executes; hand on the cancel requests found."""
        active = list(self._active())
        if not active:
            return
        cancels = await self._call(partial(self._store.heartbeat, active, self._clock.now()))
        if self._on_cancel is not None:
            for run_id, reason in cancels.items():
                self._on_cancel(run_id, reason)

    async def sweep(self, *, starting: bool = False) -> list[RunId]:
        """Fail the unfinished runs whose heartbeat is stale (and, ``starting``, those this
        replica's name left); their ids."""
        now = self._clock.now()
        failed = await self._call(
            partial(
                self._store.fail_unfinished_runs,
                CRASH_REASON,
                now,
                stale_before=now - timedelta(seconds=self._settings.run_stale_after_s),
                owner=self._owner if starting else None,
                keep=list(self._active()),
            )
        )
        if failed:
            log.warning("failed %d runs of a stopped server: %s", len(failed), ", ".join(failed))
        return failed

    async def run(self) -> None:
        """Beat and sweep every interval until :meth:`stop`; storage outages are retried.

        The first beat comes one interval after start (the composition root sweeps once
        before serving). ``stop`` lets a beat in progress finish rather than cancelling it:
        its database call runs in a worker thread that a cancellation would leave behind,
        still holding a connection.
        """
        while not await self._stopping_within(self._settings.run_heartbeat_s):
            try:
                await self.beat()
                await self.sweep()
            except Unavailable as exc:
                log.warning("run heartbeat skipped: %s", exc)

    async def _call(self, work: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._threads, work)

    async def _stopping_within(self, seconds: float) -> bool:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._stopping.wait()
        return self._stopping.is_set()

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self.run(), name="run liveness")

    async def stop(self) -> None:
        self._stopping.set()
        if self._task is not None:
            await self._task
            self._task = None
