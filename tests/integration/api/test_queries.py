"""Query RPCs end to end: repository -> real grpc.aio server on port 0 -> generated client.

Runs on SQLite and on PostgreSQL (the ``repository`` fixture is parametrised over both).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import TypedDict

import grpc
import pytest
from google.protobuf import timestamp_pb2

from assay.client.api import AssayClient, ClientError
from assay.server.api import convert
from assay.server.core.types import AssessmentResult, Pillar, ResultQuery, Run, Severity, Status
from assay.server.storage.repository import Repository
from assay.v1 import assessment_pb2 as apb
from assay.v1 import common_pb2 as cpb
from tests.integration.api.seed import ROWS, T0, seed_run


class Seeded(TypedDict):
    runs: list[Run]
    results: list[AssessmentResult]
    first: list[AssessmentResult]
    second: list[AssessmentResult]
    staging: list[AssessmentResult]


@pytest.fixture
def seeded(repository: Repository) -> Seeded:
    first, first_results = seed_run(repository, "run_a", T0, ROWS)
    later = T0 + timedelta(hours=1)
    second, second_results = seed_run(
        repository,
        "run_b",
        later,
        [(Pillar.SECURITY, "SEC-001", Status.PASSING, Severity.CRITICAL)] * 3,
    )
    _, other_cluster = seed_run(
        repository,
        "run_c",
        later + timedelta(hours=1),
        [(Pillar.RELIABILITY, "REL-001", Status.FAILING, Severity.HIGH)],
        cluster_id="staging",
    )
    return {
        "runs": [first, second],
        "results": first_results + second_results + other_cluster,
        "first": first_results,
        "second": second_results,
        "staging": other_cluster,
    }


def _order(results: list[AssessmentResult]) -> list[str]:
    return [str(r.id) for r in sorted(results, key=lambda r: (r.run_id, r.assessed_at, r.id))][::-1]


def _walk(
    call: Callable[[apb.ListAssessmentsRequest], apb.ListAssessmentsResponse],
    request: apb.ListAssessmentsRequest,
) -> list[str]:
    seen: list[str] = []
    while True:
        page = call(request)
        seen.extend(r.id for r in page.results)
        if not page.next_page_token:
            return seen
        request.page_token = page.next_page_token


def test_every_result_reads_back_identically(client: AssayClient, seeded: Seeded) -> None:
    for result in seeded["results"]:
        assert client.get_assessment(result.id) == convert.result(result)
    listed = client.list_assessments(
        apb.ListAssessmentsRequest(query=apb.AssessmentQuery(all_runs=True), page_size=1000)
    )
    expected = sorted(seeded["results"], key=lambda r: (r.run_id, r.assessed_at, r.id))[::-1]
    assert list(listed.results) == [convert.result(r) for r in expected]
    assert listed.next_page_token == ""
    assert not listed.HasField("total_size")  # only when asked for
    assert listed.run_id == ""


def test_the_default_is_the_latest_run_of_the_servers_cluster(
    client: AssayClient, seeded: Seeded
) -> None:
    page = client.list_assessments(apb.AssessmentQuery())

    assert page.run_id == "run_b"
    assert [r.id for r in page.results] == _order(seeded["second"])
    assert not page.HasField("total_size")  # not asked for
    counted = client.list_assessments(apb.ListAssessmentsRequest(include_total=True))
    assert counted.total_size == 3
    staging = client.list_assessments(apb.AssessmentQuery(cluster_id="staging"))
    assert (staging.run_id, [r.id for r in staging.results]) == (
        "run_c",
        [r.id for r in seeded["staging"]],
    )
    assert client.get_summary(apb.AssessmentQuery()).run_id == "run_b"
    assert client.get_summary(apb.AssessmentQuery()).counts.total == 3
    everything = client.get_summary(apb.AssessmentQuery(all_runs=True))
    assert (everything.run_id, everything.counts.total) == ("", len(seeded["results"]))


def test_a_cluster_without_finished_runs_has_no_results(
    client: AssayClient, seeded: Seeded
) -> None:
    page = client.list_assessments(
        apb.ListAssessmentsRequest(
            query=apb.AssessmentQuery(cluster_id="nowhere"), include_total=True
        )
    )

    assert (list(page.results), page.run_id, page.total_size) == ([], "", 0)
    summary = client.get_summary(apb.AssessmentQuery(cluster_id="nowhere"))
    assert (summary.run_id, summary.counts.total) == ("", 0)


def test_runs_read_back_identically(client: AssayClient, seeded: Seeded) -> None:
    for run in seeded["runs"]:
        assert client.get_run(run.run_id) == convert.run(run)
    page = client.list_runs(apb.ListRunsRequest())
    assert [r.run_id for r in page.runs] == ["run_c", "run_b", "run_a"]
    only_partial = client.list_runs(apb.ListRunsRequest(states=[apb.RUN_PHASE_PARTIAL]))
    assert [r.run_id for r in only_partial.runs] == ["run_a"]


def test_filters_select_exactly_the_matching_results(client: AssayClient, seeded: Seeded) -> None:
    def ids(query: apb.AssessmentQuery) -> set[str]:
        return {r.id for r in client.list_assessments(query).results}

    first = seeded["first"]
    assert ids(apb.AssessmentQuery(run_id="run_a")) == {r.id for r in first}
    assert ids(apb.AssessmentQuery(run_id="run_a", pillars=[cpb.PILLAR_RELIABILITY])) == {
        r.id for r in first if r.pillar is Pillar.RELIABILITY
    }
    statuses = [cpb.STATUS_FAILING, cpb.STATUS_WARNING]
    assert ids(apb.AssessmentQuery(all_runs=True, statuses=statuses)) == {
        r.id for r in seeded["results"] if r.status in (Status.FAILING, Status.WARNING)
    }
    assert ids(apb.AssessmentQuery(run_id="run_a", check_id="SEC-003")) == {
        r.id for r in first if r.check_id == "SEC-003"
    }
    since = timestamp_pb2.Timestamp()
    since.FromDatetime(T0 + timedelta(minutes=30))
    assert ids(apb.AssessmentQuery(all_runs=True, since=since)) == {
        r.id for r in seeded["second"] + seeded["staging"]
    }


@pytest.mark.parametrize(
    "query",
    [
        apb.AssessmentQuery(all_runs=True),
        apb.AssessmentQuery(run_id="run_a"),
        apb.AssessmentQuery(all_runs=True, pillars=[cpb.PILLAR_SECURITY, cpb.PILLAR_RELIABILITY]),
    ],
    ids=["all-runs", "one-run", "pillars"],
)
def test_pages_walk_the_listing_without_overlap(
    client: AssayClient, seeded: Seeded, query: apb.AssessmentQuery
) -> None:
    request = apb.ListAssessmentsRequest(query=query, page_size=3, include_total=True)
    expected = client.list_assessments(
        apb.ListAssessmentsRequest(query=query, page_size=1000)
    ).results

    seen = _walk(client.list_assessments, request)

    assert seen == [r.id for r in expected]
    assert client.list_assessments(request).total_size == len(expected)


def test_foreign_and_tampered_tokens_are_invalid_arguments_naming_the_field(
    client: AssayClient, seeded: Seeded
) -> None:
    request = apb.ListAssessmentsRequest(query=apb.AssessmentQuery(all_runs=True), page_size=2)
    token = client.list_assessments(request).next_page_token
    runs_token = client.list_runs(apb.ListRunsRequest(page_size=1)).next_page_token
    tampered = token[:-2] + ("AA" if token[-2:] != "AA" else "BB")

    for bad_request in (
        apb.ListAssessmentsRequest(query=apb.AssessmentQuery(run_id="run_a"), page_token=token),
        apb.ListAssessmentsRequest(query=apb.AssessmentQuery(all_runs=True), page_token=tampered),
        apb.ListAssessmentsRequest(query=apb.AssessmentQuery(all_runs=True), page_token=runs_token),
    ):
        with pytest.raises(ClientError) as caught:
            client.list_assessments(bad_request)
        assert caught.value.code is grpc.StatusCode.INVALID_ARGUMENT
        assert str(caught.value).startswith("invalid argument: page_token: ")
    with pytest.raises(ClientError) as caught:
        client.get_history(apb.GetHistoryRequest(page_token=token))
    assert str(caught.value).startswith("invalid argument: page_token: ")


def test_runs_and_history_page_with_tokens(client: AssayClient, seeded: Seeded) -> None:
    first = client.list_runs(apb.ListRunsRequest(page_size=2, include_total=True))
    rest = client.list_runs(apb.ListRunsRequest(page_size=2, page_token=first.next_page_token))
    assert [r.run_id for r in [*first.runs, *rest.runs]] == ["run_c", "run_b", "run_a"]
    assert (first.total_size, rest.HasField("total_size"), rest.next_page_token) == (3, False, "")

    history = client.get_history(apb.GetHistoryRequest(page_size=1))
    more = client.get_history(
        apb.GetHistoryRequest(page_size=5, page_token=history.next_page_token)
    )
    assert [e.run_id for e in [*history.entries, *more.entries]] == ["run_c", "run_b", "run_a"]


def test_summary_counts_and_score(client: AssayClient, seeded: Seeded) -> None:
    summary = client.get_summary(apb.AssessmentQuery(run_id="run_a"))
    assert summary.run_id == "run_a"
    assert (summary.counts.passing, summary.counts.failing, summary.counts.warning) == (2, 2, 1)
    assert (summary.counts.skipped, summary.counts.error, summary.counts.timeout) == (1, 1, 1)
    assert summary.counts.total == 8
    assert summary.score == pytest.approx(40.0)  # 2 passing of 5 judged
    security = next(p for p in summary.pillars if p.pillar == cpb.PILLAR_SECURITY)
    assert (security.counts.passing, security.counts.failing) == (1, 2)
    assert security.score == pytest.approx(100 / 3, abs=0.01)
    failing_by_severity = {s.severity: s.count for s in summary.by_severity}
    assert failing_by_severity == {cpb.SEVERITY_CRITICAL: 1, cpb.SEVERITY_HIGH: 1}


def test_summary_without_denominator_has_no_score(
    client: AssayClient, repository: Repository
) -> None:
    seed_run(
        repository,
        "run_skipped",
        T0,
        [(Pillar.SUSTAINABILITY, "SUS-001", Status.SKIPPED, Severity.LOW)] * 2,
    )
    summary = client.get_summary(apb.AssessmentQuery(run_id="run_skipped"))
    assert summary.counts.skipped == 2
    assert not summary.HasField("score")
    assert not client.get_run("run_skipped").HasField("score")
    entry = client.get_history(apb.GetHistoryRequest()).entries[0]
    assert not entry.HasField("score")


def test_history_has_one_row_per_finished_run(client: AssayClient, seeded: Seeded) -> None:
    page = client.get_history(apb.GetHistoryRequest(cluster_id="default", include_total=True))
    assert [e.run_id for e in page.entries] == ["run_b", "run_a"]
    assert page.total_size == 2
    newest, oldest = page.entries
    assert newest.counts.passing == 3 and newest.score == pytest.approx(100.0)
    assert oldest.state == apb.RUN_PHASE_PARTIAL
    pillars = {p.pillar: p.counts for p in oldest.pillars}
    assert pillars[cpb.PILLAR_RELIABILITY].warning == 1
    assert not client.get_history(apb.GetHistoryRequest(cluster_id="other")).entries


def test_unknown_ids_are_not_found(client: AssayClient, seeded: Seeded) -> None:
    for call in (lambda: client.get_run("run_nope"), lambda: client.get_assessment("asm_nope")):
        with pytest.raises(ClientError) as caught:
            call()
        assert caught.value.code is grpc.StatusCode.NOT_FOUND
    with pytest.raises(ClientError) as caught:
        client.get_summary(apb.AssessmentQuery(run_id="run_nope"))
    assert caught.value.code is grpc.StatusCode.NOT_FOUND


def test_the_fast_conversion_equals_the_domain_conversion(
    repository: Repository, seeded: Seeded
) -> None:
    page = repository.list_result_rows(ResultQuery(limit=1000))
    fast = apb.ListAssessmentsResponse()
    convert.add_result_rows(fast.results, page)

    assert len(page.rows) == len(seeded["results"])
    assert list(fast.results) == [convert.result(result) for result in page.results()]
    assert (
        fast.SerializeToString()
        == apb.ListAssessmentsResponse(
            results=[convert.result(result) for result in page.results()]
        ).SerializeToString()
    )


def test_the_fast_history_conversion_equals_the_domain_conversion(
    repository: Repository, seeded: Seeded
) -> None:
    seed_run(repository, "run_empty", T0 + timedelta(days=1), [])
    records = repository.history_records(limit=100).items

    assert len(records) == 4
    for record in records:
        assert convert.history_record(record) == convert.history(record.to_domain())
