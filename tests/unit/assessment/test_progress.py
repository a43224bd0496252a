"""The progress bus: ordering, replay, many subscribers, cancellation, bounds and retention."""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime, timedelta

import pytest

from assay.server.assessment.progress import (
    CheckFinished,
    CheckStarted,
    EventPayload,
    ProgressBus,
    RunEvent,
    RunFinished,
    RunLog,
    RunStateChanged,
    Subscription,
)
from assay.server.core.errors import NotFound
from assay.server.core.types import (
    Pillar,
    Run,
    RunId,
    RunScope,
    RunState,
    Source,
    Status,
    StatusCounts,
    Summary,
)
from tests.clock import ManualClock

RUN = RunId("run_20260216T103045_000000_00000001")
T0 = datetime(2026, 2, 16, 10, 30, tzinfo=UTC)


def finished(run_id: RunId = RUN) -> RunFinished:
    run = Run(run_id, RunState.COMPLETED, RunScope.FULL, Source.MANIFESTS, T0)
    return RunFinished(run, Summary(StatusCounts(passing=1), {}, {}, run_id))


def script() -> list[EventPayload]:
    return [
        RunStateChanged(RunState.QUEUED),
        RunStateChanged(RunState.RUNNING, total_checks=1),
        CheckStarted("SEC-001", "No privileged containers", Pillar.SECURITY),
        CheckFinished("SEC-001", Status.PASSING, StatusCounts(passing=1), 3, 1, 1),
        RunStateChanged(RunState.COMPLETED),
        finished(),
    ]


async def collect(sub: Subscription) -> list[RunEvent]:
    return [event async for event in sub]


async def until(predicate: object, *, limit: int = 1000) -> None:
    """Let other tasks run until ``predicate()`` holds (no wall-clock sleeps)."""
    assert callable(predicate)
    for _ in range(limit):
        if predicate():
            return
        await asyncio.sleep(0)
    raise AssertionError("condition never held")


async def test_live_subscriber_sees_every_event_in_order() -> None:
    bus = ProgressBus()
    bus.open(RUN)
    sub = bus.subscribe(RUN)
    reader = asyncio.create_task(collect(sub))
    for payload in script():
        bus.publish(RUN, payload)
        await asyncio.sleep(0)
    events = await reader
    assert [e.payload for e in events] == script()
    assert [e.sequence for e in events] == list(range(1, 7))
    assert all(e.run_id == RUN for e in events)
    assert bus.subscriber_count(RUN) == 0


async def test_late_subscriber_gets_replay_then_live_events() -> None:
    bus = ProgressBus()
    payloads = script()
    for payload in payloads[:3]:
        bus.publish(RUN, payload)
    sub = bus.subscribe(RUN)
    first = [await anext(sub) for _ in range(3)]
    assert [e.payload for e in first] == payloads[:3]
    reader = asyncio.create_task(collect(sub))
    for payload in payloads[3:]:
        bus.publish(RUN, payload)
    rest = await reader
    assert [e.payload for e in rest] == payloads[3:]


async def test_finished_run_replays_and_closes() -> None:
    bus = ProgressBus()
    for payload in script():
        bus.publish(RUN, payload)
    events = await collect(bus.subscribe(RUN))
    assert [e.payload for e in events] == script()
    assert isinstance(events[-1].payload, RunFinished)
    assert bus.subscriber_count() == 0


async def test_two_subscribers_at_once_each_get_everything() -> None:
    bus = ProgressBus()
    bus.open(RUN)
    readers = [asyncio.create_task(collect(bus.subscribe(RUN))) for _ in range(2)]
    await until(lambda: bus.subscriber_count(RUN) == 2)
    for payload in script():
        bus.publish(RUN, payload)
    first, second = await asyncio.gather(*readers)
    assert [e.payload for e in first] == [e.payload for e in second] == script()
    assert bus.subscriber_count(RUN) == 0


async def test_client_cancellation_frees_the_subscription() -> None:
    bus = ProgressBus()
    bus.publish(RUN, RunStateChanged(RunState.QUEUED))
    seen: list[RunEvent] = []

    async def watch() -> None:
        async for event in bus.subscribe(RUN):
            seen.append(event)

    task = asyncio.create_task(watch())
    await until(lambda: len(seen) == 1)
    assert bus.subscriber_count(RUN) == 1
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert bus.subscriber_count(RUN) == 0
    # The run goes on, untroubled by the departed watcher.
    assert bus.publish(RUN, RunStateChanged(RunState.RUNNING)) is not None


async def test_closing_a_subscription_frees_it() -> None:
    bus = ProgressBus()
    bus.publish(RUN, RunStateChanged(RunState.QUEUED))
    async with bus.subscribe(RUN) as events:
        assert (await anext(events)).sequence == 1
        assert bus.subscriber_count(RUN) == 1
    assert bus.subscriber_count(RUN) == 0
    with pytest.raises(StopAsyncIteration):
        await anext(events)


async def test_slow_subscriber_never_blocks_and_is_resynced_from_the_log() -> None:
    """Overflow policy: there is no per-subscriber queue to overflow; a laggard reads the
    log at its own pace and loses nothing, while publishing stays synchronous."""
    bus = ProgressBus()
    bus.open(RUN)
    sub = bus.subscribe(RUN)  # never read while the run publishes
    for i in range(5000):
        bus.publish(RUN, CheckStarted(f"SEC-{i:03d}", "x", Pillar.SECURITY))
    bus.publish(RUN, finished())
    events = await collect(sub)
    assert len(events) == 5001
    assert [e.sequence for e in events] == list(range(1, 5002))


async def test_full_log_drops_intermediate_events_but_always_ends_the_stream() -> None:
    bus = ProgressBus(max_events_per_run=3)
    for payload in script():
        bus.publish(RUN, payload)
    events = await collect(bus.subscribe(RUN))
    assert [e.payload for e in events] == [*script()[:3], finished()]
    assert events[-1].sequence == 4


async def test_events_after_the_end_are_ignored() -> None:
    bus = ProgressBus()
    for payload in script():
        bus.publish(RUN, payload)
    assert bus.publish(RUN, RunStateChanged(RunState.RUNNING)) is None
    assert len(bus.events(RUN)) == 6


async def test_unknown_run_is_not_found() -> None:
    bus = ProgressBus()
    assert not bus.has(RUN)
    with pytest.raises(NotFound):
        bus.subscribe(RUN)


async def test_finished_logs_expire_after_retention() -> None:
    clock = ManualClock(T0)
    bus = ProgressBus(clock=clock, retention=timedelta(minutes=10))
    for payload in script():
        bus.publish(RUN, payload)
    clock.set(T0 + timedelta(minutes=9))
    assert bus.has(RUN)
    clock.set(T0 + timedelta(minutes=11))
    assert not bus.has(RUN)


async def test_only_the_newest_finished_logs_are_kept() -> None:
    bus = ProgressBus(max_finished_runs=2)
    runs = [RunId(f"run_20260216T103045_000000_0000000{i}") for i in range(3)]
    for run_id in runs:
        bus.publish(run_id, RunStateChanged(RunState.QUEUED))
    live = RunId("run_20260216T103046_000000_00000009")
    bus.publish(live, RunStateChanged(RunState.QUEUED))
    for run_id in runs:
        bus.publish(run_id, finished(run_id))
    assert [bus.has(r) for r in runs] == [False, True, True]
    assert bus.has(live)  # running logs are never evicted


async def test_subscriber_of_an_evicted_log_finishes_its_replay() -> None:
    bus = ProgressBus(max_finished_runs=0)
    bus.publish(RUN, RunStateChanged(RunState.QUEUED))
    sub = bus.subscribe(RUN)
    bus.publish(RUN, finished())
    assert not bus.has(RUN)
    events = await collect(sub)
    assert [e.sequence for e in events] == [1, 2]


async def test_batches_come_one_per_burst_with_their_lag() -> None:
    bus = ProgressBus()
    bus.open(RUN)
    sub = bus.subscribe(RUN)
    reader = asyncio.create_task(sub.next_batch())
    await until(lambda: bus.subscriber_count(RUN) == 1 and not reader.done())
    for payload in script()[:3]:  # published in one go: one wake-up, one batch
        bus.publish(RUN, payload)
    batch = await reader
    assert [e.sequence for e in batch or []] == [1, 2, 3]
    assert sub.lag >= 0.0


async def test_a_quiet_wait_ignores_progress_until_a_state_change() -> None:
    bus = ProgressBus()
    bus.publish(RUN, RunStateChanged(RunState.QUEUED))
    sub = bus.subscribe(RUN)
    assert [e.sequence for e in await sub.next_batch() or []] == [1]
    quiet = asyncio.create_task(sub.next_batch(wake_on_progress=False))
    await asyncio.sleep(0)  # the task runs up to its wait
    bus.publish(RUN, CheckStarted("SEC-001", "x", Pillar.SECURITY))
    await until(lambda: bus.events(RUN)[-1].sequence == 2)
    for _ in range(20):  # progress alone leaves the quiet waiter asleep
        await asyncio.sleep(0)
    assert not quiet.done()
    bus.publish(RUN, RunStateChanged(RunState.RUNNING))
    assert [e.sequence for e in await quiet or []] == [2, 3]


async def test_a_wait_with_a_timeout_answers_none() -> None:
    bus = ProgressBus()
    bus.publish(RUN, RunStateChanged(RunState.QUEUED))
    sub = bus.subscribe(RUN)
    await sub.next_batch()
    assert await sub.next_batch(timeout=0.0) is None
    assert bus.subscriber_count(RUN) == 1  # still subscribed
    bus.publish(RUN, finished())
    assert [e.sequence for e in await sub.next_batch(timeout=5.0) or []] == [2]
    assert await sub.next_batch() == []
    assert bus.subscriber_count(RUN) == 0


def test_an_event_is_encoded_once_per_encoder() -> None:
    bus = ProgressBus()
    event = bus.publish(RUN, RunStateChanged(RunState.QUEUED))
    assert event is not None
    calls: list[int] = []

    def encode(e: RunEvent) -> bytes:
        calls.append(e.sequence)
        return b"x"

    assert [event.encoded(encode) for _ in range(3)] == [b"x"] * 3
    assert calls == [1]


@pytest.mark.parametrize(
    ("subscribers", "tick_s"), [(65, 0.5), (100, 0.5), (250, 1.25), (1000, 5.0), (10_000, 10.0)]
)
def test_a_crowds_tick_grows_with_the_crowd_up_to_a_bound(subscribers: int, tick_s: float) -> None:
    run_log = RunLog(RUN, 100)
    for _ in range(subscribers):
        run_log.subscribed()
    assert run_log.crowded
    assert run_log.tick_s == pytest.approx(tick_s)


def _superseded_dropped(events: list[RunEvent]) -> list[RunEvent]:
    """The reference: drop every progress event that progress after it, before the next
    state change, supersedes."""
    kept = []
    for index, event in enumerate(events):
        following = events[index + 1] if index + 1 < len(events) else None
        progress = isinstance(event.payload, CheckStarted)
        if progress and following is not None and isinstance(following.payload, CheckStarted):
            continue
        kept.append(event)
    return kept


def test_a_condensed_slice_keeps_every_state_change_and_the_newest_progress_before_each() -> None:
    # Every log of up to eight events, progress (P) or state change (S), every slice of it.
    for length in range(1, 9):
        for pattern in itertools.product("PS", repeat=length):
            run_log = RunLog(RUN, max_events=100)
            for kind in pattern:
                run_log.append(
                    CheckStarted("SEC-001", "x", Pillar.SECURITY)
                    if kind == "P"
                    else RunStateChanged(RunState.RUNNING),
                    T0,
                )
            for start in range(length):
                for stop in range(start + 1, length + 1):
                    expected = _superseded_dropped(run_log.events[start:stop])
                    assert run_log.condensed(start, stop) == expected, (pattern, start, stop)


async def test_a_condensed_batch_skips_the_progress_a_crowd_would_not_send() -> None:
    bus = ProgressBus()
    bus.open(RUN)
    sub = bus.subscribe(RUN)
    for payload in script()[:3]:
        bus.publish(RUN, payload)
    bus.publish(RUN, CheckStarted("SEC-002", "y", Pillar.SECURITY))
    batch = await sub.next_batch(condensed=True)
    assert [e.sequence for e in batch or []] == [1, 2, 4]


async def test_pending_lag_is_the_age_of_the_oldest_event_released_but_not_taken() -> None:
    run_log = RunLog(RUN, 100, crowd_from=0, crowd_tick_s=3600)  # progress waits for a tick
    sub = Subscription(run_log)
    assert sub.pending_lag() == 0.0
    run_log.append(CheckStarted("SEC-001", "x", Pillar.SECURITY), T0)
    assert sub.pending_lag() == 0.0  # appended, not released: nothing is pending yet

    run_log.append(RunStateChanged(RunState.COMPLETED), T0)  # releases both
    run_log.appended[0] -= 100.0  # the progress was appended 100 s earlier
    assert 100.0 <= sub.pending_lag() < 101.0
    assert [e.sequence for e in await sub.next_batch() or []] == [1, 2]
    assert sub.pending_lag() == 0.0
