"""The runner against the real storage (SQLite and PostgreSQL) and the built-in catalogue."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from assay.server.assessment.liveness import CRASH_REASON, RunLiveness
from assay.server.assessment.providers import ManifestInventory
from assay.server.assessment.requests import ManifestTree, RunRequest
from assay.server.assessment.runner import Runner
from assay.server.assessment.scheduler import Scheduler, ScheduleSpec
from assay.server.assessment.settings import AssessmentSettings
from assay.server.checks import builtin_registry
from assay.server.checks.kit.catalogue import Catalogue
from assay.server.core.errors import Unavailable
from assay.server.core.ids import scheduled_run_id
from assay.server.core.types import (
    AssessmentResult,
    ResultQuery,
    Run,
    RunId,
    RunQuery,
    RunScope,
    RunState,
    Source,
    Status,
    StatusCounts,
)
from assay.server.storage.engine import create_engine_from_url
from assay.server.storage.repository import Repository
from assay.server.storage.sink import StorageSink
from tests.clock import ManualClock
from tests.unit.assessment.fakes import (
    MANIFESTS,
    Gate,
    StaticInventory,
    fake_check,
    per_pod,
    raises,
    registry,
)

CHECK_FIXTURES = Path(__file__).parents[2] / "fixtures" / "checks"
T0 = datetime(2026, 2, 16, 10, 30, tzinfo=UTC)


def fake_runner(repository: Repository, *checks: object, **config: object) -> Runner:
    return Runner(
        catalogue=Catalogue(registry(*checks)),  # type: ignore[arg-type]
        sink=StorageSink(repository),
        inventories={Source.MANIFESTS: StaticInventory()},
        settings=AssessmentSettings(**config),  # type: ignore[arg-type]
        cluster_id="prod",
    )


def stored_counts(repository: Repository, run_id: RunId) -> StatusCounts:
    return repository.summary(ResultQuery(run_id=run_id)).counts


async def test_builtin_catalogue_over_the_check_fixtures(repository: Repository) -> None:
    """A full run of every built-in check over every fixture file, persisted for real."""
    checks = builtin_registry()
    runner = Runner(
        catalogue=Catalogue(checks),
        sink=StorageSink(repository),
        inventories={Source.MANIFESTS: ManifestInventory()},
        cluster_id="prod",
    )
    request = RunRequest(source=Source.MANIFESTS, manifests=ManifestTree(str(CHECK_FIXTURES)))
    run = await runner.wait((await runner.start(request)).run_id)

    assert run.state is RunState.COMPLETED, run.error
    assert run.check_count == len(checks)
    stored = repository.get_run(run.run_id)
    assert stored == run
    assert stored_counts(repository, run.run_id) == run.counts
    assert {r.check_id for r in _all_results(repository, run.run_id)} == set(checks.ids())
    assert run.counts.failing > 0 and run.counts.passing > 0
    [entry] = repository.history().items
    assert entry.run_id == run.run_id
    assert entry.counts == run.counts
    assert entry.by_pillar == repository.summary(ResultQuery(run_id=run.run_id)).by_pillar


async def test_partial_run_persists_error_and_timeout_results(
    repository: Repository, gate: Gate
) -> None:
    runner = fake_runner(
        repository,
        fake_check("SEC-001", per_pod(Status.FAILING)),
        fake_check("REL-001", raises("boom")),
        fake_check("OPS-001", gate),
        check_timeout_s=0.05,
    )
    run = await runner.wait((await runner.start(MANIFESTS)).run_id)
    assert run.state is RunState.PARTIAL
    assert repository.get_run(run.run_id).state is RunState.PARTIAL
    assert stored_counts(repository, run.run_id) == StatusCounts(failing=3, error=1, timeout=1)
    assert repository.history().items[0].counts == run.counts


async def test_cancelled_run_is_stored_cancelled(repository: Repository, gate: Gate) -> None:
    runner = fake_runner(
        repository,
        fake_check("SEC-001", per_pod(Status.PASSING)),
        fake_check("OPS-001", gate),
    )
    queued = await runner.start(MANIFESTS)
    assert await asyncio.to_thread(gate.entered.wait, 5)
    run = await runner.cancel(queued.run_id)
    stored = repository.get_run(run.run_id)
    assert stored.state is RunState.CANCELLED
    assert stored.error == "cancelled by request"
    assert stored_counts(repository, run.run_id) == stored.counts
    assert repository.history().items[0].state is RunState.CANCELLED


def liveness(repository: Repository, runner: Runner | None, now: datetime) -> RunLiveness:
    active = runner.active_runs if runner is not None else list
    return RunLiveness(
        repository,
        active,
        settings=AssessmentSettings(run_heartbeat_s=15, run_stale_after_s=60),
        clock=ManualClock(now),
    )


async def test_runs_left_unfinished_by_a_crash_are_failed_once_stale(
    repository: Repository, gate: Gate
) -> None:
    crashed = fake_runner(repository, fake_check("OPS-001", gate), check_timeout_s=30)
    running = await crashed.start(MANIFESTS)
    assert await asyncio.to_thread(gate.entered.wait, 5)
    assert repository.get_run(running.run_id).state is RunState.RUNNING
    done = fake_runner(repository, fake_check("SEC-001", per_pod(Status.PASSING)))
    finished = await done.wait((await done.start(MANIFESTS)).run_id)
    beat_at = datetime.now(UTC)
    await liveness(repository, crashed, beat_at).beat()

    # The process "dies" here; a new one starts on the same database. While the dead
    # process's heartbeat is fresh the run might be another live replica's: left alone.
    restarted = fake_runner(repository, fake_check("SEC-001", per_pod(Status.PASSING)))
    soon = beat_at + timedelta(seconds=30)
    assert await liveness(repository, restarted, soon).sweep() == []
    assert repository.get_run(running.run_id).state is RunState.RUNNING

    later = beat_at + timedelta(seconds=61)
    assert await liveness(repository, restarted, later).sweep() == [running.run_id]
    after = repository.get_run(running.run_id)
    assert after.state is RunState.FAILED
    assert after.error == CRASH_REASON
    assert after.completed_at == later
    assert repository.get_run(finished.run_id).state is RunState.COMPLETED
    assert await liveness(repository, restarted, later).sweep() == []
    await crashed.shutdown(grace_s=5)  # the "dead" process's task must not outlive the test


async def test_a_live_replicas_run_survives_another_replica_starting(
    repository: Repository, gate: Gate
) -> None:
    replica_a = fake_runner(repository, fake_check("OPS-001", gate), check_timeout_s=30)
    running = await replica_a.start(MANIFESTS)
    assert await asyncio.to_thread(gate.entered.wait, 5)
    now = datetime.now(UTC)
    # Replica A keeps beating; replica B starts up and sweeps long after the run began.
    for minutes in (1, 2, 3):
        await liveness(repository, replica_a, now + timedelta(minutes=minutes)).beat()
        replica_b = liveness(repository, None, now + timedelta(minutes=minutes, seconds=5))
        assert await replica_b.sweep() == []
    assert repository.get_run(running.run_id).state is RunState.RUNNING
    # A's own sweep never fails what A executes, even with a stale stamp.
    assert await liveness(repository, replica_a, now + timedelta(hours=1)).sweep() == []
    await replica_a.shutdown(grace_s=5)


async def test_queued_runs_of_a_dead_process_are_failed_too(repository: Repository) -> None:
    queued = Run(
        RunId("run_20260216T103000_000000_0000abcd"),
        RunState.QUEUED,
        RunScope.FULL,
        Source.LIVE,
        requested_at=T0,
    )
    repository.create_run(queued)  # the process died right after creating the run
    failed = await liveness(repository, None, T0 + timedelta(minutes=5)).sweep()
    assert failed == [queued.run_id]
    assert repository.get_run(queued.run_id).state is RunState.FAILED


async def test_two_replicas_on_one_database_start_one_run_per_tick(
    repository: Repository,
) -> None:
    clock = ManualClock(T0)
    runners = [
        fake_runner(repository, fake_check("SEC-001", per_pod(Status.PASSING))) for _ in range(2)
    ]
    spec = ScheduleSpec("0 * * * *", MANIFESTS, cluster_id="prod")
    schedulers = [Scheduler(spec, runner=r, clock=clock) for r in runners]
    for scheduler in schedulers:
        scheduler.start()
    await clock.all_asleep(2)
    for hour in (11, 12):
        await clock.advance_to(datetime(2026, 2, 16, hour, tzinfo=UTC), sleepers=2)
    for scheduler in schedulers:
        await scheduler.stop()
    for runner in runners:
        for run_id in runner.active_runs():
            await runner.wait(run_id)

    runs = repository.list_runs(RunQuery()).items
    assert sorted(r.run_id for r in runs) == [
        scheduled_run_id(datetime(2026, 2, 16, h, tzinfo=UTC), cluster_id="prod") for h in (11, 12)
    ]
    assert all(r.state is RunState.COMPLETED for r in runs)
    assert len(repository.history().items) == 2


async def test_unreachable_storage_refuses_the_run() -> None:
    engine: Engine = create_engine_from_url("postgresql://postgres@127.0.0.1:1/assay")
    try:
        runner = Runner(
            catalogue=Catalogue(registry(fake_check("SEC-001", per_pod(Status.PASSING)))),
            sink=StorageSink(Repository(engine)),
            inventories={Source.MANIFESTS: StaticInventory()},
        )
        with pytest.raises(Unavailable):
            await runner.start(MANIFESTS)
        assert runner.active_runs() == []
    finally:
        engine.dispose()


def _all_results(repository: Repository, run_id: RunId) -> list[AssessmentResult]:
    """Every result of the run, page by page (the catalogue's fixtures give thousands)."""
    query = ResultQuery(run_id=run_id, limit=1000, include_total=True)
    page = repository.list_results(query)
    results = list(page.items)
    while page.next_page_token:
        page = repository.list_results(dataclasses.replace(query, page_token=page.next_page_token))
        results.extend(page.items)
    assert len(results) == repository.list_results(query).total
    return results


async def test_liveness_stop_waits_for_the_beat_in_progress(
    repository: Repository, gate: Gate
) -> None:
    """stop() must not leave a heartbeat's database call running in a worker thread."""
    runner = fake_runner(repository, fake_check("OPS-001", gate), check_timeout_s=30)
    run = await runner.start(MANIFESTS)
    assert await asyncio.to_thread(gate.entered.wait, 5)
    beating = threading.Event()
    release = threading.Event()

    class SlowStore:
        def heartbeat(self, run_ids: Sequence[RunId], now: datetime) -> dict[RunId, str]:
            beating.set()
            release.wait(5)
            return repository.heartbeat(run_ids, now)

        def fail_unfinished_runs(self, reason: str, now: datetime, **kw: Any) -> list[RunId]:
            return repository.fail_unfinished_runs(reason, now, **kw)

    beats = RunLiveness(
        SlowStore(), runner.active_runs, settings=AssessmentSettings(run_heartbeat_s=0.01)
    )
    beats.start()
    assert await asyncio.to_thread(beating.wait, 5)
    stopping = asyncio.ensure_future(beats.stop())
    # A cancelling stop() would be done at once; this one waits for the database call.
    done, _ = await asyncio.wait({stopping}, timeout=0.1)
    assert not done
    release.set()
    await stopping
    assert repository.get_run(run.run_id).state is RunState.RUNNING
    await runner.shutdown(grace_s=5)
