"""The run lifecycle: allowed moves, timestamps, and how outcomes decide the end state."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from assay.server.assessment.run_state import (
    TRANSITIONS,
    InvalidTransition,
    RunTally,
    advance,
    check_outcome,
    outcome_state,
)
from assay.server.core.types import (
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

T0 = datetime(2026, 2, 16, 10, 30, tzinfo=UTC)


def queued() -> Run:
    return Run(RunId("run_x"), RunState.QUEUED, RunScope.FULL, Source.MANIFESTS, T0)


def test_happy_path_stamps_times() -> None:
    running = advance(queued(), RunState.RUNNING, at=T0 + timedelta(seconds=1))
    assert running.started_at == T0 + timedelta(seconds=1)
    assert running.completed_at is None
    done = advance(running, RunState.COMPLETED, at=T0 + timedelta(seconds=2))
    assert done.state is RunState.COMPLETED
    assert done.started_at == T0 + timedelta(seconds=1)
    assert done.completed_at == T0 + timedelta(seconds=2)


def test_failure_records_the_error() -> None:
    failed = advance(queued(), RunState.FAILED, at=T0, error="manifest path missing")
    assert failed.error == "manifest path missing"
    assert failed.completed_at == T0


@pytest.mark.parametrize("terminal", [s for s in RunState if s.terminal])
def test_terminal_states_are_final(terminal: RunState) -> None:
    assert TRANSITIONS[terminal] == frozenset()
    run = advance(advance(queued(), RunState.RUNNING, at=T0), terminal, at=T0)
    for target in RunState:
        with pytest.raises(InvalidTransition):
            advance(run, target, at=T0)


def test_queued_cannot_complete_without_running() -> None:
    with pytest.raises(InvalidTransition):
        advance(queued(), RunState.COMPLETED, at=T0)


def test_outcomes_decide_completed_or_partial() -> None:
    assert outcome_state([Status.PASSING, Status.FAILING, Status.SKIPPED]) is RunState.COMPLETED
    assert outcome_state([]) is RunState.COMPLETED
    assert outcome_state([Status.PASSING, Status.TIMEOUT]) is RunState.PARTIAL
    assert outcome_state([Status.ERROR]) is RunState.PARTIAL


def test_check_outcome_is_the_worst_result() -> None:
    assert check_outcome(StatusCounts(passing=3, failing=1)) is Status.FAILING
    assert check_outcome(StatusCounts(passing=3, warning=1)) is Status.WARNING
    assert check_outcome(StatusCounts(skipped=2)) is Status.SKIPPED
    assert check_outcome(StatusCounts(passing=1, skipped=2)) is Status.PASSING
    assert check_outcome(StatusCounts()) is Status.PASSING
    assert check_outcome(StatusCounts(error=1)) is Status.ERROR


def test_tally_adds_up_checks_for_the_run_the_history_and_the_summary() -> None:
    tally = RunTally()
    tally.add(Pillar.SECURITY, StatusCounts(passing=2, failing=3), {Severity.HIGH: 3})
    tally.add(Pillar.SECURITY, StatusCounts(warning=1, skipped=1), {})
    tally.add(Pillar.RELIABILITY, StatusCounts(failing=1, error=1), {Severity.HIGH: 1})
    assert tally.counts == StatusCounts(passing=2, failing=4, warning=1, skipped=1, error=1)
    assert tally.by_pillar == {
        Pillar.SECURITY: StatusCounts(passing=2, failing=3, warning=1, skipped=1),
        Pillar.RELIABILITY: StatusCounts(failing=1, error=1),
    }
    assert tally.by_severity == {Severity.HIGH: 4}  # failing only, as GetSummary counts
    done = advance(
        advance(queued(), RunState.RUNNING, at=T0), RunState.PARTIAL, at=T0 + timedelta(1)
    )
    history = tally.history(done)
    assert (history.state, history.completed_at, history.counts) == (
        RunState.PARTIAL,
        T0 + timedelta(1),
        tally.counts,
    )
    summary = tally.summary(done)
    assert summary.run_id == done.run_id and summary.score == round(200 / 7, 2)
    with pytest.raises(ValueError):
        tally.history(queued())
