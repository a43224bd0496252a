"""Scheduled full runs from a cron expression (``ASSAY_SCHEDULE``, e.g. ``0 * * * *``).

The composition root builds one :class:`Scheduler` per replica when the assessment settings
have a schedule (:meth:`ScheduleSpec.from_settings`) and runs :meth:`Scheduler.run` as a
task; :meth:`Scheduler.stop` ends it on shutdown.

One run per tick across replicas
--------------------------------
Every replica wakes at every tick. A tick is *claimed by creating its run row*: the run id
of a scheduled run is derived from the tick and the cluster id
(:func:`~assay.server.core.ids.scheduled_run_id`), so all replicas compute the same id,
``runs.run_id`` is the table's primary key, and exactly one ``create_run`` succeeds; the
others get ``AlreadyExists`` from storage and skip the tick. This was chosen over the
alternatives because

- it needs no new table and no migration, and works the same on SQLite and PostgreSQL;
- unlike ``pg_try_advisory_xact_lock`` (released at commit, so a replica arriving a moment
  later takes it again) or a session advisory lock (must be held for the whole tick on a
  pinned connection), a row is durable: a replica restarting in the middle of a tick, or one
  whose clock lags, cannot run the tick a second time;
- the claim and its outcome are one thing -- the run row -- so there is nothing to clean up
  and the run is visible in ListRuns with an id that says which tick it served.

:class:`TickClaimer` is an additional, optional gate consulted before the run is created,
for deployments that want only some replicas to schedule (e.g. the holder of a lease) or
for several schedulers in one process (:class:`LocalTickClaimer`).

Missed ticks (the process was suspended, or a run start took longer than the period) are
not caught up: after a tick the next one is computed from the later of the tick and now.
Time comes from an injected :class:`~assay.server.core.clock.Clock`, so tests drive ticks
without waiting.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from croniter import croniter

from assay.server.assessment.requests import Manifests, ManifestTree, RunRequest
from assay.server.assessment.settings import AssessmentSettings
from assay.server.assessment.tasks import cancel_and_wait
from assay.server.core.clock import SYSTEM_CLOCK, Clock
from assay.server.core.errors import (
    AlreadyExists,
    FieldViolation,
    InvalidArgument,
    ResourceExhausted,
)
from assay.server.core.ids import scheduled_run_id
from assay.server.core.types import Run, RunId, Source

log = logging.getLogger(__name__)


class TickClaimer(Protocol):
    async def claim(self, tick: datetime) -> bool:
        """True when this scheduler may start the tick's run, False to skip it."""


class LocalTickClaimer:
    """Hands each tick to the first scheduler of this process that asks; remembers the last
    ``capacity`` ticks."""

    def __init__(self, capacity: int = 1024) -> None:
        self._claimed: OrderedDict[datetime, None] = OrderedDict()
        self._capacity = capacity

    async def claim(self, tick: datetime) -> bool:
        if tick in self._claimed:
            return False
        self._claimed[tick] = None
        while len(self._claimed) > self._capacity:
            self._claimed.popitem(last=False)
        return True


class RunStarter(Protocol):
    async def start(self, request: RunRequest, *, run_id: RunId | None = None) -> Run:
        """Create the run and start it; AlreadyExists when ``run_id`` is taken."""


@dataclass(frozen=True)
class ScheduleSpec:
    """What the scheduler starts: a cron expression and the request of each run."""

    expression: str
    request: RunRequest
    cluster_id: str = ""

    def __post_init__(self) -> None:
        if not croniter.is_valid(self.expression):
            raise InvalidArgument(
                FieldViolation("schedule", f"not a cron expression: {self.expression!r}")
            )

    @classmethod
    def from_settings(cls, settings: AssessmentSettings, *, cluster_id: str) -> ScheduleSpec | None:
        """The schedule the settings ask for; None when ``schedule`` is empty."""
        if not settings.schedule:
            return None
        manifests: Manifests = ()
        if settings.schedule_source is Source.MANIFESTS:
            manifests = ManifestTree(settings.schedule_path)
        request = RunRequest(source=settings.schedule_source, manifests=manifests)
        return cls(settings.schedule, request, cluster_id=cluster_id)


class Scheduler:
    """Starts ``spec.request`` at every tick of ``spec.expression`` that this replica wins."""

    def __init__(
        self,
        spec: ScheduleSpec,
        *,
        runner: RunStarter,
        claimer: TickClaimer | None = None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self._spec = spec
        self._runner = runner
        self._claimer = claimer
        self._clock = clock
        self._task: asyncio.Task[None] | None = None

    def next_tick(self, after: datetime) -> datetime:
        """The first tick strictly after ``after`` (UTC)."""
        nxt: datetime = croniter(self._spec.expression, after.astimezone(UTC)).get_next(datetime)
        return nxt

    async def fire(self, tick: datetime) -> Run | None:
        """Claim ``tick`` and start its run; None when another scheduler has it or it failed."""
        if self._claimer is not None and not await self._claimer.claim(tick):
            log.info("schedule tick %s claimed elsewhere; skipping", tick.isoformat())
            return None
        run_id = scheduled_run_id(tick, cluster_id=self._spec.cluster_id)
        try:
            run = await self._runner.start(self._spec.request, run_id=run_id)
        except AlreadyExists:
            log.info("schedule tick %s started by another replica", tick.isoformat())
            return None
        except ResourceExhausted as exc:  # the server runs as many runs as it may
            log.warning("scheduled run for tick %s skipped: %s", tick.isoformat(), exc)
            return None
        except Exception:
            log.exception("scheduled run for tick %s could not start", tick.isoformat())
            return None
        log.info("scheduled run %s started for tick %s", run.run_id, tick.isoformat())
        return run

    async def run(self) -> None:
        """Fire at every tick until cancelled."""
        last = self._clock.now()
        while True:
            tick = self.next_tick(max(last, self._clock.now()))
            await self._clock.sleep_until(tick)
            await self.fire(tick)
            last = tick

    def start(self) -> asyncio.Task[None]:
        """Run the schedule as a task of the running loop."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self.run(), name="scheduler")
        return self._task

    async def stop(self) -> None:
        if self._task is not None:
            await cancel_and_wait(self._task)
            self._task = None
