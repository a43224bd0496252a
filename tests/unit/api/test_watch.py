"""WatchRun fan-out without gRPC: one encoding per event for every subscriber, no task per
delivered event, conflated progress for a subscriber that fell behind, the end at shutdown."""

from __future__ import annotations

import asyncio
import itertools
import math
from collections import Counter
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from assay.server.api.watch import Pacer, RunWatch, encode_event
from assay.server.assessment.progress import (
    CheckFinished,
    CheckStarted,
    EventPayload,
    ProgressBus,
    RunEvent,
    RunFinished,
    RunLog,
    RunStateChanged,
)
from assay.server.core.types import (
    Pillar,
    ResultQuery,
    Run,
    RunId,
    RunScope,
    RunState,
    Source,
    Status,
    StatusCounts,
    Summary,
)
from assay.v1 import assessment_pb2 as apb

RUN = RunId("run_20260216T103045_000000_00000001")
T0 = datetime(2026, 2, 16, 10, 30, tzinfo=UTC)
CHECKS = 12


def script() -> list[EventPayload]:
    payloads: list[EventPayload] = [
        RunStateChanged(RunState.QUEUED),
        RunStateChanged(RunState.RUNNING, total_checks=CHECKS),
    ]
    for n in range(CHECKS):
        payloads.append(CheckStarted(f"SEC-{n:03d}", "a check", Pillar.SECURITY))
        payloads.append(
            CheckFinished(f"SEC-{n:03d}", Status.PASSING, StatusCounts(passing=1), 1, n + 1, CHECKS)
        )
    run = Run(RUN, RunState.COMPLETED, RunScope.FULL, Source.MANIFESTS, T0)
    payloads.append(RunStateChanged(RunState.COMPLETED))
    payloads.append(RunFinished(run, Summary(StatusCounts(passing=CHECKS), {}, {}, RUN)))
    return payloads


# What a subscriber whose progress was conflated to the newest reads of the script.
CONFLATED = ["state_changed", "state_changed", "check_finished", "state_changed", "run_finished"]


async def _never(_: Any) -> Any:
    raise AssertionError("the run is on the bus: storage is not read")


def watch(bus: ProgressBus, shutdown: asyncio.Event | None = None, **options: Any) -> RunWatch:
    return RunWatch(
        bus=bus,
        shutdown=shutdown or asyncio.Event(),
        get_run=_never,
        get_summary=_never,
        **options,
    )


async def read(stream: AsyncIterator[bytes]) -> list[bytes]:
    return [message async for message in stream]


def decoded(messages: list[bytes]) -> list[apb.RunEvent]:
    return [apb.WatchRunResponse.FromString(m).event for m in messages]


async def until(predicate: Callable[[], bool]) -> None:
    for _ in range(10_000):
        if predicate():
            return
        await asyncio.sleep(0)
    raise AssertionError("condition never held")


async def fan_out(bus: ProgressBus, fanout: RunWatch, subscribers: int) -> list[list[bytes]]:
    """What each of ``subscribers`` streams of RUN reads while the script is published, an
    event per turn of the loop."""
    readers = [asyncio.create_task(read(fanout.follow(RUN))) for _ in range(subscribers)]
    await until(lambda: bus.subscriber_count(RUN) == subscribers)
    for payload in script():
        bus.publish(RUN, payload)
        await asyncio.sleep(0)
    return await asyncio.gather(*readers)


async def test_each_event_is_encoded_once_for_a_thousand_subscribers() -> None:
    encodings: Counter[int] = Counter()

    def counting(event: RunEvent) -> bytes:
        encodings[event.sequence] += 1
        return encode_event(event)

    bus = ProgressBus(crowd_from=10_000)
    bus.open(RUN)
    # Subscribers that keep up (never "behind", never paced for their number): every event
    # reaches every one.
    fanout = watch(bus, encode=counting, behind_after_s=math.inf)
    received = await fan_out(bus, fanout, 1000)

    assert encodings == Counter(range(1, len(script()) + 1))  # once each, for 1000 readers
    first = received[0]
    assert [e.sequence for e in decoded(first)] == list(range(1, len(script()) + 1))
    for messages in received:
        # The very same bytes objects: encoded once, shared.
        assert all(a is b for a, b in zip(messages, first, strict=True))


async def test_no_task_is_created_per_delivered_event() -> None:
    bus = ProgressBus()
    bus.open(RUN)
    fanout = watch(bus, behind_after_s=math.inf)
    readers = [asyncio.create_task(read(fanout.follow(RUN))) for _ in range(50)]
    await until(lambda: bus.subscriber_count(RUN) == 50)
    loop = asyncio.get_running_loop()
    created: list[object] = []

    def counting_factory(loop: asyncio.AbstractEventLoop, coro: Any, **kwargs: Any) -> Any:
        created.append(coro)
        return asyncio.Task(coro, loop=loop, **kwargs)

    loop.set_task_factory(counting_factory)
    try:
        for payload in script():
            bus.publish(RUN, payload)
            await asyncio.sleep(0)
        received = await asyncio.gather(*readers)
    finally:
        loop.set_task_factory(None)

    assert sum(len(messages) for messages in received) == 50 * len(script())
    assert created == []


async def test_a_subscriber_that_fell_behind_gets_conflated_progress_and_every_end() -> None:
    bus = ProgressBus()
    bus.open(RUN)
    fanout = watch(bus, behind_after_s=0.0, progress_interval_s=0.0)
    for payload in script()[:-2]:  # published before the subscriber gets to read
        bus.publish(RUN, payload)
    reader = asyncio.create_task(read(fanout.follow(RUN)))
    await until(lambda: bus.subscriber_count(RUN) == 1)
    for payload in script()[-2:]:
        bus.publish(RUN, payload)
    events = decoded(await reader)

    assert [e.WhichOneof("event") for e in events] == CONFLATED
    assert events[2].check_finished.completed_checks == CHECKS  # the newest progress
    assert [e.sequence for e in events] == sorted(e.sequence for e in events)
    assert events[-1].sequence == len(script())


async def test_every_subscriber_of_a_crowded_run_gets_paced_progress_and_every_end() -> None:
    # Three subscribers that keep up, but more than the bus's crowd: progress wakes them
    # once an hour at most, state changes and the end at once.
    bus = ProgressBus(crowd_from=2, crowd_tick_s=3600)
    bus.open(RUN)
    fanout = watch(bus, behind_after_s=math.inf)
    received = await fan_out(bus, fanout, 3)

    for messages in received:
        events = decoded(messages)
        # The progress waits for the next state change, and the run's end supersedes it.
        assert [e.WhichOneof("event") for e in events] == [
            "state_changed",
            "state_changed",
            "state_changed",
            "run_finished",
        ]
        assert [e.sequence for e in events][-2:] == [len(script()) - 1, len(script())]
        assert all(a is b for a, b in zip(messages, received[0], strict=True))


async def test_a_crowded_run_releases_progress_at_its_tick() -> None:
    bus = ProgressBus(crowd_from=1, crowd_tick_s=0.05)
    bus.open(RUN)
    first, second = bus.subscribe(RUN), bus.subscribe(RUN)
    bus.publish(RUN, RunStateChanged(RunState.RUNNING))
    assert [len(await s.next_batch() or []) for s in (first, second)] == [1, 1]

    bus.publish(RUN, CheckStarted("SEC-001", "a check", Pillar.SECURITY))
    bus.publish(RUN, CheckFinished("SEC-001", Status.PASSING, StatusCounts(), 1, 1, 1))
    assert await first.next_batch(timeout=0) is None  # held back until the run's tick
    batch = await first.next_batch()  # the tick
    assert [e.sequence for e in batch or []] == [2, 3]
    assert [e.sequence for e in await second.next_batch() or []] == [2, 3]


async def test_shutdown_ends_open_streams() -> None:
    bus = ProgressBus()
    bus.publish(RUN, RunStateChanged(RunState.QUEUED))
    shutdown = asyncio.Event()
    fanout = watch(bus, shutdown)
    readers = [asyncio.create_task(read(fanout.follow(RUN))) for _ in range(3)]
    await until(lambda: bus.subscriber_count(RUN) == 3)

    shutdown.set()
    received = await asyncio.gather(*readers)

    assert [len(messages) for messages in received] == [1, 1, 1]
    assert bus.subscriber_count(RUN) == 0
    # A stream opened once the shutdown began ends at once.
    assert await read(fanout.follow(RUN)) == []


def _event(sequence: int, payload: EventPayload) -> RunEvent:
    return RunEvent(RUN, sequence, T0, payload)


def _progress(sequence: int) -> RunEvent:
    return _event(sequence, CheckStarted(f"SEC-{sequence:03d}", "x", Pillar.SECURITY))


def _state(sequence: int) -> RunEvent:
    return _event(sequence, RunStateChanged(RunState.RUNNING))


def test_pacer_passes_everything_to_a_subscriber_that_keeps_up() -> None:
    pacer = Pacer(behind_after_s=0.02, interval_s=0.25)
    batch = [_state(1), _progress(2), _progress(3)]

    assert pacer.take(batch, lag=0.001, now=10.0) == batch
    assert pacer.take([_progress(4)], lag=0.0, now=10.01) == [_progress(4)]
    assert pacer.timeout(10.01) is None


def test_pacer_holds_the_newest_progress_of_a_late_subscriber_until_it_is_due() -> None:
    pacer = Pacer(behind_after_s=0.02, interval_s=0.25)
    assert pacer.take([_progress(1)], lag=0.0, now=10.0) == [_progress(1)]

    # Late, and within the interval of the last progress sent: held, the newest wins.
    assert pacer.take([_progress(2), _progress(3)], lag=0.5, now=10.1) == []
    assert pacer.timeout(10.1) == pytest.approx(0.15)
    # Still held while behind; a state change goes out at once, after the held progress.
    assert pacer.take([_progress(4)], lag=0.0, now=10.2) == []
    assert pacer.take([_state(5)], lag=0.0, now=10.2) == [_progress(4), _state(5)]
    # Past the interval the newest progress of a batch goes out with it.
    assert pacer.take([_progress(6), _progress(7)], lag=0.5, now=10.6) == [_progress(7)]
    assert pacer.take([_progress(8)], lag=0.5, now=10.61) == []
    assert pacer.due(10.86) == [_progress(8)]
    assert pacer.timeout(10.86) is None


def test_pacer_sends_a_crowded_subscriber_the_newest_progress_of_each_batch() -> None:
    pacer = Pacer(behind_after_s=0.02, interval_s=0.25)
    batch = [_state(1), _progress(2), _progress(3)]
    assert pacer.take(batch, lag=0.0, now=10.0, crowded=True) == [_state(1), _progress(3)]
    assert pacer.take([_progress(4)], lag=0.5, now=10.01, crowded=True) == [_progress(4)]
    late = [_progress(5), _progress(6), _state(7), _progress(8)]
    assert pacer.take(late, lag=0.0, now=10.02, crowded=True) == [
        _progress(6),
        _state(7),
        _progress(8),
    ]
    assert pacer.timeout(10.02) is None  # nothing held: the bus paces a crowded run
    # The run's end supersedes the progress before it.
    end = [_progress(9), _event(10, RunStateChanged(RunState.COMPLETED))]
    assert pacer.take(end, lag=0.0, now=10.03, crowded=True) == [end[1]]


async def test_a_run_not_on_the_bus_is_read_from_storage() -> None:
    run = Run(RUN, RunState.COMPLETED, RunScope.FULL, Source.MANIFESTS, T0)
    summary = Summary(StatusCounts(passing=2), {}, {}, RUN)

    async def get_run(run_id: RunId) -> Run:
        return run

    async def get_summary(query: ResultQuery) -> Summary:
        assert query.run_id == RUN
        return summary

    fanout = RunWatch(
        bus=ProgressBus(), shutdown=asyncio.Event(), get_run=get_run, get_summary=get_summary
    )
    events = decoded(await read(fanout.follow(RUN)))

    assert [e.WhichOneof("event") for e in events] == ["state_changed", "run_finished"]
    assert events[1].run_finished.summary.counts.passing == 2


@pytest.mark.parametrize("crowded", [True, False])
def test_a_pacer_sends_the_same_from_a_condensed_batch(crowded: bool) -> None:
    # What the bus leaves out of the batches of a crowd's subscriber, or of one behind
    # (RunLog.condensed), is what the pacer would have dropped: for every short log cut
    # into two batches, the same messages.
    def sent(run_log: RunLog, cut: int, *, condensed: bool) -> list[RunEvent]:
        pacer = Pacer(behind_after_s=0.02, interval_s=0.25)
        out = []
        for now, (start, stop) in ((10.0, (0, cut)), (10.1, (cut, len(run_log.events)))):
            batch = run_log.condensed(start, stop) if condensed else run_log.events[start:stop]
            out += pacer.take(batch, lag=0.5, now=now, crowded=crowded)
        return out + pacer.due(11.0)

    for length in range(1, 8):
        for pattern in itertools.product("PSE", repeat=length):
            run_log = RunLog(RUN, max_events=100)
            for kind in pattern:
                if kind == "P":
                    run_log.append(CheckStarted("SEC-001", "x", Pillar.SECURITY), T0)
                else:
                    state = RunState.COMPLETED if kind == "E" else RunState.RUNNING
                    run_log.append(RunStateChanged(state), T0)
            for cut in range(1, length + 1):
                full = sent(run_log, cut, condensed=False)
                assert sent(run_log, cut, condensed=True) == full, (pattern, cut)
