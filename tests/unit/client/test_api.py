"""The client wrapper's error mapping, on grpcio-testing's scripted fake channel."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import grpc
import grpc_testing
import pytest
from google.rpc import code_pb2, error_details_pb2, status_pb2

from assay.client.api import AssayClient, ClientError
from assay.v1 import assessment_pb2 as apb

SERVICE = apb.DESCRIPTOR.services_by_name["AssessmentService"]


def scripted(call: Callable[[AssayClient], object], answer: Callable[[object], None]) -> object:
    """Run ``call`` against a fake channel while ``answer`` plays the server's part."""
    channel = grpc_testing.channel([SERVICE], grpc_testing.strict_real_time())
    client = AssayClient("fake:0", channel=channel)
    with ThreadPoolExecutor(1) as pool:
        future = pool.submit(call, client)
        answer(channel)
        return future.result(5)


def test_reply_is_returned_typed() -> None:
    run = apb.RunState(run_id="run_1", state=apb.RUN_PHASE_COMPLETED)

    def answer(channel: grpc_testing.Channel) -> None:
        _, request, rpc = channel.take_unary_unary(SERVICE.methods_by_name["GetRun"])
        assert request.run_id == "run_1"
        rpc.terminate(apb.GetRunResponse(run=run), (), grpc.StatusCode.OK, "")

    assert scripted(lambda c: c.get_run("run_1"), answer) == run


def test_field_violations_become_one_line() -> None:
    rich = status_pb2.Status(code=code_pb2.INVALID_ARGUMENT, message="bad")
    rich.details.add().Pack(
        error_details_pb2.BadRequest(
            field_violations=[
                error_details_pb2.BadRequest.FieldViolation(
                    field="page_token", description="was altered or was not issued by this server"
                )
            ]
        )
    )

    def answer(channel: grpc_testing.Channel) -> None:
        _, _, rpc = channel.take_unary_unary(SERVICE.methods_by_name["ListAssessments"])
        rpc.terminate(
            None,
            (("grpc-status-details-bin", rich.SerializeToString()),),
            grpc.StatusCode.INVALID_ARGUMENT,
            "bad",
        )

    with pytest.raises(ClientError) as caught:
        scripted(lambda c: c.list_assessments(apb.ListAssessmentsRequest(page_token="x")), answer)
    assert caught.value.code is grpc.StatusCode.INVALID_ARGUMENT
    assert str(caught.value) == (
        "invalid argument: page_token: was altered or was not issued by this server"
    )


@pytest.mark.parametrize(
    ("code", "details", "expected"),
    [
        (grpc.StatusCode.NOT_FOUND, "run 'x' not found", "not found: run 'x' not found"),
        (grpc.StatusCode.UNAVAILABLE, "storage down", "unavailable: storage down"),
        (
            grpc.StatusCode.DEADLINE_EXCEEDED,
            "",
            "the Assay server at fake:0 did not answer in time",
        ),
    ],
)
def test_status_codes_become_readable_lines(
    code: grpc.StatusCode, details: str, expected: str
) -> None:
    def answer(channel: grpc_testing.Channel) -> None:
        _, _, rpc = channel.take_unary_unary(SERVICE.methods_by_name["GetRun"])
        rpc.terminate(None, (), code, details)

    with pytest.raises(ClientError) as caught:
        scripted(lambda c: c.get_run("x"), answer)
    assert str(caught.value) == expected
    assert "\n" not in str(caught.value)
