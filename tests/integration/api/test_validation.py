"""Every validation rule answers INVALID_ARGUMENT with a BadRequest naming the field."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import grpc
import pytest
from google.protobuf.message import Message
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from assay.v1 import assessment_pb2 as apb
from assay.v1 import assessment_pb2_grpc as apb_grpc
from assay.v1 import common_pb2 as cpb
from tests.integration.api.server_fixtures import ServerThread


@pytest.fixture
def stub(assay_server: ServerThread) -> Iterator[apb_grpc.AssessmentServiceStub]:
    with grpc.insecure_channel(assay_server.target) as channel:
        yield apb_grpc.AssessmentServiceStub(channel)


def violated_fields(call: Callable[[], Message]) -> set[str]:
    with pytest.raises(grpc.RpcError) as caught:
        call()
    error = caught.value
    assert error.code() is grpc.StatusCode.INVALID_ARGUMENT, error.details()
    status = rpc_status.from_call(error)
    assert status is not None
    fields: set[str] = set()
    for detail in status.details:
        bad = error_details_pb2.BadRequest()
        assert detail.Unpack(bad)
        fields.update(v.field for v in bad.field_violations)
    return fields


def bad_since() -> apb.AssessmentQuery:
    query = apb.AssessmentQuery()
    query.since.seconds = 10**13  # far past year 9999
    return query


CASES: list[tuple[str, str, Message, set[str]]] = [
    (
        "negative page size",
        "ListAssessments",
        apb.ListAssessmentsRequest(page_size=-1),
        {"page_size"},
    ),
    (
        "page token of another server",
        "ListAssessments",
        apb.ListAssessmentsRequest(page_token="bm90LWEtdG9rZW4tYXQtYWxs"),
        {"page_token"},
    ),
    (
        "page token that is not ASCII",
        "ListAssessments",
        apb.ListAssessmentsRequest(page_token="tökén"),
        {"page_token"},
    ),
    (
        "unknown pillar",
        "ListAssessments",
        apb.ListAssessmentsRequest(query=apb.AssessmentQuery(pillars=[cpb.Pillar.ValueType(99)])),
        {"query.pillars"},
    ),
    (
        "unspecified pillar",
        "GetSummary",
        apb.GetSummaryRequest(query=apb.AssessmentQuery(pillars=[cpb.Pillar.ValueType(0)])),
        {"query.pillars"},
    ),
    (
        "unknown status",
        "ListAssessments",
        apb.ListAssessmentsRequest(query=apb.AssessmentQuery(statuses=[cpb.Status.ValueType(42)])),
        {"query.statuses"},
    ),
    (
        "since out of range",
        "ListAssessments",
        apb.ListAssessmentsRequest(query=bad_since()),
        {"query.since"},
    ),
    (
        "run id and all runs",
        "GetSummary",
        apb.GetSummaryRequest(query=apb.AssessmentQuery(run_id="run_1", all_runs=True)),
        {"query.all_runs"},
    ),
    (
        "NUL in a run id",
        "ListAssessments",
        apb.ListAssessmentsRequest(query=apb.AssessmentQuery(run_id="run\x00")),
        {"query.run_id"},
    ),
    (
        "an overlong check id",
        "ListAssessments",
        apb.ListAssessmentsRequest(query=apb.AssessmentQuery(check_id="C" * 300)),
        {"query.check_id"},
    ),
    (
        "control character in a cluster id",
        "GetSummary",
        apb.GetSummaryRequest(query=apb.AssessmentQuery(cluster_id="pr\nod")),
        {"query.cluster_id"},
    ),
    (
        "several at once",
        "ListAssessments",
        apb.ListAssessmentsRequest(
            page_size=-5,
            query=apb.AssessmentQuery(statuses=[cpb.Status.ValueType(42)], run_id="\x01"),
        ),
        {"page_size", "query.statuses", "query.run_id"},
    ),
    ("runs page size", "ListRuns", apb.ListRunsRequest(page_size=-1), {"page_size"}),
    ("runs page token", "ListRuns", apb.ListRunsRequest(page_token="x" * 5000), {"page_token"}),
    (
        "runs state",
        "ListRuns",
        apb.ListRunsRequest(states=[apb.RunPhase.ValueType(77)]),
        {"states"},
    ),
    ("history page size", "GetHistory", apb.GetHistoryRequest(page_size=-3), {"page_size"}),
    ("history token", "GetHistory", apb.GetHistoryRequest(page_token="AQID"), {"page_token"}),
    ("empty run id", "GetRun", apb.GetRunRequest(run_id=""), {"run_id"}),
    ("NUL run id", "GetRun", apb.GetRunRequest(run_id="\x00"), {"run_id"}),
    ("empty result id", "GetAssessment", apb.GetAssessmentRequest(id=" "), {"id"}),
]


@pytest.mark.parametrize(
    ("method", "request_message", "fields"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_invalid_request_names_the_field(
    stub: apb_grpc.AssessmentServiceStub, method: str, request_message: Message, fields: set[str]
) -> None:
    assert violated_fields(lambda: getattr(stub, method)(request_message, timeout=10)) == fields


def test_a_page_size_above_the_maximum_is_lowered_not_refused(
    stub: apb_grpc.AssessmentServiceStub,
) -> None:
    response = stub.ListAssessments(
        apb.ListAssessmentsRequest(page_size=1_000_000, query=apb.AssessmentQuery(all_runs=True)),
        timeout=10,
    )
    assert list(response.results) == []
