"""Result reads that never scan: keyset pages over the listing indexes, counts from the table
of per-run counts. Called by the Repository inside one read transaction.

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
index, so a page costs O(branches x page size) wherever it starts (at most 36 branches).

Counts
------
``assessment_counts`` holds, per run, check version and status, how many results were
stored. Summaries and totals add those up (O(checks x statuses) per run). Only ``since``
needs result rows, and only for a run that straddles it (requested before, still producing
results after): runs requested at or after ``since`` count in full, runs that ended before
it not at all.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Connection, func, or_, select

from assay.server.core.errors import NotFound
from assay.server.core.types import (
    AssessmentResult,
    ObjectRef,
    Pillar,
    ResultId,
    ResultQuery,
    RunId,
    RunState,
    Severity,
    Status,
    StatusCounts,
    Summary,
)
from assay.server.storage.checks import CheckCatalog, CheckMeta
from assay.server.storage.dialect import (
    from_driver_timestamp,
    is_sqlite,
    placeholder,
    to_driver_timestamp,
)
from assay.server.storage.models import AssessmentRow, CountRow, RunRow
from assay.server.storage.tokens import PageTokens, fingerprint

LISTING = "assessments"
# States of a run that executed every selected check: what "the latest run" means.
FINISHED_WHOLE = (RunState.COMPLETED.value, RunState.PARTIAL.value)
_SELECT = (
    "id, run_id, check_ref, status, object_kind, object_namespace, object_name, container, "
    "message, assessed_at, duration_ms"
)
_ORDER = "ORDER BY run_id DESC, assessed_at DESC, id DESC"


class ResultRow(NamedTuple):
    """A stored result as the read path hands it out (to the API's protobuf conversion)."""

    id: str
    run_id: str
    check: CheckMeta
    status: str
    object_kind: str | None
    object_namespace: str | None
    object_name: str | None
    container: str
    message: str
    assessed_at: datetime
    duration_ms: int

    def to_domain(self) -> AssessmentResult:
        ref = None
        if self.object_kind is not None:
            ref = ObjectRef(
                kind=self.object_kind,
                name=self.object_name or "",
                namespace=self.object_namespace or "",
            )
        return AssessmentResult(
            id=ResultId(self.id),
            run_id=RunId(self.run_id),
            pillar=self.check.pillar,
            check_id=self.check.check_id,
            check_name=self.check.name,
            status=Status(self.status),
            severity=self.check.severity,
            object=ref,
            container=self.container,
            message=self.message,
            remediation=self.check.remediation,
            assessed_at=self.assessed_at,
            duration_ms=self.duration_ms,
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
    rows: list[ResultRow]
    next_page_token: str
    total: int | None
    run_id: str | None


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
        rows: Sequence[Any] = []
        if branches:
            sql, params = self._listing_sql(query, scope, branches, after)
            rows = self._connection.exec_driver_sql(sql, tuple(params)).all()
        if scope.latest_of is not None:
            run_id = rows[0][1] if rows else self.latest_run(scope.latest_of)
            if run_id is None:
                return ResultPage([], "", 0 if query.include_total else None, None)
            scope = Scope(run_id=run_id)
        token = ""
        if len(rows) > query.limit:
            rows = rows[: query.limit]
            last = rows[-1]
            at = last[9] if isinstance(last[9], str) else last[9].isoformat()
            token = tokens.issue(
                LISTING, query_key, [scope.run_id, scope.floor, last[1], at, last[0]]
            )
        total = None
        if query.include_total:
            total = sum(self.grouped_counts(query, scope).values())
        return ResultPage(self._result_rows(rows), token, total, scope.run_id)

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
        sql, params = self._latest_sql(cluster_id)
        latest: str | None = self._connection.exec_driver_sql(sql, tuple(params)).scalar()
        return latest

    def _latest_sql(self, cluster_id: str) -> tuple[str, list[Any]]:
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
                refs = [r for r in refs if self._meta(r).pillar in query.pillars]
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
                latest, latest_params = self._latest_sql(scope.latest_of)
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

    def get(self, result_id: str) -> ResultRow:
        sql = f"SELECT {_SELECT} FROM assessments WHERE id = {self._mark}"
        rows = self._connection.exec_driver_sql(sql, (result_id,)).all()
        if not rows:
            raise NotFound("result", result_id)
        return self._result_rows(rows)[0]

    def _result_rows(self, rows: Sequence[Sequence[Any]]) -> list[ResultRow]:
        self._catalog.load(self._connection, (row[2] for row in rows))
        meta = self._catalog.meta
        return [
            ResultRow(
                row[0],
                row[1],
                meta(row[2]),  # type: ignore[arg-type]
                row[3],
                row[4],
                row[5],
                row[6],
                row[7],
                row[8],
                from_driver_timestamp(row[9]),
                row[10],
            )
            for row in rows
        ]

    def _meta(self, ref: int) -> CheckMeta:
        meta = self._catalog.meta(ref)
        if meta is None:
            self._catalog.load(self._connection, [ref])
            meta = self._catalog.meta(ref)
        assert meta is not None, f"check version {ref} vanished"
        return meta

    # -- counts --------------------------------------------------------------------------

    def summary(self, query: ResultQuery) -> Summary:
        """Counts of the results a query selects (its page fields ignored)."""
        if query.run_id is not None:
            self._require_run(query.run_id)
        scope = self.scope(query)
        grouped = {} if scope is None else self.grouped_counts(query, scope)
        per_pillar: defaultdict[Pillar, defaultdict[Status, int]] = defaultdict(
            lambda: defaultdict(int)
        )
        by_severity: defaultdict[Severity, int] = defaultdict(int)
        for (ref, status), count in grouped.items():
            meta = self._meta(ref)
            per_pillar[meta.pillar][Status(status)] += count
            if status == Status.FAILING:
                by_severity[meta.severity] += count
        by_pillar = {p: StatusCounts.from_mapping(tally) for p, tally in per_pillar.items()}
        return Summary(
            counts=sum(by_pillar.values(), StatusCounts()),
            by_pillar=by_pillar,
            by_severity=dict(by_severity),
            run_id=RunId(scope.run_id) if scope is not None and scope.run_id else None,
        )

    def grouped_counts(self, query: ResultQuery, scope: Scope) -> dict[tuple[int, str], int]:
        """Matching results per (check ref, status), from the stored counts where exact."""
        refs: list[int] | None = None
        if query.check_id is not None:
            refs = self._catalog.refs_of(self._connection, query.check_id)
            if not refs:
                return {}
        totals: defaultdict[tuple[int, str], int] = defaultdict(int)
        for (ref, status), count in self._counts(query, scope, refs):
            if query.pillars and self._meta(ref).pillar not in query.pillars:
                continue
            totals[(ref, status)] += count
        return {key: count for key, count in totals.items() if count}

    def _counts(
        self, query: ResultQuery, scope: Scope, refs: list[int] | None
    ) -> Iterable[tuple[tuple[int, str], int]]:
        filters = []
        if query.statuses:
            filters.append(CountRow.status.in_(sorted(s.value for s in query.statuses)))
        if refs is not None:
            filters.append(CountRow.check_ref.in_(refs))
        whole: list[str] | None  # runs counted in full (None: every run)
        straddling: list[str] = []
        if query.since is None:
            whole = None if scope.run_id is None else [scope.run_id]
        else:
            whole, straddling = self._split_at(query.since, scope)
        if whole is None or whole:
            statement = select(CountRow.check_ref, CountRow.status, func.sum(CountRow.count))
            if whole is not None:
                statement = statement.where(CountRow.run_id.in_(whole))
            statement = statement.where(*filters).group_by(CountRow.check_ref, CountRow.status)
            for ref, status, count in self._connection.execute(statement):
                yield (ref, status), int(count)
        for run_id in straddling:
            yield from self._counted_rows(query, run_id, refs)

    def _split_at(self, since: datetime, scope: Scope) -> tuple[list[str], list[str]]:
        """Runs in scope whose results are all at or after ``since``, and runs with some."""
        statement = select(RunRow.run_id, RunRow.requested_at, RunRow.completed_at).where(
            or_(RunRow.completed_at.is_(None), RunRow.completed_at >= since)
        )
        if scope.run_id is not None:
            statement = select(RunRow.run_id, RunRow.requested_at, RunRow.completed_at).where(
                RunRow.run_id == scope.run_id
            )
        whole: list[str] = []
        straddling: list[str] = []
        for run_id, requested_at, completed_at in self._connection.execute(statement):
            if requested_at >= since:
                whole.append(run_id)
            elif completed_at is None or completed_at >= since:
                straddling.append(run_id)
        return whole, straddling

    def _counted_rows(
        self, query: ResultQuery, run_id: str, refs: list[int] | None
    ) -> Iterable[tuple[tuple[int, str], int]]:
        assert query.since is not None
        statement = select(AssessmentRow.check_ref, AssessmentRow.status, func.count()).where(
            AssessmentRow.run_id == run_id, AssessmentRow.assessed_at >= query.since
        )
        if query.statuses:
            statement = statement.where(
                AssessmentRow.status.in_(sorted(s.value for s in query.statuses))
            )
        if refs is not None:
            statement = statement.where(AssessmentRow.check_ref.in_(refs))
        statement = statement.group_by(AssessmentRow.check_ref, AssessmentRow.status)
        for ref, status, count in self._connection.execute(statement):
            yield (ref, status), int(count)

    def _require_run(self, run_id: str) -> None:
        found = self._connection.execute(
            select(RunRow.run_id).where(RunRow.run_id == run_id)
        ).first()
        if found is None:
            raise NotFound("run", run_id)


def _query_parts(query: ResultQuery) -> list[Any]:
    return [
        query.run_id,
        query.latest_run_of,
        sorted(p.value for p in query.pillars),
        sorted(s.value for s in query.statuses),
        query.check_id,
        query.since.isoformat() if query.since is not None else None,
    ]
