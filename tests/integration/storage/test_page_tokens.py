"""Page tokens on real databases: stable pages under concurrent writes, the latest run pinned
by the first page, and tampered or foreign tokens refused naming ``page_token``."""

from __future__ import annotations

import base64
import dataclasses
from datetime import timedelta
from pathlib import Path

import pytest

from assay.server.core.errors import InvalidArgument
from assay.server.core.types import (
    AssessmentResult,
    Pillar,
    ResultQuery,
    RunId,
    RunQuery,
    RunState,
    Status,
)
from assay.server.storage.engine import create_engine_from_url, migrate
from assay.server.storage.repository import Repository
from tests.integration.storage.builders import T0, finished, history_for, make_result, make_run


def _finish(repository: Repository, run_id: str, minute: int, count: int) -> list[AssessmentResult]:
    start = T0 + timedelta(minutes=minute)
    run = make_run(run_id, requested_at=start)
    repository.create_run(run)
    results = [
        make_result(
            run_id,
            n,
            assessed_at=start + timedelta(seconds=n // 3),  # ties, as a check's results have
            status=Status.FAILING if n % 4 == 0 else Status.PASSING,
        )
        for n in range(count)
    ]
    repository.add_results(results)
    done = finished(run, results, completed_at=start + timedelta(minutes=1))
    repository.finish_run(done, history_for(done, results))
    return results


def _order(results: list[AssessmentResult]) -> list[str]:
    return [str(r.id) for r in sorted(results, key=lambda r: (r.run_id, r.assessed_at, r.id))][::-1]


def _invalid_token(excinfo: pytest.ExceptionInfo[InvalidArgument]) -> str:
    [violation] = excinfo.value.violations
    assert violation.field == "page_token"
    return violation.description


@pytest.mark.parametrize("filtered", [False, True], ids=["unfiltered", "failing-only"])
def test_pages_stay_stable_while_results_are_written(
    repository: Repository, filtered: bool
) -> None:
    older = _finish(repository, "run_1", 0, 20)
    newer = _finish(repository, "run_2", 10, 20)
    statuses = frozenset({Status.FAILING}) if filtered else frozenset()
    query = ResultQuery(statuses=statuses, limit=7)
    expected = _order([r for r in older + newer if not filtered or r.status in statuses])

    seen: list[str] = []
    page = repository.list_results(query)
    seen.extend(r.id for r in page.items)
    # Between pages: a new run, more results in the run being read, in both its time
    # directions (a late check of the same run; an old straggler).
    repository.create_run(make_run("run_3", requested_at=T0 + timedelta(minutes=20)))
    repository.add_results([make_result("run_3", n, status=Status.FAILING) for n in range(5)])
    repository.add_results(
        [make_result("run_2", 100 + n, assessed_at=T0 + timedelta(hours=1)) for n in range(3)]
    )
    while page.next_page_token:
        page = repository.list_results(dataclasses.replace(query, page_token=page.next_page_token))
        seen.extend(r.id for r in page.items)

    # Everything that existed at the first page comes exactly once, in order; rows written
    # later that sort before the cursor never appear, so nothing shifts or repeats.
    assert len(seen) == len(set(seen))
    assert [i for i in seen if i in set(expected)] == expected
    assert not any(i.startswith("asm_run_3") for i in seen)


def test_the_latest_run_is_pinned_by_the_first_page(repository: Repository) -> None:
    _finish(repository, "run_1", 0, 5)
    second = _finish(repository, "run_2", 10, 5)
    query = ResultQuery(latest_run_of="prod", limit=2)

    first = repository.list_result_rows(query)
    assert first.run_id == "run_2"
    assert repository.list_result_rows(dataclasses.replace(query, include_total=True)).total == 5
    _finish(repository, "run_3", 20, 5)  # a newer run finishes while the client pages
    rest: list[str] = []
    token = first.next_page_token
    while token:
        page = repository.list_result_rows(dataclasses.replace(query, page_token=token))
        assert page.run_id == "run_2"
        rest.extend(result.id for result in page.results())
        token = page.next_page_token

    assert [result.id for result in first.results()] + rest == _order(second)
    assert repository.list_result_rows(query).run_id == "run_3"


def test_the_latest_run_skips_failed_cancelled_and_other_clusters(
    repository: Repository,
) -> None:
    _finish(repository, "run_1", 0, 3)
    for run_id, minute, changes in (
        ("run_2", 10, {"state": RunState.FAILED}),
        ("run_3", 20, {"state": RunState.CANCELLED}),
        ("run_4", 30, {"cluster_id": "staging"}),
    ):
        run = make_run(run_id, requested_at=T0 + timedelta(minutes=minute))
        repository.create_run(dataclasses.replace(run, **changes))
        done = finished(dataclasses.replace(run, **changes), [], **changes)
        repository.finish_run(done, history_for(done, []))
    repository.create_run(make_run("run_5", requested_at=T0 + timedelta(minutes=40)))

    assert repository.list_result_rows(ResultQuery(latest_run_of="prod")).run_id == "run_1"
    assert repository.list_result_rows(ResultQuery(latest_run_of="staging")).run_id == "run_4"
    nothing = repository.list_result_rows(ResultQuery(latest_run_of="dev", include_total=True))
    assert (list(nothing.rows), nothing.run_id, nothing.total) == ([], None, 0)
    filtered_out = ResultQuery(latest_run_of="prod", statuses=frozenset({Status.TIMEOUT}))
    assert repository.list_result_rows(filtered_out).run_id == "run_1"  # an empty page of it


def test_a_partial_run_counts_as_the_latest(repository: Repository) -> None:
    _finish(repository, "run_1", 0, 3)
    run = make_run("run_2", requested_at=T0 + timedelta(minutes=10))
    repository.create_run(run)
    done = finished(run, [], state=RunState.PARTIAL)
    repository.finish_run(done, history_for(done, []))

    assert repository.list_result_rows(ResultQuery(latest_run_of="prod")).run_id == "run_2"


def test_tokens_work_across_repositories_on_one_database(repository: Repository) -> None:
    results = _finish(repository, "run_1", 0, 9)
    first = repository.list_results(ResultQuery(limit=4))

    replica = Repository(repository.engine)
    rest = replica.list_results(ResultQuery(limit=10, page_token=first.next_page_token))

    assert [r.id for r in first.items + rest.items] == _order(results)


def _tampered(token: str) -> list[str]:
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    variants = []
    for index in (0, 1, 17, len(raw) // 2, len(raw) - 2):
        changed = bytearray(raw)
        changed[index] ^= 0x01
        variants.append(base64.urlsafe_b64encode(bytes(changed)).rstrip(b"=").decode())
    return variants


def test_tampered_tokens_are_invalid_arguments(repository: Repository) -> None:
    _finish(repository, "run_1", 0, 9)
    token = repository.list_results(ResultQuery(limit=2)).next_page_token
    assert token

    for bad in [
        *_tampered(token),
        token[:-3],
        token + "A",
        "",
        "!!!",
        "A" * 5000,
        "bm90IGEgdG9rZW4",
    ]:
        if not bad:
            continue
        with pytest.raises(InvalidArgument) as excinfo:
            repository.list_results(ResultQuery(limit=2, page_token=bad))
        assert _invalid_token(excinfo)


def test_foreign_tokens_are_invalid_arguments(repository: Repository) -> None:
    _finish(repository, "run_1", 0, 9)
    results_token = repository.list_results(ResultQuery(limit=2)).next_page_token
    runs = [make_run(f"r{i}", requested_at=T0 + timedelta(hours=i)) for i in range(3)]
    for run in runs:
        repository.create_run(run)
    runs_token = repository.list_runs(RunQuery(limit=1)).next_page_token

    # The same listing with other filters.
    with pytest.raises(InvalidArgument) as excinfo:
        repository.list_results(
            ResultQuery(limit=2, pillars=frozenset({Pillar.SECURITY}), page_token=results_token)
        )
    assert "other filters" in _invalid_token(excinfo)
    with pytest.raises(InvalidArgument) as excinfo:
        repository.list_results(
            ResultQuery(run_id=RunId("run_1"), limit=2, page_token=results_token)
        )
    assert "other filters" in _invalid_token(excinfo)
    # Another listing's token.
    with pytest.raises(InvalidArgument) as excinfo:
        repository.list_results(ResultQuery(limit=2, page_token=runs_token))
    assert "another listing" in _invalid_token(excinfo)
    with pytest.raises(InvalidArgument):
        repository.history(page_token=runs_token)
    # The page size may change between pages (AIP-158); that is not another query.
    assert repository.list_results(ResultQuery(limit=5, page_token=results_token)).items


def test_a_token_of_another_database_is_refused(repository: Repository, tmp_path: Path) -> None:
    _finish(repository, "run_1", 0, 9)
    token = repository.list_results(ResultQuery(limit=2)).next_page_token
    other_engine = create_engine_from_url(f"sqlite:///{tmp_path}/other.db")
    try:
        migrate(other_engine)
        other = Repository(other_engine)
        _finish(other, "run_1", 0, 9)
        with pytest.raises(InvalidArgument) as excinfo:
            other.list_results(ResultQuery(limit=2, page_token=token))
        assert "altered or was not issued" in _invalid_token(excinfo)
    finally:
        other_engine.dispose()
