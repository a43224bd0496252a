"""The scheduler on a manual clock: ticks start full runs, one per tick across replicas."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from assay.server.assessment.requests import RunRequest
from assay.server.assessment.runner import Runner
from assay.server.assessment.scheduler import LocalTickClaimer, Scheduler, ScheduleSpec
from assay.server.assessment.settings import AssessmentSettings
from assay.server.checks.kit.catalogue import Catalogue
from assay.server.core.errors import InvalidArgument
from assay.server.core.ids import scheduled_run_id
from assay.server.core.types import Run, RunId, RunScope, Source, Status
from tests.clock import ManualClock
from tests.unit.assessment.fakes import (
    MANIFESTS,
    BlockedInventory,
    MemorySink,
    StaticInventory,
    fake_check,
    per_pod,
    registry,
)

T0 = datetime(2026, 2, 16, 10, 30, tzinfo=UTC)
HOURLY = "0 * * * *"


class RecordingRunner:
    """A RunStarter that remembers what it was asked to start."""

    def __init__(self) -> None:
        self.started: list[tuple[RunRequest, RunId | None]] = []

    async def start(self, request: RunRequest, *, run_id: RunId | None = None) -> Run:
        self.started.append((request, run_id))
        raise InvalidArgument([])  # a start that fails must not stop the schedule


def make_runner(sink: MemorySink) -> Runner:
    return Runner(
        catalogue=Catalogue(registry(fake_check("SEC-001", per_pod(Status.PASSING)))),
        sink=sink,
        inventories={Source.MANIFESTS: StaticInventory()},
        # Ticks come faster than runs end here; admission is not what these tests are about.
        settings=AssessmentSettings(max_runs=16),
        cluster_id="prod",
    )


def spec(expression: str = HOURLY) -> ScheduleSpec:
    return ScheduleSpec(expression, MANIFESTS, cluster_id="prod")


@pytest.fixture
async def clock() -> AsyncIterator[ManualClock]:
    yield ManualClock(T0)


async def settle(*runners: Runner) -> None:
    for runner in runners:
        for run_id in runner.active_runs():
            await runner.wait(run_id)


def test_invalid_cron_expression_is_refused() -> None:
    with pytest.raises(InvalidArgument) as caught:
        spec("every hour")
    assert caught.value.violations[0].field == "schedule"


def test_next_tick_follows_the_expression() -> None:
    scheduler = Scheduler(spec("*/15 * * * *"), runner=RecordingRunner())
    assert scheduler.next_tick(T0) == T0 + timedelta(minutes=15)
    assert scheduler.next_tick(T0 + timedelta(minutes=15)) == T0 + timedelta(minutes=30)


async def test_a_tick_triggers_one_full_run(clock: ManualClock) -> None:
    sink = MemorySink()
    runner = make_runner(sink)
    scheduler = Scheduler(spec(), runner=runner, clock=clock)
    scheduler.start()
    await clock.all_asleep()
    assert clock.sleeping_until == datetime(2026, 2, 16, 11, tzinfo=UTC)
    assert sink.runs == {}

    await clock.advance_to(datetime(2026, 2, 16, 11, tzinfo=UTC))
    await settle(runner)
    [run] = sink.runs.values()
    assert run.scope is RunScope.FULL
    assert run.run_id == scheduled_run_id(datetime(2026, 2, 16, 11, tzinfo=UTC), cluster_id="prod")
    assert clock.sleeping_until == datetime(2026, 2, 16, 12, tzinfo=UTC)
    await scheduler.stop()


async def test_two_replicas_sharing_a_claimer_start_one_run_per_tick(clock: ManualClock) -> None:
    claimer = LocalTickClaimer()
    sinks = [MemorySink(), MemorySink()]  # separate sinks: only the claimer arbitrates
    runners = [make_runner(s) for s in sinks]
    schedulers = [Scheduler(spec(), runner=r, claimer=claimer, clock=clock) for r in runners]
    for scheduler in schedulers:
        scheduler.start()
    await clock.all_asleep(2)
    for hour in (11, 12, 13):
        await clock.advance_to(datetime(2026, 2, 16, hour, tzinfo=UTC), sleepers=2)
    await settle(*runners)
    assert sum(len(s.runs) for s in sinks) == 3
    for scheduler in schedulers:
        await scheduler.stop()


async def test_two_replicas_on_one_store_start_one_run_per_tick(clock: ManualClock) -> None:
    """No claimer: the tick-derived run id lets only one create_run succeed."""
    store = MemorySink()
    runners = [make_runner(store), make_runner(store)]
    schedulers = [Scheduler(spec(), runner=r, clock=clock) for r in runners]
    for scheduler in schedulers:
        scheduler.start()
    await clock.all_asleep(2)
    for hour in (11, 12):
        await clock.advance_to(datetime(2026, 2, 16, hour, tzinfo=UTC), sleepers=2)
    await settle(*runners)
    assert sorted(store.runs) == [
        scheduled_run_id(datetime(2026, 2, 16, hour, tzinfo=UTC), cluster_id="prod")
        for hour in (11, 12)
    ]
    assert store.calls.count("create_run") == 4  # both replicas tried each tick
    for scheduler in schedulers:
        await scheduler.stop()


async def test_a_tick_while_the_server_is_at_its_run_limit_is_skipped() -> None:
    inventory = BlockedInventory()
    runner = Runner(
        catalogue=Catalogue(registry(fake_check("SEC-001", per_pod(Status.PASSING)))),
        sink=MemorySink(),
        inventories={Source.MANIFESTS: inventory},
        settings=AssessmentSettings(max_runs=1),
        cluster_id="prod",
    )
    busy = await runner.start(MANIFESTS)
    scheduler = Scheduler(spec(), runner=runner)
    assert await scheduler.fire(datetime(2026, 2, 16, 11, tzinfo=UTC)) is None
    inventory.release.set()
    await runner.wait(busy.run_id)


async def test_a_failing_start_does_not_stop_the_schedule(clock: ManualClock) -> None:
    starter = RecordingRunner()
    scheduler = Scheduler(spec(), runner=starter, clock=clock)
    scheduler.start()
    await clock.all_asleep()
    await clock.advance_to(datetime(2026, 2, 16, 11, tzinfo=UTC))
    await clock.advance_to(datetime(2026, 2, 16, 12, tzinfo=UTC))
    assert [run_id for _, run_id in starter.started] == [
        scheduled_run_id(datetime(2026, 2, 16, h, tzinfo=UTC), cluster_id="prod") for h in (11, 12)
    ]
    await scheduler.stop()


async def test_missed_ticks_are_not_caught_up(clock: ManualClock) -> None:
    starter = RecordingRunner()
    scheduler = Scheduler(spec(), runner=starter, clock=clock)
    scheduler.start()
    await clock.all_asleep()
    await clock.advance_to(datetime(2026, 2, 16, 13, 30, tzinfo=UTC))  # slept through 12 and 13
    assert len(starter.started) == 1
    assert clock.sleeping_until == datetime(2026, 2, 16, 14, tzinfo=UTC)
    await scheduler.stop()


async def test_local_claimer_hands_out_each_tick_once() -> None:
    claimer = LocalTickClaimer(capacity=2)
    assert await claimer.claim(T0)
    assert not await claimer.claim(T0)
    assert await claimer.claim(T0 + timedelta(hours=1))
