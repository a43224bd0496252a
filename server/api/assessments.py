"""``AssessmentService`` servicer: validates requests, calls the domain, converts replies.

Thin by design: queries go to the storage repository (in a worker thread, so the event loop
never blocks on the database), runs to the runner, progress to the progress bus. Errors are
raised as domain errors and mapped to statuses by ``interceptors.ErrorMappingInterceptor``.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import grpc

from assay.server.api import convert
from assay.server.api.validation import Validator
from assay.server.assessment.types import ResultQuery, RunId, RunQuery
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
