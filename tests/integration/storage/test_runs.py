"""Runs: create, state transitions, listing, finishing with history, and crash recovery."""

from __future__ import annotations

import dataclasses
from datetime import UTC, timedelta

import pytest
from sqlalchemy import func, select

from assay.server.core.errors import AlreadyExists, NotFound
from assay.server.core.types import (
    Pillar,
    RunId,
    RunQuery,
    RunScope,
    RunState,
    Source,
    StatusCounts,
)
from assay.server.storage.models import HistoryRow
from assay.server.storage.repository import Repository
from tests.integration.storage.builders import (
    T0,
    finished,
    history_for,
    make_result,
    make_run,
)


def test_run_round_trips_with_every_field(repository: Repository) -> None:
    run = make_run(
        scope=RunScope.PILLAR,
        source=Source.MANIFESTS,
        pillars=(Pillar.RELIABILITY, Pillar.SECURITY),
        check_id="",
        cluster_id="staging",
    )
    repository.create_run(run)

    stored = repository.get_run(run.run_id)

    assert stored == run
    assert stored.requested_at.tzinfo is UTC


def test_run_moves_through_its_states(repository: Repository) -> None:
    queued = make_run()
    repository.create_run(queued)

    running = dataclasses.replace(
        queued, state=RunState.RUNNING, started_at=T0 + timedelta(seconds=1), check_count=4
    )
    repository.update_run(running)
    assert repository.get_run(queued.run_id) == running

    progressing = dataclasses.replace(
        running, counts=StatusCounts(passing=3, failing=1), diagnostics=("check SEC002 slow",)
    )
    repository.update_run(progressing)
    assert repository.get_run(queued.run_id) == progressing

    partial = dataclasses.replace(
        progressing,
        state=RunState.PARTIAL,
        completed_at=T0 + timedelta(minutes=2),
        counts=StatusCounts(passing=3, failing=1, timeout=1),
        error="1 check timed out",
    )
    repository.update_run(partial)
    assert repository.get_run(queued.run_id) == partial


def test_creating_a_run_twice_is_already_exists(repository: Repository) -> None:
    repository.create_run(make_run("run-1"))

    with pytest.raises(AlreadyExists):
        repository.create_run(make_run("run-1", cluster_id="other"))
    assert repository.get_run("run-1").cluster_id == "prod"


def test_unknown_run_is_not_found(repository: Repository) -> None:
    with pytest.raises(NotFound):
        repository.get_run("missing")
    with pytest.raises(NotFound):
        repository.update_run(make_run("missing"))


def test_list_runs_newest_first_with_filters_and_pages(repository: Repository) -> None:
    runs = [make_run(f"run-{i}", requested_at=T0 + timedelta(minutes=i)) for i in range(5)]
    runs[1] = dataclasses.replace(runs[1], state=RunState.RUNNING)
    runs[3] = dataclasses.replace(runs[3], state=RunState.FAILED, error="boom")
    for run in runs:
        repository.create_run(run)

    everything = repository.list_runs(RunQuery(include_total=True))
    assert [r.run_id for r in everything.items] == ["run-4", "run-3", "run-2", "run-1", "run-0"]
    assert everything.total == 5
    assert everything.items[1] == runs[3]

    first = repository.list_runs(RunQuery(limit=2))
    second = repository.list_runs(RunQuery(limit=2, page_token=first.next_page_token))
    last = repository.list_runs(RunQuery(limit=2, page_token=second.next_page_token))
    assert [[r.run_id for r in p.items] for p in (first, second, last)] == [
        ["run-4", "run-3"],
        ["run-2", "run-1"],
        ["run-0"],
    ]
    assert last.next_page_token == ""
    assert first.total is None  # not asked for

    unfinished = repository.list_runs(RunQuery(states=frozenset({RunState.QUEUED})))
    assert [r.run_id for r in unfinished.items] == ["run-4", "run-2", "run-0"]
    queued_pages = repository.list_runs(RunQuery(states=frozenset({RunState.QUEUED}), limit=2))
    rest = repository.list_runs(
        RunQuery(
            states=frozenset({RunState.QUEUED}), limit=2, page_token=queued_pages.next_page_token
        )
    )
    assert [r.run_id for r in rest.items] == ["run-0"]

    recent = repository.list_runs(RunQuery(since=T0 + timedelta(minutes=3), include_total=True))
    assert [r.run_id for r in recent.items] == ["run-4", "run-3"]
    assert recent.total == 2


def test_finish_run_stores_the_run_and_one_history_row(repository: Repository) -> None:
    run = make_run()
    repository.create_run(run)
    results = [make_result(run.run_id, i) for i in range(3)]
    repository.add_results(results)
    done = finished(run, results)

    repository.finish_run(done, history_for(done, results))
    # A retry after a lost acknowledgement must not add a second history row.
    repository.finish_run(done, history_for(done, results))

    assert repository.get_run(run.run_id) == done
    assert repository.history().items == [history_for(done, results)]
    with repository.engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(HistoryRow)).scalar() == 1


def test_finish_of_an_unknown_run_writes_no_history(repository: Repository) -> None:
    run = finished(make_run("ghost"), [])

    with pytest.raises(NotFound):
        repository.finish_run(run, history_for(run, []))

    assert repository.history(include_total=True).total == 0


def test_fail_unfinished_runs_fails_only_queued_and_running(repository: Repository) -> None:
    queued = make_run("queued")
    running = make_run("running", state=RunState.RUNNING, started_at=T0)
    completed = finished(make_run("completed"), [])
    for run in (queued, running, completed):
        repository.create_run(run)
    now = T0 + timedelta(hours=1)

    failed = repository.fail_unfinished_runs("server restarted while the run was active", now)

    assert failed == ["queued", "running"]
    for run in (queued, running):
        assert repository.get_run(run.run_id) == dataclasses.replace(
            run,
            state=RunState.FAILED,
            error="server restarted while the run was active",
            completed_at=now,
        )
    assert repository.get_run("completed") == completed
    assert repository.fail_unfinished_runs("again", now) == []


def test_only_runs_with_a_stale_heartbeat_or_not_kept_are_failed(repository: Repository) -> None:
    # create_run stamps the first heartbeat with requested_at.
    stale = make_run("stale", state=RunState.RUNNING, requested_at=T0)
    fresh = make_run("fresh", state=RunState.RUNNING, requested_at=T0)
    kept = make_run("kept", state=RunState.RUNNING, requested_at=T0)
    for run in (stale, fresh, kept):
        repository.create_run(run)
    repository.heartbeat([RunId("fresh")], T0 + timedelta(minutes=10))
    now = T0 + timedelta(minutes=10, seconds=30)

    failed = repository.fail_unfinished_runs(
        "gone", now, stale_before=now - timedelta(minutes=1), keep=[RunId("kept")]
    )

    assert failed == ["stale"]
    assert repository.get_run("fresh").state is RunState.RUNNING
    assert repository.get_run("kept").state is RunState.RUNNING


def test_heartbeat_ignores_finished_runs(repository: Repository) -> None:
    done = finished(make_run("done"), [])
    repository.create_run(done)
    repository.heartbeat([RunId("done")], T0 + timedelta(days=1))
    assert repository.fail_unfinished_runs("gone", T0, stale_before=T0) == []
    assert repository.get_run("done") == done
