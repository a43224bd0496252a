"""The runner: creates a run, builds its inventory, executes its checks, records the outcome.

Called by the StartRun/CancelRun servicers and the scheduler; wired by the composition root
with the check catalogue (registry + policy), a :class:`~assay.server.assessment.sink.RunSink`
(storage), inventory providers per source (:mod:`.providers`), and the progress bus. It never
imports storage, gRPC or ``assay.v1``. Requests and their validation live in
:mod:`.requests`, check execution in threads in :mod:`.execution`.

Lifecycle of one run (states and transitions in :mod:`.run_state`)::

    start()  validate + resolve checks ── InvalidArgument / NotFound, nothing created
             sink.create_run (queued) ──── returns the Run; execution continues as a task
    task     inventory ─────────────────── InventoryError / timeout -> failed (error recorded)
             running (inventory diagnostics on the Run)
             checks, concurrently ──────── raise -> an ``error`` result, overrun -> ``timeout``
                 each check's results + the run's counts -> sink.add_results -> bus
             end: completed | partial ──── partial when a check ended in error or timeout
                  failed ────────────────── storage refused a write
                  cancelled ─────────────── cancel() / shutdown()
             sink.finish_run (run + history row; retried while storage is
             unavailable, for write_retry_s), RunFinished on the bus

Threads and timeouts
--------------------
Checks run in the server's pool of check threads (``check_threads``, shared by every run;
:mod:`.execution`), at most ``max_concurrency`` at a time per run. A check's timeout starts
when a thread takes it, so no check is charged for time spent waiting for a slot or a
thread. A check that overruns its timeout is reported ``timeout`` (its results, should it
finish later, are dropped) and the run goes on while its thread runs to its end in the
background; until it returns it keeps its run slot and its thread. A run whose every slot
is held by overrunning checks is ended by its run timeout (with no run timeout it waits for
one of them).

Admission: at most ``max_runs`` runs execute at once per server; :meth:`Runner.start` beyond
them raises ResourceExhausted with a retry hint, before anything is created.

Cancellation: CancelRun on the replica executing the run cancels it at once; on another
replica it is stored with the run (``RunSink.request_cancel``) and the owner finds it with
its next heartbeat (:meth:`Runner.cancel_requested`, called by
:class:`~assay.server.assessment.liveness.RunLiveness`). A run whose owner is gone is
failed on the spot.

Writes to the sink are issued from the loop one at a time and are never abandoned midway:
a cancellation that arrives while a check's results are being recorded waits for that step
to finish, so the counts in the run row and in the history row always match the stored
results.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TypeVar

from assay.server.assessment.execution import CheckExecutor, Outcome, RunContext, ms_since
from assay.server.assessment.liveness import CRASH_REASON
from assay.server.assessment.pace import RUN_PACE
from assay.server.assessment.progress import (
    CheckFinished,
    CheckStarted,
    EventPayload,
    ProgressBus,
    RunFinished,
    RunStateChanged,
)
from assay.server.assessment.providers import InventoryProvider
from assay.server.assessment.requests import RunRequest, resolve_checks
from assay.server.assessment.run_state import RunTally, advance, check_outcome, outcome_state
from assay.server.assessment.settings import AssessmentSettings
from assay.server.assessment.sink import CancelOutcome, RunSink
from assay.server.checks.kit import Check
from assay.server.checks.kit.catalogue import Catalogue
from assay.server.core.clock import SYSTEM_CLOCK, Clock
from assay.server.core.errors import (
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
    ResourceExhausted,
    Unavailable,
)
from assay.server.core.ids import RunIdFactory
from assay.server.core.threads import DaemonExecutor
from assay.server.core.types import (
    Pillar,
    Run,
    RunId,
    RunState,
    Source,
    Status,
)
from assay.server.inventory.errors import InventoryError
from assay.server.inventory.model import Inventory

log = logging.getLogger(__name__)

T = TypeVar("T")

SHUTTING_DOWN = "server shutting down"
CANCELLED_BY_USER = "cancelled by request"
# The retry hint of a StartRun refused because the server runs as many runs as it may.
ADMISSION_RETRY_S = 5.0
# Backoff between attempts of a run's write while storage is unavailable.
_RETRY_FIRST_S = 0.1
_RETRY_MAX_S = 2.0


# -- the runner -------------------------------------------------------------------------------


class _SinkFailure(Exception):
    """Storage refused a write; the run ends failed with this message."""


@dataclass(eq=False)
class _Execution:
    run: Run
    request: RunRequest
    checks: tuple[Check, ...]
    check_timeout_s: float
    run_timeout_s: float | None
    tally: RunTally = field(default_factory=RunTally)
    task: asyncio.Task[None] | None = None
    started: set[str] = field(default_factory=set)
    outcomes: list[Status] = field(default_factory=list)
    cancel_reason: str = ""
    driving: bool = False
    ending: bool = False

    @property
    def run_id(self) -> RunId:
        return self.run.run_id


class Runner:
    """Starts, executes, cancels and finishes assessment runs (see the module docstring)."""

    def __init__(
        self,
        *,
        catalogue: Catalogue,
        sink: RunSink,
        inventories: Mapping[Source, InventoryProvider],
        bus: ProgressBus | None = None,
        settings: AssessmentSettings | None = None,
        cluster_id: str = "",
        shutdown_grace_s: float = 5.0,
        check_threads: Executor | None = None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        """``settings``: timeouts, concurrency, runs kept, admission (``run_timeout_s=None``
        lets a run take as long as it needs); ``shutdown_grace_s``: how long
        :meth:`shutdown` waits for cancelled runs to record their end by default;
        ``check_threads``: the pool checks execute in (a pool of ``settings.check_threads``
        daemon threads of its own when not given)."""
        self._catalogue = catalogue
        self._sink = sink
        self._inventories = dict(inventories)
        self._bus = bus or ProgressBus()
        self._config = settings or AssessmentSettings()
        self._cluster_id = cluster_id
        self._shutdown_grace_s = shutdown_grace_s
        self._clock = clock
        self._run_ids = RunIdFactory()
        self._executor = CheckExecutor(
            catalogue=catalogue,
            clock=clock,
            threads=check_threads or DaemonExecutor(self._config.check_threads, name="check"),
            prepare=sink.prepare,
        )
        self._active: dict[RunId, _Execution] = {}
        self._starting = 0  # admitted runs being created (not in _active yet)
        self._recent: OrderedDict[RunId, Run] = OrderedDict()
        self._closing = False

    @property
    def bus(self) -> ProgressBus:
        return self._bus

    # -- public API -------------------------------------------------------------------------

    async def start(self, request: RunRequest, *, run_id: RunId | None = None) -> Run:
        """Validate, create the run (queued) and start executing it in the background.

        Raises InvalidArgument / NotFound for a bad request, FailedPrecondition for a check
        the policy disabled, Unavailable when the server is
        shutting down, and whatever the sink raises on create (AlreadyExists for a taken
        ``run_id``, Unavailable when storage is down); in every such case nothing runs.
        """
        if self._closing:
            raise Unavailable(SHUTTING_DOWN)
        checks = resolve_checks(self._catalogue, request)
        if request.source not in self._inventories:
            raise InvalidArgument(
                FieldViolation("source", f"{request.source} inventories are not available")
            )
        now = self._clock.now()
        run = Run(
            run_id=run_id or self._run_ids.new(now),
            state=RunState.QUEUED,
            scope=request.scope,
            source=request.source,
            requested_at=now,
            pillars=tuple(dict.fromkeys(Pillar(p) for p in request.pillars)),
            check_id=request.check_id,
            cluster_id=self._cluster_id,
            check_count=len(checks),
        )
        self.admit()  # a bad request is told so first, whatever the load
        self._starting += 1  # holds its place while it is created
        try:
            await self._sink.create_run(run)
        finally:
            self._starting -= 1
        execution = _Execution(
            run=run,
            request=request,
            checks=checks,
            check_timeout_s=request.check_timeout_s or self._config.check_timeout_s,
            run_timeout_s=request.run_timeout_s or self._config.run_timeout_s,
        )
        self._active[run.run_id] = execution
        self._bus.open(run.run_id)
        self._publish(execution, RunStateChanged(RunState.QUEUED, total_checks=len(checks)))
        execution.task = asyncio.create_task(self._drive(execution), name=f"assay {run.run_id}")
        log.info("run %s queued: %s, %d checks", run.run_id, run.scope, len(checks))
        return run

    def admit(self) -> None:
        """Raise Unavailable while shutting down, and ResourceExhausted (with a retry hint)
        while this server executes ``max_runs`` runs; StartManifestRun asks before it reads
        the upload, :meth:`start` again before it creates the run."""
        if self._closing:
            raise Unavailable(SHUTTING_DOWN)
        limit = self._config.max_runs
        if len(self._active) + self._starting >= limit:
            raise ResourceExhausted(
                f"this server is executing {limit} runs, its limit (ASSAY_MAX_RUNS); "
                f"try again in {ADMISSION_RETRY_S:g}s",
                retry_after_s=ADMISSION_RETRY_S,
            )

    async def cancel(self, run_id: RunId, *, reason: str = CANCELLED_BY_USER) -> Run:
        """Cancel a run and return it: once it has ended when this process executes it,
        at once otherwise.

        A run of this process that was already ending returns in its final state (it may
        have completed). A run executed by another replica gets a stored cancel request,
        which its owner acts on at its next heartbeat, and comes back still running; if its
        owner is gone (a stale heartbeat, or this server before a restart) it is failed at
        once and comes back failed. A run that finished earlier raises FailedPrecondition
        (unless it was cancelled), and one nobody knows raises NotFound.
        """
        execution = self._active.get(run_id)
        if execution is not None:
            self._request_cancel(execution, reason)
            return await self.wait(run_id)
        finished = self._recent.get(run_id)
        if finished is None:
            now = self._clock.now()
            finished, outcome = await self._sink.request_cancel(
                run_id,
                reason,
                now=now,
                stale_before=now - timedelta(seconds=self._config.run_stale_after_s),
                dead_reason=CRASH_REASON,
            )
            if outcome is CancelOutcome.REQUESTED:
                log.info("run %s: cancel requested from its owner", run_id)
                return finished
            if outcome is CancelOutcome.OWNER_GONE:
                log.warning("run %s failed: %s", run_id, finished.error)
                return finished
        if finished.state is RunState.CANCELLED:
            return finished
        raise FailedPrecondition(f"run {run_id} already ended {finished.state}")

    def cancel_requested(self, run_id: RunId, reason: str) -> None:
        """Another replica stored a cancel request for this run (found by the heartbeat)."""
        execution = self._active.get(run_id)
        if execution is not None:
            log.info("run %s: cancel requested through another replica", run_id)
            self._request_cancel(execution, reason or CANCELLED_BY_USER)

    async def wait(self, run_id: RunId) -> Run:
        """The run once it has ended (for tests and cancel); NotFound if unknown here."""
        execution = self._active.get(run_id)
        if execution is None:
            finished = self._recent.get(run_id)
            if finished is None:
                raise NotFound("run", run_id)
            return finished
        assert execution.task is not None
        await asyncio.wait({execution.task})  # never cancels the run when the waiter is
        return execution.run

    def get(self, run_id: RunId) -> Run | None:
        """This process's current view of a run it executes or recently executed."""
        execution = self._active.get(run_id)
        return execution.run if execution else self._recent.get(run_id)

    def active_runs(self) -> list[RunId]:
        return sorted(self._active)

    async def shutdown(self, *, grace_s: float | None = None) -> None:
        """Refuse new runs, cancel the running ones (error "server shutting down") and wait
        up to ``grace_s`` for them to record their end; call before closing storage."""
        self._closing = True
        tasks = []
        for execution in list(self._active.values()):
            self._request_cancel(execution, SHUTTING_DOWN)
            if execution.task is not None:
                tasks.append(execution.task)
        if not tasks:
            return
        grace = self._shutdown_grace_s if grace_s is None else grace_s
        _, pending = await asyncio.wait(tasks, timeout=grace)
        for task in pending:
            log.warning("%s did not record its end within %.1fs", task.get_name(), grace)

    # -- one run ----------------------------------------------------------------------------

    def _request_cancel(self, execution: _Execution, reason: str) -> None:
        if execution.ending or execution.cancel_reason:
            return
        execution.cancel_reason = reason
        # A task that has not started yet sees cancel_reason when it does; cancelling it
        # now would kill the coroutine before its handlers exist.
        if execution.driving and execution.task is not None:
            execution.task.cancel()

    async def _drive(self, execution: _Execution) -> None:
        execution.driving = True
        state: RunState
        error = ""
        try:
            if execution.cancel_reason:
                raise asyncio.CancelledError
            # The interpreter at a run's pace (see pace.py) from the inventory's loading,
            # which makes most of the run's objects, to its last check.
            with RUN_PACE.running():
                state, error = await self._execute(execution)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            while task is not None and task.cancelling():
                task.uncancel()
            state, error = RunState.CANCELLED, execution.cancel_reason or CANCELLED_BY_USER
        except _SinkFailure as exc:
            state, error = RunState.FAILED, str(exc)
        except Exception as exc:  # a bug must still end the run, not leave it running
            log.exception("run %s crashed", execution.run_id)
            state, error = RunState.FAILED, f"internal error: {type(exc).__name__}: {exc}"
        await self._finish(execution, state, error)

    async def _execute(self, execution: _Execution) -> tuple[RunState, str]:
        limit = execution.run_timeout_s
        deadline = None if limit is None else asyncio.get_running_loop().time() + limit
        provider = self._inventories[execution.request.source]
        budget = asyncio.timeout_at(deadline)
        try:
            async with budget:
                try:
                    inventory = await provider.load(execution.request, execution.checks)
                finally:
                    # Uploaded manifests can be large; the inventory is all the run needs.
                    execution.request = dataclasses.replace(execution.request, manifests=())
        except TimeoutError as exc:
            if budget.expired():
                return RunState.FAILED, (
                    f"inventory not built within the run timeout ({execution.run_timeout_s:g}s)"
                )
            return RunState.FAILED, f"inventory: {type(exc).__name__}: {exc}"
        except InventoryError as exc:
            return RunState.FAILED, f"inventory: {exc}"
        except Exception as exc:  # an unexpected client or provider error
            log.warning("run %s: inventory failed", execution.run_id, exc_info=True)
            return RunState.FAILED, f"inventory: {type(exc).__name__}: {exc}"

        diagnostics = tuple(str(d) for d in inventory.diagnostics)
        execution.run = dataclasses.replace(
            advance(execution.run, RunState.RUNNING, at=self._clock.now()), diagnostics=diagnostics
        )
        running = execution.run
        await _uninterrupted(self._write(lambda: self._sink.update_run(running)))
        self._publish(
            execution,
            RunStateChanged(
                RunState.RUNNING, diagnostics=diagnostics, total_checks=len(execution.checks)
            ),
        )
        try:
            await self._run_checks(execution, inventory, deadline)
        finally:
            inventory.release()  # freed at once when the run ends, not by a collection
        return outcome_state(execution.outcomes), ""

    async def _finish(self, execution: _Execution, state: RunState, error: str) -> None:
        execution.ending = True
        run = dataclasses.replace(execution.run, counts=execution.tally.counts)
        execution.run = advance(run, state, at=self._clock.now(), error=error)
        interrupted = False
        try:
            await self._record_end(execution)
        except asyncio.CancelledError:
            interrupted = True
        except Exception as exc:
            log.error("run %s: its end (%s) was not recorded: %s", execution.run_id, state, exc)
            execution.run = dataclasses.replace(
                execution.run,
                state=RunState.FAILED,
                error=_join(error, f"storage: the end of the run was not recorded: {exc}"),
            )
        self._publish(execution, RunStateChanged(execution.run.state, error=execution.run.error))
        self._publish(execution, RunFinished(execution.run, execution.tally.summary(execution.run)))
        self._active.pop(execution.run_id, None)
        self._recent[execution.run_id] = execution.run
        while len(self._recent) > self._config.retained_runs:
            self._recent.popitem(last=False)
        log.info(
            "run %s %s%s",
            execution.run_id,
            execution.run.state,
            f": {execution.run.error}" if execution.run.error else "",
        )
        if interrupted:
            raise asyncio.CancelledError

    async def _record_end(self, execution: _Execution) -> None:
        """The run's end and history row (the run stays this replica's, heartbeating, while
        it is retried)."""
        run, history = execution.run, execution.tally.history(execution.run)
        await self._retrying(lambda: _uninterrupted(self._sink.finish_run(run, history)))

    async def _retrying(self, write: Callable[[], Awaitable[None]]) -> None:
        """``write()``, again with backoff for ``write_retry_s`` while storage is unavailable
        (a locked SQLite file, a PostgreSQL restart); then its Unavailable propagates."""
        loop = asyncio.get_running_loop()
        give_up = loop.time() + self._config.write_retry_s
        delay = _RETRY_FIRST_S
        while True:
            try:
                await write()
                return
            except Unavailable as exc:
                if loop.time() + delay > give_up:
                    raise
                log.warning("a write failed, retrying in %.1fs: %s", delay, exc)
            await asyncio.sleep(delay)
            delay = min(delay * 2, _RETRY_MAX_S)

    # -- checks -----------------------------------------------------------------------------

    async def _run_checks(
        self, execution: _Execution, inventory: Inventory, deadline: float | None
    ) -> None:
        """Run every check; record outcomes one at a time as they arrive, in arrival order."""
        context = RunContext(
            run_id=execution.run_id,
            inventory=inventory,
            exemptions=self._catalogue.exemptions(
                inventory, today=execution.run.requested_at.date()
            ),
        )
        queue: asyncio.Queue[Outcome] = asyncio.Queue()
        slots = asyncio.Semaphore(max(1, self._config.max_concurrency))
        workers = {
            check.id: asyncio.create_task(
                self._check_worker(execution, check, context, slots, queue),
                name=f"assay {execution.run_id} {check.id}",
            )
            for check in execution.checks
        }
        waiting = set(workers)
        try:
            while waiting:
                try:
                    async with asyncio.timeout_at(deadline):
                        outcome = await queue.get()
                except TimeoutError:
                    break
                waiting.discard(outcome.check.id)
                await self._record(execution, outcome)
            if waiting:
                await self._run_timed_out(execution, workers, waiting, queue)
        finally:
            for worker in workers.values():
                worker.cancel()

    async def _run_timed_out(
        self,
        execution: _Execution,
        workers: Mapping[str, asyncio.Task[None]],
        waiting: set[str],
        queue: asyncio.Queue[Outcome],
    ) -> None:
        """The run timeout struck: every check still out becomes a ``timeout`` result."""
        for check_id in waiting:
            workers[check_id].cancel()
        await asyncio.gather(*(workers[c] for c in waiting), return_exceptions=True)
        while not queue.empty():  # outcomes that arrived just before the workers stopped
            outcome = queue.get_nowait()
            waiting.discard(outcome.check.id)
            await self._record(execution, outcome)
        limit = f"{execution.run_timeout_s:g}s"
        for check in execution.checks:
            if check.id in waiting:
                when = "finished" if check.id in execution.started else "started"
                message = f"run timeout ({limit}) reached before the check {when}"
                failure = self._executor.failure(
                    execution.run_id, check, Status.TIMEOUT, message, 0
                )
                await self._record(execution, failure)

    async def _check_worker(
        self,
        execution: _Execution,
        check: Check,
        context: RunContext,
        slots: asyncio.Semaphore,
        queue: asyncio.Queue[Outcome],
    ) -> None:
        await slots.acquire()
        spawned = self._executor.spawn(context, check, on_exit=slots.release)
        try:
            # Waiting for a thread of the shared pool is not the check's time.
            await spawned.started
        except asyncio.CancelledError:
            if spawned.job.cancel():  # never ran: its slot is released here
                slots.release()
            raise
        execution.started.add(check.id)
        definition = check.definition
        self._publish(execution, CheckStarted(definition.id, definition.name, definition.pillar))
        began = time.monotonic()
        future = spawned.outcome
        outcome: Outcome
        budget = asyncio.timeout(execution.check_timeout_s)
        try:
            # asyncio.timeout, not wait_for: 3.11's wait_for can swallow a cancellation (CancelRun)
            # that arrives as the check finishes.
            async with budget:
                outcome = await future
        except TimeoutError as exc:
            if not budget.expired():  # the check itself raised TimeoutError
                outcome = self._crashed(execution, check, exc, ms_since(began))
            elif future.done() and not future.cancelled() and future.exception() is None:
                outcome = future.result()  # it finished in the same loop turn as the deadline
            else:
                message = f"check did not finish within {execution.check_timeout_s:g}s"
                outcome = self._executor.failure(
                    execution.run_id, check, Status.TIMEOUT, message, ms_since(began)
                )
        except Exception as exc:
            outcome = self._crashed(execution, check, exc, ms_since(began))
        queue.put_nowait(outcome)

    def _crashed(
        self, execution: _Execution, check: Check, exc: BaseException, duration_ms: int
    ) -> Outcome:
        log.warning("run %s: check %s raised", execution.run_id, check.id, exc_info=exc)
        message = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        return self._executor.failure(execution.run_id, check, Status.ERROR, message, duration_ms)

    async def _record(self, execution: _Execution, outcome: Outcome) -> None:
        """Persist one check's results, then count them and announce the check's end.

        One uninterruptible step: a cancellation waits for it, so a batch is counted exactly
        when it was stored.
        """
        await _uninterrupted(self._record_now(execution, outcome))

    async def _record_now(self, execution: _Execution, outcome: Outcome) -> None:
        # The results and the run's counts with them go in one transaction, and count in
        # the tally only once stored: a run that ends failed here reports what was stored.
        run = dataclasses.replace(execution.run, counts=execution.tally.counts + outcome.counts)
        await self._write(
            lambda: self._sink.add_results(outcome.results, run=run, prepared=outcome.prepared)
        )
        execution.run = run
        definition = outcome.check.definition
        execution.tally.add(definition.pillar, outcome.counts, outcome.failing_by_severity)
        status = check_outcome(outcome.counts)
        execution.outcomes.append(status)
        self._publish(
            execution,
            CheckFinished(
                check_id=outcome.check.id,
                outcome=status,
                counts=outcome.counts,
                duration_ms=outcome.duration_ms,
                completed_checks=len(execution.outcomes),
                total_checks=len(execution.checks),
                error=outcome.error,
            ),
        )

    async def _write(self, write: Callable[[], Awaitable[None]]) -> None:
        """One sink call, retried while storage is unavailable; a failure becomes
        :class:`_SinkFailure` (the run ends failed)."""
        try:
            await self._retrying(write)
        except Exception as exc:
            raise _SinkFailure(f"storage: {type(exc).__name__}: {exc}") from exc

    def _publish(self, execution: _Execution, payload: EventPayload) -> None:
        self._bus.publish(execution.run_id, payload)


async def _uninterrupted(awaitable: Awaitable[T]) -> T:
    """Await ``awaitable`` to its end even when cancelled (once or more) meanwhile, then
    re-raise the cancellation: a write must not be left running behind the run's back.
    When cancelled, the awaitable's own outcome (result or error) is dropped."""
    task = asyncio.ensure_future(awaitable)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        while not task.done():
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait({task})  # waits without cancelling the task
        if not task.cancelled() and (error := task.exception()) is not None:
            log.warning("a write interrupted by cancellation failed: %s", error)
        raise


def _join(*parts: str) -> str:
    return "; ".join(p for p in parts if p)
