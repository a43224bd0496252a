"""The results write path: domain results to rows at the driver, without ORM or Core per row.

``Repository.add_results`` calls :func:`insert_results` inside its transaction. One pass over
the results builds plain tuples (check metadata replaced by its ``check_ref``, one timestamp
conversion per distinct time, enum values by table lookup) and tallies them per (run, check,
status); then the rows go to the database in one statement: ``executemany`` on sqlite3,
``COPY ... FROM STDIN`` on psycopg. The tallies are added to ``assessment_counts`` in the
same transaction, so the stored counts always equal the stored results.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from assay.server.core.errors import NotFound
from assay.server.core.types import AssessmentResult, ObjectRef, Pillar, Severity, Status
from assay.server.storage.checks import CheckCatalog, CheckMeta
from assay.server.storage.dialect import (
    dialect_insert,
    driver_errors,
    is_sqlite,
    sqlite_timestamp,
)
from assay.server.storage.mapping import EXEMPTED
from assay.server.storage.models import K8S_NAME_LEN, K8S_NAMESPACE_LEN, CountRow, RunRow

COLUMNS = (
    "id",
    "run_id",
    "check_ref",
    "pillar",
    "status",
    "object_kind",
    "object_namespace",
    "object_name",
    "container",
    "message",
    "assessed_at",
    "duration_ms",
    "exempted",
    "origin_path",
    "origin_line",
)
_SQLITE_INSERT = (
    f"INSERT INTO assessments ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
)
_POSTGRES_COPY = f"COPY assessments ({', '.join(COLUMNS)}) FROM STDIN"

_PILLARS = {p: p.value for p in Pillar}
_STATUSES = {s: s.value for s in Status}

Row = tuple[Any, ...]
CountKey = tuple[str, int, str]  # run id, check ref, status


def insert_results(
    connection: Connection, catalog: CheckCatalog, results: Sequence[AssessmentResult]
) -> list[tuple[int, CheckMeta]]:
    """Write ``results`` and their counts in the caller's transaction.

    Returns the check versions it resolved, for ``catalog.remember`` once committed.
    """
    _hold_runs(connection, {r.run_id for r in results})
    metas = _metas(results)
    refs = catalog.resolve(connection, set(metas.values()))
    sqlite = is_sqlite(connection)
    rows, tally = _rows(results, metas, refs, sqlite=sqlite)
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        if sqlite:
            with driver_errors(connection, _SQLITE_INSERT):
                cursor.executemany(_SQLITE_INSERT, rows)
        else:
            with driver_errors(connection, _POSTGRES_COPY), cursor.copy(_POSTGRES_COPY) as copy:
                for row in rows:
                    copy.write_row(row)
    finally:
        cursor.close()
    _add_counts(connection, tally)
    return [(ref, meta) for meta, ref in refs.items()]


def _hold_runs(connection: Connection, run_ids: set[str]) -> None:
    """What a foreign key would check per row, once per batch: the runs exist (NotFound
    otherwise), and stay until this transaction ends (PostgreSQL: FOR KEY SHARE, as a
    foreign key check locks; SQLite: the write transaction excludes every other writer)."""
    statement = select(RunRow.run_id).where(RunRow.run_id.in_(sorted(run_ids)))
    found = set(connection.execute(statement.with_for_update(read=True, key_share=True)).scalars())
    for run_id in sorted(run_ids - found):
        raise NotFound("run", run_id)


_MetaKey = tuple[str, str, Pillar, Severity, str]


def _metas(results: Sequence[AssessmentResult]) -> dict[_MetaKey, CheckMeta]:
    """The distinct check versions of a batch, keyed by the fields that make them."""
    metas: dict[_MetaKey, CheckMeta] = {}
    for r in results:
        key = (r.check_id, r.check_name, r.pillar, r.severity, r.remediation)
        if key not in metas:
            metas[key] = CheckMeta(
                check_id=r.check_id,
                pillar=r.pillar,
                severity=r.severity,
                name=r.check_name,
                remediation=r.remediation,
            )
    return metas


def _rows(
    results: Sequence[AssessmentResult],
    metas: dict[_MetaKey, CheckMeta],
    refs: dict[CheckMeta, int],
    *,
    sqlite: bool,
) -> tuple[list[Row], Counter[CountKey]]:
    ref_of = {key: refs[meta] for key, meta in metas.items()}
    pillars, statuses = _PILLARS, _STATUSES
    rows: list[Row] = []
    append = rows.append
    tally: Counter[CountKey] = Counter()
    # A check's results share one timestamp object: convert it once, not per row.
    last_at: datetime | None = None
    at_value: Any = None
    for r in results:
        ref = ref_of[(r.check_id, r.check_name, r.pillar, r.severity, r.remediation)]
        status = statuses[r.status]
        at = r.assessed_at
        if at is not last_at:
            last_at = at
            at_value = sqlite_timestamp(at) if sqlite else _postgres_timestamp(at)
        obj = r.object
        if obj is None:
            kind = namespace = name = None
        else:
            kind, namespace, name = obj.kind, obj.namespace, obj.name
        origin = r.origin
        if origin is None:
            origin_path = origin_line = None
        else:
            origin_path, origin_line = origin.path, origin.line
        row = (
            r.id,
            r.run_id,
            ref,
            pillars[r.pillar],
            status,
            kind,
            namespace,
            name,
            r.container,
            r.message,
            at_value,
            r.duration_ms,
            r.exempted,
            origin_path,
            origin_line,
        )
        # Object names and messages come from manifests; PostgreSQL text cannot hold NUL,
        # nor a varchar more than its length (a container name is not validated upstream).
        if (
            "\x00" in r.message
            or "\x00" in r.container
            or len(r.container) > K8S_NAME_LEN
            or (obj is not None and _nul(obj))
        ):
            row = _storable(row)
        append(row)
        tally[(r.run_id, ref, status)] += 1
        if r.exempted:
            tally[(r.run_id, ref, EXEMPTED)] += 1
    return rows, tally


def _nul(obj: ObjectRef) -> bool:
    return "\x00" in obj.kind or "\x00" in obj.namespace or "\x00" in obj.name


_LIMITS = {
    COLUMNS.index("object_kind"): K8S_NAMESPACE_LEN,
    COLUMNS.index("object_namespace"): K8S_NAMESPACE_LEN,
    COLUMNS.index("object_name"): K8S_NAME_LEN,
    COLUMNS.index("container"): K8S_NAME_LEN,
}


def _storable(row: Row) -> Row:
    """NUL replaced by U+FFFD and bounded columns shortened (ending in U+2026), the same
    on both backends."""
    values = []
    for index, value in enumerate(row):
        if isinstance(value, str):
            value = value.replace("\x00", "\ufffd")
            limit = _LIMITS.get(index)
            if limit is not None and len(value) > limit:
                value = value[: limit - 1] + "\u2026"
        values.append(value)
    return tuple(values)


def _postgres_timestamp(value: datetime) -> str:
    """An aware datetime as ``timestamptz`` input text (COPY parses it once per row)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value.isoformat()} given; use an aware UTC time")
    return value.isoformat()


def _add_counts(connection: Connection, tally: Counter[CountKey]) -> None:
    if not tally:
        return
    statement = dialect_insert(connection, CountRow).values(
        [
            {"run_id": run_id, "check_ref": ref, "status": status, "count": count}
            for (run_id, ref, status), count in sorted(tally.items())
        ]
    )
    connection.execute(
        statement.on_conflict_do_update(
            index_elements=[CountRow.run_id, CountRow.check_ref, CountRow.status],
            set_={"count": CountRow.count + statement.excluded.count},
        )
    )
