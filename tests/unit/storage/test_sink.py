"""StorageSink runs every repository call off the event loop's thread."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any, cast

from assay.server.core.types import AssessmentResult, HistoryEntry, Run
from assay.server.storage.repository import Repository
from assay.server.storage.sink import StorageSink
from assay.server.workflow.audit import AuditEvent
from tests.integration.storage.builders import (
    finished,
    history_for,
    make_audit_event,
    make_result,
    make_run,
)


class RecordingRepository:
    """Stands in for Repository; notes which thread each call ran on."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int, tuple[Any, ...]]] = []

    def _note(self, name: str, *args: Any) -> None:
        self.calls.append((name, threading.get_ident(), args))

    def create_run(self, run: Run, *, owner: str | None = None) -> None:
        self._note("create_run", run)

    def update_run(self, run: Run) -> None:
        self._note("update_run", run)

    def add_results(self, results: Sequence[AssessmentResult], *, run: Run | None = None) -> None:
        self._note("add_results", results, run)

    def finish_run(self, run: Run, history: HistoryEntry) -> None:
        self._note("finish_run", run, history)

    def record_audit(self, event: AuditEvent) -> bool:
        self._note("record_audit", event)
        return event.key == "new"


async def test_every_call_is_delegated_from_a_worker_thread() -> None:
    fake = RecordingRepository()
    sink = StorageSink(cast(Repository, fake))
    run = make_run()
    results = [make_result(run.run_id, 1)]
    done = finished(run, results)
    history = history_for(done, results)

    await sink.create_run(run)
    await sink.add_results(results, run=run)
    await sink.update_run(done)
    await sink.finish_run(done, history)
    assert await sink.record(make_audit_event("new")) is True
    assert await sink.record(make_audit_event("seen")) is False

    assert [(name, args) for name, _, args in fake.calls] == [
        ("create_run", (run,)),
        ("add_results", (results, run)),
        ("update_run", (done,)),
        ("finish_run", (done, history)),
        ("record_audit", (make_audit_event("new"),)),
        ("record_audit", (make_audit_event("seen"),)),
    ]
    loop_thread = threading.get_ident()
    assert all(thread != loop_thread for _, thread, _ in fake.calls)
