"""The check versions results point at: one ``assessment_checks`` row per distinct metadata.

A result's check id, name, pillar, severity and remediation text are the same for every
result the check produced, so the write path stores them once, keyed by the check id and a
digest of the content, and each result row carries only the small integer ``check_ref``. A
check whose name or remediation changes gets a new row; old results keep the metadata they
were produced with.

Rows are immutable and content-addressed, so :class:`CheckCatalog` caches them for the
process's lifetime: the write path resolves a definition to its ref without a query once seen,
and the read path turns refs back into metadata without a join. Callers: ``storage.writes``
(resolve on write) and ``storage.results`` (resolve on read).
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Collection, Iterable
from dataclasses import dataclass

from sqlalchemy import Connection, select

from assay.server.core.types import Pillar, Severity
from assay.server.storage.dialect import dialect_insert
from assay.server.storage.models import CheckRow


@dataclass(frozen=True)
class CheckMeta:
    """What every result of one check version shares."""

    check_id: str
    pillar: Pillar
    severity: Severity
    name: str
    remediation: str

    @property
    def digest(self) -> str:
        return check_digest(
            check_id=self.check_id,
            pillar=self.pillar.value,
            severity=self.severity.value,
            name=self.name,
            remediation=self.remediation,
        )


def check_digest(*, check_id: str, pillar: str, severity: str, name: str, remediation: str) -> str:
    """The content digest of a check version (sha256 hex of a canonical JSON array)."""
    canonical = json.dumps(
        [check_id, pillar, severity, name, remediation], ensure_ascii=False, separators=(",", ":")
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


class CheckCatalog:
    """Process-wide cache of ``assessment_checks`` in both directions; thread-safe.

    Entries are added only after the transaction that made them visible committed (see
    :meth:`remember`), so a rolled-back insert never leaves a ref to a missing row behind.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._refs: dict[CheckMeta, int] = {}
        self._metas: dict[int, CheckMeta] = {}

    def ref(self, meta: CheckMeta) -> int | None:
        return self._refs.get(meta)

    def meta(self, ref: int) -> CheckMeta | None:
        return self._metas.get(ref)

    def remember(self, entries: Iterable[tuple[int, CheckMeta]]) -> None:
        with self._lock:
            for ref, meta in entries:
                self._refs[meta] = ref
                self._metas[ref] = meta

    def resolve(self, connection: Connection, metas: Collection[CheckMeta]) -> dict[CheckMeta, int]:
        """The refs of ``metas``, inserting the versions the database does not have yet.

        Runs inside the caller's transaction; the caller passes the returned pairs to
        :meth:`remember` after its commit.
        """
        known = {meta: ref for meta in metas if (ref := self._refs.get(meta)) is not None}
        missing = [meta for meta in metas if meta not in known]
        if not missing:
            return known
        rows = [
            {
                "check_id": meta.check_id,
                "digest": meta.digest,
                "pillar": meta.pillar.value,
                "check_name": meta.name,
                "severity": meta.severity.value,
                "remediation": meta.remediation,
            }
            for meta in missing
        ]
        connection.execute(
            dialect_insert(connection, CheckRow)
            .values(rows)
            .on_conflict_do_nothing(index_elements=[CheckRow.check_id, CheckRow.digest])
        )
        wanted = {
            (row["check_id"], row["digest"]): meta for row, meta in zip(rows, missing, strict=True)
        }
        found = connection.execute(
            select(CheckRow.id, CheckRow.check_id, CheckRow.digest).where(
                CheckRow.check_id.in_(sorted({meta.check_id for meta in missing})),
                CheckRow.digest.in_(sorted(row["digest"] for row in rows)),
            )
        ).all()
        for ref, check_id, digest in found:
            meta = wanted.get((check_id, digest))
            if meta is not None:
                known[meta] = ref
        return known

    def load(self, connection: Connection, refs: Iterable[int]) -> None:
        """Fetch the metadata of refs not cached yet (a reader met a version new to it)."""
        wanted = sorted({ref for ref in refs if ref not in self._metas})
        if not wanted:
            return
        rows = connection.execute(
            select(
                CheckRow.id,
                CheckRow.check_id,
                CheckRow.pillar,
                CheckRow.severity,
                CheckRow.check_name,
                CheckRow.remediation,
            ).where(CheckRow.id.in_(wanted))
        ).all()
        self.remember(
            (
                ref,
                CheckMeta(
                    check_id=check_id,
                    pillar=Pillar(pillar),
                    severity=Severity(severity),
                    name=name,
                    remediation=remediation,
                ),
            )
            for ref, check_id, pillar, severity, name, remediation in rows
        )

    def refs_of(self, connection: Connection, check_id: str) -> list[int]:
        """Every stored version of ``check_id`` (cached afterwards), oldest first."""
        refs = (
            connection.execute(
                select(CheckRow.id).where(CheckRow.check_id == check_id).order_by(CheckRow.id)
            )
            .scalars()
            .all()
        )
        self.load(connection, refs)
        return list(refs)
