"""Async adapter that lets the runner and the reconciler write through the Repository.

The composition root builds one ``StorageSink(repository)`` and hands it to the runner (as
its ``RunSink``) and to the workflow reconciler (as its ``AuditSink``). Each call runs the
synchronous repository method in a worker thread, so the event loop never waits on the
database.

A run's writes (runs, results, counts, history) go through one thread of their own, in the
order the runner issues them: its checks keep running in their threads while the writer is
in the database (SQLite and psycopg leave the GIL to them there), and a burst of other
blocking work on the loop's default executor never holds up a run's results. Audit records
of the reconciler take the default executor.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from assay.server.assessment.sink import RunSink
from assay.server.core.types import AssessmentResult, HistoryEntry, Run
from assay.server.storage.repository import Repository
from assay.server.workflow.audit import AuditEvent, AuditSink

T = TypeVar("T")

WRITER_THREAD = "assay-run-writer"


class StorageSink(RunSink, AuditSink):
    def __init__(self, repository: Repository) -> None:
        self._repository = repository
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix=WRITER_THREAD)
        weakref.finalize(self, self._writer.shutdown, wait=False)

    async def _write(self, call: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._writer, call, *args)

    async def create_run(self, run: Run) -> None:
        await self._write(self._repository.create_run, run)

    async def update_run(self, run: Run) -> None:
        await self._write(self._repository.update_run, run)

    async def add_results(self, results: Sequence[AssessmentResult]) -> None:
        await self._write(self._repository.add_results, results)

    async def finish_run(self, run: Run, history: HistoryEntry) -> None:
        await self._write(self._repository.finish_run, run, history)

    async def record(self, event: AuditEvent) -> bool:
        return await asyncio.to_thread(self._repository.record_audit, event)
