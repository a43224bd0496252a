"""Executing one check of a run: in its own thread, into stored results.

The runner asks a :class:`CheckExecutor` to :meth:`~CheckExecutor.spawn` each check; the
check runs in a thread of the server's check pool (checks are synchronous functions over an
immutable inventory, and turning 50,000 findings into results is CPU work that must stay off
the event loop): :attr:`Spawned.started` settles when a thread takes it, its
:class:`Outcome` settles :attr:`Spawned.outcome`. A check that raised or ran out of time
gets the single ``error`` or ``timeout`` result of :meth:`failure`.

A Python thread cannot be killed: a check that overruns its timeout keeps running until it
returns, and its late outcome is dropped because the future is already done. The pool's
threads are daemons (``core.threads``), so they never hold up process exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field
from datetime import datetime

from assay.server.checks.kit import Check, Finding
from assay.server.checks.kit.catalogue import Catalogue
from assay.server.checks.kit.evaluate import evaluate
from assay.server.checks.kit.exemptions import Exemptions
from assay.server.core.clock import Clock
from assay.server.core.ids import ResultIdFactory
from assay.server.core.types import (
    AssessmentResult,
    ResultId,
    RunId,
    Severity,
    SourceLocation,
    Status,
    StatusCounts,
)
from assay.server.inventory.model import Inventory

log = logging.getLogger(__name__)

# Read once per result below; on Python 3.11 ``Status.FAILING`` costs a call of
# ``EnumType.__getattr__``'s hook each time.
_FAILING = Status.FAILING


@dataclass(frozen=True)
class Outcome:
    """What one check produced: its results, their counts (exemptions apart), the failing
    ones per severity, and for an error or timeout the message."""

    check: Check
    results: list[AssessmentResult]
    counts: StatusCounts
    duration_ms: int
    failing_by_severity: Mapping[Severity, int] = field(default_factory=dict)
    error: str = ""
    prepared: object = None
    """What the run's sink made of ``results`` in the check's thread (``RunSink.prepare``)."""


@dataclass(frozen=True)
class RunContext:
    """What every check of one run shares."""

    run_id: RunId
    inventory: Inventory
    exemptions: Exemptions


@dataclass(frozen=True)
class Spawned:
    """A check handed to the pool: ``started`` when a thread takes it, ``outcome`` when it
    is done; ``job`` is the pool's future (cancel it to drop a check still waiting)."""

    started: asyncio.Future[None]
    outcome: asyncio.Future[Outcome]
    job: Future[None]


class CheckExecutor:
    """Runs checks in the pool ``threads`` and builds their results, configured by the
    catalogue."""

    def __init__(
        self,
        *,
        catalogue: Catalogue,
        clock: Clock,
        threads: Executor,
        prepare: Callable[[Sequence[AssessmentResult]], object] | None = None,
    ) -> None:
        """``prepare``: applied to a check's results in its thread (``RunSink.prepare``)."""
        self._catalogue = catalogue
        self._clock = clock
        self._threads = threads
        self._prepare = prepare
        self._result_ids = ResultIdFactory()

    def spawn(self, scope: RunContext, check: Check, *, on_exit: Callable[[], None]) -> Spawned:
        """Evaluate ``check`` in a thread of the pool; its outcome settles ``outcome`` unless
        that is already done (timed out, cancelled): then it is dropped. ``on_exit`` runs on
        the loop when the thread is done with it, whatever happened (not when the job is
        cancelled before a thread took it)."""
        loop = asyncio.get_running_loop()
        started: asyncio.Future[None] = loop.create_future()
        future: asyncio.Future[Outcome] = loop.create_future()

        def begin() -> None:
            if not started.done():
                started.set_result(None)

        def settle(outcome: Outcome | None, error: BaseException | None) -> None:
            on_exit()
            if future.done():
                return
            if error is not None:
                future.set_exception(error)
            else:
                assert outcome is not None
                future.set_result(outcome)

        def work() -> None:
            with contextlib.suppress(RuntimeError):  # the loop is gone: nobody is waiting
                loop.call_soon_threadsafe(begin)
            outcome: Outcome | None = None
            error: BaseException | None = None
            try:
                outcome = self._prepared(self._evaluate(scope, check))
            except Exception as exc:
                error = exc
            except BaseException as exc:  # SystemExit & co. must not take the thread's slot
                error = RuntimeError(f"check aborted: {type(exc).__name__}: {exc}")
            with contextlib.suppress(RuntimeError):  # the loop is gone: nobody is waiting
                loop.call_soon_threadsafe(settle, outcome, error)

        return Spawned(started, future, self._threads.submit(work))

    def _prepared(self, outcome: Outcome) -> Outcome:
        """``outcome`` with what the sink's ``prepare`` made of its results; should that
        fail (a sink's bug, not the check's), the sink gets the results alone."""
        if self._prepare is None:
            return outcome
        try:
            prepared = self._prepare(outcome.results)
        except Exception:
            log.exception("preparing the results of %s failed", outcome.check.id)
            return outcome
        return dataclasses.replace(outcome, prepared=prepared)

    def failure(
        self, run_id: RunId, check: Check, status: Status, message: str, duration_ms: int
    ) -> Outcome:
        """The single ``error`` or ``timeout`` result of a check that did not finish."""
        at = self._clock.now()
        finding = Finding(status, None, message=message)
        ids = [self._result_ids.new(check.id, at)]
        severity = self._catalogue.severity(check)
        [result] = _results(run_id, check, ids, [finding], at, duration_ms, severity, None)
        return Outcome(check, [result], StatusCounts.of([status]), duration_ms, error=message)

    def _evaluate(self, scope: RunContext, check: Check) -> Outcome:
        began = time.monotonic()
        findings = evaluate(
            check,
            scope.inventory,
            params=self._catalogue.params(check),
            exemptions=scope.exemptions,
        )
        at = self._clock.now()
        duration_ms = ms_since(began)
        ids = self._result_ids.batch(check.id, at, len(findings))
        inventory = scope.inventory
        results = _results(
            scope.run_id,
            check,
            ids,
            findings,
            at,
            duration_ms,
            self._catalogue.severity_override(check),
            inventory if inventory.has_origins else None,
        )
        failing = Counter(r.severity for r in results if r.status is _FAILING)
        counts = StatusCounts.of(
            (r.status for r in results), exempted=sum(r.exempted for r in results)
        )
        return Outcome(check, results, counts, duration_ms, failing_by_severity=failing)


def _results(
    run_id: RunId,
    check: Check,
    ids: Sequence[ResultId],
    findings: Sequence[Finding],
    at: datetime,
    duration_ms: int,
    override: Severity | None,
    located: Inventory | None,
) -> list[AssessmentResult]:
    """The stored form of a check's findings. A severity set by the policy (``override``)
    wins over the check's own, including a finding's escalation; ``located`` is the
    inventory that knows where objects were read from (manifest runs), else ``None``.

    One of the hottest loops of a run (a result per object per check): what every result
    of the check shares is read once, and the results are built positionally."""
    definition = check.definition
    pillar, check_id, name = definition.pillar, definition.id, definition.name
    remediation, default = definition.remediation, definition.severity
    return [
        AssessmentResult(
            result_id,
            run_id,
            pillar,
            check_id,
            name,
            finding.status,
            override or finding.severity or default,
            finding.object,
            finding.container,
            finding.message,
            remediation,
            at,
            duration_ms,
            finding.exempted,
            None if located is None else _origin(located, finding),
        )
        for result_id, finding in zip(ids, findings, strict=True)
    ]


def _origin(inventory: Inventory, finding: Finding) -> SourceLocation | None:
    """The manifest file and line of the finding's object, when the inventory knows it."""
    ref = finding.object
    if ref is None:
        return None
    found = inventory.origin(ref.kind, ref.namespace, ref.name)
    return None if found is None else SourceLocation(found.path, found.line)


def ms_since(began: float) -> int:
    return int((time.monotonic() - began) * 1000)
