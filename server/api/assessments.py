"""``AssessmentService`` servicer: validates requests, calls the domain, converts replies.

Thin by design: queries go to the storage repository, runs to the runner, progress to the
progress bus. A query is read *and* converted to its reply in a read thread (``reads``), so
the event loop never blocks on the database nor spends its time building messages; storage
rows of results become protobuf without a domain object in between. Errors are raised as
domain errors and mapped to statuses by ``interceptors.ErrorMapping``.
StartRun assesses the cluster (a kubeconfig context only from the policy's allow-list);
StartManifestRun assesses manifests the client uploads (:mod:`.uploads`).
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import TypeVar

import grpc

from assay.server.api import convert
from assay.server.api.streams import shared_bytes
from assay.server.api.uploads import collect_manifests
from assay.server.api.validation import Validator
from assay.server.api.watch import RunWatch
from assay.server.assessment.requests import RunRequest
from assay.server.assessment.runner import Runner
from assay.server.auth.policy import RequestPolicy
from assay.server.checks.kit.catalogue import Catalogue
from assay.server.core.errors import FieldViolation, InvalidArgument
from assay.server.core.types import Pillar, ResultQuery, RunId, RunQuery, Source
from assay.server.storage.repository import Repository
from assay.v1 import assessment_pb2 as apb
from assay.v1 import assessment_pb2_grpc as apb_grpc

T = TypeVar("T")


def result_query(
    query: apb.AssessmentQuery,
    v: Validator,
    *,
    cluster_id: str,
    page_size: int = 0,
    page_token: str = "",
    include_total: bool = False,
) -> ResultQuery:
    """The domain query of an AssessmentQuery: one run, every run, or (by default) the
    latest finished run of ``query.cluster_id`` or else of the server's own cluster."""
    run_id = v.identifier("run_id", query.run_id)
    if run_id and query.all_runs:
        v.fail("all_runs", "excludes run_id")
    latest_of = None
    if not run_id and not query.all_runs:
        latest_of = v.identifier("cluster_id", query.cluster_id) or cluster_id
    return ResultQuery(
        run_id=RunId(run_id) if run_id else None,
        pillars=v.enums("pillars", query.pillars, convert.PILLARS_BY_VALUE),
        statuses=v.enums("statuses", query.statuses, convert.STATUSES_BY_VALUE),
        check_id=v.identifier("check_id", query.check_id) or None,
        since=v.since(query),
        latest_run_of=latest_of,
        limit=page_size,
        page_token=page_token,
        include_total=include_total,
    )


@dataclass
class AssessmentServicer(apb_grpc.AssessmentServiceServicer):
    repository: Repository
    runner: Runner
    catalogue: Catalogue
    shutdown: asyncio.Event
    policy: RequestPolicy = field(default_factory=RequestPolicy)
    upload_limit: int = 64 * 1024 * 1024
    # The cluster whose latest run result queries read by default.
    cluster_id: str = ""
    # Threads that read storage and build replies (None: asyncio's default executor).
    reads: Executor | None = None
    # How often WatchRun re-reads a run that another replica executes.
    poll_interval_s: float = 1.0
    watch: RunWatch = field(init=False)

    def __post_init__(self) -> None:
        self.watch = RunWatch(
            bus=self.runner.bus,
            shutdown=self.shutdown,
            get_run=lambda run_id: self._off_loop(partial(self.repository.get_run, run_id)),
            get_summary=lambda query: self._off_loop(partial(self.repository.summary, query)),
            poll_interval_s=self.poll_interval_s,
        )

    async def _off_loop(self, work: Callable[[], T]) -> T:
        """``work()`` in a read thread: the event loop only sends what it returns."""
        if self.reads is None:
            return await asyncio.to_thread(work)
        return await asyncio.get_running_loop().run_in_executor(self.reads, work)

    async def StartRun(
        self, request: apb.StartRunRequest, context: grpc.aio.ServicerContext
    ) -> apb.StartRunResponse:
        v = Validator()
        source = v.enum("source", request.source, convert.SOURCES_BY_VALUE, default=Source.LIVE)
        if source is Source.MANIFESTS:
            v.fail("source", "manifests are uploaded with StartManifestRun")
        problem = self.policy.context_problem(request.context)
        if problem:
            v.fail("context", problem)
        run_request = self._run_request(request, v, source=Source.LIVE)
        v.done()
        run = await self.runner.start(run_request)
        return apb.StartRunResponse(run=convert.run(run))

    async def StartManifestRun(
        self,
        request_iterator: AsyncIterator[apb.StartManifestRunRequest],
        context: grpc.aio.ServicerContext,
    ) -> apb.StartManifestRunResponse:
        first = await anext(aiter(request_iterator), None)
        if first is None or first.WhichOneof("part") != "run":
            raise InvalidArgument(FieldViolation("run", "the first message must carry the run"))
        v = Validator("run.")
        if first.run.source not in (
            apb.INVENTORY_SOURCE_UNSPECIFIED,
            apb.INVENTORY_SOURCE_MANIFESTS,
        ):
            v.fail("source", "a manifest run assesses the uploaded manifests")
        if first.run.context:
            v.fail("context", "a manifest run reaches no cluster")
        run_request = self._run_request(first.run, v, source=Source.MANIFESTS)
        v.done()
        if not (run_request.check_id and run_request.pillars):
            # An unknown or disabled check fails before the upload is read.
            self.catalogue.select(pillars=run_request.pillars, check_id=run_request.check_id)
        self.runner.admit()  # a busy server refuses before the upload is read
        files = await collect_manifests(request_iterator, limit=self.upload_limit)
        run = await self.runner.start(dataclasses.replace(run_request, manifests=files))
        return apb.StartManifestRunResponse(run=convert.run(run))

    @staticmethod
    def _run_request(request: apb.StartRunRequest, v: Validator, *, source: Source) -> RunRequest:
        """Everything past the proto's own vocabulary is validated once, by the runner."""
        pillars = v.enums("pillars", request.pillars, convert.PILLARS_BY_VALUE)
        return RunRequest(
            source=source,
            pillars=tuple(sorted(pillars, key=list(Pillar).index)),
            check_id=request.check_id.strip(),
            context=request.context,
            check_timeout_s=(
                request.check_timeout_seconds if request.HasField("check_timeout_seconds") else None
            ),
            run_timeout_s=(
                request.run_timeout_seconds if request.HasField("run_timeout_seconds") else None
            ),
        )

    async def CancelRun(
        self, request: apb.CancelRunRequest, context: grpc.aio.ServicerContext
    ) -> apb.CancelRunResponse:
        v = Validator()
        run_id = RunId(v.required("run_id", v.identifier("run_id", request.run_id)))
        v.done()
        # This replica's run ends before the answer; another replica's comes back running
        # with the request stored for its owner (clients follow it to its end).
        run = await self.runner.cancel(run_id)
        return apb.CancelRunResponse(run=convert.run(run))

    async def WatchRun(  # type: ignore[override]  # bytes: see add_assessment_service
        self, request: apb.WatchRunRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[bytes]:
        v = Validator()
        run_id = RunId(v.required("run_id", v.identifier("run_id", request.run_id)))
        v.done()
        # Serialized WatchRunResponses, shared by every subscriber of the run; see
        # add_assessment_service for the serializer that lets them through.
        async for message in self.watch.follow(run_id):
            yield message

    async def ListChecks(
        self, request: apb.ListChecksRequest, context: grpc.aio.ServicerContext
    ) -> apb.ListChecksResponse:
        v = Validator()
        pillars = v.enums("pillars", request.pillars, convert.PILLARS_BY_VALUE)
        v.done()
        checks = self.catalogue.select(pillars=pillars)
        return apb.ListChecksResponse(
            checks=[convert.check_definition(self.catalogue.effective(c)) for c in checks]
        )

    async def GetRun(
        self, request: apb.GetRunRequest, context: grpc.aio.ServicerContext
    ) -> apb.GetRunResponse:
        v = Validator()
        run_id = v.required("run_id", v.identifier("run_id", request.run_id))
        v.done()
        return await self._off_loop(partial(self._get_run, RunId(run_id)))

    def _get_run(self, run_id: RunId) -> apb.GetRunResponse:
        return apb.GetRunResponse(run=convert.run(self.repository.get_run(run_id)))

    async def ListRuns(
        self, request: apb.ListRunsRequest, context: grpc.aio.ServicerContext
    ) -> apb.ListRunsResponse:
        v = Validator()
        query = RunQuery(
            states=v.enums("states", request.states, convert.RUN_STATES_BY_VALUE),
            since=v.since(request),
            limit=v.page_size(request.page_size),
            page_token=v.page_token(request.page_token),
            include_total=request.include_total,
        )
        v.done()
        return await self._off_loop(partial(self._list_runs, query))

    def _list_runs(self, query: RunQuery) -> apb.ListRunsResponse:
        page = self.repository.list_runs(query)
        return apb.ListRunsResponse(
            runs=[convert.run(r) for r in page.items],
            next_page_token=page.next_page_token,
            total_size=page.total,
        )

    async def ListAssessments(
        self, request: apb.ListAssessmentsRequest, context: grpc.aio.ServicerContext
    ) -> apb.ListAssessmentsResponse:
        v = Validator()
        page_size = v.page_size(request.page_size)
        page_token = v.page_token(request.page_token)
        query = result_query(
            request.query,
            v.nested("query."),
            cluster_id=self.cluster_id,
            page_size=page_size,
            page_token=page_token,
            include_total=request.include_total,
        )
        v.done()
        return await self._off_loop(partial(self._list_assessments, query))

    def _list_assessments(self, query: ResultQuery) -> apb.ListAssessmentsResponse:
        page = self.repository.list_result_rows(query)
        response = apb.ListAssessmentsResponse(
            next_page_token=page.next_page_token, run_id=page.run_id or ""
        )
        convert.add_result_rows(response.results, page)
        if page.total is not None:
            response.total_size = page.total
        return response

    async def GetAssessment(
        self, request: apb.GetAssessmentRequest, context: grpc.aio.ServicerContext
    ) -> apb.GetAssessmentResponse:
        v = Validator()
        result_id = v.required("id", v.identifier("id", request.id))
        v.done()
        return await self._off_loop(partial(self._get_assessment, result_id))

    def _get_assessment(self, result_id: str) -> apb.GetAssessmentResponse:
        result = self.repository.get_result(result_id)
        return apb.GetAssessmentResponse(result=convert.result(result))

    async def GetSummary(
        self, request: apb.GetSummaryRequest, context: grpc.aio.ServicerContext
    ) -> apb.GetSummaryResponse:
        v = Validator("query.")
        query = result_query(request.query, v, cluster_id=self.cluster_id)
        v.done()
        return await self._off_loop(partial(self._summary, query))

    def _summary(self, query: ResultQuery) -> apb.GetSummaryResponse:
        return apb.GetSummaryResponse(summary=convert.summary(self.repository.summary(query)))

    async def GetHistory(
        self, request: apb.GetHistoryRequest, context: grpc.aio.ServicerContext
    ) -> apb.GetHistoryResponse:
        v = Validator()
        cluster_id = v.identifier("cluster_id", request.cluster_id)
        since = v.since(request)
        page_size = v.page_size(request.page_size)
        page_token = v.page_token(request.page_token)
        v.done()
        return await self._off_loop(
            partial(
                self._history,
                cluster_id=cluster_id or None,
                since=since,
                page_size=page_size,
                page_token=page_token,
                include_total=request.include_total,
            )
        )

    def _history(
        self,
        *,
        cluster_id: str | None,
        since: datetime | None,
        page_size: int,
        page_token: str,
        include_total: bool,
    ) -> apb.GetHistoryResponse:
        page = self.repository.history_records(
            cluster_id=cluster_id,
            since=since,
            limit=page_size,
            page_token=page_token,
            include_total=include_total,
        )
        return apb.GetHistoryResponse(
            entries=[convert.history_record(record) for record in page.items],
            next_page_token=page.next_page_token,
            total_size=page.total,
        )


_HANDLER_KINDS: dict[tuple[bool, bool], Callable[..., grpc.RpcMethodHandler]] = {
    (False, False): grpc.unary_unary_rpc_method_handler,
    (False, True): grpc.unary_stream_rpc_method_handler,
    (True, False): grpc.stream_unary_rpc_method_handler,
    (True, True): grpc.stream_stream_rpc_method_handler,
}
"""The handler constructor for each (client streaming, server streaming) shape."""


def add_assessment_service(servicer: AssessmentServicer, server: grpc.aio.Server) -> None:
    """Register the servicer as the generated ``add_AssessmentServiceServicer_to_server``
    would, except that WatchRun's responses may be bytes serialized once for all of a
    run's subscribers (``streams.shared_bytes``)."""
    service = apb.DESCRIPTOR.services_by_name["AssessmentService"]
    handlers: dict[str, grpc.RpcMethodHandler] = {}
    for method in service.methods:
        request_type = getattr(apb, method.input_type.name)
        response_type = getattr(apb, method.output_type.name)
        serializer = shared_bytes if method.name == "WatchRun" else response_type.SerializeToString
        make = _HANDLER_KINDS[(method.client_streaming, method.server_streaming)]
        handlers[method.name] = make(
            getattr(servicer, method.name),
            request_deserializer=request_type.FromString,
            response_serializer=serializer,
        )
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler(service.full_name, handlers),)
    )
    server.add_registered_method_handlers(service.full_name, handlers)
