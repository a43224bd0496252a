"""Cancel requests stored with the run, owners, and the history of runs failed by others."""

from __future__ import annotations

from datetime import timedelta

from assay.server.assessment.sink import CancelOutcome
from assay.server.core.types import Run, RunId, RunState, StatusCounts
from assay.server.storage.repository import Repository
from tests.integration.storage.builders import T0, finished, make_result, make_run

NOW = T0 + timedelta(minutes=10)
STALE = NOW - timedelta(minutes=1)


def cancel(
    repository: Repository,
    run: Run,
    *,
    replica: str = "replica-b",
    dead_reason: str = "dead",
) -> tuple[Run, CancelOutcome]:
    """``run`` cancelled "by request" at NOW by ``replica``, heartbeats before STALE dead."""
    return repository.request_cancel(
        run.run_id,
        "cancelled by request",
        NOW,
        stale_before=STALE,
        replica=replica,
        dead_reason=dead_reason,
    )


def test_a_request_for_a_live_owner_is_stored_and_found_by_its_heartbeat(
    repository: Repository,
) -> None:
    run = make_run("live", state=RunState.RUNNING, requested_at=NOW)
    repository.create_run(run, owner="replica-a")
    answered, outcome = cancel(repository, run)
    assert outcome is CancelOutcome.REQUESTED
    assert answered.state is RunState.RUNNING
    assert repository.heartbeat([RunId("live")], NOW) == {"live": "cancelled by request"}


def test_a_heartbeat_without_requests_finds_none(repository: Repository) -> None:
    repository.create_run(make_run("quiet", state=RunState.RUNNING), owner="replica-a")
    assert repository.heartbeat([RunId("quiet")], NOW) == {}


def test_a_dead_owner_fails_the_run_at_once_with_counts_and_history(
    repository: Repository,
) -> None:
    run = make_run("dead", state=RunState.RUNNING, requested_at=T0)  # heartbeat at T0: stale
    repository.create_run(run, owner="replica-a")
    repository.add_results([make_result("dead", n) for n in range(4)])  # run row not updated
    answered, outcome = cancel(repository, run, dead_reason="owner died")
    assert outcome is CancelOutcome.OWNER_GONE
    assert answered.state is RunState.FAILED
    assert answered.error == "owner died"
    assert answered.counts.total == 4  # recounted from the stored results
    [entry] = repository.history().items
    assert (entry.run_id, entry.state, entry.counts) == ("dead", RunState.FAILED, answered.counts)


def test_the_callers_own_name_is_a_dead_owner_whatever_the_heartbeat(
    repository: Repository,
) -> None:
    run = make_run("mine", state=RunState.RUNNING, requested_at=NOW)  # fresh heartbeat
    repository.create_run(run, owner="replica-a")
    _, outcome = cancel(repository, run, replica="replica-a", dead_reason="restarted")
    assert outcome is CancelOutcome.OWNER_GONE


def test_a_finished_run_is_returned_as_it_is(repository: Repository) -> None:
    done = finished(make_run("done"), [])
    repository.create_run(done, owner="replica-a")
    answered, outcome = cancel(repository, done)
    assert outcome is CancelOutcome.ENDED
    assert answered == done


def test_the_sweep_fails_stale_runs_and_the_owners_own_with_history(
    repository: Repository,
) -> None:
    repository.create_run(make_run("stale", state=RunState.RUNNING, requested_at=T0), owner="b")
    repository.create_run(make_run("mine", state=RunState.RUNNING, requested_at=NOW), owner="a")
    repository.create_run(make_run("other", state=RunState.RUNNING, requested_at=NOW), owner="b")
    repository.add_results([make_result("stale", 1)])

    failed = repository.fail_unfinished_runs("gone", NOW, stale_before=STALE, owner="a")

    assert failed == ["mine", "stale"]
    assert repository.get_run("other").state is RunState.RUNNING
    history = {str(e.run_id): e for e in repository.history().items}
    assert set(history) == {"mine", "stale"}
    assert history["stale"].counts == repository.get_run("stale").counts
    assert history["mine"].counts == StatusCounts()


def test_results_and_the_run_row_are_written_together(repository: Repository) -> None:
    run = make_run("together", state=RunState.RUNNING)
    repository.create_run(run)
    results = [make_result("together", n) for n in range(3)]
    counted = finished(run, results, state=RunState.RUNNING, completed_at=None)
    repository.add_results(results, run=counted)
    assert repository.get_run("together").counts == counted.counts
    assert counted.counts.total == 3
