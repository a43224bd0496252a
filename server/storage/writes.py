"""The results write path: domain results to rows at the driver, without ORM or Core per row.

A batch is first flattened (:func:`flatten`): one tuple of plain values per result, the
form that also crosses to the writer process (``storage.writer``) cheaply, since pickling a
tuple of strings costs a tenth of pickling the dataclass. ``Repository.add_flat_results``
then calls :func:`insert_results` inside its transaction. One pass over the flat results
builds the rows (check metadata replaced by its ``check_ref``, one timestamp conversion per
distinct time) and tallies them per (run, check, status); then the rows go to the database
in one statement: ``executemany`` on sqlite3, ``COPY ... FROM STDIN`` on psycopg. The
tallies are added to ``assessment_counts`` in the same transaction, so the stored counts
always equal the stored results.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from assay.server.core.errors import NotFound
from assay.server.core.types import AssessmentResult, Pillar, Severity
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

Row = tuple[Any, ...]
CountKey = tuple[str, int, str]  # run id, check ref, status

FlatResult = tuple[
    str,  # id
    str,  # run id
    str,  # pillar
    str,  # check id
    str,  # check name
    str,  # status
    str,  # severity
    str | None,  # object kind
    str | None,  # object namespace
    str | None,  # object name
    str,  # container
    str,  # message
    str,  # remediation
    datetime,  # assessed at
    int,  # duration (ms)
    bool,  # exempted
    str | None,  # origin path
    int | None,  # origin line
]


def flatten(results: Sequence[AssessmentResult]) -> list[FlatResult]:
    """``results`` as plain tuples (see :data:`FlatResult`), in order."""
    flat: list[FlatResult] = []
    append = flat.append
    for r in results:
        obj, origin = r.object, r.origin
        append(
            (
                r.id,
                r.run_id,
                r.pillar.value,
                r.check_id,
                r.check_name,
                r.status.value,
                r.severity.value,
                None if obj is None else obj.kind,
                None if obj is None else obj.namespace,
                None if obj is None else obj.name,
                r.container,
                r.message,
                r.remediation,
                r.assessed_at,
                r.duration_ms,
                r.exempted,
                None if origin is None else origin.path,
                None if origin is None else origin.line,
            )
        )
    return flat


def insert_results(
    connection: Connection, catalog: CheckCatalog, results: Sequence[FlatResult]
) -> list[tuple[int, CheckMeta]]:
    """Write ``results`` and their counts in the caller's transaction.

    Returns the check versions it resolved, for ``catalog.remember`` once committed.
    """
    _hold_runs(connection, {r[1] for r in results})
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


_MetaKey = tuple[str, str, str, str, str]  # check id, name, pillar, severity, remediation


def _metas(results: Sequence[FlatResult]) -> dict[_MetaKey, CheckMeta]:
    """The distinct check versions of a batch, keyed by the fields that make them."""
    metas: dict[_MetaKey, CheckMeta] = {}
    for r in results:
        key = (r[3], r[4], r[2], r[6], r[12])
        if key not in metas:
            check_id, name, pillar, severity, remediation = key
            metas[key] = CheckMeta(
                check_id=check_id,
                pillar=Pillar(pillar),
                severity=Severity(severity),
                name=name,
                remediation=remediation,
            )
    return metas


def _rows(
    results: Sequence[FlatResult],
    metas: dict[_MetaKey, CheckMeta],
    refs: dict[CheckMeta, int],
    *,
    sqlite: bool,
) -> tuple[list[Row], Counter[CountKey]]:
    ref_of = {key: refs[meta] for key, meta in metas.items()}
    rows: list[Row] = []
    append = rows.append
    tally: Counter[CountKey] = Counter()
    # A check's results share one timestamp object: convert it once, not per row.
    last_at: datetime | None = None
    at_value: Any = None
    for (
        result_id,
        run_id,
        pillar,
        check_id,
        check_name,
        status,
        severity,
        kind,
        namespace,
        name,
        container,
        message,
        remediation,
        at,
        duration_ms,
        exempted,
        origin_path,
        origin_line,
    ) in results:
        ref = ref_of[(check_id, check_name, pillar, severity, remediation)]
        if at is not last_at:
            last_at = at
            at_value = sqlite_timestamp(at) if sqlite else _postgres_timestamp(at)
        row = (
            result_id,
            run_id,
            ref,
            pillar,
            status,
            kind,
            namespace,
            name,
            container,
            message,
            at_value,
            duration_ms,
            exempted,
            origin_path,
            origin_line,
        )
        # Object names and messages come from manifests; PostgreSQL text cannot hold NUL,
        # nor a varchar more than its length (a container name is not validated upstream).
        if (
            "\x00" in message
            or "\x00" in container
            or len(container) > K8S_NAME_LEN
            or (name is not None and "\x00" in f"{kind}{namespace}{name}")
        ):
            row = _storable(row)
        append(row)
        tally[(run_id, ref, status)] += 1
        if exempted:
            tally[(run_id, ref, EXEMPTED)] += 1
    return rows, tally


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
