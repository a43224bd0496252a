"""The progress bus: one ordered event log per run, and subscriptions that follow it.

The runner publishes (:meth:`ProgressBus.publish`, synchronous, never blocks); the WatchRun
servicer subscribes (:meth:`ProgressBus.subscribe`) and converts the events to proto.

Design
------
Every event of a run is appended to that run's log and numbered from 1. A subscription is a
*cursor over the log*, not a queue of its own: it yields ``log[cursor]`` and, once it has
caught up, waits for the next append. Hence:

- a late subscriber first receives everything that already happened, then live events, and a
  finished run replays and closes (its last event is :class:`RunFinished`);
- any number of subscribers share one log, and each costs one integer and one waiter;
- a slow subscriber never blocks the runner and never overflows: publishing appends and
  wakes waiters, nothing else. A subscriber that falls behind simply reads older entries of
  the log later -- it is re-synced from the log by construction, loses nothing, and the only
  memory it holds on to is the log itself.

What is bounded, and what happens at the bound:

- The log of one run holds at most ``max_events_per_run`` events (the runner emits
  ``2 x checks + 4``, so the default is far above any catalogue). Past the bound, further
  non-final events are dropped and counted in :attr:`RunLog.dropped`, a warning is logged
  once, and the final :class:`RunFinished` event is always recorded, so every stream ends.
- Finished runs' logs are kept for ``retention`` (default one hour) and at most
  ``max_finished_runs`` of them (default 256), oldest evicted first. Live subscribers of an
  evicted log keep their reference and finish their replay. For a run the bus does not hold
  (:meth:`ProgressBus.has` is False: evicted, or finished before a restart), the API layer
  synthesises the final event from storage.

A subscription is released (and :meth:`ProgressBus.subscriber_count` drops) when it is
exhausted, when the task awaiting it is cancelled (a gRPC client going away), or when it is
closed; use it as ``async with bus.subscribe(run_id) as events: async for event in events``.

All methods must be called from the event loop's thread.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import TracebackType

from assay.server.core.clock import SYSTEM_CLOCK, Clock
from assay.server.core.errors import NotFound
from assay.server.core.types import (
    Pillar,
    Run,
    RunId,
    RunState,
    Status,
    StatusCounts,
    Summary,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunStateChanged:
    """The run entered ``state``; ``total_checks`` is known from ``running`` on."""

    state: RunState
    error: str = ""
    diagnostics: tuple[str, ...] = ()
    total_checks: int = 0


@dataclass(frozen=True)
class CheckStarted:
    check_id: str
    check_name: str
    pillar: Pillar


@dataclass(frozen=True)
class CheckFinished:
    """A check ended; ``outcome`` is its worst result (error/timeout when it did not finish)."""

    check_id: str
    outcome: Status
    counts: StatusCounts
    duration_ms: int
    completed_checks: int
    total_checks: int
    error: str = ""


@dataclass(frozen=True)
class RunFinished:
    """The run ended; always the last event of a log."""

    run: Run
    summary: Summary


EventPayload = RunStateChanged | CheckStarted | CheckFinished | RunFinished


@dataclass(frozen=True)
class RunEvent:
    run_id: RunId
    sequence: int
    at: datetime
    payload: EventPayload


@dataclass
class RunLog:
    """The ordered events of one run and the waiters for its next event."""

    run_id: RunId
    max_events: int
    events: list[RunEvent] = field(default_factory=list)
    finished_at: datetime | None = None
    dropped: int = 0
    subscribers: int = 0
    _waiters: list[asyncio.Future[None]] = field(default_factory=list)

    @property
    def closed(self) -> bool:
        return self.finished_at is not None

    def append(self, payload: EventPayload, at: datetime) -> RunEvent | None:
        final = isinstance(payload, RunFinished)
        if len(self.events) >= self.max_events and not final:
            if not self.dropped:
                log.warning("progress log of %s is full; dropping events", self.run_id)
            self.dropped += 1
            return None
        event = RunEvent(self.run_id, len(self.events) + 1, at, payload)
        self.events.append(event)
        if final:
            self.finished_at = at
        self._wake()
        return event

    def next_change(self) -> asyncio.Future[None]:
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        return waiter

    def _wake(self) -> None:
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)


class Subscription:
    """An async iterator over one run's events, from the first; see the module docstring."""

    def __init__(self, run_log: RunLog) -> None:
        self._log = run_log
        self._cursor = 0
        self._open = True
        run_log.subscribers += 1

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> RunEvent:
        while self._open:
            if self._cursor < len(self._log.events):
                event = self._log.events[self._cursor]
                self._cursor += 1
                return event
            if self._log.closed:
                break
            try:
                await self._log.next_change()
            except BaseException:
                self.close()
                raise
        self.close()
        raise StopAsyncIteration

    def close(self) -> None:
        """Release the subscription; idempotent."""
        if self._open:
            self._open = False
            self._log.subscribers -= 1

    async def aclose(self) -> None:
        self.close()

    async def __aenter__(self) -> Subscription:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class ProgressBus:
    """Per-run ordered event logs with replaying subscriptions; see the module docstring."""

    def __init__(
        self,
        *,
        clock: Clock = SYSTEM_CLOCK,
        max_events_per_run: int = 10_000,
        max_finished_runs: int = 256,
        retention: timedelta = timedelta(hours=1),
    ) -> None:
        self._clock = clock
        self._max_events = max_events_per_run
        self._max_finished = max_finished_runs
        self._retention = retention
        self._logs: dict[RunId, RunLog] = {}
        self._finished: OrderedDict[RunId, datetime] = OrderedDict()

    def open(self, run_id: RunId) -> None:
        """Start the log of a new run (idempotent)."""
        self._evict()
        self._logs.setdefault(run_id, RunLog(run_id, self._max_events))

    def publish(self, run_id: RunId, payload: EventPayload) -> RunEvent | None:
        """Append an event; a :class:`RunFinished` closes the log. Never blocks.

        Returns the recorded event, or None when it was dropped (closed or full log).
        """
        run_log = self._logs.get(run_id)
        if run_log is None:
            self.open(run_id)
            run_log = self._logs[run_id]
        if run_log.closed:
            log.warning("event for finished run %s ignored: %r", run_id, payload)
            return None
        event = run_log.append(payload, self._clock.now())
        if run_log.closed:
            self._finished[run_id] = run_log.finished_at or self._clock.now()
            self._evict()
        return event

    def has(self, run_id: RunId) -> bool:
        """Whether the bus holds the run's log (running, or finished and still retained)."""
        self._evict()
        return run_id in self._logs

    def events(self, run_id: RunId) -> list[RunEvent]:
        """A copy of the run's log so far."""
        return list(self._log(run_id).events)

    def subscribe(self, run_id: RunId) -> Subscription:
        """Follow a run from its first event; raises NotFound when the bus does not hold it."""
        return Subscription(self._log(run_id))

    def subscriber_count(self, run_id: RunId | None = None) -> int:
        """Open subscriptions of one run, or of all runs the bus holds."""
        if run_id is not None:
            run_log = self._logs.get(run_id)
            return run_log.subscribers if run_log else 0
        return sum(run_log.subscribers for run_log in self._logs.values())

    def _log(self, run_id: RunId) -> RunLog:
        self._evict()
        run_log = self._logs.get(run_id)
        if run_log is None:
            raise NotFound("run progress", run_id)
        return run_log

    def _evict(self) -> None:
        horizon = self._clock.now() - self._retention
        while self._finished:
            run_id, finished_at = next(iter(self._finished.items()))
            if len(self._finished) <= self._max_finished and finished_at > horizon:
                break
            del self._finished[run_id]
            self._logs.pop(run_id, None)
