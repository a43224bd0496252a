"""ResultWriter: batches written by a real child process into the same SQLite file or
PostgreSQL schema, with the same rows, counts and errors as the in-process write path."""

from __future__ import annotations

import os
import select
import signal
from collections.abc import Iterator

import pytest
from sqlalchemy import make_url

from assay.server.core.errors import NotFound, Unavailable
from assay.server.core.types import (
    AssessmentResult,
    ObjectRef,
    ResultQuery,
    Run,
    Severity,
    SourceLocation,
    Status,
)
from assay.server.storage.repository import Repository
from assay.server.storage.sink import StorageSink
from assay.server.storage.writer import EncodedBatch, ResultWriter, WriterFailed
from tests.integration.storage.builders import finished, make_result, make_run


@pytest.fixture
def writer(repository: Repository) -> Iterator[ResultWriter]:
    made = ResultWriter(repository.engine.url, statement_timeout_s=30, min_rows=1)
    try:
        yield made
    finally:
        made.close()


@pytest.fixture
def started(repository: Repository, writer: ResultWriter) -> Run:
    """A stored run with result 0, written by the writer's child (started by it)."""
    run = make_run()
    repository.create_run(run)
    _write(writer, [make_result(run.run_id, 0)], run=None)
    assert writer.pid is not None
    return run


def _write(writer: ResultWriter, results: list[AssessmentResult], *, run: Run | None) -> None:
    writer.write(writer.encode(results), run=run)


def _stored(repository: Repository, run: Run) -> int:
    total = repository.list_results(ResultQuery(run_id=run.run_id, include_total=True)).total
    assert total is not None
    return total


def _exited(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_a_batch_is_stored_as_the_repository_stores_it(
    repository: Repository, writer: ResultWriter
) -> None:
    run = make_run()
    repository.create_run(run)
    results = [
        make_result(run.run_id, 0),
        make_result(run.run_id, 1, status=Status.FAILING, severity=Severity.CRITICAL),
        make_result(run.run_id, 2, object=None, container="", message="cluster-wide"),
        make_result(run.run_id, 3, origin=SourceLocation("apps/web.yaml", 12)),
        make_result(run.run_id, 4, status=Status.SKIPPED, exempted=True, check_id="SEC002"),
    ]
    stored = finished(run, results, state=run.state, completed_at=None)

    _write(writer, results, run=stored)

    assert writer.pid is not None
    assert repository.list_results(ResultQuery(run_id=run.run_id)).items == sorted(
        results, key=lambda r: (r.assessed_at, r.id), reverse=True
    )
    assert repository.get_run(run.run_id).counts == stored.counts
    summary = repository.summary(ResultQuery(run_id=run.run_id)).counts
    assert (summary.total, summary.failing, summary.exempted) == (5, 1, 1)


def test_values_a_database_cannot_hold_are_made_storable_as_in_process(
    repository: Repository, writer: ResultWriter
) -> None:
    run = make_run()
    repository.create_run(run)
    hostile = make_result(
        run.run_id,
        0,
        object=ObjectRef(kind="Pod", namespace="a\x00b", name="n" * 300),
        container="c" * 300,
        message="nul \x00 inside",
    )
    _write(writer, [hostile], run=None)

    [stored] = repository.list_results(ResultQuery(run_id=run.run_id)).items
    assert stored.message == "nul \ufffd inside"
    assert stored.object is not None and stored.object.namespace == "a\ufffdb"
    assert len(stored.object.name) == 253 and stored.object.name.endswith("\u2026")
    assert len(stored.container) == 253


def test_domain_errors_cross_with_their_fields(writer: ResultWriter) -> None:
    with pytest.raises(NotFound) as raised:
        _write(writer, [make_result("no-such-run", 0)], run=None)
    assert (raised.value.kind, raised.value.ident) == ("run", "no-such-run")
    assert str(raised.value) == "run 'no-such-run' not found"


def test_any_other_failure_is_writer_failed_and_the_child_carries_on(
    repository: Repository, writer: ResultWriter, started: Run
) -> None:
    pid = writer.pid
    with pytest.raises(WriterFailed, match="IntegrityError"):
        _write(writer, [make_result(started.run_id, 0)], run=None)  # the same id again

    _write(writer, [make_result(started.run_id, 1)], run=None)
    assert writer.pid == pid
    assert _stored(repository, started) == 2


def test_a_dead_child_fails_one_batch_as_unavailable_and_the_next_starts_another(
    repository: Repository, writer: ResultWriter, started: Run
) -> None:
    pid = writer.pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)

    with pytest.raises(Unavailable, match="results writer process stopped"):
        _write(writer, [make_result(started.run_id, 1)], run=None)
    assert _exited(pid)  # reaped, no zombie left behind

    _write(writer, [make_result(started.run_id, 1)], run=None)
    assert writer.pid not in (None, pid)
    assert _stored(repository, started) == 2


def test_close_stops_the_child_and_later_batches_are_refused(
    writer: ResultWriter, started: Run
) -> None:
    pid = writer.pid
    assert pid is not None

    writer.close()

    assert _exited(pid)
    with pytest.raises(Unavailable, match="shutting down"):
        _write(writer, [make_result(started.run_id, 1)], run=None)


def test_a_child_ignores_sigint_and_finishes_its_work(
    repository: Repository, writer: ResultWriter, started: Run
) -> None:
    assert writer.pid is not None
    os.kill(writer.pid, signal.SIGINT)  # a Ctrl-C reaches the whole process group

    _write(writer, [make_result(started.run_id, 1)], run=None)
    assert _stored(repository, started) == 2


@pytest.mark.parametrize(
    ("url", "min_rows", "made"),
    [
        ("sqlite:///assay.db", 1000, True),
        ("postgresql+psycopg://postgres@127.0.0.1/assay", 1, True),
        ("sqlite:///assay.db", 0, False),
        ("sqlite://", 1000, False),
        ("sqlite:///:memory:", 1000, False),
        ("sqlite:///file:shared?mode=memory&cache=shared&uri=true", 1000, False),
    ],
)
def test_a_writer_only_for_a_database_another_process_can_open(
    url: str, min_rows: int, made: bool
) -> None:
    writer = ResultWriter.for_database(make_url(url), statement_timeout_s=30, min_rows=min_rows)
    assert (writer is not None) is made


Picky = tuple[StorageSink, ResultWriter, Run]


@pytest.fixture
def picky(repository: Repository) -> Iterator[Picky]:
    """A sink whose writer wants batches of three results or more, and a stored run."""
    writer = ResultWriter(repository.engine.url, statement_timeout_s=30, min_rows=3)
    run = make_run()
    repository.create_run(run)
    try:
        yield StorageSink(repository, writer=writer), writer, run
    finally:
        writer.close()


async def test_the_sink_prepares_and_sends_only_batches_the_writer_wants(
    repository: Repository, picky: Picky
) -> None:
    sink, writer, run = picky
    small = [make_result(run.run_id, n) for n in range(2)]
    assert sink.prepare(small) is None  # too few for the writer
    await sink.add_results(small, run=finished(run, small, state=run.state), prepared=None)
    assert writer.pid is None  # written here, no child started

    large = [make_result(run.run_id, n) for n in range(2, 5)]
    prepared = sink.prepare(large)
    assert isinstance(prepared, EncodedBatch) and prepared.count == 3
    everything = small + large
    await sink.add_results(large, run=finished(run, everything, state=run.state), prepared=prepared)
    assert writer.pid is not None
    assert _stored(repository, run) == 5
    assert repository.get_run(run.run_id).counts.total == 5

    # The child runs and said it is ready (its first write read that): small batches go to
    # it too now.
    small = [make_result(run.run_id, 5)]
    prepared = sink.prepare(small)
    assert isinstance(prepared, EncodedBatch)
    everything += small
    await sink.add_results(small, run=finished(run, everything, state=run.state), prepared=prepared)
    assert _stored(repository, run) == 6


Early = tuple[ResultWriter, Run, int]


@pytest.fixture
def early(picky: Picky) -> Early:
    """The picky writer with its child started before any batch, its pid, and the run."""
    _, writer, run = picky
    writer.start()
    assert writer.pid is not None
    return writer, run, writer.pid


def test_a_child_started_early_takes_the_first_batch_and_then_small_ones(
    repository: Repository, early: Early
) -> None:
    writer, run, pid = early
    writer.start()  # a second call keeps the child
    assert writer.pid == pid
    _write(writer, [make_result(run.run_id, n) for n in range(3)], run=None)  # waits for it
    assert writer.pid == pid
    assert writer.wants(1)  # ready: it takes small batches too
    assert _stored(repository, run) == 3
    writer.close()
    assert _exited(pid)


def test_a_child_that_never_had_a_batch_goes_at_close(early: Early) -> None:
    writer, _, pid = early
    writer.close()  # killed rather than waited for: it may still be importing
    assert _exited(pid)


def test_a_child_that_dies_before_it_is_ready_is_replaced(
    repository: Repository, early: Early
) -> None:
    writer, run, pid = early
    handle = os.pidfd_open(pid)
    try:
        os.kill(pid, signal.SIGKILL)  # long before it imported the storage layer
        assert select.select([handle], [], [], 30)[0], "the child did not die"
    finally:
        os.close(handle)

    assert not writer.wants(1)  # it found the child gone, and let it go
    assert writer.pid is None
    _write(writer, [make_result(run.run_id, n) for n in range(3)], run=None)
    assert writer.pid not in (None, pid)
    assert _stored(repository, run) == 3
