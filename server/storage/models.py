"""SQLAlchemy table models of the persistence layer (runs, results, history, audit events).

Only ``server.storage`` uses these: the repository maps rows to and from the domain types of
``server.core.types`` and ``server.workflow.audit``, and the alembic migrations under
``migrations/versions`` create exactly this schema (a test compares the two).

Enum-valued columns hold the enum's string value in a plain VARCHAR rather than a database
enum type, so adding a pillar or status needs no schema migration.

Results are the one big table. What every result of a check shares (its name, pillar,
severity and remediation text) is stored once in ``assessment_checks``, keyed by the check id
and a digest of that content, and a result row points at it; ``assessment_counts`` keeps the
number of results per (run, check, status), written in the transaction that writes the
results, so summaries and totals never count result rows. Every index of ``assessments``
ends in the listing order (run, assessed_at, id) after the columns a filter fixes, so each
page is one index range read from the cursor on (see ``storage.results``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

# Column sizes: Kubernetes names are DNS subdomains (<= 253), namespaces DNS labels (<= 63).
ID_LEN = 128
ENUM_LEN = 32
K8S_NAME_LEN = 253
K8S_NAMESPACE_LEN = 63
DIGEST_LEN = 64
# Result listings run newest first in this order (descending); every index of the results
# table ends with it.
LISTING_ORDER = ("run_id", "assessed_at", "id")


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend.

    PostgreSQL keeps the instant (``timestamptz``) but hands it back in the session's time
    zone; SQLite has no time zone support at all and stores a naive text timestamp. Binding
    converts to UTC (and drops the zone on SQLite, so the text sorts chronologically) and
    loading always yields ``tzinfo=UTC``, so rows read back equal to what was written.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            # A naive timestamp is a bug upstream; guessing its zone would corrupt ordering.
            raise ValueError(f"naive datetime {value.isoformat()} given; use an aware UTC time")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    # Deterministic constraint names, identical on both backends and in the migrations, so
    # later migrations can drop or alter them by name.
    metadata = MetaData(
        naming_convention={
            "pk": "pk_%(table_name)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s",
        }
    )


class RunRow(Base):
    __tablename__ = "runs"

    run_id: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    state: Mapped[str] = mapped_column(String(ENUM_LEN))
    scope: Mapped[str] = mapped_column(String(ENUM_LEN))
    source: Mapped[str] = mapped_column(String(ENUM_LEN))
    # Comma-separated pillar values in request order; empty for every pillar.
    pillars: Mapped[str] = mapped_column(String(255))
    check_id: Mapped[str] = mapped_column(String(ID_LEN))
    cluster_id: Mapped[str] = mapped_column(String(K8S_NAME_LEN))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime())
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    error: Mapped[str] = mapped_column(Text)
    # "<status>_count" rather than the bare status: "error" is already the failure message.
    passing_count: Mapped[int] = mapped_column(Integer)
    failing_count: Mapped[int] = mapped_column(Integer)
    warning_count: Mapped[int] = mapped_column(Integer)
    skipped_count: Mapped[int] = mapped_column(Integer)
    error_count: Mapped[int] = mapped_column(Integer)
    timeout_count: Mapped[int] = mapped_column(Integer)
    # Of the skipped results, those an exemption made so.
    exempted_count: Mapped[int] = mapped_column(Integer, server_default="0")
    diagnostics: Mapped[list[str]] = mapped_column(JSON)
    check_count: Mapped[int] = mapped_column(Integer)
    # Last sign of life from the process executing the run (queued/running only matter).
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The replica executing the run (its name: host and port), and a CancelRun that reached
    # another replica, waiting for the owner's next heartbeat.
    owner: Mapped[str | None] = mapped_column(String(255))
    cancel_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cancel_reason: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        # ListRuns pages newest first, optionally by state; the latest finished run of a
        # cluster is the default scope of result queries.
        Index("ix_runs_requested_at_run_id", "requested_at", "run_id"),
        Index("ix_runs_state_requested_at_run_id", "state", "requested_at", "run_id"),
        Index("ix_runs_cluster_id_completed_at_run_id", "cluster_id", "completed_at", "run_id"),
        Index("ix_runs_completed_at", "completed_at"),
    )


class CheckRow(Base):
    """One version of a check's metadata, shared by every result it produced."""

    __tablename__ = "assessment_checks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    check_id: Mapped[str] = mapped_column(String(ID_LEN))
    # sha256 (hex) of the fields below; a changed name or remediation is a new row.
    digest: Mapped[str] = mapped_column(String(DIGEST_LEN))
    pillar: Mapped[str] = mapped_column(String(ENUM_LEN))
    check_name: Mapped[str] = mapped_column(String(255))
    severity: Mapped[str] = mapped_column(String(ENUM_LEN))
    remediation: Mapped[str] = mapped_column(Text)

    __table_args__ = (UniqueConstraint("check_id", "digest"),)


class AssessmentRow(Base):
    __tablename__ = "assessments"

    id: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    # No foreign keys: they cost a lookup per row (a fifth of PostgreSQL's write rate each).
    # ``storage.writes``, the one writer, checks the run once per batch (holding it against
    # deletion) and takes check_ref from assessment_checks in the same transaction.
    run_id: Mapped[str] = mapped_column(String(ID_LEN))
    check_ref: Mapped[int] = mapped_column(Integer)
    # The check's pillar, repeated here because result listings filter and page by it.
    pillar: Mapped[str] = mapped_column(String(ENUM_LEN))
    status: Mapped[str] = mapped_column(String(ENUM_LEN))
    # All three NULL when the result is about no object (cluster-wide checks).
    object_kind: Mapped[str | None] = mapped_column(String(K8S_NAMESPACE_LEN))
    object_namespace: Mapped[str | None] = mapped_column(String(K8S_NAMESPACE_LEN))
    object_name: Mapped[str | None] = mapped_column(String(K8S_NAME_LEN))
    container: Mapped[str] = mapped_column(String(K8S_NAME_LEN))
    message: Mapped[str] = mapped_column(Text)
    assessed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    duration_ms: Mapped[int] = mapped_column(Integer)
    # A skipped result that an exemption made so (its message says which and why).
    exempted: Mapped[bool] = mapped_column(Boolean, server_default=false())
    # The manifest file (as the client named it) and line of the object; NULL when unknown.
    origin_path: Mapped[str | None] = mapped_column(Text)
    origin_line: Mapped[int | None] = mapped_column(Integer)

    __table_args__ = (
        Index("ix_assessments_listing", *LISTING_ORDER),
        Index("ix_assessments_pillar_status_listing", "pillar", "status", *LISTING_ORDER),
        Index("ix_assessments_check_status_listing", "check_ref", "status", *LISTING_ORDER),
    )


class CountRow(Base):
    """How many results of a run one check version produced with one status."""

    __tablename__ = "assessment_counts"

    run_id: Mapped[str] = mapped_column(
        String(ID_LEN), ForeignKey("runs.run_id", ondelete="CASCADE"), primary_key=True
    )
    check_ref: Mapped[int] = mapped_column(
        Integer, ForeignKey("assessment_checks.id"), primary_key=True
    )
    status: Mapped[str] = mapped_column(String(ENUM_LEN), primary_key=True)
    count: Mapped[int] = mapped_column(Integer)


class SecretRow(Base):
    """Server-side secrets shared by every replica on the database (the page-token key)."""

    __tablename__ = "server_secrets"

    name: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    value: Mapped[str] = mapped_column(String(255))


class HistoryRow(Base):
    """One row per finished run.

    No foreign key to ``runs``: history is the long-term trend and is meant to outlive the
    retention of runs and their results.
    """

    __tablename__ = "assessment_history"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(String(ID_LEN), unique=True)
    cluster_id: Mapped[str] = mapped_column(String(K8S_NAME_LEN))
    state: Mapped[str] = mapped_column(String(ENUM_LEN))
    completed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    passing_count: Mapped[int] = mapped_column(Integer)
    failing_count: Mapped[int] = mapped_column(Integer)
    warning_count: Mapped[int] = mapped_column(Integer)
    skipped_count: Mapped[int] = mapped_column(Integer)
    error_count: Mapped[int] = mapped_column(Integer)
    timeout_count: Mapped[int] = mapped_column(Integer)
    exempted_count: Mapped[int] = mapped_column(Integer, server_default="0")
    # Derived from the counts, stored so trend queries can filter and average in SQL.
    score: Mapped[float | None] = mapped_column(Float)
    # {pillar: {status: count}}
    by_pillar: Mapped[dict[str, dict[str, int]]] = mapped_column(JSON)

    __table_args__ = (
        Index("ix_assessment_history_completed_at_id", "completed_at", "id"),
        Index(
            "ix_assessment_history_cluster_id_completed_at_id", "cluster_id", "completed_at", "id"
        ),
    )


class AuditEventRow(Base):
    __tablename__ = "workflow_audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # Execution uid + transition: the reconciler's retries collide here instead of duplicating.
    key: Mapped[str] = mapped_column(String(255), unique=True)
    event_type: Mapped[str] = mapped_column(String(ENUM_LEN))
    execution_namespace: Mapped[str] = mapped_column(String(K8S_NAMESPACE_LEN))
    execution_name: Mapped[str] = mapped_column(String(K8S_NAME_LEN))
    execution_uid: Mapped[str] = mapped_column(String(ID_LEN))
    workflow_id: Mapped[str] = mapped_column(String(K8S_NAME_LEN))
    workflow_version: Mapped[str] = mapped_column(String(ID_LEN))
    target: Mapped[str] = mapped_column(String(512))
    phase: Mapped[str] = mapped_column(String(ENUM_LEN))
    reason: Mapped[str] = mapped_column(Text)
    message: Mapped[str] = mapped_column(Text)
    correlation_id: Mapped[str] = mapped_column(String(ID_LEN))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)

    __table_args__ = (
        Index(
            "ix_workflow_audit_events_execution",
            "execution_namespace",
            "execution_name",
            "occurred_at",
            "id",
        ),
        Index("ix_workflow_audit_events_namespace", "execution_namespace", "occurred_at", "id"),
        Index("ix_workflow_audit_events_target", "target", "occurred_at", "id"),
        Index("ix_workflow_audit_events_event_type", "event_type", "occurred_at", "id"),
        Index("ix_workflow_audit_events_occurred_at", "occurred_at", "id"),
    )
