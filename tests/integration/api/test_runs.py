"""StartRun, WatchRun, CancelRun and ListChecks through a real server on port 0."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import grpc
import pytest

from assay.client.api import AssayClient, ClientError
from assay.server.storage.repository import Repository
from assay.v1 import assessment_pb2 as apb
from assay.v1 import common_pb2 as cpb
from tests.integration.api.seed import ROWS, T0, seed_run
from tests.integration.api.uploads import start_manifest_run

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def start(client: AssayClient, **fields: Any) -> apb.RunState:
    return start_manifest_run(client, EXAMPLES, **fields)


def follow(client: AssayClient, run_id: str) -> list[apb.RunEvent]:
    return list(client.watch_run(run_id))


def assert_well_formed(events: list[apb.RunEvent], total_checks: int) -> None:
    """What every WatchRun stream holds, whether or not its progress was conflated: rising
    sequence numbers, every state change, the last check's end, and the run's end last."""
    sequences = [e.sequence for e in events]
    assert sequences == sorted(set(sequences)) and sequences[0] == 1
    kinds = [e.WhichOneof("event") for e in events]
    assert kinds[-1] == "run_finished"
    states = [e.state_changed.state for e in events if e.HasField("state_changed")]
    assert states == [apb.RUN_PHASE_QUEUED, apb.RUN_PHASE_RUNNING, apb.RUN_PHASE_COMPLETED]
    finished_checks = [e.check_finished for e in events if e.HasField("check_finished")]
    assert finished_checks[-1].completed_checks == finished_checks[-1].total_checks
    assert finished_checks[-1].total_checks == total_checks


def test_full_run_streams_progress_and_persists_results(client: AssayClient) -> None:
    run = start(client)
    assert run.state == apb.RUN_PHASE_QUEUED and run.scope == apb.RUN_SCOPE_FULL
    events = follow(client, run.run_id)
    checks = client.list_checks([])
    assert_well_formed(events, len(checks))
    final = events[-1].run_finished
    assert final.run.state == apb.RUN_PHASE_COMPLETED
    stored = client.get_run(run.run_id)
    assert stored.state == apb.RUN_PHASE_COMPLETED
    assert stored.counts == final.summary.counts == final.run.counts
    assert stored.counts.total > 0
    request = apb.ListAssessmentsRequest(
        query=apb.AssessmentQuery(run_id=run.run_id), page_size=1000, include_total=True
    )
    page = client.list_assessments(request)
    results = list(page.results)
    while page.next_page_token:  # the examples give more results than a page holds
        request.page_token = page.next_page_token
        page = client.list_assessments(request)
        results.extend(page.results)
    assert stored.counts.total == len(results)
    assert {r.check_id for r in results} == {c.id for c in checks}
    history = client.get_history(apb.GetHistoryRequest())
    assert history.entries[0].run_id == run.run_id
    assert history.entries[0].counts == stored.counts


def test_late_watcher_gets_the_replay(client: AssayClient) -> None:
    run = start(client)
    first = follow(client, run.run_id)
    again = follow(client, run.run_id)

    # Every state change and the end again; progress whole or, if the replay counts as
    # behind (published long before it is read), conflated: a subset, in order.
    assert_well_formed(again, len(client.list_checks([])))

    def essentials(events: list[apb.RunEvent]) -> list[apb.RunEvent]:
        return [e for e in events if e.WhichOneof("event") in ("state_changed", "run_finished")]

    assert essentials(again) == essentials(first)
    by_sequence = {e.sequence: e for e in first}
    assert all(by_sequence[e.sequence] == e for e in again)


def test_pillar_and_single_check_runs_execute_exactly_those(client: AssayClient) -> None:
    run = start(client, pillars=[cpb.PILLAR_RELIABILITY, cpb.PILLAR_COST_OPTIMIZATION])
    follow(client, run.run_id)
    page = client.list_assessments(
        apb.ListAssessmentsRequest(query=apb.AssessmentQuery(run_id=run.run_id), page_size=1000)
    )
    assert {r.check_id.split("-")[0] for r in page.results} == {"REL", "COST"}
    single = start(client, check_id="SEC-001")
    assert single.scope == apb.RUN_SCOPE_SINGLE
    follow(client, single.run_id)
    page = client.list_assessments(
        apb.ListAssessmentsRequest(query=apb.AssessmentQuery(run_id=single.run_id), page_size=1000)
    )
    assert {r.check_id for r in page.results} == {"SEC-001"}


def test_bad_manifests_become_diagnostics_and_the_run_goes_on(
    client: AssayClient, tmp_path: Path
) -> None:
    (tmp_path / "good.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: shop}\ndata: {a: b}\n"
    )
    (tmp_path / "broken.yaml").write_text("kind: [unclosed\n")
    run = start_manifest_run(client, tmp_path)
    final = follow(client, run.run_id)[-1].run_finished.run
    assert final.state == apb.RUN_PHASE_COMPLETED
    # Diagnostics name the file as the client named it.
    assert any(d.startswith(f"{tmp_path / 'broken.yaml'}:") for d in final.diagnostics)


@pytest.mark.parametrize(
    ("request_message", "code", "text"),
    [
        (apb.StartRunRequest(check_id="SEC-999"), grpc.StatusCode.NOT_FOUND, "SEC-999"),
        (
            apb.StartRunRequest(pillars=[cpb.Pillar.ValueType(42)]),
            grpc.StatusCode.INVALID_ARGUMENT,
            "pillars",
        ),
        (
            apb.StartRunRequest(source=apb.INVENTORY_SOURCE_MANIFESTS),
            grpc.StatusCode.INVALID_ARGUMENT,
            "source",
        ),
        (
            apb.StartRunRequest(check_id="SEC-001", pillars=[cpb.PILLAR_SECURITY]),
            grpc.StatusCode.INVALID_ARGUMENT,
            "check_id",
        ),
        (
            apb.StartRunRequest(check_timeout_seconds=0),
            grpc.StatusCode.INVALID_ARGUMENT,
            "check_timeout_seconds",
        ),
    ],
)
def test_bad_start_requests_create_nothing(
    client: AssayClient, request_message: apb.StartRunRequest, code: grpc.StatusCode, text: str
) -> None:
    with pytest.raises(ClientError) as caught:
        client.start_run(request_message)
    assert caught.value.code is code
    assert text in str(caught.value)
    assert not client.list_runs(apb.ListRunsRequest()).runs


def test_cancel_rules(client: AssayClient) -> None:
    with pytest.raises(ClientError) as caught:
        client.cancel_run("run_unknown")
    assert caught.value.code is grpc.StatusCode.NOT_FOUND
    run = start(client, check_id="OPS-005")
    follow(client, run.run_id)
    with pytest.raises(ClientError) as caught:
        client.cancel_run(run.run_id)
    assert caught.value.code is grpc.StatusCode.FAILED_PRECONDITION


def test_list_checks_by_pillar(client: AssayClient) -> None:
    everything = client.list_checks([])
    assert len(everything) >= 12
    security = client.list_checks([cpb.PILLAR_SECURITY])
    assert security and all(c.id.startswith("SEC-") for c in security)
    assert all(c.remediation for c in everything)


def test_watch_of_unknown_run_is_not_found(client: AssayClient) -> None:
    with pytest.raises(ClientError) as caught:
        follow(client, "run_nope")
    assert caught.value.code is grpc.StatusCode.NOT_FOUND


def test_two_watchers_at_once_see_the_same_events(client: AssayClient) -> None:
    run = start(client)
    seen: dict[int, list[apb.RunEvent]] = {}

    def watch(slot: int) -> None:
        seen[slot] = follow(client, run.run_id)

    threads = [threading.Thread(target=watch, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    total = len(client.list_checks([]))
    for events in seen.values():
        assert_well_formed(events, total)

    # Progress may be conflated for one and not the other; the rest is the same for both.
    def essentials(events: list[apb.RunEvent]) -> list[apb.RunEvent]:
        return [e for e in events if e.WhichOneof("event") in ("state_changed", "run_finished")]

    assert essentials(seen[0]) == essentials(seen[1])


def test_streamed_summary_equals_the_stored_one(client: AssayClient) -> None:
    run = start(client)
    streamed = follow(client, run.run_id)[-1].run_finished.summary
    stored = client.get_summary(apb.AssessmentQuery(run_id=run.run_id))
    assert streamed.counts == stored.counts
    assert list(streamed.by_severity) == list(stored.by_severity)
    assert list(streamed.pillars) == list(stored.pillars)


def test_watch_of_a_run_finished_before_a_restart_replays_from_storage(
    client: AssayClient, repository: Repository
) -> None:
    run, results = seed_run(repository, "run_before_restart", T0, ROWS)
    events = follow(client, run.run_id)
    assert [e.WhichOneof("event") for e in events] == ["state_changed", "run_finished"]
    assert events[0].state_changed.state == apb.RUN_PHASE_PARTIAL
    final = events[-1].run_finished
    assert final.run.run_id == run.run_id
    assert final.summary.counts.total == len(results)
