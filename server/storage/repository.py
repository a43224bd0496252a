"""Synchronous repository of runs, results, history and audit events over a SQLAlchemy engine.

The API's query handlers call it (from a worker thread), and ``storage.sink.StorageSink``
wraps its write methods for the runner and the workflow reconciler. Every public method is
one short transaction; a lost or refused connection surfaces as ``errors.Unavailable``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    UnaryExpression,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import RowMapping
from sqlalchemy.exc import IntegrityError

from assay.server.core.errors import AlreadyExists, NotFound
from assay.server.core.types import (
    AssessmentResult,
    HistoryEntry,
    ObjectRef,
    Page,
    Pillar,
    ResultId,
    ResultQuery,
    Run,
    RunId,
    RunQuery,
    RunScope,
    RunState,
    Severity,
    Source,
    Status,
    StatusCounts,
    Summary,
)
from assay.server.storage.engine import schema_is_current, unavailable_on_connection_error
from assay.server.storage.models import AssessmentRow, AuditEventRow, Base, HistoryRow, RunRow
from assay.server.workflow.audit import AuditEvent, AuditEventType, AuditQuery

T = TypeVar("T")

_UNFINISHED = (RunState.QUEUED.value, RunState.RUNNING.value)


class Repository:
    """Reads and writes the storage tables; thread-safe (the engine pools connections)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @property
    def engine(self) -> Engine:
        return self._engine

    # -- runs ---------------------------------------------------------------------------

    def create_run(self, run: Run) -> None:
        """Insert a new run; AlreadyExists when its id is taken."""
        try:
            with self._transaction() as connection:
                connection.execute(
                    insert(RunRow), {**_run_values(run), "heartbeat_at": run.requested_at}
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
        history row instead of failing on its unique run id.
        """
        with self._transaction() as connection:
            _update_run(connection, run)
            values = _history_values(history)
            statement = _dialect_insert(connection, HistoryRow).values(values)
            connection.execute(
                statement.on_conflict_do_update(
                    index_elements=[HistoryRow.run_id],
                    set_={name: statement.excluded[name] for name in values if name != "run_id"},
                )
            )

    def get_run(self, run_id: str) -> Run:
        with self._transaction() as connection:
            row = connection.execute(select(RunRow).where(RunRow.run_id == run_id)).first()
        if row is None:
            raise NotFound("run", run_id)
        return _run_from_row(row._mapping)

    def list_runs(self, query: RunQuery) -> Page[Run]:
        """Runs newest first (by requested_at)."""
        conditions: list[ColumnElement[bool]] = []
        if query.states:
            conditions.append(RunRow.state.in_(sorted(s.value for s in query.states)))
        if query.since is not None:
            conditions.append(RunRow.requested_at >= query.since)
        order = (RunRow.requested_at.desc(), RunRow.run_id.desc())
        return self._page(RunRow, conditions, order, query.limit, query.offset, _run_from_row)

    def heartbeat(self, run_ids: Sequence[RunId], now: datetime) -> None:
        """Record that the calling process is still executing these runs."""
        if not run_ids:
            return
        statement = (
            update(RunRow)
            .where(RunRow.run_id.in_(run_ids), RunRow.state.in_(_UNFINISHED))
            .values(heartbeat_at=now)
        )
        with self._transaction() as connection:
            connection.execute(statement)

    def fail_unfinished_runs(
        self,
        reason: str,
        now: datetime,
        *,
        stale_before: datetime | None = None,
        keep: Sequence[RunId] = (),
    ) -> list[RunId]:
        """Mark runs a dead process left queued or running as failed; their ids, sorted.

        With ``stale_before``, only runs whose last heartbeat is older (live replicas keep
        theirs fresh); ``keep`` are runs the caller itself is executing.
        """
        conditions: list[ColumnElement[bool]] = [RunRow.state.in_(_UNFINISHED)]
        if stale_before is not None:
            conditions.append(
                or_(RunRow.heartbeat_at.is_(None), RunRow.heartbeat_at < stale_before)
            )
        if keep:
            conditions.append(RunRow.run_id.not_in(keep))
        statement = (
            update(RunRow)
            .where(*conditions)
            .values(state=RunState.FAILED.value, error=reason, completed_at=now)
            .returning(RunRow.run_id)
        )
        with self._transaction() as connection:
            run_ids = connection.execute(statement).scalars().all()
        return sorted(RunId(run_id) for run_id in run_ids)

    # -- results ------------------------------------------------------------------------

    def add_results(self, results: Sequence[AssessmentResult]) -> None:
        """Bulk-insert results (one executemany); their run must exist."""
        if not results:
            return
        rows = [_result_values(result) for result in results]
        with self._transaction() as connection:
            connection.execute(insert(AssessmentRow), rows)

    def get_result(self, result_id: str) -> AssessmentResult:
        with self._transaction() as connection:
            row = connection.execute(
                select(AssessmentRow).where(AssessmentRow.id == result_id)
            ).first()
        if row is None:
            raise NotFound("result", result_id)
        return _result_from_row(row._mapping)

    def list_results(self, query: ResultQuery) -> Page[AssessmentResult]:
        """Results matching the query, newest first (assessed_at, then id, descending)."""
        order = (AssessmentRow.assessed_at.desc(), AssessmentRow.id.desc())
        return self._page(
            AssessmentRow,
            _result_conditions(query),
            order,
            query.limit,
            query.offset,
            _result_from_row,
        )

    def summary(self, query: ResultQuery) -> Summary:
        """Counts of the results matching the query (limit and offset ignored).

        ``by_pillar`` and ``by_severity`` hold only the pillars and severities that occur;
        ``by_severity`` counts failing results. NotFound when ``query.run_id`` names no run.
        """
        statement = (
            select(AssessmentRow.pillar, AssessmentRow.status, AssessmentRow.severity, func.count())
            .where(*_result_conditions(query))
            .group_by(AssessmentRow.pillar, AssessmentRow.status, AssessmentRow.severity)
        )
        with self._transaction() as connection:
            if query.run_id is not None:
                exists = connection.execute(
                    select(RunRow.run_id).where(RunRow.run_id == query.run_id)
                ).first()
                if exists is None:
                    raise NotFound("run", query.run_id)
            groups = connection.execute(statement).all()

        per_pillar: defaultdict[Pillar, defaultdict[Status, int]] = defaultdict(
            lambda: defaultdict(int)
        )
        by_severity: defaultdict[Severity, int] = defaultdict(int)
        for pillar, status, severity, count in groups:
            per_pillar[Pillar(pillar)][Status(status)] += count
            if status == Status.FAILING:
                by_severity[Severity(severity)] += count
        by_pillar = {p: StatusCounts.from_mapping(tally) for p, tally in per_pillar.items()}
        return Summary(
            counts=sum(by_pillar.values(), StatusCounts()),
            by_pillar=by_pillar,
            by_severity=dict(by_severity),
            run_id=query.run_id,
        )

    # -- history ------------------------------------------------------------------------

    def history(
        self,
        cluster_id: str | None = None,
        since: datetime | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> Page[HistoryEntry]:
        """Finished runs newest first (by completed_at), optionally of one cluster."""
        conditions: list[ColumnElement[bool]] = []
        if cluster_id is not None:
            conditions.append(HistoryRow.cluster_id == cluster_id)
        if since is not None:
            conditions.append(HistoryRow.completed_at >= since)
        order = (HistoryRow.completed_at.desc(), HistoryRow.id.desc())
        return self._page(HistoryRow, conditions, order, limit, offset, _history_from_row)

    # -- workflow audit -----------------------------------------------------------------

    def record_audit(self, event: AuditEvent) -> bool:
        """Insert the event; False, and no second row, when its key is already stored."""
        with self._transaction() as connection:
            statement = (
                _dialect_insert(connection, AuditEventRow)
                .values(_audit_values(event))
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
        order = (AuditEventRow.occurred_at.asc(), AuditEventRow.id.asc())
        return self._page(
            AuditEventRow, conditions, order, query.limit, query.offset, _audit_from_row
        )

    # -- health -------------------------------------------------------------------------

    def ping(self) -> None:
        """Round-trip to the database; Unavailable when it cannot be reached."""
        with self._transaction() as connection:
            connection.execute(text("SELECT 1"))

    def schema_is_current(self) -> bool:
        """Every migration of this version is applied; Unavailable when unreachable."""
        with self._transaction() as connection:
            return schema_is_current(connection)

    # -- helpers ------------------------------------------------------------------------

    @contextmanager
    def _transaction(self) -> Iterator[Connection]:
        with unavailable_on_connection_error(), self._engine.begin() as connection:
            yield connection

    def _page(
        self,
        model: type[Base],
        conditions: Sequence[ColumnElement[bool]],
        order: Sequence[UnaryExpression[Any]],
        limit: int,
        offset: int,
        convert: Callable[[RowMapping], T],
    ) -> Page[T]:
        """One page and the total count, read in the same transaction (consistent)."""
        count = select(func.count()).select_from(model).where(*conditions)
        rows = select(model).where(*conditions).order_by(*order).limit(limit).offset(offset)
        with self._transaction() as connection:
            total = connection.execute(count).scalar_one()
            items = (
                [convert(row) for row in connection.execute(rows).mappings()]
                if offset < total
                else []
            )
        return Page(items=items, total=total)


def _dialect_insert(connection: Connection, model: type[Base]) -> postgresql.Insert | sqlite.Insert:
    """An INSERT supporting ON CONFLICT, which plain ``insert()`` cannot express."""
    if connection.dialect.name == "postgresql":
        return postgresql.insert(model)
    return sqlite.insert(model)


def _update_run(connection: Connection, run: Run) -> None:
    values = _run_values(run)
    del values["run_id"]
    result = connection.execute(update(RunRow).where(RunRow.run_id == run.run_id).values(values))
    if result.rowcount == 0:
        raise NotFound("run", run.run_id)


def _result_conditions(query: ResultQuery) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if query.run_id is not None:
        conditions.append(AssessmentRow.run_id == query.run_id)
    if query.pillars:
        conditions.append(AssessmentRow.pillar.in_(sorted(p.value for p in query.pillars)))
    if query.statuses:
        conditions.append(AssessmentRow.status.in_(sorted(s.value for s in query.statuses)))
    if query.check_id is not None:
        conditions.append(AssessmentRow.check_id == query.check_id)
    if query.since is not None:
        conditions.append(AssessmentRow.assessed_at >= query.since)
    return conditions


# -- row <-> domain -------------------------------------------------------------------------


def _count_values(counts: StatusCounts) -> dict[str, int]:
    return {f"{status.value}_count": counts.get(status) for status in Status}


def _counts_from_row(row: RowMapping) -> StatusCounts:
    return StatusCounts.from_mapping({status: row[f"{status.value}_count"] for status in Status})


def _run_values(run: Run) -> dict[str, Any]:
    return {
        "run_id": run.run_id,
        "state": run.state.value,
        "scope": run.scope.value,
        "source": run.source.value,
        "pillars": ",".join(pillar.value for pillar in run.pillars),
        "check_id": run.check_id,
        "cluster_id": run.cluster_id,
        "requested_at": run.requested_at,
        "started_at": run.started_at,
        "completed_at": run.completed_at,
        "error": run.error,
        **_count_values(run.counts),
        "diagnostics": list(run.diagnostics),
        "check_count": run.check_count,
    }


def _run_from_row(row: RowMapping) -> Run:
    return Run(
        run_id=RunId(row["run_id"]),
        state=RunState(row["state"]),
        scope=RunScope(row["scope"]),
        source=Source(row["source"]),
        requested_at=row["requested_at"],
        pillars=tuple(Pillar(p) for p in row["pillars"].split(",") if p),
        check_id=row["check_id"],
        cluster_id=row["cluster_id"],
        started_at=row["started_at"],
        completed_at=row["completed_at"],
        error=row["error"],
        counts=_counts_from_row(row),
        diagnostics=tuple(row["diagnostics"]),
        check_count=row["check_count"],
    )


def _result_values(result: AssessmentResult) -> dict[str, Any]:
    ref = result.object
    return {
        "id": result.id,
        "run_id": result.run_id,
        "pillar": result.pillar.value,
        "check_id": result.check_id,
        "check_name": result.check_name,
        "status": result.status.value,
        "severity": result.severity.value,
        "object_kind": ref.kind if ref else None,
        "object_namespace": ref.namespace if ref else None,
        "object_name": ref.name if ref else None,
        "container": result.container,
        "message": result.message,
        "remediation": result.remediation,
        "assessed_at": result.assessed_at,
        "duration_ms": result.duration_ms,
    }


def _result_from_row(row: RowMapping) -> AssessmentResult:
    ref = None
    if row["object_kind"] is not None:
        ref = ObjectRef(
            kind=row["object_kind"], name=row["object_name"], namespace=row["object_namespace"]
        )
    return AssessmentResult(
        id=ResultId(row["id"]),
        run_id=RunId(row["run_id"]),
        pillar=Pillar(row["pillar"]),
        check_id=row["check_id"],
        check_name=row["check_name"],
        status=Status(row["status"]),
        severity=Severity(row["severity"]),
        object=ref,
        container=row["container"],
        message=row["message"],
        remediation=row["remediation"],
        assessed_at=row["assessed_at"],
        duration_ms=row["duration_ms"],
    )


def _history_values(entry: HistoryEntry) -> dict[str, Any]:
    return {
        "run_id": entry.run_id,
        "cluster_id": entry.cluster_id,
        "state": entry.state.value,
        "completed_at": entry.completed_at,
        **_count_values(entry.counts),
        "score": entry.score,
        "by_pillar": {
            pillar.value: {status.value: counts.get(status) for status in Status}
            for pillar, counts in entry.by_pillar.items()
        },
    }


def _history_from_row(row: RowMapping) -> HistoryEntry:
    return HistoryEntry(
        run_id=RunId(row["run_id"]),
        cluster_id=row["cluster_id"],
        state=RunState(row["state"]),
        completed_at=row["completed_at"],
        counts=_counts_from_row(row),
        by_pillar={
            Pillar(pillar): StatusCounts.from_mapping(tally)
            for pillar, tally in row["by_pillar"].items()
        },
    )


def _audit_values(event: AuditEvent) -> dict[str, Any]:
    return {
        "key": event.key,
        "event_type": event.event_type.value,
        "execution_namespace": event.execution_namespace,
        "execution_name": event.execution_name,
        "execution_uid": event.execution_uid,
        "workflow_id": event.workflow_id,
        "workflow_version": event.workflow_version,
        "target": event.target,
        "phase": event.phase,
        "reason": event.reason,
        "message": event.message,
        "correlation_id": event.correlation_id,
        "occurred_at": event.occurred_at,
        "payload": dict(event.payload),
    }


def _audit_from_row(row: RowMapping) -> AuditEvent:
    return AuditEvent(
        key=row["key"],
        event_type=AuditEventType(row["event_type"]),
        execution_namespace=row["execution_namespace"],
        execution_name=row["execution_name"],
        execution_uid=row["execution_uid"],
        workflow_id=row["workflow_id"],
        workflow_version=row["workflow_version"],
        target=row["target"],
        phase=row["phase"],
        occurred_at=row["occurred_at"],
        reason=row["reason"],
        message=row["message"],
        correlation_id=row["correlation_id"],
        payload=row["payload"],
    )
