"""``AssessmentService`` servicer: validates requests, calls the domain, converts replies.

Thin by design: queries go to the storage repository (in a worker thread, so the event loop
never blocks on the database), runs to the runner, progress to the progress bus. Errors are
raised as domain errors and mapped to statuses by ``interceptors.ErrorMappingInterceptor``.
StartRun assesses the cluster (a kubeconfig context only from the policy's allow-list);
StartManifestRun assesses manifests the client uploads (:mod:`.uploads`).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import grpc

from assay.server.api import convert
from assay.server.api.streams import until_shutdown
from assay.server.api.uploads import collect_manifests
from assay.server.api.validation import Validator
from assay.server.assessment.requests import RunRequest
from assay.server.assessment.runner import Runner
from assay.server.auth.policy import RequestPolicy
from assay.server.checks.kit.catalogue import Catalogue
from assay.server.core.errors import FailedPrecondition, FieldViolation, InvalidArgument
from assay.server.core.types import Pillar, ResultQuery, RunId, RunQuery, Source
from assay.server.storage.repository import Repository
from assay.v1 import assessment_pb2 as apb
from assay.v1 import assessment_pb2_grpc as apb_grpc


def next_offset(offset: int, returned: int, total: int) -> int | None:
    end = offset + returned
    return end if returned and end < total else None


def result_query(query: apb.AssessmentQuery, v: Validator) -> ResultQuery:
    return ResultQuery(
        run_id=RunId(query.run_id) if query.run_id else None,
        pillars=v.enums("pillars", query.pillars, convert.PILLARS_BY_VALUE),
        statuses=v.enums("statuses", query.statuses, convert.STATUSES_BY_VALUE),
        check_id=query.check_id or None,
        since=v.since(query),
        limit=v.limit(query),
        offset=v.offset(query.offset),
    )


@dataclass
class AssessmentServicer(apb_grpc.AssessmentServiceServicer):
    repository: Repository
    runner: Runner
    catalogue: Catalogue
    shutdown: asyncio.Event
    policy: RequestPolicy = field(default_factory=RequestPolicy)
    upload_limit: int = 64 * 1024 * 1024
    # How often WatchRun re-reads a run that another replica executes.
    poll_interval_s: float = 1.0

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
        run_id = RunId(v.required("run_id", request.run_id))
        v.done()
        if self.runner.get(run_id) is None:
            stored = await asyncio.to_thread(self.repository.get_run, run_id)
            if stored.state.terminal:
                raise FailedPrecondition(f"run {run_id} already ended {stored.state}")
            raise FailedPrecondition(
                f"run {run_id} is {stored.state} on another server replica; cancel it there"
            )
        run = await self.runner.cancel(run_id)
        return apb.CancelRunResponse(run=convert.run(run))

    async def WatchRun(
        self, request: apb.WatchRunRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[apb.WatchRunResponse]:
        v = Validator()
        run_id = RunId(v.required("run_id", request.run_id))
        v.done()
        bus = self.runner.bus
        if bus.has(run_id):
            async with bus.subscribe(run_id) as events:
                async for event in until_shutdown(events, self.shutdown):
                    yield apb.WatchRunResponse(event=convert.run_event(event))
            return
        # Not executed here (finished before a restart, evicted, or on another replica):
        # follow the stored state instead.
        async for message in self._watch_stored(run_id):
            yield apb.WatchRunResponse(event=message)

    async def _watch_stored(self, run_id: RunId) -> AsyncIterator[apb.RunEvent]:
        sequence = 0
        last_state = None
        while True:
            run = await asyncio.to_thread(self.repository.get_run, run_id)
            now = convert.timestamp(datetime.now(UTC))
            if run.state is not last_state:
                sequence += 1
                last_state = run.state
                yield apb.RunEvent(
                    run_id=run_id,
                    sequence=sequence,
                    at=now,
                    state_changed=apb.RunStateChanged(
                        state=convert.RUN_STATES[run.state],
                        error=run.error,
                        diagnostics=list(run.diagnostics),
                        total_checks=run.check_count,
                    ),
                )
            if run.state.terminal:
                summary = await asyncio.to_thread(
                    self.repository.summary, ResultQuery(run_id=run_id)
                )
                yield apb.RunEvent(
                    run_id=run_id,
                    sequence=sequence + 1,
                    at=now,
                    run_finished=convert.run_finished(run, summary),
                )
                return
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.poll_interval_s):
                    await self.shutdown.wait()
            if self.shutdown.is_set():
                return

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
        run_id = v.required("run_id", request.run_id)
        v.done()
        run = await asyncio.to_thread(self.repository.get_run, RunId(run_id))
        return apb.GetRunResponse(run=convert.run(run))

    async def ListRuns(
        self, request: apb.ListRunsRequest, context: grpc.aio.ServicerContext
    ) -> apb.ListRunsResponse:
        v = Validator()
        query = RunQuery(
            states=v.enums("states", request.states, convert.RUN_STATES_BY_VALUE),
            since=v.since(request),
            limit=v.limit(request),
            offset=v.offset(request.offset),
        )
        v.done()
        page = await asyncio.to_thread(self.repository.list_runs, query)
        return apb.ListRunsResponse(
            runs=[convert.run(r) for r in page.items],
            total_count=page.total,
            next_offset=next_offset(query.offset, len(page.items), page.total),
        )

    async def ListAssessments(
        self, request: apb.ListAssessmentsRequest, context: grpc.aio.ServicerContext
    ) -> apb.ListAssessmentsResponse:
        v = Validator("query.")
        query = result_query(request.query, v)
        v.done()
        page = await asyncio.to_thread(self.repository.list_results, query)
        return apb.ListAssessmentsResponse(
            results=[convert.result(r) for r in page.items],
            total_count=page.total,
            next_offset=next_offset(query.offset, len(page.items), page.total),
        )

    async def GetAssessment(
        self, request: apb.GetAssessmentRequest, context: grpc.aio.ServicerContext
    ) -> apb.GetAssessmentResponse:
        v = Validator()
        result_id = v.required("id", request.id)
        v.done()
        result = await asyncio.to_thread(self.repository.get_result, result_id)
        return apb.GetAssessmentResponse(result=convert.result(result))

    async def GetSummary(
        self, request: apb.GetSummaryRequest, context: grpc.aio.ServicerContext
    ) -> apb.GetSummaryResponse:
        v = Validator("query.")
        query = result_query(request.query, v)
        v.done()
        summary = await asyncio.to_thread(self.repository.summary, query)
        return apb.GetSummaryResponse(summary=convert.summary(summary))

    async def GetHistory(
        self, request: apb.GetHistoryRequest, context: grpc.aio.ServicerContext
    ) -> apb.GetHistoryResponse:
        v = Validator()
        since = v.since(request)
        limit = v.limit(request)
        offset = v.offset(request.offset)
        v.done()
        page = await asyncio.to_thread(
            self.repository.history,
            cluster_id=request.cluster_id or None,
            since=since,
            limit=limit,
            offset=offset,
        )
        return apb.GetHistoryResponse(
            entries=[convert.history(e) for e in page.items],
            total_count=page.total,
            next_offset=next_offset(offset, len(page.items), page.total),
        )
