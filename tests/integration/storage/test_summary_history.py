"""Summaries (counts in SQL, score) and the per-run history rows."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from assay.server.core.errors import NotFound
from assay.server.core.types import (
    AssessmentResult,
    Pillar,
    ResultQuery,
    RunId,
    RunState,
    Severity,
    Status,
    StatusCounts,
    Summary,
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

SEC, REL = Pillar.SECURITY, Pillar.RELIABILITY


def _store(
    repository: Repository, run_id: str, spec: list[tuple[Pillar, Status, Severity]]
) -> list[AssessmentResult]:
    repository.create_run(make_run(run_id))
    results = [
        make_result(run_id, n, pillar=pillar, status=status, severity=severity)
        for n, (pillar, status, severity) in enumerate(spec)
    ]
    repository.add_results(results)
    return results


@pytest.fixture
def mixed(repository: Repository) -> list[AssessmentResult]:
    return _store(
        repository,
        "run-1",
        [
            (SEC, Status.PASSING, Severity.HIGH),
            (SEC, Status.PASSING, Severity.LOW),
            (SEC, Status.FAILING, Severity.HIGH),
            (SEC, Status.FAILING, Severity.CRITICAL),
            (SEC, Status.WARNING, Severity.LOW),
            (REL, Status.FAILING, Severity.MEDIUM),
            (REL, Status.FAILING, Severity.HIGH),
            (REL, Status.SKIPPED, Severity.HIGH),
            (REL, Status.ERROR, Severity.INFO),
            (REL, Status.TIMEOUT, Severity.INFO),
        ],
    )


def test_summary_of_a_run(repository: Repository, mixed: list[AssessmentResult]) -> None:
    summary = repository.summary(ResultQuery(run_id=RunId("run-1")))

    assert summary == Summary(
        counts=StatusCounts(passing=2, failing=4, warning=1, skipped=1, error=1, timeout=1),
        by_pillar={
            SEC: StatusCounts(passing=2, failing=2, warning=1),
            REL: StatusCounts(failing=2, skipped=1, error=1, timeout=1),
        },
        # Failing results only.
        by_severity={Severity.HIGH: 2, Severity.CRITICAL: 1, Severity.MEDIUM: 1},
        run_id=RunId("run-1"),
    )
    assert summary.score == pytest.approx(28.57)  # 2 passing of 7 judged
    assert summary.by_pillar[SEC].score == 40.0
    assert summary.by_pillar[REL].score == 0.0


def test_summary_honours_the_query_filters(
    repository: Repository, mixed: list[AssessmentResult]
) -> None:
    _store(repository, "run-2", [(SEC, Status.FAILING, Severity.LOW)])

    everything = repository.summary(ResultQuery())
    security = repository.summary(ResultQuery(pillars=frozenset({SEC})))
    recent = repository.summary(ResultQuery(run_id=RunId("run-1"), since=T0 + timedelta(seconds=8)))

    assert everything.run_id is None
    assert everything.counts.total == 11
    assert everything.by_severity[Severity.LOW] == 1
    assert set(security.by_pillar) == {SEC}
    assert security.counts == StatusCounts(passing=2, failing=3, warning=1)
    assert recent.counts == StatusCounts(error=1, timeout=1)


def test_nothing_judged_has_no_score(repository: Repository) -> None:
    _store(repository, "run-1", [(SEC, Status.SKIPPED, Severity.HIGH)] * 3)

    summary = repository.summary(ResultQuery(run_id=RunId("run-1")))

    assert summary.counts == StatusCounts(skipped=3)
    assert summary.score is None
    assert summary.by_severity == {}


def test_summary_of_a_run_without_results_is_empty(repository: Repository) -> None:
    repository.create_run(make_run("run-1"))

    summary = repository.summary(ResultQuery(run_id=RunId("run-1")))

    assert summary == Summary(
        counts=StatusCounts(), by_pillar={}, by_severity={}, run_id=RunId("run-1")
    )
    assert summary.score is None


def test_summary_of_an_unknown_run_is_not_found(repository: Repository) -> None:
    with pytest.raises(NotFound):
        repository.summary(ResultQuery(run_id=RunId("missing")))


def _finish(
    repository: Repository, run_id: str, cluster_id: str, minute: int, statuses: list[Status]
) -> None:
    run = make_run(run_id, cluster_id=cluster_id, requested_at=T0 + timedelta(minutes=minute))
    repository.create_run(run)
    results = [
        make_result(run_id, n, status=status, pillar=SEC if n % 2 == 0 else REL)
        for n, status in enumerate(statuses)
    ]
    repository.add_results(results)
    done = finished(run, results, state=RunState.COMPLETED)
    repository.finish_run(done, history_for(done, results))


def test_history_has_one_row_per_finished_run_newest_first(repository: Repository) -> None:
    _finish(repository, "r1", "prod", 0, [Status.PASSING, Status.FAILING])
    _finish(repository, "r2", "staging", 10, [Status.PASSING])
    _finish(repository, "r3", "prod", 20, [Status.PASSING, Status.PASSING, Status.WARNING])
    repository.create_run(make_run("unfinished", cluster_id="prod"))

    every = repository.history(include_total=True)
    prod = repository.history(cluster_id="prod")
    # Each run completes a minute after its request: r2 at exactly T0+11min.
    recent = repository.history(since=T0 + timedelta(minutes=11))
    first_page = repository.history(limit=1)
    second_page = repository.history(limit=1, page_token=first_page.next_page_token)
    last_page = repository.history(limit=2, page_token=second_page.next_page_token)

    assert [e.run_id for e in every.items] == ["r3", "r2", "r1"]
    assert every.total == 3
    assert [e.run_id for e in prod.items] == ["r3", "r1"]
    assert [e.run_id for e in recent.items] == ["r3", "r2"]  # since is inclusive
    assert [e.run_id for p in (first_page, second_page, last_page) for e in p.items] == [
        "r3",
        "r2",
        "r1",
    ]
    assert last_page.next_page_token == ""
    assert second_page.total is None  # not asked for

    r3 = every.items[0]
    assert r3.cluster_id == "prod"
    assert r3.state == RunState.COMPLETED
    assert r3.counts == StatusCounts(passing=2, warning=1)
    assert r3.by_pillar == {SEC: StatusCounts(passing=1, warning=1), REL: StatusCounts(passing=1)}
    assert r3.score == pytest.approx(66.67)


def test_history_stores_the_score_for_sql_queries(repository: Repository) -> None:
    _finish(repository, "r1", "prod", 0, [Status.PASSING, Status.FAILING])
    _finish(repository, "r2", "prod", 1, [Status.SKIPPED])

    with repository.engine.connect() as connection:
        rows = connection.execute(select(HistoryRow.run_id, HistoryRow.score)).all()
    scores = {run_id: score for run_id, score in rows}

    assert scores == {"r1": 50.0, "r2": None}
