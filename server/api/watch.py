"""WatchRun: a run's progress events, encoded once and shared by every subscriber.

The ``AssessmentService`` servicer delegates its WatchRun stream here. For a run on this
replica's progress bus, each subscriber takes the events in batches (one wake-up per burst
of events, no task or wait per event) and yields each event's ``WatchRunResponse`` as bytes
that :meth:`RunEvent.encoded` made once for all subscribers; the method is registered with a
serializer that passes them through (``streams.shared_bytes``).

A subscriber that falls behind -- it takes events more than :data:`BEHIND_AFTER_S` after
they were published, because its client reads slowly or because the server is busy sending
to many others -- gets conflated progress (:class:`Pacer`): every state change and the run's
end as they come, and of the per-check events only the newest, at most one every
:data:`PROGRESS_INTERVAL_S`; sequence numbers show what it skipped (progress still held goes
out before the next state change, so the last check's end arrives). A *crowded* run (more
subscribers than the bus's ``crowd_from``, 64) is paced for every subscriber from the start:
the bus wakes them together once per tick (0.5 s, growing with the crowd: 5 s for a
thousand; ``RunLog.tick_s``) for progress, and each sends the newest, except at the run's
end, whose counts supersede it -- each message costs the server 25-100 us of CPU in
grpc.aio, and each wake-up a switch of the GIL away from the run's checks, so a thousand
subscribers at every per-check event would cost a run more than its checks. A crowd's
subscriber, and one behind (a late one replaying a long run), takes its batches condensed
(:meth:`RunLog.condensed`): it never looks at the progress it would not send. One that keeps
up, on a run followed by a few, gets every event. A run the bus does not hold (another
replica's, or one that ended before a restart) is followed by polling storage.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TypeVar

from assay.server.api import convert
from assay.server.api.streams import ShutdownCloser
from assay.server.assessment.progress import ProgressBus, RunEvent, ends_run, is_progress
from assay.server.core.types import ResultQuery, Run, RunId, RunState, Summary
from assay.v1 import assessment_pb2 as apb

T = TypeVar("T")

# A subscriber taking events later than this after their publication is behind.
BEHIND_AFTER_S = 0.1
# While behind, a subscriber gets per-check progress at most this often (the newest).
PROGRESS_INTERVAL_S = 0.5

OffLoop = Callable[[Callable[[], T]], Awaitable[T]]


@dataclass
class Pacer:
    """Which of one subscriber's events go out now (see the module docstring).

    Pure bookkeeping over times the caller passes in (``time.monotonic()``): one held
    progress event at most, and when it is due.
    """

    behind_after_s: float
    interval_s: float
    held: RunEvent | None = None
    last_progress: float = -math.inf

    def timeout(self, now: float) -> float | None:
        """How long to wait for events before the held one is due (None: nothing held)."""
        if self.held is None:
            return None
        return max(0.0, self.last_progress + self.interval_s - now)

    def take(
        self, batch: list[RunEvent], *, lag: float, now: float, crowded: bool = False
    ) -> list[RunEvent]:
        """The events of ``batch`` to send now, taken ``lag`` seconds after publication.

        ``crowded``: the run's bus paces the progress (it wakes its subscribers once per
        tick), so of each batch the newest progress goes out, whatever the lag, unless the
        run's end follows it.
        """
        out: list[RunEvent] = []
        if crowded:
            for event in batch:
                if is_progress(event):
                    self.held = event
                    continue
                if ends_run(event):
                    # The end's counts supersede held progress: at the busiest moment of a
                    # crowd, one send less per subscriber before the final event.
                    self.held = None
                out.extend(self._release(now))
                out.append(event)
            return out + self._release(now)
        behind = self.held is not None or lag > self.behind_after_s
        for event in batch:
            if not is_progress(event):
                out.extend(self._release(now))  # keep the order of sequence numbers
                out.append(event)
            elif behind:
                self.held = event  # the newest progress replaces an older one
            else:
                out.append(event)
                self.last_progress = now
        if self.held is not None and now - self.last_progress >= self.interval_s:
            out.extend(self._release(now))
        return out

    def due(self, now: float) -> list[RunEvent]:
        """The held event, once its time has come (the wait for more events timed out)."""
        return self._release(now)

    def _release(self, now: float) -> list[RunEvent]:
        if self.held is None:
            return []
        held, self.held = self.held, None
        self.last_progress = now
        return [held]


def encode_event(event: RunEvent) -> bytes:
    """The serialized WatchRunResponse of one event (called once per event)."""
    return apb.WatchRunResponse(event=convert.run_event(event)).SerializeToString()


@dataclass
class RunWatch:
    bus: ProgressBus
    shutdown: asyncio.Event
    get_run: Callable[[RunId], Awaitable[Run]]
    get_summary: Callable[[ResultQuery], Awaitable[Summary]]
    # How often a run that is not on the bus is re-read from storage.
    poll_interval_s: float = 1.0
    encode: Callable[[RunEvent], bytes] = encode_event
    behind_after_s: float = BEHIND_AFTER_S
    progress_interval_s: float = PROGRESS_INTERVAL_S
    closer: ShutdownCloser = field(init=False)

    def __post_init__(self) -> None:
        self.closer = ShutdownCloser(self.shutdown)

    async def follow(self, run_id: RunId) -> AsyncIterator[bytes]:
        """The serialized WatchRunResponses of ``run_id`` until it ends or the server stops."""
        if not self.bus.has(run_id):
            async for message in self._stored(run_id):
                yield apb.WatchRunResponse(event=message).SerializeToString()
            return
        subscription = self.bus.subscribe(run_id)
        encode = self.encode
        pacer = Pacer(behind_after_s=self.behind_after_s, interval_s=self.progress_interval_s)
        with self.closer.holding(subscription):
            while True:
                # While it holds progress, only its timer or a state change wakes it: a
                # subscriber behind costs no wake-up per event.
                timeout = pacer.timeout(time.monotonic())
                # A crowd's subscriber, or one behind, sends only the newest progress before
                # each state change: it takes only that (the bus skips the rest unseen).
                behind = pacer.held is not None or (
                    subscription.pending_lag() > self.behind_after_s
                )
                batch = await subscription.next_batch(
                    timeout=timeout,
                    wake_on_progress=timeout is None,
                    condensed=subscription.crowded or behind,
                )
                if batch is None:
                    due = pacer.due(time.monotonic())
                elif batch:
                    due = pacer.take(
                        batch,
                        lag=subscription.lag,
                        now=time.monotonic(),
                        crowded=subscription.crowded,
                    )
                else:
                    return
                for event in due:
                    yield event.encoded(encode)

    async def _stored(self, run_id: RunId) -> AsyncIterator[apb.RunEvent]:
        """A run executed elsewhere, followed in storage: its state changes, then its end."""
        sequence = 0
        last_state: RunState | None = None
        while True:
            run = await self.get_run(run_id)
            now = convert.timestamp(datetime.now(UTC))
            if run.state is not last_state:
                sequence += 1
                last_state = run.state
                yield apb.RunEvent(
                    run_id=run_id,
                    sequence=sequence,
                    at=now,
                    state_changed=apb.RunStateChanged(
                        state=convert.RUN_STATES[run.state],
                        error=run.error,
                        diagnostics=list(run.diagnostics),
                        total_checks=run.check_count,
                    ),
                )
            if run.state.terminal:
                summary = await self.get_summary(ResultQuery(run_id=run_id))
                yield apb.RunEvent(
                    run_id=run_id,
                    sequence=sequence + 1,
                    at=now,
                    run_finished=convert.run_finished(run, summary),
                )
                return
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.poll_interval_s):
                    await self.shutdown.wait()
            if self.shutdown.is_set():
                return
