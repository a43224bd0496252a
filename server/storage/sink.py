"""Async adapter that lets the runner and the reconciler write through the Repository.

The composition root builds one ``StorageSink(repository, threads=..., owner=...)`` and hands
it to the runner (as its ``RunSink``) and to the workflow reconciler (as its ``AuditSink``).
Each call runs the synchronous repository method in a thread of ``threads`` (the storage
pool; asyncio's default executor when not given), so the event loop never waits on the
database and blocked storage calls cannot take the threads inventories or checks use.
``owner`` is this replica's name, stamped on the runs it creates. With a ``writer``
(``storage.writer``), the batches of results it wants are written by its process instead.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from datetime import datetime
from functools import partial
from typing import TypeVar

from assay.server.assessment.sink import CancelOutcome, RunSink
from assay.server.core.types import AssessmentResult, HistoryEntry, Run, RunId
from assay.server.storage.repository import Repository
from assay.server.storage.writer import EncodedBatch, ResultWriter
from assay.server.workflow.audit import AuditEvent, AuditSink

T = TypeVar("T")


class StorageSink(RunSink, AuditSink):
    def __init__(
        self,
        repository: Repository,
        *,
        threads: Executor | None = None,
        owner: str | None = None,
        writer: ResultWriter | None = None,
    ) -> None:
        self._repository = repository
        self._threads = threads
        self._owner = owner
        self._writer = writer

    async def _call(self, work: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._threads, work)

    async def create_run(self, run: Run) -> None:
        await self._call(partial(self._repository.create_run, run, owner=self._owner))

    async def update_run(self, run: Run) -> None:
        await self._call(partial(self._repository.update_run, run))

    def prepare(self, results: Sequence[AssessmentResult]) -> EncodedBatch | None:
        """A batch the writer wants, encoded for it (in the check's thread)."""
        writer = self._writer
        if writer is None or not writer.wants(len(results)):
            return None
        return writer.encode(results)

    async def add_results(
        self, results: Sequence[AssessmentResult], *, run: Run, prepared: object = None
    ) -> None:
        """A batch :meth:`prepare` encoded goes to the writer process; any other (small, or
        never prepared) is written here."""
        writer = self._writer
        if isinstance(prepared, EncodedBatch) and writer is not None:
            await self._call(partial(writer.write, prepared, run=run))
        else:
            await self._call(partial(self._repository.add_results, results, run=run))

    async def finish_run(self, run: Run, history: HistoryEntry) -> None:
        await self._call(partial(self._repository.finish_run, run, history))

    async def request_cancel(
        self, run_id: RunId, reason: str, *, now: datetime, stale_before: datetime, dead_reason: str
    ) -> tuple[Run, CancelOutcome]:
        return await self._call(
            partial(
                self._repository.request_cancel,
                run_id,
                reason,
                now,
                stale_before=stale_before,
                replica=self._owner or "",
                dead_reason=dead_reason,
            )
        )

    async def record(self, event: AuditEvent) -> bool:
        return await self._call(partial(self._repository.record_audit, event))
