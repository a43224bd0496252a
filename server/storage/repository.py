"""Synchronous repository of runs, results, history and audit events over a SQLAlchemy engine.

The API's query handlers call it (from a worker thread), and ``storage.sink.StorageSink``
wraps its write methods for the runner and the workflow reconciler. Every write is one short
transaction; reads go through a second pool (``engine.reader_engine``: autocommit, retried
once on a dropped connection). A lost or refused connection surfaces as
``errors.Unavailable``.

Listings are keyset pages with signed page tokens (``storage.tokens``): results through
``storage.results`` (the hot path, driver-level SQL), the small tables through
``storage.pages``. Results are written at the driver by ``storage.writes``.
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import TypeVar

from sqlalchemy import ColumnElement, Connection, Engine, Update, insert, or_, select, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from assay.server.assessment.sink import CancelOutcome
from assay.server.core.errors import AlreadyExists, NotFound
from assay.server.core.types import (
    AssessmentResult,
    HistoryEntry,
    Page,
    ResultQuery,
    Run,
    RunId,
    RunQuery,
    RunState,
    Summary,
)
from assay.server.storage import mapping
from assay.server.storage.checks import CheckCatalog
from assay.server.storage.counts import CountReader
from assay.server.storage.dialect import dialect_insert
from assay.server.storage.engine import (
    READ_POOL_SIZE,
    reader_engine,
    schema_is_current,
    storage_errors,
    write_transaction,
)
from assay.server.storage.mapping import HistoryRecord
from assay.server.storage.models import AuditEventRow, HistoryRow, RunRow, SecretRow
from assay.server.storage.pages import Listing, PageRequest, keyset_page
from assay.server.storage.results import ResultPage, ResultReader
from assay.server.storage.tokens import PageTokens
from assay.server.storage.writes import FlatResult, flatten, insert_results
from assay.server.workflow.audit import AuditEvent, AuditQuery

T = TypeVar("T")

_UNFINISHED = (RunState.QUEUED.value, RunState.RUNNING.value)
TOKEN_KEY_NAME = "page_token_key"

RUNS = Listing("runs", RunRow, (RunRow.requested_at, RunRow.run_id), descending=True)
HISTORY = Listing("history", HistoryRow, (HistoryRow.completed_at, HistoryRow.id), descending=True)
AUDIT = Listing(
    "audit_events", AuditEventRow, (AuditEventRow.occurred_at, AuditEventRow.id), descending=False
)


class Repository:
    """Reads and writes the storage tables; thread-safe (the engine pools connections)."""

    def __init__(self, engine: Engine, *, read_pool_size: int = READ_POOL_SIZE) -> None:
        """``read_pool_size``: connections of the PostgreSQL read pool, one per thread that
        reads (the API's read threads)."""
        self._engine = engine
        self._reads = reader_engine(engine, pool_size=read_pool_size)
        self._checks = CheckCatalog()
        self._tokens: PageTokens | None = None

    @property
    def engine(self) -> Engine:
        return self._engine

    @property
    def read_engine(self) -> Engine:
        """The engine reads use (``engine`` itself on SQLite)."""
        return self._reads

    # -- runs ---------------------------------------------------------------------------

    def create_run(self, run: Run, *, owner: str | None = None) -> None:
        """Insert a new run executed by replica ``owner``; AlreadyExists when its id is taken."""
        try:
            with self._transaction() as connection:
                connection.execute(
                    insert(RunRow),
                    {**mapping.run_values(run), "heartbeat_at": run.requested_at, "owner": owner},
                )
        except IntegrityError as exc:
            raise AlreadyExists(f"run {run.run_id!r} already exists") from exc

    def update_run(self, run: Run) -> None:
        """Overwrite the run's mutable fields (state, times, counts, ...); NotFound if absent."""
        with self._transaction() as connection:
            _update_run(connection, run)

    def finish_run(self, run: Run, history: HistoryEntry) -> None:
        """Store the terminal run and its history row atomically.

        Repeating the call (a retry after a lost commit acknowledgement) rewrites the same
        history row instead of failing on its unique run id. The run's per-check counts need
        no step here: they were stored with its results.
        """
        with self._transaction() as connection:
            _update_run(connection, run)
            _put_history(connection, history)

    def get_run(self, run_id: str) -> Run:
        def read(connection: Connection) -> Run:
            row = connection.execute(select(RunRow).where(RunRow.run_id == run_id)).first()
            if row is None:
                raise NotFound("run", run_id)
            return mapping.run_from_row(row._mapping)

        return self._read(read)

    def list_runs(self, query: RunQuery) -> Page[Run]:
        """Runs newest first (by requested_at, then run id)."""
        conditions: list[ColumnElement[bool]] = []
        states = sorted(s.value for s in query.states)
        if len(states) == 1:  # an equality lets the state index deliver the order
            conditions.append(RunRow.state == states[0])
        elif states:
            conditions.append(RunRow.state.in_(states))
        if query.since is not None:
            conditions.append(RunRow.requested_at >= query.since)
        request = PageRequest(
            filters=[states, _iso(query.since)],
            conditions=conditions,
            limit=query.limit,
            page_token=query.page_token,
            include_total=query.include_total,
        )
        return self._read(
            lambda c: keyset_page(c, self._page_tokens(c), RUNS, request, mapping.run_from_row)
        )

    def heartbeat(self, run_ids: Sequence[RunId], now: datetime) -> dict[RunId, str]:
        """Record that the calling process is still executing these runs; the ones another
        replica was asked to cancel (:meth:`request_cancel`), with the reason given."""
        if not run_ids:
            return {}
        statement = (
            update(RunRow)
            .where(RunRow.run_id.in_(run_ids), RunRow.state.in_(_UNFINISHED))
            .values(heartbeat_at=now)
            .returning(RunRow.run_id, RunRow.cancel_requested_at, RunRow.cancel_reason)
        )
        with self._transaction() as connection:
            rows = connection.execute(statement).all()
        return {RunId(run_id): reason or "" for run_id, at, reason in rows if at is not None}

    def request_cancel(
        self,
        run_id: RunId,
        reason: str,
        now: datetime,
        *,
        stale_before: datetime,
        replica: str,
        dead_reason: str,
    ) -> tuple[Run, CancelOutcome]:
        """Ask the replica executing ``run_id`` to cancel it; the run as it now stands, and
        what the request came to.

        A finished run is returned as it is. A run whose owner is gone -- its heartbeat is
        older than ``stale_before``, or its owner is ``replica``, the caller, which does not
        execute it (a restart under the same name) -- is failed at once with ``dead_reason``
        and gets its history row. Otherwise the request is stored for the owner's next
        heartbeat and the run comes back unfinished. NotFound when there is no such run.
        """
        with self._transaction() as connection:
            row = connection.execute(
                select(RunRow).where(RunRow.run_id == run_id).with_for_update()
            ).first()
            if row is None:
                raise NotFound("run", run_id)
            run = mapping.run_from_row(row._mapping)
            if run.state.value not in _UNFINISHED:
                return run, CancelOutcome.ENDED
            heartbeat = row.heartbeat_at
            if row.owner == replica or heartbeat is None or heartbeat < stale_before:
                connection.execute(_fail(dead_reason, now).where(RunRow.run_id == run_id))
                return self._record_failure(connection, run_id), CancelOutcome.OWNER_GONE
            connection.execute(
                update(RunRow)
                .where(RunRow.run_id == run_id)
                .values(cancel_requested_at=now, cancel_reason=reason)
            )
        return run, CancelOutcome.REQUESTED

    def fail_unfinished_runs(
        self,
        reason: str,
        now: datetime,
        *,
        stale_before: datetime | None = None,
        owner: str | None = None,
        keep: Sequence[RunId] = (),
    ) -> list[RunId]:
        """Mark runs a dead process left queued or running as failed; their ids, sorted.

        Each gets its counts recounted from the stored results and its history row. With
        ``stale_before`` or ``owner``, only runs whose last heartbeat is older (live replicas
        keep theirs fresh) or that ``owner`` (a replica name) executed; without either,
        every unfinished run. ``keep`` are runs the caller itself is executing.
        """
        conditions: list[ColumnElement[bool]] = [RunRow.state.in_(_UNFINISHED)]
        dead: list[ColumnElement[bool]] = []
        if stale_before is not None:
            dead += [RunRow.heartbeat_at.is_(None), RunRow.heartbeat_at < stale_before]
        if owner is not None:
            dead.append(RunRow.owner == owner)
        if dead:
            conditions.append(or_(*dead))
        if keep:
            conditions.append(RunRow.run_id.not_in(keep))
        statement = _fail(reason, now).where(*conditions).returning(RunRow.run_id)
        with self._transaction() as connection:
            run_ids = sorted(RunId(run_id) for run_id in connection.execute(statement).scalars())
            for run_id in run_ids:
                self._record_failure(connection, run_id)
        return run_ids

    def _record_failure(self, connection: Connection, run_id: RunId) -> Run:
        """A run just failed by another process than its own: its counts from the stored
        results (the run row's may lag them by a batch on an older schema) and its history
        row, in the caller's transaction."""
        summary = CountReader(connection, self._checks).summary(ResultQuery(run_id=run_id))
        row = connection.execute(select(RunRow).where(RunRow.run_id == run_id)).one()
        run = dataclasses.replace(mapping.run_from_row(row._mapping), counts=summary.counts)
        _update_run(connection, run)
        assert run.completed_at is not None
        history = HistoryEntry(
            run_id=run.run_id,
            cluster_id=run.cluster_id,
            state=run.state,
            completed_at=run.completed_at,
            counts=summary.counts,
            by_pillar=summary.by_pillar,
        )
        _put_history(connection, history)
        return run

    # -- results ------------------------------------------------------------------------

    def add_results(self, results: Sequence[AssessmentResult], *, run: Run | None = None) -> None:
        """Store results and count them in, and with ``run`` its row (the run's counts with
        these results), in one transaction; their run must exist."""
        self.add_flat_results(flatten(results), run=run)

    def add_flat_results(self, results: Sequence[FlatResult], *, run: Run | None = None) -> None:
        """:meth:`add_results` for results already flattened (``writes.flatten``)."""
        if not results and run is None:
            return
        with self._transaction() as connection:
            resolved = insert_results(connection, self._checks, results) if results else []
            if run is not None:
                _update_run(connection, run)
        self._checks.remember(resolved)

    def get_result(self, result_id: str) -> AssessmentResult:
        return self._read(lambda c: ResultReader(c, self._checks).get(result_id))

    def list_results(self, query: ResultQuery) -> Page[AssessmentResult]:
        """Results matching the query, newest first (see ``storage.results``).

        ``total`` is filled when asked for, and for a run's results without ``since`` (the
        stored counts give it for free).
        """
        page = self.list_result_rows(query)
        return Page(items=page.results(), total=page.total, next_page_token=page.next_page_token)

    def list_result_rows(self, query: ResultQuery) -> ResultPage:
        """:meth:`list_results` as rows, with the run the query was resolved to."""

        def read(connection: Connection) -> ResultPage:
            page = ResultReader(connection, self._checks).page(query, self._page_tokens(connection))
            if not query.include_total:
                return page
            counts = CountReader(connection, self._checks)
            total = counts.total(query, page.scope) if page.scope is not None else 0
            return dataclasses.replace(page, total=total)

        return self._read(read)

    def summary(self, query: ResultQuery) -> Summary:
        """Counts of the results matching the query (page fields ignored), from the stored
        per-run counts.

        ``by_pillar`` and ``by_severity`` hold only the pillars and severities that occur;
        ``by_severity`` counts failing results. NotFound when ``query.run_id`` names no run.
        """
        return self._read(lambda c: CountReader(c, self._checks).summary(query))

    # -- history ------------------------------------------------------------------------

    def history(
        self,
        cluster_id: str | None = None,
        since: datetime | None = None,
        limit: int = 50,
        *,
        page_token: str = "",
        include_total: bool = False,
    ) -> Page[HistoryEntry]:
        """Finished runs newest first (by completed_at), optionally of one cluster."""
        page = self.history_records(
            cluster_id, since, limit, page_token=page_token, include_total=include_total
        )
        return Page(
            items=[record.to_domain() for record in page.items],
            total=page.total,
            next_page_token=page.next_page_token,
        )

    def history_records(
        self,
        cluster_id: str | None = None,
        since: datetime | None = None,
        limit: int = 50,
        *,
        page_token: str = "",
        include_total: bool = False,
    ) -> Page[HistoryRecord]:
        """:meth:`history` as records, for the API's conversion without domain objects."""
        conditions: list[ColumnElement[bool]] = []
        if cluster_id is not None:
            conditions.append(HistoryRow.cluster_id == cluster_id)
        if since is not None:
            conditions.append(HistoryRow.completed_at >= since)
        request = PageRequest(
            filters=[cluster_id, _iso(since)],
            conditions=conditions,
            limit=limit,
            page_token=page_token,
            include_total=include_total,
        )
        return self._read(
            lambda c: keyset_page(c, self._page_tokens(c), HISTORY, request, mapping.history_record)
        )

    # -- workflow audit -----------------------------------------------------------------

    def record_audit(self, event: AuditEvent) -> bool:
        """Insert the event; False, and no second row, when its key is already stored."""
        with self._transaction() as connection:
            statement = (
                dialect_insert(connection, AuditEventRow)
                .values(mapping.audit_values(event))
                .on_conflict_do_nothing(index_elements=[AuditEventRow.key])
                # A row comes back only when one was inserted. (rowcount is no help: with
                # the implicit RETURNING of the new id, psycopg reports -1.)
                .returning(AuditEventRow.id)
            )
            return connection.execute(statement).first() is not None

    def list_audit_events(self, query: AuditQuery) -> Page[AuditEvent]:
        """Audit events matching the query, oldest first (occurred_at, then insertion)."""
        conditions: list[ColumnElement[bool]] = []
        if query.execution_namespace is not None:
            conditions.append(AuditEventRow.execution_namespace == query.execution_namespace)
        if query.execution_name is not None:
            conditions.append(AuditEventRow.execution_name == query.execution_name)
        if query.target is not None:
            conditions.append(AuditEventRow.target == query.target)
        if query.event_type is not None:
            conditions.append(AuditEventRow.event_type == query.event_type.value)
        if query.since is not None:
            conditions.append(AuditEventRow.occurred_at >= query.since)
        request = PageRequest(
            filters=[
                query.execution_namespace,
                query.execution_name,
                query.target,
                query.event_type.value if query.event_type is not None else None,
                _iso(query.since),
            ],
            conditions=conditions,
            limit=query.limit,
            page_token=query.page_token,
            include_total=query.include_total,
        )
        return self._read(
            lambda c: keyset_page(c, self._page_tokens(c), AUDIT, request, mapping.audit_from_row)
        )

    # -- health -------------------------------------------------------------------------

    def ping(self) -> None:
        """Round-trip to the database; Unavailable when it cannot be reached."""
        with storage_errors(), self._engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    def schema_is_current(self) -> bool:
        """Every migration of this version is applied; Unavailable when unreachable."""
        with self._transaction() as connection:
            return schema_is_current(connection)

    # -- helpers ------------------------------------------------------------------------

    @contextmanager
    def _transaction(self) -> Iterator[Connection]:
        with storage_errors(), write_transaction(self._engine) as connection:
            yield connection

    def _read(self, work: Callable[[Connection], T]) -> T:
        """``work`` over a connection of the read engine (see ``engine.reader_engine``),
        once more on a fresh connection if the first one turned out dead."""
        with storage_errors():
            try:
                with self._reads.connect() as connection:
                    return work(connection)
            except DBAPIError as exc:
                if not exc.connection_invalidated:
                    raise
            with self._reads.connect() as connection:
                return work(connection)

    def _page_tokens(self, connection: Connection) -> PageTokens:
        """The token codec, its key read from the database once (created if missing)."""
        if self._tokens is None:
            lookup = select(SecretRow.value).where(SecretRow.name == TOKEN_KEY_NAME)
            key = connection.execute(lookup).scalar()
            if key is None:  # the migration creates it; a database restored without it
                with self._transaction() as writer:
                    writer.execute(
                        dialect_insert(writer, SecretRow)
                        .values(name=TOKEN_KEY_NAME, value=secrets.token_hex(32))
                        .on_conflict_do_nothing(index_elements=[SecretRow.name])
                    )
                    key = writer.execute(lookup).scalar_one()
            self._tokens = PageTokens(bytes.fromhex(key))
        return self._tokens


def _update_run(connection: Connection, run: Run) -> None:
    values = mapping.run_values(run)
    del values["run_id"]
    result = connection.execute(update(RunRow).where(RunRow.run_id == run.run_id).values(values))
    if result.rowcount == 0:
        raise NotFound("run", run.run_id)


def _fail(reason: str, now: datetime) -> Update:
    return update(RunRow).values(state=RunState.FAILED.value, error=reason, completed_at=now)


def _put_history(connection: Connection, history: HistoryEntry) -> None:
    """Insert the history row, or rewrite it (a retry after a lost commit acknowledgement)."""
    values = mapping.history_values(history)
    statement = dialect_insert(connection, HistoryRow).values(values)
    connection.execute(
        statement.on_conflict_do_update(
            index_elements=[HistoryRow.run_id],
            set_={name: statement.excluded[name] for name in values if name != "run_id"},
        )
    )


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None
