"""Query RPCs end to end: repository -> real grpc.aio server on port 0 -> generated client.

Runs on SQLite and on PostgreSQL (the ``repository`` fixture is parametrised over both).
"""

from __future__ import annotations

from datetime import timedelta
from typing import TypedDict

import grpc
import pytest
from google.protobuf import timestamp_pb2

from assay.client.api import AssayClient, ClientError
from assay.server.api import convert
from assay.server.core.types import AssessmentResult, Pillar, Run, Severity, Status
from assay.server.storage.repository import Repository
from assay.v1 import assessment_pb2 as apb
from assay.v1 import common_pb2 as cpb
from tests.integration.api.seed import ROWS, T0, seed_run


class Seeded(TypedDict):
    runs: list[Run]
    results: list[AssessmentResult]
    first: list[AssessmentResult]
    second: list[AssessmentResult]


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
    return {
        "runs": [first, second],
        "results": first_results + second_results,
        "first": first_results,
        "second": second_results,
    }


def test_every_result_reads_back_identically(client: AssayClient, seeded: Seeded) -> None:
    for result in seeded["results"]:
        assert client.get_assessment(result.id) == convert.result(result)
    listed = client.list_assessments(apb.AssessmentQuery(limit=1000))
    expected = sorted(seeded["results"], key=lambda r: (r.assessed_at, r.id), reverse=True)
    assert list(listed.results) == [convert.result(r) for r in expected]
    assert listed.total_count == len(expected)
    assert not listed.HasField("next_offset")


def test_runs_read_back_identically(client: AssayClient, seeded: Seeded) -> None:
    for run in seeded["runs"]:
        assert client.get_run(run.run_id) == convert.run(run)
    page = client.list_runs(apb.ListRunsRequest())
    assert [r.run_id for r in page.runs] == ["run_b", "run_a"]
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
    assert ids(apb.AssessmentQuery(statuses=statuses)) == {
        r.id for r in seeded["results"] if r.status in (Status.FAILING, Status.WARNING)
    }
    assert ids(apb.AssessmentQuery(check_id="SEC-003")) == {
        r.id for r in first if r.check_id == "SEC-003"
    }
    since = timestamp_pb2.Timestamp()
    since.FromDatetime(T0 + timedelta(minutes=30))
    assert ids(apb.AssessmentQuery(since=since)) == {r.id for r in seeded["second"]}


def test_pagination_walks_newest_first_without_overlap(client: AssayClient, seeded: Seeded) -> None:
    seen: list[str] = []
    offset = 0
    while True:
        page = client.list_assessments(apb.AssessmentQuery(limit=3, offset=offset))
        assert page.total_count == len(seeded["results"])
        seen.extend(r.id for r in page.results)
        if not page.HasField("next_offset"):
            break
        offset = page.next_offset
    expected = sorted(seeded["results"], key=lambda r: (r.assessed_at, r.id), reverse=True)
    assert seen == [r.id for r in expected]


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
    page = client.get_history(apb.GetHistoryRequest())
    assert [e.run_id for e in page.entries] == ["run_b", "run_a"]
    newest, oldest = page.entries
    assert newest.counts.passing == 3 and newest.score == pytest.approx(100.0)
    assert oldest.state == apb.RUN_PHASE_PARTIAL
    pillars = {p.pillar: p.counts for p in oldest.pillars}
    assert pillars[cpb.PILLAR_RELIABILITY].warning == 1
    assert client.get_history(apb.GetHistoryRequest(cluster_id="other")).total_count == 0


def test_unknown_ids_are_not_found(client: AssayClient, seeded: Seeded) -> None:
    for call in (lambda: client.get_run("run_nope"), lambda: client.get_assessment("asm_nope")):
        with pytest.raises(ClientError) as caught:
            call()
        assert caught.value.code is grpc.StatusCode.NOT_FOUND
    with pytest.raises(ClientError) as caught:
        client.get_summary(apb.AssessmentQuery(run_id="run_nope"))
    assert caught.value.code is grpc.StatusCode.NOT_FOUND
