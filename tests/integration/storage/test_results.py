"""Results: exact round trip, filters, ordering, pagination and totals."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, timedelta, timezone

import pytest
from sqlalchemy.exc import IntegrityError

from assay.server.core.errors import NotFound
from assay.server.core.types import (
    AssessmentResult,
    Pillar,
    ResultQuery,
    RunId,
    Severity,
    Status,
)
from assay.server.storage.repository import Repository
from tests.integration.storage.builders import T0, make_result, make_run


def _ids(results: list[AssessmentResult]) -> list[str]:
    return [r.id for r in results]


def test_results_read_back_identical_with_aware_utc_times(repository: Repository) -> None:
    repository.create_run(make_run("run-1"))
    paris = timezone(timedelta(hours=1))
    cluster_wide = make_result(
        "run-1",
        1,
        object=None,
        container="",
        message="Audit logging is off: ünïcode ✓",
        remediation="Enable --audit-log-path",
        severity=Severity.CRITICAL,
        status=Status.FAILING,
    )
    # Written with a +01:00 offset; read back as the same instant in UTC.
    offset_time = make_result("run-1", 2, assessed_at=(T0 + timedelta(seconds=2)).astimezone(paris))
    cluster_scoped_object = make_result("run-1", 3, object=None)
    results = [cluster_wide, offset_time, cluster_scoped_object, make_result("run-1", 4)]
    repository.add_results(results)

    for result in results:
        stored = repository.get_result(result.id)
        assert stored == result
        assert stored.assessed_at.tzinfo is UTC
    assert repository.get_result(offset_time.id).assessed_at == T0 + timedelta(seconds=2)


def test_unknown_result_is_not_found(repository: Repository) -> None:
    with pytest.raises(NotFound):
        repository.get_result("asm_missing")


def test_results_of_an_unknown_run_are_rejected(repository: Repository) -> None:
    # A constraint violation is a bug, not an outage: it must not turn into Unavailable.
    with pytest.raises(IntegrityError):
        repository.add_results([make_result("no-such-run", 1)])


def test_adding_no_results_is_a_no_op(repository: Repository) -> None:
    repository.add_results([])
    assert repository.list_results(ResultQuery()).total == 0


@pytest.fixture
def two_runs(repository: Repository) -> list[AssessmentResult]:
    """Ten results over two runs, pillars, statuses and checks, one second apart."""
    for run_id in ("run-a", "run-b"):
        repository.create_run(make_run(run_id))
    spec = [
        ("run-a", Pillar.SECURITY, Status.PASSING, "SEC001"),
        ("run-a", Pillar.SECURITY, Status.FAILING, "SEC001"),
        ("run-a", Pillar.SECURITY, Status.WARNING, "SEC002"),
        ("run-a", Pillar.RELIABILITY, Status.FAILING, "REL001"),
        ("run-a", Pillar.RELIABILITY, Status.SKIPPED, "REL002"),
        ("run-a", Pillar.COST_OPTIMIZATION, Status.ERROR, "COST001"),
        ("run-b", Pillar.SECURITY, Status.PASSING, "SEC001"),
        ("run-b", Pillar.RELIABILITY, Status.TIMEOUT, "REL001"),
        ("run-b", Pillar.RELIABILITY, Status.FAILING, "REL001"),
        ("run-b", Pillar.SUSTAINABILITY, Status.PASSING, "SUS001"),
    ]
    results = [
        make_result(run_id, n, pillar=pillar, status=status, check_id=check_id)
        for n, (run_id, pillar, status, check_id) in enumerate(spec)
    ]
    repository.add_results(results)
    return results


def _newest_first(results: list[AssessmentResult]) -> list[str]:
    return _ids(sorted(results, key=lambda r: (r.assessed_at, r.id), reverse=True))


def test_list_is_newest_first_with_total(
    repository: Repository, two_runs: list[AssessmentResult]
) -> None:
    page = repository.list_results(ResultQuery())

    assert page.items == sorted(two_runs, key=lambda r: r.assessed_at, reverse=True)
    assert page.total == 10


def test_equal_times_are_ordered_by_id_descending(repository: Repository) -> None:
    repository.create_run(make_run("run-1"))
    same_time = [make_result("run-1", n, assessed_at=T0) for n in (2, 9, 5)]
    repository.add_results(same_time)

    page = repository.list_results(ResultQuery())

    assert _ids(page.items) == ["asm_run-1_00009", "asm_run-1_00005", "asm_run-1_00002"]


def test_pages_partition_the_listing(
    repository: Repository, two_runs: list[AssessmentResult]
) -> None:
    pages = [repository.list_results(ResultQuery(limit=4, offset=o)) for o in (0, 4, 8, 12)]

    assert [len(p.items) for p in pages] == [4, 4, 2, 0]
    assert {p.total for p in pages} == {10}
    assert [r.id for p in pages for r in p.items] == _newest_first(two_runs)


@pytest.mark.parametrize(
    ("query", "matches"),
    [
        (ResultQuery(run_id=RunId("run-b")), lambda r: r.run_id == "run-b"),
        (
            ResultQuery(pillars=frozenset({Pillar.RELIABILITY, Pillar.SUSTAINABILITY})),
            lambda r: r.pillar in (Pillar.RELIABILITY, Pillar.SUSTAINABILITY),
        ),
        (
            ResultQuery(statuses=frozenset({Status.FAILING, Status.WARNING})),
            lambda r: r.status in (Status.FAILING, Status.WARNING),
        ),
        (ResultQuery(check_id="REL001"), lambda r: r.check_id == "REL001"),
        # since is inclusive: the result assessed exactly at T0+7s is in.
        (
            ResultQuery(since=T0 + timedelta(seconds=7)),
            lambda r: r.assessed_at >= T0 + timedelta(seconds=7),
        ),
        (
            ResultQuery(
                run_id=RunId("run-a"),
                pillars=frozenset({Pillar.SECURITY}),
                statuses=frozenset({Status.PASSING, Status.FAILING}),
                check_id="SEC001",
            ),
            lambda r: r.run_id == "run-a" and r.check_id == "SEC001" and r.status != Status.WARNING,
        ),
    ],
    ids=["run_id", "pillars", "statuses", "check_id", "since", "combined"],
)
def test_filters(
    repository: Repository,
    two_runs: list[AssessmentResult],
    query: ResultQuery,
    matches: Callable[[AssessmentResult], bool],
) -> None:
    expected = [r for r in two_runs if matches(r)]
    assert expected  # every case selects something, and not everything
    assert len(expected) < len(two_runs)

    page = repository.list_results(query)

    assert _ids(page.items) == _newest_first(expected)
    assert page.total == len(expected)


def test_since_compares_instants_not_wall_clock(
    repository: Repository, two_runs: list[AssessmentResult]
) -> None:
    plus_two = timezone(timedelta(hours=2))
    since = (T0 + timedelta(seconds=8)).astimezone(plus_two)

    page = repository.list_results(ResultQuery(since=since))

    assert page.total == 2
    assert all(r.assessed_at >= since for r in page.items)
    assert since.tzinfo is not UTC
