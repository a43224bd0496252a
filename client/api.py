"""A typed wrapper over the generated gRPC stubs, used by the ``assay`` CLI.

Every call returns the generated response message; every failure is a :class:`ClientError`
with one readable line (status, message and any field violations), so the CLI never shows a
traceback. :class:`Credentials` say how to reach the server: a bearer token sent with every
call (``authorization`` metadata), and TLS (a CA bundle, a client certificate for mutual
TLS) or, with ``insecure``, plaintext. Without either, loopback targets are reached in
plaintext (a server without authentication listens only there) and any other target over
TLS with the system's trust store.
"""

from __future__ import annotations

import ipaddress
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Generic, Self, TypeVar

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
T = TypeVar("T")

DEFAULT_SERVER = "127.0.0.1:50051"
DEFAULT_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Credentials:
    token: str | None = None
    ca: bytes | None = None
    """PEM bundle of the CAs that may sign the server's certificate (None: the system's)."""
    cert: bytes | None = None
    key: bytes | None = None
    """PEM client certificate chain and key, for servers that require mutual TLS."""
    insecure: bool = False
    """Plaintext even to a non-loopback target."""

    def __post_init__(self) -> None:
        if (self.cert is None) != (self.key is None):
            raise ValueError("a client certificate needs its key, and the key its certificate")
        if self.token is not None and (
            not self.token or not self.token.isascii() or not self.token.isprintable()
        ):
            raise ValueError("the token must be one line of printable ASCII")

    def plaintext(self, target: str) -> bool:
        if self.insecure:
            return True
        return self.ca is None and self.cert is None and is_loopback_target(target)

    def channel(self, target: str) -> grpc.Channel:
        if self.plaintext(target):
            return grpc.insecure_channel(target)
        tls = grpc.ssl_channel_credentials(
            root_certificates=self.ca, private_key=self.key, certificate_chain=self.cert
        )
        return grpc.secure_channel(target, tls)

    @property
    def metadata(self) -> tuple[tuple[str, str], ...]:
        return (("authorization", f"Bearer {self.token}"),) if self.token else ()


def is_loopback_target(target: str) -> bool:
    """``HOST:PORT`` (or a ``unix:`` socket) that stays on this machine."""
    if target.startswith(("unix:", "unix-abstract:")):
        return True
    host = target.rpartition(":")[0] if ":" in target else target
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


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
        if code is grpc.StatusCode.UNAUTHENTICATED:
            return cls(
                code,
                f"unauthenticated: {details} (give a token with --token, --token-file or "
                "ASSAY_TOKEN)",
                target,
            )
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


class Stream(Generic[T]):
    """A server stream being read: iterate it in one thread, cancel it from any other.

    Iteration ends quietly when the stream is cancelled (by :meth:`cancel`, or by the server
    shutting it down with CANCELLED); any other failure is a :class:`ClientError`.
    """

    def __init__(self, call: Any, convert: Callable[[Any], T], target: str) -> None:
        self._call = call
        self._convert = convert
        self._target = target
        self._cancelled = threading.Event()

    def __iter__(self) -> Iterator[T]:
        try:
            for item in self._call:
                yield self._convert(item)
        except grpc.RpcError as error:
            if isinstance(error, grpc.Call) and error.code() is grpc.StatusCode.CANCELLED:
                return
            raise ClientError.from_rpc_error(error, self._target) from None

    def cancel(self) -> None:
        """Stop the stream; safe from any thread, and more than once."""
        self._cancelled.set()
        self._call.cancel()

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()


class AssayClient:
    """Synchronous client of both services; use as a context manager to close the channel."""

    def __init__(
        self,
        target: str = DEFAULT_SERVER,
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        channel: grpc.Channel | None = None,
        credentials: Credentials | None = None,
    ) -> None:
        """``channel`` replaces the one ``credentials`` would open (tests pass fakes); the
        token of ``credentials`` is sent either way."""
        self.target = target
        self.timeout_s = timeout_s
        self.credentials = credentials or Credentials()
        self._metadata = self.credentials.metadata
        self._channel = channel if channel is not None else self.credentials.channel(target)
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

    def _unary(
        self, method: Any, request: Message | Iterator[Message], response_type: type[R]
    ) -> R:
        try:
            response = method(request, timeout=self.timeout_s, metadata=self._metadata)
        except grpc.RpcError as error:
            raise ClientError.from_rpc_error(error, self.target) from None
        if not isinstance(response, response_type):
            raise TypeError(f"expected {response_type.__name__}, got {type(response).__name__}")
        return response

    def _stream(self, method: Any, request: Message, convert: Callable[[object], T]) -> Stream[T]:
        return Stream(method(request, metadata=self._metadata), convert, self.target)

    # Assessments

    def start_run(self, request: apb.StartRunRequest) -> apb.RunState:
        response = self._unary(self._assessments.StartRun, request, apb.StartRunResponse)
        return response.run

    def start_manifest_run(
        self, run: apb.StartRunRequest, files: Iterable[tuple[str, Iterable[bytes]]]
    ) -> apb.RunState:
        """Start a run over uploaded manifests: ``files`` are (name, chunks) pairs, streamed
        as they are read."""

        def messages() -> Iterator[apb.StartManifestRunRequest]:
            yield apb.StartManifestRunRequest(run=run)
            for name, chunks in files:
                for data in chunks:
                    yield apb.StartManifestRunRequest(chunk=apb.ManifestChunk(name=name, data=data))

        response = self._unary(
            self._assessments.StartManifestRun, messages(), apb.StartManifestRunResponse
        )
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

    def watch_run(self, run_id: str) -> Stream[apb.RunEvent]:
        return self._stream(
            self._assessments.WatchRun, apb.WatchRunRequest(run_id=run_id), _run_event
        )

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

    def watch_workflows(self, request: wpb.WatchRequest) -> Stream[wpb.WatchResponse]:
        return self._stream(self._workflows.Watch, request, _expect(wpb.WatchResponse))

    def list_audit_events(self, request: wpb.ListAuditEventsRequest) -> wpb.ListAuditEventsResponse:
        return self._unary(self._workflows.ListAuditEvents, request, wpb.ListAuditEventsResponse)


def _expect(item_type: type[R]) -> Callable[[object], R]:
    def checked(item: object) -> R:
        if not isinstance(item, item_type):
            raise TypeError(f"expected {item_type.__name__}, got {type(item).__name__}")
        return item

    return checked


def _run_event(item: object) -> apb.RunEvent:
    event: apb.RunEvent = _expect(apb.WatchRunResponse)(item).event
    return event
