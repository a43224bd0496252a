"""A typed wrapper over the generated gRPC stubs, used by the ``assay`` CLI.

Every call returns the generated response message; every failure is a :class:`ClientError`
with one readable line (status, message and any field violations), so the CLI never shows a
traceback.
"""

from __future__ import annotations

from collections.abc import Iterator
from types import TracebackType
from typing import Any, Self, TypeVar

import grpc
from google.protobuf.message import Message
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from assay.v1 import assessment_pb2 as apb
from assay.v1 import assessment_pb2_grpc as apb_grpc
from assay.v1 import common_pb2 as cpb
from assay.v1 import workflow_pb2 as wpb
from assay.v1 import workflow_pb2_grpc as wpb_grpc

R = TypeVar("R", bound=Message)

DEFAULT_SERVER = "127.0.0.1:50051"
DEFAULT_TIMEOUT_S = 30.0


class ClientError(Exception):
    """A failed RPC, rendered as one line; ``code`` is the gRPC status code."""

    def __init__(self, code: grpc.StatusCode, message: str, target: str) -> None:
        self.code = code
        self.target = target
        super().__init__(message)

    @classmethod
    def from_rpc_error(cls, error: grpc.RpcError, target: str) -> ClientError:
        code = error.code() if isinstance(error, grpc.Call) else grpc.StatusCode.UNKNOWN
        details = (error.details() if isinstance(error, grpc.Call) else None) or str(error)
        if code is grpc.StatusCode.UNAVAILABLE and "connect" in details.lower():
            return cls(code, f"cannot reach the Assay server at {target} ({details})", target)
        if code is grpc.StatusCode.DEADLINE_EXCEEDED:
            return cls(code, f"the Assay server at {target} did not answer in time", target)
        violations = _field_violations(error)
        text = (
            f"{code.name.lower().replace('_', ' ')}: {details}"
            if not violations
            else (f"invalid argument: {violations}")
        )
        return cls(code, text, target)


def _field_violations(error: grpc.RpcError) -> str:
    if not isinstance(error, grpc.Call):
        return ""
    status = rpc_status.from_call(error)
    if status is None:
        return ""
    found: list[str] = []
    for detail in status.details:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            found.extend(f"{v.field}: {v.description}" for v in bad.field_violations)
    return "; ".join(found)


class AssayClient:
    """Synchronous client of both services; use as a context manager to close the channel."""

    def __init__(
        self,
        target: str = DEFAULT_SERVER,
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        channel: grpc.Channel | None = None,
    ) -> None:
        self.target = target
        self.timeout_s = timeout_s
        self._channel = channel if channel is not None else grpc.insecure_channel(target)
        self._assessments = apb_grpc.AssessmentServiceStub(self._channel)
        self._workflows = wpb_grpc.WorkflowExecutionServiceStub(self._channel)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._channel.close()

    def _unary(self, method: Any, request: Message, response_type: type[R]) -> R:
        try:
            response = method(request, timeout=self.timeout_s)
        except grpc.RpcError as error:
            raise ClientError.from_rpc_error(error, self.target) from None
        if not isinstance(response, response_type):
            raise TypeError(f"expected {response_type.__name__}, got {type(response).__name__}")
        return response

    def _stream(self, method: Any, request: Message, item_type: type[R]) -> Iterator[R]:
        try:
            for item in method(request):
                if not isinstance(item, item_type):
                    raise TypeError(f"expected {item_type.__name__}, got {type(item).__name__}")
                yield item
        except grpc.RpcError as error:
            if isinstance(error, grpc.Call) and error.code() is grpc.StatusCode.CANCELLED:
                return
            raise ClientError.from_rpc_error(error, self.target) from None

    # Assessments

    def start_run(self, request: apb.StartRunRequest) -> apb.RunState:
        response = self._unary(self._assessments.StartRun, request, apb.StartRunResponse)
        return response.run

    def get_run(self, run_id: str) -> apb.RunState:
        response = self._unary(
            self._assessments.GetRun, apb.GetRunRequest(run_id=run_id), apb.GetRunResponse
        )
        return response.run

    def list_runs(self, request: apb.ListRunsRequest) -> apb.ListRunsResponse:
        return self._unary(self._assessments.ListRuns, request, apb.ListRunsResponse)

    def cancel_run(self, run_id: str) -> apb.RunState:
        response = self._unary(
            self._assessments.CancelRun, apb.CancelRunRequest(run_id=run_id), apb.CancelRunResponse
        )
        return response.run

    def watch_run(self, run_id: str) -> Iterator[apb.RunEvent]:
        for item in self._stream(
            self._assessments.WatchRun, apb.WatchRunRequest(run_id=run_id), apb.WatchRunResponse
        ):
            yield item.event

    def list_checks(self, pillars: list[cpb.Pillar.ValueType]) -> list[apb.CheckDefinition]:
        response = self._unary(
            self._assessments.ListChecks,
            apb.ListChecksRequest(pillars=pillars),
            apb.ListChecksResponse,
        )
        return list(response.checks)

    def list_assessments(
        self, request: apb.ListAssessmentsRequest | apb.AssessmentQuery
    ) -> apb.ListAssessmentsResponse:
        """One page of results; an AssessmentQuery alone asks for the first page."""
        if isinstance(request, apb.AssessmentQuery):
            request = apb.ListAssessmentsRequest(query=request)
        return self._unary(self._assessments.ListAssessments, request, apb.ListAssessmentsResponse)

    def get_assessment(self, result_id: str) -> apb.AssessmentResult:
        response = self._unary(
            self._assessments.GetAssessment,
            apb.GetAssessmentRequest(id=result_id),
            apb.GetAssessmentResponse,
        )
        return response.result

    def get_summary(self, query: apb.AssessmentQuery) -> apb.Summary:
        response = self._unary(
            self._assessments.GetSummary, apb.GetSummaryRequest(query=query), apb.GetSummaryResponse
        )
        return response.summary

    def get_history(self, request: apb.GetHistoryRequest) -> apb.GetHistoryResponse:
        return self._unary(self._assessments.GetHistory, request, apb.GetHistoryResponse)

    # Workflow executions

    def create_workflow(self, request: wpb.CreateRequest) -> wpb.WorkflowExecution:
        response = self._unary(self._workflows.Create, request, wpb.CreateResponse)
        return response.execution

    def get_workflow(self, namespace: str, name: str) -> wpb.WorkflowExecution:
        response = self._unary(
            self._workflows.Get, wpb.GetRequest(namespace=namespace, name=name), wpb.GetResponse
        )
        return response.execution

    def list_workflows(self, request: wpb.ListRequest) -> wpb.ListResponse:
        return self._unary(self._workflows.List, request, wpb.ListResponse)

    def watch_workflows(self, request: wpb.WatchRequest) -> Iterator[wpb.WatchResponse]:
        yield from self._stream(self._workflows.Watch, request, wpb.WatchResponse)

    def list_audit_events(self, request: wpb.ListAuditEventsRequest) -> wpb.ListAuditEventsResponse:
        return self._unary(self._workflows.ListAuditEvents, request, wpb.ListAuditEventsResponse)
