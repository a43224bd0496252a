"""Async adapter that lets the runner and the reconciler write through the Repository.

The composition root builds one ``StorageSink(repository)`` and hands it to the runner (as
its ``RunSink``) and to the workflow reconciler (as its ``AuditSink``). Each call runs the
synchronous repository method in a worker thread, so the event loop never waits on the
database.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from assay.server.assessment.sink import RunSink
from assay.server.core.types import AssessmentResult, HistoryEntry, Run
from assay.server.storage.repository import Repository
from assay.server.workflow.audit import AuditEvent, AuditSink


class StorageSink(RunSink, AuditSink):
    def __init__(self, repository: Repository) -> None:
        self._repository = repository

    async def create_run(self, run: Run) -> None:
        await asyncio.to_thread(self._repository.create_run, run)

    async def update_run(self, run: Run) -> None:
        await asyncio.to_thread(self._repository.update_run, run)

    async def add_results(self, results: Sequence[AssessmentResult]) -> None:
        await asyncio.to_thread(self._repository.add_results, results)

    async def finish_run(self, run: Run, history: HistoryEntry) -> None:
        await asyncio.to_thread(self._repository.finish_run, run, history)

    async def record(self, event: AuditEvent) -> bool:
        return await asyncio.to_thread(self._repository.record_audit, event)
