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
  memory it holds on to is the log itself;
- waiters are woken once per burst (at the publisher's next yield to the loop) -- on a
  *crowded* run, followed by more than ``crowd_from`` subscriptions, per-check progress is
  released to the subscriptions once per tick at most (state changes and the end at once,
  with the progress before them), so a thousand subscribers cost the loop one burst of
  wake-ups and sends per tick, not one per event each; the tick is ``crowd_tick_s`` and
  grows with the crowd (:attr:`RunLog.tick_s`), so the bursts' share of the loop stays
  small however many follow -- and
  :meth:`Subscription.next_batch` hands a subscriber everything it has not read, with how
  late it took it (:attr:`Subscription.lag`), or only what supersedes the rest (state
  changes and the newest progress before each: ``condensed``): the fan-out of N
  subscribers costs N wake-ups per burst, no task and no wait per event. What a subscriber
  that fell behind is sent is the consumer's policy (the API conflates progress,
  ``api.watch``);
- :meth:`RunEvent.encoded` keeps a consumer's encoding of an event with the event, so every
  subscriber of a run sends the same bytes, encoded once.

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
import bisect
import logging
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any, TypeVar

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

E = TypeVar("E")

# A run followed by more subscriptions than this is crowded: see the module docstring.
CROWD_FROM = 64
# How often per-check progress wakes the subscribers of a crowded run, at most ...
CROWD_TICK_S = 0.5
# ... and how much longer the tick grows per subscriber, up to CROWD_TICK_MAX_S. A release
# costs a send per subscriber: 25-50 us of the server's loop in grpc.aio when it is idle,
# about 100 us amid a run's checks (GIL hand-overs; measured with bench/bench_watch.py), and
# as much again in the subscribers' process when it shares the machine. At 5 ms of tick per
# subscriber the releases take about 2 % of the loop however large the crowd (a thousand
# subscribers: one release every 5 s, 200 sends a second).
CROWD_TICK_PER_SUBSCRIBER_S = 0.005
CROWD_TICK_MAX_S = 10.0


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
    # Encodings of this event, made by the first subscriber that needs one and shared by the
    # others (the API's protobuf bytes), keyed by the encoding function.
    _encodings: dict[Callable[[RunEvent], Any], Any] = field(
        default_factory=dict, compare=False, repr=False
    )

    def encoded(self, encode: Callable[[RunEvent], E]) -> E:
        """``encode(self)``, computed once per event however many subscribers ask."""
        try:
            cached: E = self._encodings[encode]
        except KeyError:
            cached = self._encodings[encode] = encode(self)
        return cached


_PROGRESS = (CheckStarted, CheckFinished)


def is_progress(event: RunEvent) -> bool:
    """Per-check progress (as opposed to the run's state changes and its end)."""
    return isinstance(event.payload, _PROGRESS)


def ends_run(event: RunEvent) -> bool:
    """The run's end: its terminal state change, or the final event."""
    payload = event.payload
    if isinstance(payload, RunStateChanged):
        return payload.state.terminal
    return isinstance(payload, RunFinished)


@dataclass
class RunLog:
    """The ordered events of one run and the waiters for its next event."""

    run_id: RunId
    max_events: int
    events: list[RunEvent] = field(default_factory=list)
    # time.monotonic() of each append, for subscribers measuring how far behind they are.
    appended: list[float] = field(default_factory=list)
    finished_at: datetime | None = None
    dropped: int = 0
    subscribers: int = 0
    crowd_from: int = CROWD_FROM
    crowd_tick_s: float = CROWD_TICK_S
    # Positions in ``events`` of the state changes and the end (everything but progress).
    essential: list[int] = field(default_factory=list)
    _waiters: list[asyncio.Future[bool]] = field(default_factory=list)
    # Waiters that per-check progress alone does not wake (see Subscription.next_batch).
    _quiet_waiters: list[asyncio.Future[bool]] = field(default_factory=list)
    _essential_appended: bool = False
    _wake_scheduled: bool = False
    _unsubscribed: asyncio.Event | None = None
    # How many events subscriptions may take: all of them, except a crowded run's progress
    # appended since its last tick; the next tick, and the loop time of the last release.
    released: int = 0
    _crowded: bool = False
    _tick: asyncio.TimerHandle | None = None
    _last_release: float = -math.inf

    @property
    def closed(self) -> bool:
        return self.finished_at is not None

    @property
    def crowded(self) -> bool:
        """More than ``crowd_from`` subscriptions have followed the run at once (it stays
        crowded, so that its subscribers are treated alike to the end)."""
        return self._crowded

    @property
    def tick_s(self) -> float:
        """How long a crowded run's progress waits for its release: ``crowd_tick_s``, or
        longer with more subscribers (see :data:`CROWD_TICK_PER_SUBSCRIBER_S`)."""
        grown = min(CROWD_TICK_MAX_S, self.subscribers * CROWD_TICK_PER_SUBSCRIBER_S)
        return max(self.crowd_tick_s, grown)

    def subscribed(self) -> None:
        self.subscribers += 1
        self._crowded = self._crowded or self.subscribers > self.crowd_from

    def append(self, payload: EventPayload, at: datetime) -> RunEvent | None:
        final = isinstance(payload, RunFinished)
        if len(self.events) >= self.max_events and not final:
            if not self.dropped:
                log.warning("progress log of %s is full; dropping events", self.run_id)
            self.dropped += 1
            return None
        event = RunEvent(self.run_id, len(self.events) + 1, at, payload)
        self.events.append(event)
        self.appended.append(time.monotonic())
        if final:
            self.finished_at = at
        essential = not is_progress(event)
        if essential:
            self.essential.append(event.sequence - 1)
        if self._quiet_waiters and essential:
            self._essential_appended = True
        if essential or not self.crowded:
            self._release()
        elif self._tick is None:
            delay = self._last_release + self.tick_s - time.monotonic()
            self._tick = asyncio.get_running_loop().call_later(max(0.0, delay), self._release)
        return event

    def condensed(self, start: int, stop: int) -> list[RunEvent]:
        """``events[start:stop]`` without the progress that newer progress supersedes: every
        state change and the end, each preceded by the newest progress since the one before
        it, and the newest progress after the last. Its cost is the number of state changes
        in the range, not of events: what a crowd's subscriber, or one behind, takes instead
        of the whole range (it would send only these).
        """
        out: list[RunEvent] = []
        gap = start
        for position in self.essential[bisect.bisect_left(self.essential, start) :]:
            if position >= stop:
                break
            if position > gap:
                out.append(self.events[position - 1])
            out.append(self.events[position])
            gap = position + 1
        if stop > gap:
            out.append(self.events[stop - 1])
        return out

    def leave(self) -> None:
        """One subscription less."""
        self.subscribers -= 1
        if not self.subscribers and self._unsubscribed is not None:
            self._unsubscribed.set()

    async def unsubscribed(self) -> None:
        """Until no subscription is open."""
        if self.subscribers:
            if self._unsubscribed is None or self._unsubscribed.is_set():
                self._unsubscribed = asyncio.Event()
            await self._unsubscribed.wait()

    def next_change(self, *, progress: bool = True) -> asyncio.Future[bool]:
        """A future set (to False) at the next append -- with ``progress=False``, at the next
        append of a state change or the end; True is left to timeouts."""
        waiter: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        (self._waiters if progress else self._quiet_waiters).append(waiter)
        return waiter

    def _release(self) -> None:
        """Let subscriptions take every event appended so far, and wake the waiters once
        the publisher yields: events appended in one go (a check's end, the run's end)
        reach each subscriber in one batch, with one wake-up."""
        if self._tick is not None:
            self._tick.cancel()
            self._tick = None
        self.released = len(self.events)
        self._last_release = time.monotonic()
        due = self._waiters or (self._essential_appended and self._quiet_waiters)
        if not self._wake_scheduled and due:
            self._wake_scheduled = True
            asyncio.get_running_loop().call_soon(self._wake)

    def _wake(self) -> None:
        self._wake_scheduled = False
        waiters, self._waiters = self._waiters, []
        if self._essential_appended:
            self._essential_appended = False
            waiters += self._quiet_waiters
            self._quiet_waiters = []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(False)


class Subscription:
    """An async iterator over one run's events, from the first; see the module docstring.

    Iterating yields every event; :meth:`next_batch` hands out what accumulated since the
    last batch at once, and :attr:`lag` says how late the batch was taken.
    """

    def __init__(self, run_log: RunLog) -> None:
        self._log = run_log
        self._cursor = 0
        self._open = True
        self._waiter: asyncio.Future[bool] | None = None
        self._pending: list[RunEvent] = []
        # Seconds between the append of the oldest event of the last batch and its taking.
        self.lag = 0.0
        run_log.subscribed()

    @property
    def crowded(self) -> bool:
        """The run has more subscribers than the bus paces one by one (see RunLog)."""
        return self._log.crowded

    def pending_lag(self) -> float:
        """Seconds since the oldest event released but not yet taken was appended (0 when
        there is none): the least :attr:`lag` of the next batch."""
        if self._cursor >= self._log.released:
            return 0.0
        return time.monotonic() - self._log.appended[self._cursor]

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> RunEvent:
        if not self._pending:
            self._pending = await self.next_batch() or []
            self._pending.reverse()
        if not self._pending:
            raise StopAsyncIteration
        return self._pending.pop()

    # A timeout argument rather than asyncio.timeout: expiry is an answer (None), not a
    # cancellation that would end the subscription.
    async def next_batch(
        self,
        *,
        timeout: float | None = None,  # noqa: ASYNC109
        wake_on_progress: bool = True,
        condensed: bool = False,
    ) -> list[RunEvent] | None:
        """The events appended since the last batch, waiting for one if there are none.

        ``[]`` once the subscription is over: the finished log read to its end, or the
        subscription closed (also while waiting); None when ``timeout`` seconds passed
        without an event. With ``wake_on_progress=False`` the wait ends only at a state
        change, the end or the timeout, and the batch then holds the progress appended
        meanwhile too. With ``condensed`` the batch leaves out the progress that newer
        progress before the same state change supersedes (:meth:`RunLog.condensed`).
        Waiting costs one future (and one timer with a timeout).
        """
        while self._open:
            released = self._log.released
            if self._cursor < released:
                self.lag = time.monotonic() - self._log.appended[self._cursor]
                if condensed:
                    batch = self._log.condensed(self._cursor, released)
                else:
                    batch = self._log.events[self._cursor : released]
                self._cursor = released
                return batch
            if self._log.closed:
                break
            waiter = self._waiter = self._log.next_change(progress=wake_on_progress)
            timer = None
            if timeout is not None:
                timer = waiter.get_loop().call_later(timeout, _expire, waiter)
            try:
                timed_out = await waiter
            except BaseException:
                self.close()
                raise
            finally:
                self._waiter = None
                if timer is not None:
                    timer.cancel()
            if timed_out:
                return None
        self.close()
        return []

    def close(self) -> None:
        """Release the subscription, ending a pending :meth:`next_batch`; idempotent."""
        if self._open:
            self._open = False
            self._log.leave()
            if self._waiter is not None and not self._waiter.done():
                self._waiter.set_result(False)

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


def _expire(waiter: asyncio.Future[bool]) -> None:
    if not waiter.done():
        waiter.set_result(True)


class ProgressBus:
    """Per-run ordered event logs with replaying subscriptions; see the module docstring."""

    def __init__(
        self,
        *,
        clock: Clock = SYSTEM_CLOCK,
        max_events_per_run: int = 10_000,
        max_finished_runs: int = 256,
        retention: timedelta = timedelta(hours=1),
        crowd_from: int = CROWD_FROM,
        crowd_tick_s: float = CROWD_TICK_S,
    ) -> None:
        self._clock = clock
        self._crowd = (crowd_from, crowd_tick_s)
        self._max_events = max_events_per_run
        self._max_finished = max_finished_runs
        self._retention = retention
        self._logs: dict[RunId, RunLog] = {}
        self._finished: OrderedDict[RunId, datetime] = OrderedDict()

    def open(self, run_id: RunId) -> None:
        """Start the log of a new run (idempotent)."""
        self._evict()
        if run_id not in self._logs:
            crowd_from, crowd_tick_s = self._crowd
            self._logs[run_id] = RunLog(
                run_id, self._max_events, crowd_from=crowd_from, crowd_tick_s=crowd_tick_s
            )

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

    async def delivered(self) -> None:
        """Until every subscriber of a finished run has taken its last event (and left):
        at shutdown, before open streams are ended, so each gets its RunFinished."""
        ends = [
            run_log.unsubscribed()
            for run_log in self._logs.values()
            if run_log.closed and run_log.subscribers
        ]
        await asyncio.gather(*ends)

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
