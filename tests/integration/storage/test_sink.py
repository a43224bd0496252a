"""StorageSink: the async RunSink and AuditSink of the runner and reconciler, end to end."""

from __future__ import annotations

from assay.server.assessment.sink import RunSink
from assay.server.core.types import ResultQuery
from assay.server.storage.repository import Repository
from assay.server.storage.sink import StorageSink
from assay.server.workflow.audit import AuditQuery, AuditSink
from tests.integration.storage.builders import (
    finished,
    history_for,
    make_audit_event,
    make_result,
    make_run,
)


async def test_sink_persists_a_run_and_audit_events(repository: Repository) -> None:
    sink = StorageSink(repository)
    run_sink: RunSink = sink
    audit_sink: AuditSink = sink
    run = make_run()
    results = [make_result(run.run_id, n) for n in range(3)]
    done = finished(run, results)

    await run_sink.create_run(run)
    await run_sink.add_results(results, run=run)
    await run_sink.update_run(finished(run, results[:1], state=run.state, completed_at=None))
    await run_sink.finish_run(done, history_for(done, results))

    assert repository.get_run(run.run_id) == done
    assert repository.list_results(ResultQuery(include_total=True)).total == 3
    assert [e.run_id for e in repository.history().items] == [run.run_id]

    event = make_audit_event()
    assert await audit_sink.record(event) is True
    assert await audit_sink.record(event) is False
    assert repository.list_audit_events(AuditQuery()).items == [event]
