"""Results: exact round trip through the driver-level write path, filters, order, pages."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, timedelta, timezone

import pytest
from sqlalchemy import func, select

from assay.server.core.errors import NotFound
from assay.server.core.types import (
    AssessmentResult,
    ObjectRef,
    Pillar,
    ResultQuery,
    RunId,
    Severity,
    Status,
)
from assay.server.storage.models import AssessmentRow, CheckRow
from assay.server.storage.repository import Repository
from tests.integration.storage.builders import T0, make_result, make_run


def _ids(results: list[AssessmentResult]) -> list[str]:
    return [r.id for r in results]


def _listing_order(results: list[AssessmentResult]) -> list[str]:
    """The documented order: run by run (newest run id first), newest result first."""
    return _ids(sorted(results, key=lambda r: (r.run_id, r.assessed_at, r.id), reverse=True))


def _everything(repository: Repository, query: ResultQuery) -> list[AssessmentResult]:
    items: list[AssessmentResult] = []
    token = ""
    while True:
        page = repository.list_results(dataclasses.replace(query, page_token=token, limit=3))
        items.extend(page.items)
        token = page.next_page_token
        if not token:
            return items


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
    cluster_scoped_object = make_result("run-1", 3, object=ObjectRef("Node", "n1"))
    # What COPY's text format must escape, and NUL, which PostgreSQL text cannot hold.
    awkward = make_result(
        "run-1",
        4,
        message="tab\there\nnewline \\N backslash \\ and NUL\x00end",
        container="c\\1",
        object=ObjectRef("Deployment", "we\tb", "sh\\op"),
    )
    results = [cluster_wide, offset_time, cluster_scoped_object, awkward, make_result("run-1", 5)]
    repository.add_results(results)

    expected = {r.id: r for r in results}
    expected[awkward.id] = make_result(
        "run-1",
        4,
        message="tab\there\nnewline \\N backslash \\ and NUL\ufffdend",
        container="c\\1",
        object=ObjectRef("Deployment", "we\tb", "sh\\op"),
    )
    for result in results:
        stored = repository.get_result(result.id)
        assert stored == expected[result.id]
        assert stored.assessed_at.tzinfo is UTC
    assert repository.get_result(offset_time.id).assessed_at == T0 + timedelta(seconds=2)
    listed = repository.list_results(ResultQuery(run_id=RunId("run-1"))).items
    assert sorted(listed, key=lambda r: r.id) == sorted(expected.values(), key=lambda r: r.id)


def test_check_metadata_is_stored_once_per_version(repository: Repository) -> None:
    repository.create_run(make_run("run-1"))
    renamed = "Containers must not run as root"
    repository.add_results([make_result("run-1", n) for n in range(50)])
    repository.add_results([make_result("run-1", n) for n in range(50, 60)])
    repository.add_results([make_result("run-1", 60, check_name=renamed)])

    with repository.engine.connect() as connection:
        versions = connection.execute(
            select(CheckRow.check_id, CheckRow.check_name).order_by(CheckRow.id)
        ).all()
        refs = connection.execute(
            select(func.count(func.distinct(AssessmentRow.check_ref)))
        ).scalar_one()
    assert [tuple(v) for v in versions] == [
        ("SEC001", "Containers run as non-root"),
        ("SEC001", renamed),
    ]
    assert refs == 2
    # Each result keeps the metadata it was produced with.
    assert repository.get_result(make_result("run-1", 3).id).check_name != renamed
    assert repository.get_result(make_result("run-1", 60).id).check_name == renamed


def test_a_second_repository_reads_versions_it_never_wrote(repository: Repository) -> None:
    repository.create_run(make_run("run-1"))
    repository.add_results([make_result("run-1", 1, remediation="do X")])

    fresh = Repository(repository.engine)  # another process: an empty cache

    assert fresh.get_result(make_result("run-1", 1).id).remediation == "do X"
    fresh.add_results([make_result("run-1", 2, remediation="do X")])
    with repository.engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(CheckRow)).scalar_one() == 1


def test_unknown_result_is_not_found(repository: Repository) -> None:
    with pytest.raises(NotFound):
        repository.get_result("asm_missing")


def test_results_of_an_unknown_run_are_rejected(repository: Repository) -> None:
    # A bug, not an outage: it must not turn into Unavailable.
    with pytest.raises(NotFound):
        repository.add_results([make_result("run-1", 0), make_result("no-such-run", 1)])
    # Nothing of the failed batch stayed behind, not even its check version in the cache.
    repository.create_run(make_run("no-such-run"))
    repository.add_results([make_result("no-such-run", 1)])
    assert (
        repository.list_results(ResultQuery(run_id=RunId("no-such-run"), include_total=True)).total
        == 1
    )
    assert repository.list_results(ResultQuery(include_total=True)).total == 1


def test_adding_no_results_is_a_no_op(repository: Repository) -> None:
    repository.add_results([])
    assert repository.list_results(ResultQuery(include_total=True)).total == 0


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


def test_list_is_run_by_run_newest_first(
    repository: Repository, two_runs: list[AssessmentResult]
) -> None:
    page = repository.list_results(ResultQuery(include_total=True))

    assert _ids(page.items) == _listing_order(two_runs)
    assert [r.run_id for r in page.items[:4]] == ["run-b"] * 4
    assert page.total == 10
    assert page.next_page_token == ""


def test_total_only_when_asked(repository: Repository, two_runs: list[AssessmentResult]) -> None:
    one_run = repository.list_results(ResultQuery(run_id=RunId("run-a"), limit=1))
    all_runs = repository.list_results(ResultQuery(limit=1))

    assert one_run.total is None and all_runs.total is None
    asked = ResultQuery(run_id=RunId("run-a"), limit=1, include_total=True)
    assert repository.list_results(asked).total == 6  # from the stored counts
    assert repository.list_results(ResultQuery(limit=1, include_total=True)).total == 10
    since = ResultQuery(run_id=RunId("run-a"), since=T0, limit=1, include_total=True)
    assert repository.list_results(since).total == 6


def test_equal_times_are_ordered_by_id_descending(repository: Repository) -> None:
    repository.create_run(make_run("run-1"))
    same_time = [make_result("run-1", n, assessed_at=T0) for n in (2, 9, 5)]
    repository.add_results(same_time)

    page = repository.list_results(ResultQuery())

    assert _ids(page.items) == ["asm_run-1_00009", "asm_run-1_00005", "asm_run-1_00002"]


@pytest.mark.parametrize("run_id", [None, "run-a"], ids=["all-runs", "one-run"])
def test_pages_partition_the_listing(
    repository: Repository, two_runs: list[AssessmentResult], run_id: str | None
) -> None:
    query = ResultQuery(run_id=RunId(run_id) if run_id else None)
    expected = _listing_order([r for r in two_runs if run_id in (None, r.run_id)])

    pages = []
    token = ""
    while True:
        page = repository.list_results(ResultQuery(run_id=query.run_id, limit=4, page_token=token))
        pages.append(_ids(page.items))
        token = page.next_page_token
        if not token:
            break

    assert [len(p) for p in pages] == [4] * (len(expected) // 4) + (
        [len(expected) % 4] if len(expected) % 4 else []
    )
    assert [i for p in pages for i in p] == expected


def test_a_page_ends_exactly_at_the_last_row_without_a_token(
    repository: Repository, two_runs: list[AssessmentResult]
) -> None:
    page = repository.list_results(ResultQuery(run_id=RunId("run-b"), limit=4))

    assert len(page.items) == 4
    assert page.next_page_token == ""


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
        (
            ResultQuery(check_id="REL001", statuses=frozenset({Status.FAILING})),
            lambda r: r.check_id == "REL001" and r.status is Status.FAILING,
        ),
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
        (
            ResultQuery(run_id=RunId("run-a"), pillars=frozenset({Pillar.SECURITY})),
            lambda r: r.run_id == "run-a" and r.pillar is Pillar.SECURITY,
        ),
    ],
    ids=[
        "run_id",
        "pillars",
        "statuses",
        "check_id",
        "check_id+status",
        "since",
        "combined",
        "run+pillar",
    ],
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

    assert _ids(_everything(repository, query)) == _listing_order(expected)
    counted = repository.list_results(dataclasses.replace(query, include_total=True)).total
    assert counted == len(expected)


def test_filters_that_match_nothing(
    repository: Repository, two_runs: list[AssessmentResult]
) -> None:
    for query in (
        ResultQuery(check_id="NOPE-001"),
        ResultQuery(check_id="SEC001", pillars=frozenset({Pillar.RELIABILITY})),
        ResultQuery(run_id=RunId("no-such-run")),
        ResultQuery(since=T0 + timedelta(days=1)),
    ):
        page = repository.list_results(dataclasses.replace(query, include_total=True))
        assert (page.items, page.total, page.next_page_token) == ([], 0, "")


def test_since_compares_instants_not_wall_clock(
    repository: Repository, two_runs: list[AssessmentResult]
) -> None:
    plus_two = timezone(timedelta(hours=2))
    since = (T0 + timedelta(seconds=8)).astimezone(plus_two)

    page = repository.list_results(ResultQuery(since=since, include_total=True))

    assert page.total == 2
    assert all(r.assessed_at >= since for r in page.items)
    assert since.tzinfo is not UTC
