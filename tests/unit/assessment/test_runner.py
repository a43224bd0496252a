"""The runner's state machine over tiny fake checks, an in-memory sink and a fixed inventory."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
import weakref
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from assay.server.assessment.progress import (
    CheckFinished,
    CheckStarted,
    RunFinished,
    RunStateChanged,
)
from assay.server.assessment.providers import ManifestInventory
from assay.server.assessment.requests import ManifestTree, RunRequest
from assay.server.assessment.runner import SHUTTING_DOWN, Runner
from assay.server.assessment.settings import AssessmentSettings
from assay.server.checks.kit import Finding
from assay.server.checks.kit.catalogue import Catalogue
from assay.server.core.errors import FailedPrecondition, InvalidArgument, NotFound, Unavailable
from assay.server.core.ids import RESULT_ID_PATTERN, RUN_ID_PATTERN
from assay.server.core.threads import DaemonExecutor
from assay.server.core.types import (
    AssessmentResult,
    Pillar,
    Run,
    RunId,
    RunScope,
    RunState,
    Severity,
    Source,
    Status,
    StatusCounts,
)
from assay.server.inventory.model import Inventory
from tests.collector import no_collection
from tests.unit.assessment.fakes import (
    MANIFESTS,
    BlockedInventory,
    Gate,
    MemorySink,
    SlowSink,
    StaticInventory,
    fake_check,
    per_pod,
    raises,
    registry,
    small_inventory,
)


def make_runner(
    *checks: Any,
    sink: MemorySink | None = None,
    provider: Any = None,
    threads: DaemonExecutor | None = None,
    **config: Any,
) -> tuple[Runner, MemorySink]:
    sink = sink or MemorySink()
    runner = Runner(
        catalogue=Catalogue(registry(*checks)),
        sink=sink,
        inventories={Source.MANIFESTS: provider or StaticInventory()},
        settings=AssessmentSettings(**config),
        cluster_id="test",
        check_threads=threads,
    )
    return runner, sink


def counts_of(sink: MemorySink, run_id: RunId) -> StatusCounts:
    return StatusCounts.of(r.status for r in sink.results_of(run_id))


# -- completed ---------------------------------------------------------------------------------


async def test_every_check_ran_means_completed_whatever_the_findings() -> None:
    runner, sink = make_runner(
        fake_check("SEC-001", per_pod(Status.FAILING), severity=Severity.HIGH),
        fake_check("REL-001", per_pod(Status.PASSING)),
        fake_check("OPS-001", per_pod(Status.WARNING)),
    )
    queued = await runner.start(MANIFESTS)
    assert queued.state is RunState.QUEUED
    assert queued.scope is RunScope.FULL
    assert queued.check_count == 3
    assert RUN_ID_PATTERN.match(queued.run_id)

    run = await runner.wait(queued.run_id)
    assert run.state is RunState.COMPLETED
    assert run.error == ""
    assert run.started_at is not None and run.completed_at is not None
    assert run.counts == StatusCounts(passing=3, failing=3, warning=3)
    assert sink.runs[run.run_id] == run

    results = sink.results_of(run.run_id)
    assert len(results) == 9
    assert all(RESULT_ID_PATTERN.match(r.id) for r in results)
    assert len({r.id for r in results}) == 9
    failing = [r for r in results if r.status is Status.FAILING]
    assert {r.check_id for r in failing} == {"SEC-001"}
    assert failing[0].id.split("_")[3] == "sec001"
    assert failing[0].severity is Severity.HIGH
    assert failing[0].remediation == "fix SEC-001"
    assert failing[0].container == "app"


class FreshInventory:
    """A provider building a new inventory per run, remembering it weakly."""

    def __init__(self) -> None:
        self.loaded: list[weakref.ref[Inventory]] = []

    async def load(self, request: RunRequest, checks: Sequence[Any]) -> Inventory:
        inventory = small_inventory()
        self.loaded.append(weakref.ref(inventory))
        return inventory


async def test_a_runs_inventory_is_freed_when_the_run_ends_without_a_collection() -> None:
    def indexed(inventory: Inventory) -> list[Finding]:
        # An index that refers back to its inventory: a cycle through Inventory.memo.
        inventory.memo("test:self", lambda: {"inventory": inventory})
        return per_pod(Status.PASSING)(inventory)

    provider = FreshInventory()
    threads = DaemonExecutor(1, name="test-checks")
    runner, _ = make_runner(fake_check("SEC-001", indexed), provider=provider, threads=threads)
    try:
        with no_collection():  # reference counting alone must free it
            run = await runner.wait((await runner.start(MANIFESTS)).run_id)
            assert run.state is RunState.COMPLETED
            # The one check thread has let go of its last call once it takes the next.
            await asyncio.wrap_future(threads.submit(lambda: None))
            assert [ref() for ref in provider.loaded] == [None]
    finally:
        threads.shutdown()


async def test_history_counts_match_the_stored_results() -> None:
    runner, sink = make_runner(
        fake_check("SEC-001", per_pod(Status.FAILING)),
        fake_check("REL-001", per_pod(Status.PASSING)),
        fake_check("COST-001", raises("bad quantity")),
    )
    run = await runner.wait((await runner.start(MANIFESTS)).run_id)
    history = sink.history[run.run_id]
    assert history.state is run.state
    assert history.cluster_id == "test"
    assert history.completed_at == run.completed_at
    assert history.counts == counts_of(sink, run.run_id) == run.counts
    assert history.by_pillar == {
        Pillar.SECURITY: StatusCounts(failing=3),
        Pillar.RELIABILITY: StatusCounts(passing=3),
        Pillar.COST_OPTIMIZATION: StatusCounts(error=1),
    }
    assert history.score == 50.0


@dataclasses.dataclass
class PreparingSink(MemorySink):
    """Prepares each batch (noting the thread it was asked in) and keeps what add_results
    was handed with it; a batch of ``broken`` results makes prepare raise."""

    prepared_in: list[str] = dataclasses.field(default_factory=list)
    handed: list[object] = dataclasses.field(default_factory=list)
    broken: int = -1

    def prepare(self, results: Sequence[AssessmentResult]) -> object:
        self.prepared_in.append(threading.current_thread().name)
        if len(results) == self.broken:
            raise RuntimeError("sink bug")
        return ("prepared", len(results))

    async def add_results(
        self, results: Sequence[AssessmentResult], *, run: Run, prepared: object = None
    ) -> None:
        self.handed.append(prepared)
        await super().add_results(results, run=run, prepared=prepared)


async def test_the_sink_prepares_each_batch_in_the_checks_thread_and_gets_it_back() -> None:
    sink = PreparingSink()
    runner, _ = make_runner(
        fake_check("SEC-001", per_pod(Status.FAILING)),
        fake_check("REL-001", raises("boom")),  # its error result is built on the loop
        sink=sink,
    )
    run = await runner.wait((await runner.start(MANIFESTS)).run_id)
    assert run.state is RunState.PARTIAL
    assert sorted(map(str, sink.handed)) == ["('prepared', 3)", "None"]
    assert sink.prepared_in and all(name.startswith("assay-check") for name in sink.prepared_in)


async def test_a_failing_prepare_costs_the_check_nothing() -> None:
    sink = PreparingSink(broken=3)
    runner, _ = make_runner(fake_check("SEC-001", per_pod(Status.FAILING)), sink=sink)
    run = await runner.wait((await runner.start(MANIFESTS)).run_id)
    assert run.state is RunState.COMPLETED
    assert run.counts == StatusCounts(failing=3)
    assert sink.handed == [None]  # the sink gets the results alone


# -- partial -----------------------------------------------------------------------------------


async def test_a_check_that_raises_gives_an_error_result_and_a_partial_run() -> None:
    runner, sink = make_runner(
        fake_check("SEC-001", raises("no spec in pod p0")),
        fake_check("REL-001", per_pod(Status.PASSING)),
    )
    run = await runner.wait((await runner.start(MANIFESTS)).run_id)
    assert run.state is RunState.PARTIAL
    [error] = [r for r in sink.results_of(run.run_id) if r.check_id == "SEC-001"]
    assert error.status is Status.ERROR
    assert error.message == "ValueError: no spec in pod p0"
    assert error.object is None
    assert run.counts == StatusCounts(passing=3, error=1)


async def test_an_overrunning_check_times_out_without_stalling_the_others(gate: Gate) -> None:
    threads = DaemonExecutor(2, name="check")
    runner, sink = make_runner(
        fake_check("SEC-001", gate),
        fake_check("REL-001", per_pod(Status.PASSING)),
        fake_check("OPS-001", per_pod(Status.FAILING)),
        check_timeout_s=0.05,
        max_concurrency=2,
        threads=threads,
    )
    run = await runner.wait((await runner.start(MANIFESTS)).run_id)
    assert run.state is RunState.PARTIAL
    assert not gate.returned.is_set()  # its thread is still blocked: the run did not wait
    by_check = {r.check_id: r for r in sink.results_of(run.run_id)}
    assert by_check["SEC-001"].status is Status.TIMEOUT
    assert by_check["SEC-001"].message == "check did not finish within 0.05s"
    assert run.counts == StatusCounts(passing=3, failing=3, timeout=1)

    # Released now, the late check returns a result that must never reach storage. Once
    # both threads of the pool meet at a barrier, the check's thread is done with it (its
    # hand-over callback queued on the loop before theirs).
    gate.release.set()
    barrier = threading.Barrier(2)
    await asyncio.gather(*(asyncio.wrap_future(threads.submit(barrier.wait, 5)) for _ in range(2)))
    assert [r.status for r in sink.results_of(run.run_id) if r.check_id == "SEC-001"] == [
        Status.TIMEOUT
    ]
    assert sink.history[run.run_id].counts == counts_of(sink, run.run_id)


async def test_request_timeout_overrides_the_default(gate: Gate) -> None:
    runner, sink = make_runner(fake_check("SEC-001", gate), check_timeout_s=30)
    request = dataclasses.replace(MANIFESTS, check_timeout_s=0.02)
    run = await runner.wait((await runner.start(request)).run_id)
    assert [r.message for r in sink.results_of(run.run_id)] == ["check did not finish within 0.02s"]


async def test_run_timeout_turns_every_unfinished_check_into_timeout(gate: Gate) -> None:
    runner, sink = make_runner(
        fake_check("SEC-001", gate),
        fake_check("SEC-002", per_pod(Status.PASSING)),
        max_concurrency=1,  # SEC-002 waits for SEC-001's slot and never starts
        check_timeout_s=30,
    )
    request = dataclasses.replace(MANIFESTS, run_timeout_s=0.05)
    run = await runner.wait((await runner.start(request)).run_id)
    assert run.state is RunState.PARTIAL
    messages = {r.check_id: (r.status, r.message) for r in sink.results_of(run.run_id)}
    assert messages == {
        "SEC-001": (Status.TIMEOUT, "run timeout (0.05s) reached before the check finished"),
        "SEC-002": (Status.TIMEOUT, "run timeout (0.05s) reached before the check started"),
    }


# -- failed ------------------------------------------------------------------------------------


async def test_missing_manifest_path_fails_the_run_with_the_error(tmp_path: Path) -> None:
    sink = MemorySink()
    runner = Runner(
        catalogue=Catalogue(registry(fake_check("SEC-001", per_pod(Status.PASSING)))),
        sink=sink,
        inventories={Source.MANIFESTS: ManifestInventory()},
    )
    missing = tmp_path / "nowhere"
    request = RunRequest(source=Source.MANIFESTS, manifests=ManifestTree(str(missing)))
    run = await runner.wait((await runner.start(request)).run_id)
    assert run.state is RunState.FAILED
    assert str(missing) in run.error and run.error.startswith("inventory:")
    assert run.started_at is None
    assert sink.results == []
    assert sink.history[run.run_id].state is RunState.FAILED


async def test_inventory_diagnostics_are_recorded_on_the_run(tmp_path: Path) -> None:
    (tmp_path / "good.yaml").write_text(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec: {containers: []}\n"
    )
    (tmp_path / "bad.yaml").write_text("kind: [unclosed\n")
    runner = Runner(
        catalogue=Catalogue(registry(fake_check("SEC-001", per_pod(Status.PASSING)))),
        sink=MemorySink(),
        inventories={Source.MANIFESTS: ManifestInventory()},
    )
    request = RunRequest(source=Source.MANIFESTS, manifests=ManifestTree(str(tmp_path)))
    run = await runner.wait((await runner.start(request)).run_id)
    assert run.state is RunState.COMPLETED
    assert len(run.diagnostics) == 1 and "bad.yaml" in run.diagnostics[0]
    running = next(
        e.payload
        for e in runner.bus.events(run.run_id)
        if isinstance(e.payload, RunStateChanged) and e.payload.state is RunState.RUNNING
    )
    assert running.diagnostics == run.diagnostics


async def test_storage_refusing_results_fails_the_run() -> None:
    sink = MemorySink(fail={"add_results"})
    runner, _ = make_runner(fake_check("SEC-001", per_pod(Status.PASSING)), sink=sink)
    run = await runner.wait((await runner.start(MANIFESTS)).run_id)
    assert run.state is RunState.FAILED
    assert run.error == "storage: Unavailable: database is down (add_results)"
    assert sink.history[run.run_id].counts == StatusCounts()  # nothing was stored


async def test_storage_down_at_the_end_still_ends_the_run_in_memory() -> None:
    sink = MemorySink(fail={"finish_run"})
    runner, _ = make_runner(fake_check("SEC-001", per_pod(Status.PASSING)), sink=sink)
    run = await runner.wait((await runner.start(MANIFESTS)).run_id)
    assert run.state is RunState.FAILED
    assert "the end of the run was not recorded" in run.error
    assert isinstance(runner.bus.events(run.run_id)[-1].payload, RunFinished)


async def test_storage_down_at_create_refuses_the_run() -> None:
    sink = MemorySink(fail={"create_run"})
    runner, _ = make_runner(fake_check("SEC-001", per_pod(Status.PASSING)), sink=sink)
    with pytest.raises(Unavailable):
        await runner.start(MANIFESTS)
    assert runner.active_runs() == []
    assert sink.calls == ["create_run"]


# -- cancelled ---------------------------------------------------------------------------------


async def test_cancel_while_checks_run(gate: Gate) -> None:
    runner, sink = make_runner(
        fake_check("SEC-001", gate),
        fake_check("REL-001", per_pod(Status.PASSING)),
        check_timeout_s=30,
    )
    queued = await runner.start(MANIFESTS)
    assert await asyncio.to_thread(gate.entered.wait, 5)
    run = await runner.cancel(queued.run_id)
    assert run.state is RunState.CANCELLED
    assert run.error == "cancelled by request"
    assert sink.runs[run.run_id].state is RunState.CANCELLED
    assert sink.history[run.run_id].state is RunState.CANCELLED
    assert sink.history[run.run_id].counts == counts_of(sink, run.run_id) == run.counts
    # Idempotent for a cancelled run; refused for any other finished one.
    assert (await runner.cancel(run.run_id)).state is RunState.CANCELLED


async def test_cancel_during_a_write_waits_for_it_and_counts_it() -> None:
    sink = SlowSink()
    runner, _ = make_runner(fake_check("SEC-001", per_pod(Status.PASSING)), sink=sink)
    queued = await runner.start(MANIFESTS)
    await sink.writing.wait()
    cancelling = asyncio.create_task(runner.cancel(queued.run_id))
    await asyncio.sleep(0)
    assert not cancelling.done()  # the cancellation waits for the write in flight
    sink.release.set()
    run = await cancelling
    assert run.state is RunState.CANCELLED
    assert len(sink.results) == 3
    assert run.counts == sink.history[run.run_id].counts == StatusCounts(passing=3)


async def test_cancel_while_queued() -> None:
    provider = BlockedInventory()
    runner, sink = make_runner(fake_check("SEC-001", per_pod(Status.PASSING)), provider=provider)
    queued = await runner.start(MANIFESTS)
    await provider.entered.wait()
    run = await runner.cancel(queued.run_id)
    assert run.state is RunState.CANCELLED
    assert run.started_at is None
    assert sink.results == []


async def test_cancel_before_the_task_starts() -> None:
    runner, sink = make_runner(fake_check("SEC-001", per_pod(Status.PASSING)))
    queued = await runner.start(MANIFESTS)
    run = await runner.cancel(queued.run_id)  # the task has not run a single step yet
    assert run.state is RunState.CANCELLED
    assert sink.history[run.run_id].state is RunState.CANCELLED


async def test_cancel_of_finished_or_unknown_runs() -> None:
    runner, _ = make_runner(fake_check("SEC-001", per_pod(Status.PASSING)))
    run = await runner.wait((await runner.start(MANIFESTS)).run_id)
    with pytest.raises(FailedPrecondition):
        await runner.cancel(run.run_id)
    with pytest.raises(NotFound):
        await runner.cancel(RunId("run_20000101T000000_000000_00000000"))


async def test_shutdown_cancels_in_flight_runs_and_refuses_new_ones(gate: Gate) -> None:
    runner, sink = make_runner(fake_check("SEC-001", gate), check_timeout_s=30)
    queued = await runner.start(MANIFESTS)
    assert await asyncio.to_thread(gate.entered.wait, 5)
    await runner.shutdown(grace_s=5)
    run = sink.runs[queued.run_id]
    assert run.state is RunState.CANCELLED
    assert run.error == SHUTTING_DOWN
    assert runner.active_runs() == []
    with pytest.raises(Unavailable):
        await runner.start(MANIFESTS)


# -- selection -----------------------------------------------------------------------------------


class Recorder:
    def __init__(self) -> None:
        self.called: list[str] = []
        self._lock = threading.Lock()

    def check(self, check_id: str) -> Any:
        def body(inventory: Inventory) -> list[Any]:
            with self._lock:
                self.called.append(check_id)
            return per_pod(Status.PASSING)(inventory)

        return fake_check(check_id, body)


CATALOGUE = ("SEC-001", "SEC-002", "REL-001", "COST-001", "OPS-001")


async def test_pillar_run_executes_exactly_the_pillars_checks() -> None:
    recorder = Recorder()
    runner, sink = make_runner(*(recorder.check(c) for c in CATALOGUE))
    request = dataclasses.replace(MANIFESTS, pillars=(Pillar.SECURITY, Pillar.COST_OPTIMIZATION))
    queued = await runner.start(request)
    assert queued.scope is RunScope.PILLAR
    assert queued.pillars == (Pillar.SECURITY, Pillar.COST_OPTIMIZATION)
    assert queued.check_count == 3
    await runner.wait(queued.run_id)
    assert sorted(recorder.called) == ["COST-001", "SEC-001", "SEC-002"]
    assert {r.check_id for r in sink.results} == {"COST-001", "SEC-001", "SEC-002"}


async def test_single_check_run_executes_only_that_check() -> None:
    recorder = Recorder()
    runner, _ = make_runner(*(recorder.check(c) for c in CATALOGUE))
    queued = await runner.start(dataclasses.replace(MANIFESTS, check_id="REL-001"))
    assert queued.scope is RunScope.SINGLE and queued.check_id == "REL-001"
    await runner.wait(queued.run_id)
    assert recorder.called == ["REL-001"]


async def test_unknown_check_is_not_found_and_nothing_is_created() -> None:
    runner, sink = make_runner(fake_check("SEC-001", per_pod(Status.PASSING)))
    with pytest.raises(NotFound):
        await runner.start(dataclasses.replace(MANIFESTS, check_id="SEC-999"))
    assert sink.calls == []
    assert runner.active_runs() == []


@pytest.mark.parametrize(
    ("request_", "fields"),
    [
        (dataclasses.replace(MANIFESTS, pillars=("security", "nonsense")), ["pillars"]),  # type: ignore[arg-type]
        (
            dataclasses.replace(MANIFESTS, check_id="SEC-001", pillars=(Pillar.SECURITY,)),
            ["check_id"],
        ),
        (RunRequest(source=Source.MANIFESTS), ["manifests"]),
        (
            dataclasses.replace(MANIFESTS, check_timeout_s=0, run_timeout_s=-1),
            ["check_timeout_seconds", "run_timeout_seconds"],
        ),
        (RunRequest(source=Source.LIVE), ["source"]),
        (RunRequest(source=Source.LIVE, manifests=ManifestTree("/unused")), ["source"]),
    ],
)
async def test_bad_requests_are_invalid_and_nothing_is_created(
    request_: RunRequest, fields: list[str]
) -> None:
    runner, sink = make_runner(fake_check("SEC-001", per_pod(Status.PASSING)))
    with pytest.raises(InvalidArgument) as caught:
        await runner.start(request_)
    assert [v.field for v in caught.value.violations] == fields
    assert sink.calls == []


# -- progress ------------------------------------------------------------------------------------


async def test_progress_events_tell_the_whole_run_in_order() -> None:
    runner, sink = make_runner(
        fake_check("SEC-001", per_pod(Status.FAILING), severity=Severity.HIGH),
        fake_check("REL-001", per_pod(Status.PASSING)),
    )
    queued = await runner.start(MANIFESTS)
    subscription = runner.bus.subscribe(queued.run_id)
    events = [event async for event in subscription]
    payloads = [e.payload for e in events]
    assert [e.sequence for e in events] == list(range(1, len(events) + 1))

    assert payloads[0] == RunStateChanged(RunState.QUEUED, total_checks=2)
    assert payloads[1] == RunStateChanged(RunState.RUNNING, total_checks=2)
    started = [p for p in payloads if isinstance(p, CheckStarted)]
    finished = [p for p in payloads if isinstance(p, CheckFinished)]
    assert {p.check_id for p in started} == {p.check_id for p in finished} == {"SEC-001", "REL-001"}
    position = {(type(p), getattr(p, "check_id", "")): i for i, p in enumerate(payloads)}
    for check_id in ("SEC-001", "REL-001"):  # each check starts before it finishes
        assert position[(CheckStarted, check_id)] < position[(CheckFinished, check_id)]
    assert [p.completed_checks for p in finished] == [1, 2]
    outcome = {p.check_id: (p.outcome, p.counts) for p in finished}
    assert outcome == {
        "SEC-001": (Status.FAILING, StatusCounts(failing=3)),
        "REL-001": (Status.PASSING, StatusCounts(passing=3)),
    }
    assert payloads[-2] == RunStateChanged(RunState.COMPLETED)
    final = payloads[-1]
    assert isinstance(final, RunFinished)
    assert final.run == sink.runs[queued.run_id]
    assert final.summary.counts == StatusCounts(passing=3, failing=3)
    assert final.summary.by_severity == {Severity.HIGH: 3}
    assert final.summary.run_id == queued.run_id
    assert runner.bus.subscriber_count() == 0
