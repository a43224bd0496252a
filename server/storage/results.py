"""Result listings that never scan: keyset pages over the listing indexes, rows handed out
as the driver returns them. Called by the Repository inside one read.

Listing order
-------------
Newest first by ``(run_id, assessed_at, id)``, descending: run by run, newest run first (run
ids start with the time the run was requested, so this is request order), and newest result
first within a run. Every index of the results table ends in that order after the columns a
filter fixes (``models.AssessmentRow``), so a page is read as::

    SELECT ... WHERE <fixed columns> [AND run_id = :run] AND (key) < (:cursor)
    ORDER BY run_id DESC, assessed_at DESC, id DESC LIMIT :n + 1

Filters that name several values (pillars, statuses, the versions of a check) become one such
branch per combination, merged with ``UNION ALL``; each branch reads at most a page from its
index, so a page costs O(branches x page size) wherever it starts (at most 36 branches). The
default scope, the latest finished run of a cluster, is resolved inside that statement, so a
first page is one round trip. Totals and summaries come from ``storage.counts``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from assay.server.core.errors import NotFound
from assay.server.core.types import (
    AssessmentResult,
    ObjectRef,
    Pillar,
    ResultId,
    ResultQuery,
    RunId,
    RunState,
    SourceLocation,
    Status,
)
from assay.server.storage.checks import CheckCatalog, CheckMeta
from assay.server.storage.dialect import (
    from_driver_timestamp,
    is_sqlite,
    placeholder,
    to_driver_timestamp,
)
from assay.server.storage.models import RunRow
from assay.server.storage.tokens import PageTokens, fingerprint
from assay.server.storage.writes import COLUMNS

LISTING = "assessments"
# States of a run that executed every selected check: what "the latest run" means.
FINISHED_WHOLE = (RunState.COMPLETED.value, RunState.PARTIAL.value)
_ORDER = "ORDER BY run_id DESC, assessed_at DESC, id DESC"


# The columns of a result row as the read path hands it out, in this order: the written
# columns less the pillar (stored for the listing indexes; a result reads it from its check).
RESULT_COLUMNS = tuple(column for column in COLUMNS if column != "pillar")
_SELECT = ", ".join(RESULT_COLUMNS)
RawResult = tuple[Any, ...]


def result_of(row: Sequence[Any], check: CheckMeta) -> AssessmentResult:
    """The domain result of a raw row (see RESULT_COLUMNS) and its check version."""
    (
        id_,
        run_id,
        _,
        status,
        kind,
        namespace,
        name,
        container,
        message,
        at,
        duration,
        exempt,
        origin_path,
        origin_line,
    ) = row
    ref = None
    if kind is not None:
        ref = ObjectRef(kind=kind, name=name or "", namespace=namespace or "")
    return AssessmentResult(
        id=ResultId(id_),
        run_id=RunId(run_id),
        pillar=check.pillar,
        check_id=check.check_id,
        check_name=check.name,
        status=Status(status),
        severity=check.severity,
        object=ref,
        container=container,
        message=message,
        remediation=check.remediation,
        assessed_at=from_driver_timestamp(at),
        duration_ms=duration,
        exempted=bool(exempt),
        origin=None if origin_path is None else SourceLocation(origin_path, origin_line or 0),
    )


@dataclass(frozen=True)
class Scope:
    """Which runs a query reads: one run; the latest run of a cluster, not yet resolved;
    or every run from ``floor`` on (None: all)."""

    run_id: str | None
    floor: str | None = None
    latest_of: str | None = None


@dataclass(frozen=True)
class ResultPage:
    """A page of results as the driver returned them (``RESULT_COLUMNS``; ``assessed_at``
    as the backend stores it, see ``dialect.epoch``), with the check versions they use.
    ``run_id`` is the run the query read (None for every run, or no run to read)."""

    rows: Sequence[RawResult]
    checks: Mapping[int, CheckMeta]
    next_page_token: str
    total: int | None
    run_id: str | None
    # The runs the query was resolved to; None when there was none to read.
    scope: Scope | None = None

    def results(self) -> list[AssessmentResult]:
        return [result_of(row, self.checks[row[2]]) for row in self.rows]


class ResultReader:
    """Result reads over one connection; see the module docstring."""

    def __init__(self, connection: Connection, catalog: CheckCatalog) -> None:
        self._connection = connection
        self._catalog = catalog
        self._mark = placeholder(connection)

    # -- listing -----------------------------------------------------------------------

    def page(self, query: ResultQuery, tokens: PageTokens) -> ResultPage:
        query_key = fingerprint(_query_parts(query))
        after: tuple[Any, ...] | None = None
        if query.page_token:
            position = tokens.read(query.page_token, LISTING, query_key)
            scope = Scope(run_id=position[0], floor=position[1])
            after = tuple(position[2:])
        elif query.run_id is not None:
            scope = Scope(run_id=query.run_id)
        elif query.latest_run_of is not None:
            # Resolved inside the listing statement: one round trip for the common case.
            scope = Scope(run_id=None, latest_of=query.latest_run_of)
        elif query.since is not None:
            scope = Scope(run_id=None, floor=self._floor(query.since))
        else:
            scope = Scope(run_id=None)
        branches = self._branches(query)
        rows: Sequence[RawResult] = []
        if branches:
            sql, params = self._listing_sql(query, scope, branches, after)
            rows = self.fetch(sql, params)
        if scope.latest_of is not None:
            run_id = rows[0][1] if rows else self.latest_run(scope.latest_of)
            if run_id is None:
                return ResultPage([], {}, "", None, None, None)
            scope = Scope(run_id=run_id)
        token = ""
        if len(rows) > query.limit:
            rows = rows[: query.limit]
            last = rows[-1]
            at = last[9] if isinstance(last[9], str) else last[9].isoformat()
            token = tokens.issue(
                LISTING, query_key, [scope.run_id, scope.floor, last[1], at, last[0]]
            )
        return ResultPage(rows, self._checks_of(rows), token, None, scope.run_id, scope)

    def scope(self, query: ResultQuery) -> Scope | None:
        """The runs a query reads, resolved; None when the latest run does not exist."""
        if query.run_id is not None:
            return Scope(run_id=query.run_id)
        if query.latest_run_of is not None:
            latest = self.latest_run(query.latest_run_of)
            return None if latest is None else Scope(run_id=latest)
        if query.since is not None:
            return Scope(run_id=None, floor=self._floor(query.since))
        return Scope(run_id=None)

    def latest_run(self, cluster_id: str) -> str | None:
        """The run of ``cluster_id`` that last ended with every check executed."""
        sql, params = self.latest_sql(cluster_id)
        rows = self.fetch(sql, params)
        return str(rows[0][0]) if rows else None

    def latest_sql(self, cluster_id: str) -> tuple[str, list[Any]]:
        mark = self._mark
        return (
            f"SELECT run_id FROM runs WHERE cluster_id = {mark} AND completed_at IS NOT NULL "
            f"AND state IN ({mark}, {mark}) ORDER BY completed_at DESC, run_id DESC LIMIT 1",
            [cluster_id, *FINISHED_WHOLE],
        )

    def _floor(self, since: datetime) -> str:
        """The lowest run id that can hold a result assessed at or after ``since``.

        A run that ended before ``since`` holds none; every other run has an id at least
        this. With no such run, a value above every run id (the listing is then empty).
        """
        # Two ranges of the completed_at index (still running; ended since), not an OR; few
        # runs are in them, so their minimum is taken here.
        found = [
            run_id
            for condition in (RunRow.completed_at.is_(None), RunRow.completed_at >= since)
            for run_id in self._connection.execute(select(RunRow.run_id).where(condition)).scalars()
        ]
        return min(found) if found else "\U0010ffff"

    def _branches(self, query: ResultQuery) -> list[list[tuple[str, Any]]]:
        """The equality conditions of each index range to merge; [] when nothing can match."""
        statuses = sorted(s.value for s in query.statuses) or [s.value for s in Status]
        if query.check_id is not None:
            refs = self._catalog.refs_of(self._connection, query.check_id)
            if query.pillars:
                refs = [r for r in refs if self.meta(r).pillar in query.pillars]
            return [[("check_ref", ref), ("status", s)] for ref in refs for s in statuses]
        if not query.pillars and not query.statuses:
            return [[]]
        pillars = sorted(p.value for p in query.pillars) or [p.value for p in Pillar]
        return [[("pillar", p), ("status", s)] for p in pillars for s in statuses]

    def _listing_sql(
        self,
        query: ResultQuery,
        scope: Scope,
        branches: list[list[tuple[str, Any]]],
        after: tuple[Any, ...] | None,
    ) -> tuple[str, list[Any]]:
        mark = self._mark
        params: list[Any] = []
        arms: list[str] = []
        for branch in branches:
            where = [f"{column} = {mark}" for column, _ in branch]
            params.extend(value for _, value in branch)
            if scope.run_id is not None:
                where.append(f"run_id = {mark}")
                params.append(scope.run_id)
            elif scope.latest_of is not None:
                latest, latest_params = self.latest_sql(scope.latest_of)
                where.append(f"run_id = ({latest})")
                params.extend(latest_params)
            elif scope.floor is not None:
                where.append(f"run_id >= {mark}")
                params.append(scope.floor)
            if query.since is not None:
                where.append(f"assessed_at >= {mark}")
                params.append(to_driver_timestamp(self._connection, query.since))
            if after is not None:
                # With the run fixed, compare the rest of the key: SQLite ranges an index
                # only on a row value that follows the equality columns.
                if scope.run_id is not None or scope.latest_of is not None:
                    where.append(f"(assessed_at, id) < ({mark}, {mark})")
                    params.extend([self._cursor_time(after[1]), after[2]])
                else:
                    where.append(f"(run_id, assessed_at, id) < ({mark}, {mark}, {mark})")
                    params.extend([after[0], self._cursor_time(after[1]), after[2]])
            params.append(query.limit + 1)
            condition = f"WHERE {' AND '.join(where)} " if where else ""
            arms.append(f"SELECT {_SELECT} FROM assessments {condition}{_ORDER} LIMIT {mark}")
        if len(arms) == 1:
            return arms[0], params
        merged = " UNION ALL ".join(f"SELECT * FROM ({arm}) AS b{i}" for i, arm in enumerate(arms))
        params.append(query.limit + 1)
        return f"{merged} {_ORDER} LIMIT {mark}", params

    def _cursor_time(self, value: str) -> Any:
        """A cursor's assessed_at as the driver compares it (stored text, or timestamptz)."""
        if is_sqlite(self._connection):
            return value
        return datetime.fromisoformat(value)

    # -- single rows ---------------------------------------------------------------------

    def get(self, result_id: str) -> AssessmentResult:
        sql = f"SELECT {_SELECT} FROM assessments WHERE id = {self._mark}"
        rows = self.fetch(sql, [result_id])
        if not rows:
            raise NotFound("result", result_id)
        return result_of(rows[0], self.meta(rows[0][2]))

    def fetch(self, sql: str, params: Sequence[Any]) -> list[RawResult]:
        """Rows straight from the driver's cursor.

        ``Connection._cursor_execute`` is SQLAlchemy's path for statements outside its
        result machinery (its dialects use it): it still fires the cursor events and turns
        driver errors, dropped connections included, into SQLAlchemy's, but skips the
        result object, a third of a page's cost on the driver side.
        """
        cursor = self._connection.connection.cursor()
        try:
            self._connection._cursor_execute(cursor, sql, tuple(params))
            return list(cursor.fetchall())
        finally:
            cursor.close()

    def _checks_of(self, rows: Sequence[RawResult]) -> dict[int, CheckMeta]:
        refs = {row[2] for row in rows}
        self._catalog.load(self._connection, refs)
        return {ref: self.meta(ref) for ref in refs}

    def meta(self, ref: int) -> CheckMeta:
        meta = self._catalog.meta(ref)
        if meta is None:
            self._catalog.load(self._connection, [ref])
            meta = self._catalog.meta(ref)
        assert meta is not None, f"check version {ref} vanished"
        return meta


def _query_parts(query: ResultQuery) -> list[Any]:
    return [
        query.run_id,
        query.latest_run_of,
        sorted(p.value for p in query.pillars),
        sorted(s.value for s in query.statuses),
        query.check_id,
        query.since.isoformat() if query.since is not None else None,
    ]
