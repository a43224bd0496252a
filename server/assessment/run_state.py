"""The run lifecycle as an explicit state machine, used by the runner.

::

    queued ──► running ──► completed   every selected check ran (whatever its findings)
       │          ├──────► partial     some checks ended in error or timeout
       │          ├──────► failed      the inventory or storage could not be used
       │          └──────► cancelled   CancelRun, or the server shutting down
       ├─────────────────► failed      (inventory never built; crash recovery)
       └─────────────────► cancelled

Terminal states have no way out. :func:`advance` returns the new immutable :class:`Run`,
stamping ``started_at`` on entering running and ``completed_at`` on entering a terminal state.
:class:`RunTally` adds up a run's results as they are recorded, for the run row, the
history row and the final summary, so all three agree with the stored results.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from assay.server.core.types import (
    HistoryEntry,
    Pillar,
    Run,
    RunState,
    Severity,
    Status,
    StatusCounts,
    Summary,
)

TRANSITIONS: dict[RunState, frozenset[RunState]] = {
    RunState.QUEUED: frozenset({RunState.RUNNING, RunState.FAILED, RunState.CANCELLED}),
    RunState.RUNNING: frozenset(
        {RunState.COMPLETED, RunState.PARTIAL, RunState.FAILED, RunState.CANCELLED}
    ),
    RunState.COMPLETED: frozenset(),
    RunState.PARTIAL: frozenset(),
    RunState.FAILED: frozenset(),
    RunState.CANCELLED: frozenset(),
}


class InvalidTransition(RuntimeError):
    """A programming error: the runner asked for a move the lifecycle forbids."""

    def __init__(self, current: RunState, target: RunState) -> None:
        super().__init__(f"run cannot go from {current} to {target}")
        self.current = current
        self.target = target


def can_advance(current: RunState, target: RunState) -> bool:
    return target in TRANSITIONS[current]


def advance(run: Run, target: RunState, *, at: datetime, error: str = "") -> Run:
    """The run in ``target`` state; raises :class:`InvalidTransition` for a forbidden move."""
    if not can_advance(run.state, target):
        raise InvalidTransition(run.state, target)
    return dataclasses.replace(
        run,
        state=target,
        started_at=at if target is RunState.RUNNING else run.started_at,
        completed_at=at if target.terminal else run.completed_at,
        error=error or run.error,
    )


def outcome_state(outcomes: Iterable[Status]) -> RunState:
    """The terminal state of a run whose checks all ended with these outcomes."""
    troubled = {Status.ERROR, Status.TIMEOUT}
    return RunState.PARTIAL if any(o in troubled for o in outcomes) else RunState.COMPLETED


# Worst first: the status that sums up all results of one check in its CheckFinished event.
_OUTCOME_ORDER = (
    Status.ERROR,
    Status.TIMEOUT,
    Status.FAILING,
    Status.WARNING,
    Status.PASSING,
    Status.SKIPPED,
)


def check_outcome(counts: StatusCounts) -> Status:
    """One status for a check: its worst result; passing when it produced no result."""
    for status in _OUTCOME_ORDER:
        if counts.get(status):
            return status
    return Status.PASSING


@dataclass
class RunTally:
    """Running totals of a run's recorded results."""

    counts: StatusCounts = field(default_factory=StatusCounts)
    by_pillar: dict[Pillar, StatusCounts] = field(default_factory=dict)
    # Failing results per severity (the contract's Summary.by_severity; what --fail-on reads).
    by_severity: dict[Severity, int] = field(default_factory=dict)

    def add(
        self, pillar: Pillar, counts: StatusCounts, failing_by_severity: Mapping[Severity, int]
    ) -> None:
        """Count in the results of one check (they share its pillar)."""
        self.counts += counts
        self.by_pillar[pillar] = self.by_pillar.get(pillar, StatusCounts()) + counts
        for severity, failing in failing_by_severity.items():
            self.by_severity[severity] = self.by_severity.get(severity, 0) + failing

    def summary(self, run: Run) -> Summary:
        return Summary(
            counts=self.counts,
            by_pillar=dict(self.by_pillar),
            by_severity=dict(self.by_severity),
            run_id=run.run_id,
        )

    def history(self, run: Run) -> HistoryEntry:
        """The history row of a finished run."""
        if run.completed_at is None:
            raise ValueError(f"run {run.run_id} has not finished")
        return HistoryEntry(
            run_id=run.run_id,
            cluster_id=run.cluster_id,
            state=run.state,
            completed_at=run.completed_at,
            counts=self.counts,
            by_pillar=dict(self.by_pillar),
        )
