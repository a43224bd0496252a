"""The runner's lifecycle guarantees: admission, cancel requests from other replicas, the end
recorded through a storage outage, timeouts whatever their timing, and the thread pools."""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass, field

import pytest

from assay.server.assessment.runner import Runner
from assay.server.assessment.settings import AssessmentSettings
from assay.server.checks.kit.catalogue import Catalogue
from assay.server.core.errors import ResourceExhausted, Unavailable
from assay.server.core.threads import DaemonExecutor
from assay.server.core.types import HistoryEntry, Run, RunState, Source, Status
from tests.unit.assessment.fakes import (
    MANIFESTS,
    BlockedInventory,
    Gate,
    MemorySink,
    fake_check,
    per_pod,
    registry,
)


def runner_with(*checks: object, sink: MemorySink, provider: object, **config: object) -> Runner:
    return Runner(
        catalogue=Catalogue(registry(*checks)),  # type: ignore[arg-type]
        sink=sink,
        inventories={Source.MANIFESTS: provider},  # type: ignore[dict-item]
        settings=AssessmentSettings(**config),  # type: ignore[arg-type]
        cluster_id="test",
    )


async def test_runs_beyond_the_limit_are_refused_with_a_retry_hint() -> None:
    inventory = BlockedInventory()
    sink = MemorySink()
    runner = runner_with(
        fake_check("SEC-001", per_pod(Status.PASSING)), sink=sink, provider=inventory, max_runs=1
    )
    first = await runner.start(MANIFESTS)
    await inventory.entered.wait()
    with pytest.raises(ResourceExhausted) as refused:
        await runner.start(MANIFESTS)
    assert refused.value.retry_after_s is not None and refused.value.retry_after_s > 0
    assert "ASSAY_MAX_RUNS" in str(refused.value)
    assert list(sink.runs) == [first.run_id]  # nothing created for the refused one
    inventory.release.set()
    assert (await runner.wait(first.run_id)).state is RunState.COMPLETED
    second = await runner.start(MANIFESTS)  # a place is free again
    assert (await runner.wait(second.run_id)).state is RunState.COMPLETED


@dataclass
class SlowCreateSink(MemorySink):
    """Creating a run takes until ``release`` is set."""

    release: asyncio.Event = field(default_factory=asyncio.Event)

    async def create_run(self, run: Run) -> None:
        await self.release.wait()
        await super().create_run(run)


async def test_concurrent_starts_cannot_overtake_the_limit() -> None:
    sink = SlowCreateSink()
    runner = runner_with(
        fake_check("SEC-001", per_pod(Status.PASSING)),
        sink=sink,
        provider=BlockedInventory(release=_set_event()),
        max_runs=2,
    )
    starts = [asyncio.ensure_future(runner.start(MANIFESTS)) for _ in range(3)]
    await asyncio.sleep(0)  # every start is now creating its run, or refused
    sink.release.set()
    outcomes = await asyncio.gather(*starts, return_exceptions=True)
    refused = [o for o in outcomes if isinstance(o, ResourceExhausted)]
    assert len(refused) == 1
    assert len(sink.runs) == 2


async def test_a_cancel_request_found_by_the_heartbeat_cancels_the_run(gate: Gate) -> None:
    sink = MemorySink()
    runner = runner_with(
        fake_check("SEC-001", gate), sink=sink, provider=BlockedInventory(), check_timeout_s=30
    )
    run = await runner.start(MANIFESTS)
    runner.cancel_requested(run.run_id, "cancelled by request")
    ended = await runner.wait(run.run_id)
    assert ended.state is RunState.CANCELLED
    assert ended.error == "cancelled by request"
    assert sink.history[run.run_id].state is RunState.CANCELLED


async def test_cancel_of_another_replicas_run_stores_the_request() -> None:
    sink = MemorySink()
    owner = runner_with(
        fake_check("SEC-001", per_pod(Status.PASSING)), sink=sink, provider=BlockedInventory()
    )
    other = runner_with(
        fake_check("SEC-001", per_pod(Status.PASSING)), sink=sink, provider=BlockedInventory()
    )
    run = await owner.start(MANIFESTS)
    answered = await other.cancel(run.run_id)
    assert answered.state is RunState.QUEUED  # still the owner's, which acts on its heartbeat
    assert sink.cancel_requests == {run.run_id: "cancelled by request"}
    owner.cancel_requested(run.run_id, sink.cancel_requests[run.run_id])
    assert (await owner.wait(run.run_id)).state is RunState.CANCELLED


@dataclass
class FlakySink(MemorySink):
    """Storage that refuses the first ``outage`` attempts to record a run's end."""

    outage: int = 2

    async def finish_run(self, run: Run, history: HistoryEntry) -> None:
        if self.outage:
            self.outage -= 1
            self.calls.append("finish_run")
            raise Unavailable("database is down (finish_run)")
        await super().finish_run(run, history)


async def test_the_end_of_a_run_is_recorded_once_storage_is_back() -> None:
    sink = FlakySink()
    runner = runner_with(
        fake_check("SEC-001", per_pod(Status.FAILING)),
        sink=sink,
        provider=BlockedInventory(release=_set_event()),
        write_retry_s=30,
    )
    ended = await runner.wait((await runner.start(MANIFESTS)).run_id)
    assert sink.calls.count("finish_run") == 3  # two refused, the third recorded
    assert ended.state is RunState.COMPLETED
    assert ended.error == ""
    assert sink.runs[ended.run_id].state is RunState.COMPLETED
    assert sink.history[ended.run_id].counts.failing == 3


async def test_the_end_is_failed_after_the_retry_time() -> None:
    sink = MemorySink(fail={"finish_run"})
    runner = runner_with(
        fake_check("SEC-001", per_pod(Status.PASSING)),
        sink=sink,
        provider=BlockedInventory(release=_set_event()),
        write_retry_s=0,
    )
    ended = await runner.wait((await runner.start(MANIFESTS)).run_id)
    assert ended.state is RunState.FAILED
    assert "the end of the run was not recorded" in ended.error
    assert sink.calls.count("finish_run") == 1


def _set_event() -> asyncio.Event:
    event = asyncio.Event()
    event.set()
    return event


@pytest.mark.parametrize("timeout_s", [1e-9, 1e-4, 0.01])
async def test_a_tiny_check_timeout_is_timeout_never_error(gate: Gate, timeout_s: float) -> None:
    sink = MemorySink()
    runner = runner_with(
        fake_check("SEC-001", gate),
        sink=sink,
        provider=BlockedInventory(release=_set_event()),
        check_timeout_s=timeout_s,
    )
    run = await runner.wait((await runner.start(MANIFESTS)).run_id)
    [result] = sink.results_of(run.run_id)
    assert result.status is Status.TIMEOUT
    assert result.message == f"check did not finish within {timeout_s:g}s"
    assert run.state is RunState.PARTIAL


@pytest.mark.parametrize("timeout_s", [1e-9, 1e-6])
async def test_a_check_done_as_its_tiny_timeout_strikes_keeps_its_results(timeout_s: float) -> None:
    """A check that finished is never reported as anything else: either its results stand
    (it finished in the loop turn of the deadline) or it is a timeout; never an error."""
    sink = MemorySink()
    runner = runner_with(
        fake_check("SEC-001", per_pod(Status.FAILING)),
        sink=sink,
        provider=BlockedInventory(release=_set_event()),
        check_timeout_s=timeout_s,
    )
    run = await runner.wait((await runner.start(MANIFESTS)).run_id)
    statuses = {r.status for r in sink.results_of(run.run_id)}
    assert statuses in ({Status.FAILING}, {Status.TIMEOUT})
    assert sink.runs[run.run_id].counts == sink.history[run.run_id].counts


# -- the thread pools ---------------------------------------------------------------------


def test_a_pool_runs_at_most_its_size_and_reports_how_long_calls_wait() -> None:
    pool = DaemonExecutor(1, name="test")
    release = threading.Event()
    first = pool.submit(release.wait, 5)
    second = pool.submit(lambda: "second")
    deadline = time.monotonic() + 5
    while pool.busy != 1 and time.monotonic() < deadline:  # the thread took the first call
        time.sleep(0.001)
    assert pool.busy == 1 and pool.queued == 1
    assert pool.stall_s() > 0
    release.set()
    assert first.result(5) is True
    assert second.result(5) == "second"
    assert pool.queued == 0 and pool.stall_s() == 0
    pool.shutdown()
    with pytest.raises(RuntimeError):
        pool.submit(lambda: None)


def test_a_blocked_pool_thread_is_a_daemon_and_shutdown_cancels_the_queue() -> None:
    pool = DaemonExecutor(1, name="test")
    release = threading.Event()
    blocked = pool.submit(release.wait, 5)
    deadline = time.monotonic() + 5
    while pool.busy != 1 and time.monotonic() < deadline:  # the thread took the first call
        time.sleep(0.001)
    queued = pool.submit(lambda: None)
    pool.shutdown()
    assert queued.cancelled()
    assert all(t.daemon for t in threading.enumerate() if t.name.startswith("assay-test-"))
    release.set()
    assert blocked.result(5) is True


def test_a_call_cancelled_while_queued_never_runs() -> None:
    pool = DaemonExecutor(1, name="test")
    release = threading.Event()
    ran = threading.Event()
    pool.submit(release.wait, 5)
    queued = pool.submit(ran.set)
    assert queued.cancel()
    done = pool.submit(lambda: "after")
    release.set()
    assert done.result(5) == "after"
    assert not ran.is_set()
    pool.shutdown()
