"""Counts of results without counting rows: summaries and totals from the per-run counts.

``assessment_counts`` holds, per run, check version and status, how many results were
stored (written with them, so always equal to them). Summaries and totals add those up:
O(checks x statuses) per run. Only ``since`` needs result rows, and only for a run that
straddles it (requested before, still producing results after): runs requested at or after
``since`` count in full, runs that ended before it not at all. Called by the Repository and
by ``storage.results`` (a listing's total), inside one read.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import Connection, func, select

from assay.server.core.errors import NotFound
from assay.server.core.types import (
    Pillar,
    ResultQuery,
    RunId,
    Severity,
    Status,
    StatusCounts,
    Summary,
)
from assay.server.storage.checks import CheckCatalog
from assay.server.storage.dialect import placeholder
from assay.server.storage.mapping import EXEMPTED
from assay.server.storage.models import AssessmentRow, CountRow, RunRow
from assay.server.storage.results import ResultReader, Scope


class CountReader:
    """Summaries and totals over one connection; see the module docstring."""

    def __init__(self, connection: Connection, catalog: CheckCatalog) -> None:
        self._connection = connection
        self._catalog = catalog
        self._results = ResultReader(connection, catalog)

    def summary(self, query: ResultQuery) -> Summary:
        """Counts of the results a query selects (its page fields ignored)."""
        quick = self._one_run_counts(query)
        if quick is not None:
            run_id, grouped = quick
            return self._summarize(grouped, run_id)
        if query.run_id is not None:
            self._require_run(query.run_id)
        scope = self._results.scope(query)
        grouped = {} if scope is None else self.grouped_counts(query, scope)
        return self._summarize(grouped, scope.run_id if scope is not None else None)

    def _one_run_counts(self, query: ResultQuery) -> tuple[str, dict[tuple[int, str], int]] | None:
        """The common case in one statement: one run (named, or the latest, resolved in the
        statement), no ``since``, no check; None when it does not apply or found nothing
        (the general path then tells an empty run from a missing one)."""
        if query.since is not None or query.check_id is not None:
            return None
        mark = placeholder(self._connection)
        params: list[str]
        if query.run_id is not None:
            run, params = mark, [query.run_id]
        elif query.latest_run_of is not None:
            latest, params = self._results.latest_sql(query.latest_run_of)
            run = f"({latest})"
        else:
            return None
        where = f"run_id = {run}"
        if query.statuses:
            statuses = _counted_statuses(query)
            where += f" AND status IN ({', '.join([mark] * len(statuses))})"
            params = [*params, *statuses]
        # Written out, not built with Core: this is GetSummary's whole cost on the driver.
        rows = self._results.fetch(
            f"SELECT run_id, check_ref, status, SUM(count) FROM assessment_counts "
            f"WHERE {where} GROUP BY run_id, check_ref, status",
            params,
        )
        if not rows:
            return None
        grouped = {
            (ref, status): int(count)
            for _, ref, status, count in rows
            if not query.pillars or self._results.meta(ref).pillar in query.pillars
        }
        return str(rows[0][0]), grouped

    def _summarize(self, grouped: dict[tuple[int, str], int], run_id: str | None) -> Summary:
        per_pillar: dict[Pillar, dict[str, int]] = {}
        by_severity: dict[Severity, int] = {}
        for (ref, status), count in grouped.items():
            if not count:
                continue
            meta = self._results.meta(ref)
            tally = per_pillar.setdefault(meta.pillar, {})
            tally[status] = tally.get(status, 0) + count
            if status == Status.FAILING:
                by_severity[meta.severity] = by_severity.get(meta.severity, 0) + count
        total: dict[str, int] = {}
        for tally in per_pillar.values():
            for status, count in tally.items():
                total[status] = total.get(status, 0) + count
        return Summary(
            counts=StatusCounts(**total),
            by_pillar={pillar: StatusCounts(**tally) for pillar, tally in per_pillar.items()},
            by_severity=by_severity,
            run_id=RunId(run_id) if run_id else None,
        )

    def total(self, query: ResultQuery, scope: Scope) -> int:
        """How many results a query selects in the runs it was resolved to."""
        grouped = self.grouped_counts(query, scope)
        return sum(count for (_, status), count in grouped.items() if status != EXEMPTED)

    def grouped_counts(self, query: ResultQuery, scope: Scope) -> dict[tuple[int, str], int]:
        """Matching results per (check ref, status), from the stored counts where exact."""
        refs: list[int] | None = None
        if query.check_id is not None:
            refs = self._catalog.refs_of(self._connection, query.check_id)
            if not refs:
                return {}
        totals: defaultdict[tuple[int, str], int] = defaultdict(int)
        for (ref, status), count in self._counts(query, scope, refs):
            if query.pillars and self._results.meta(ref).pillar not in query.pillars:
                continue
            totals[(ref, status)] += count
        return {key: count for key, count in totals.items() if count}

    def _counts(
        self, query: ResultQuery, scope: Scope, refs: list[int] | None
    ) -> Iterable[tuple[tuple[int, str], int]]:
        filters = []
        if query.statuses:
            filters.append(CountRow.status.in_(_counted_statuses(query)))
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
        columns = select(RunRow.run_id, RunRow.requested_at, RunRow.completed_at)
        if scope.run_id is not None:
            statements = [columns.where(RunRow.run_id == scope.run_id)]
        else:  # two ranges of the completed_at index, not an OR
            statements = [
                columns.where(RunRow.completed_at.is_(None)),
                columns.where(RunRow.completed_at >= since),
            ]
        found = [row for statement in statements for row in self._connection.execute(statement)]
        whole: list[str] = []
        straddling: list[str] = []
        for run_id, requested_at, completed_at in found:
            if requested_at >= since:
                whole.append(run_id)
            elif completed_at is None or completed_at >= since:
                straddling.append(run_id)
        return whole, straddling

    def _counted_rows(
        self, query: ResultQuery, run_id: str, refs: list[int] | None
    ) -> Iterable[tuple[tuple[int, str], int]]:
        assert query.since is not None
        statement = select(
            AssessmentRow.check_ref, AssessmentRow.status, AssessmentRow.exempted, func.count()
        ).where(AssessmentRow.run_id == run_id, AssessmentRow.assessed_at >= query.since)
        if query.statuses:
            statement = statement.where(
                AssessmentRow.status.in_(sorted(s.value for s in query.statuses))
            )
        if refs is not None:
            statement = statement.where(AssessmentRow.check_ref.in_(refs))
        statement = statement.group_by(
            AssessmentRow.check_ref, AssessmentRow.status, AssessmentRow.exempted
        )
        for ref, status, exempted, count in self._connection.execute(statement):
            yield (ref, status), int(count)
            if exempted:
                yield (ref, EXEMPTED), int(count)

    def _require_run(self, run_id: str) -> None:
        found = self._connection.execute(
            select(RunRow.run_id).where(RunRow.run_id == run_id)
        ).first()
        if found is None:
            raise NotFound("run", run_id)


def _counted_statuses(query: ResultQuery) -> list[str]:
    """The count keys a status filter reads: exemptions count among skipped results."""
    statuses = {s.value for s in query.statuses}
    if Status.SKIPPED.value in statuses:
        statuses.add(EXEMPTED)
    return sorted(statuses)
