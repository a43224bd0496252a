"""Check metadata stored once, per-run counts, keyset indexes, the page-token key.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01

- ``assessment_checks``: one row per check version (check id + content digest) holding the
  name, pillar, severity and remediation that every result of the check used to repeat;
  ``assessments`` keeps ``pillar`` (listings filter by it), gains ``check_ref`` and loses
  ``check_id``, ``check_name``, ``severity`` and ``remediation``.
- ``assessment_counts``: results per (run, check version, status), filled here from the
  existing results and from then on in the transaction that stores them.
- ``assessments`` loses its foreign key to ``runs``: a per-row check that cost a fifth of
  the write rate; the write path checks each batch's runs once.
- Indexes that end in each listing's sort key, so pages are keyset range reads.
- ``server_secrets`` with a random key that signs page tokens (shared by all replicas).

Existing rows are carried over: each distinct metadata combination becomes a check version
(the digest is computed here in Python, identically on both backends).
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.String(128)
ENUM = sa.String(32)
META = ("check_id", "pillar", "severity", "check_name", "remediation")
RESULT_ORDER = ["run_id", "assessed_at", "id"]


def _digest(check_id: str, pillar: str, severity: str, name: str, remediation: str) -> str:
    # Frozen copy of storage.checks.check_digest (a test keeps the two equal): rows made here
    # must be found again by the running server.
    canonical = json.dumps(
        [check_id, pillar, severity, name, remediation], ensure_ascii=False, separators=(",", ":")
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def upgrade() -> None:
    checks = op.create_table(
        "assessment_checks",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("check_id", ID, nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("pillar", ENUM, nullable=False),
        sa.Column("check_name", sa.String(255), nullable=False),
        sa.Column("severity", ENUM, nullable=False),
        sa.Column("remediation", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_assessment_checks"),
        sa.UniqueConstraint("check_id", "digest", name="uq_assessment_checks_check_id"),
    )
    secrets_table = op.create_table(
        "server_secrets",
        sa.Column("name", ID, nullable=False),
        sa.Column("value", sa.String(255), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_server_secrets"),
    )
    op.bulk_insert(secrets_table, [{"name": "page_token_key", "value": secrets.token_hex(32)}])

    connection = op.get_bind()
    columns = ", ".join(META)
    versions = connection.execute(
        sa.text(f"SELECT DISTINCT {columns} FROM assessments ORDER BY {columns}")
    ).all()
    if versions:
        op.bulk_insert(
            checks,
            [
                {**dict(zip(META, version, strict=True)), "digest": _digest(*version)}
                for version in versions
            ],
        )

    with op.batch_alter_table("assessments") as batch:
        batch.add_column(sa.Column("check_ref", sa.Integer(), nullable=True))
    matches = " AND ".join(f"c.{column} = assessments.{column}" for column in META)
    op.execute(
        f"UPDATE assessments SET check_ref = (SELECT c.id FROM assessment_checks c WHERE {matches})"
    )
    for name in (
        "ix_assessments_run_id_assessed_at",
        "ix_assessments_assessed_at",
        "ix_assessments_pillar_status",
        "ix_assessments_check_id",
    ):
        op.drop_index(name, table_name="assessments")
    with op.batch_alter_table("assessments") as batch:
        batch.alter_column("check_ref", existing_type=sa.Integer(), nullable=False)
        # The write path checks runs and check versions once per batch instead.
        batch.drop_constraint("fk_assessments_run_id", type_="foreignkey")
        for column in ("check_id", "check_name", "severity", "remediation"):
            batch.drop_column(column)
    op.create_index("ix_assessments_listing", "assessments", RESULT_ORDER)
    op.create_index(
        "ix_assessments_pillar_status_listing", "assessments", ["pillar", "status", *RESULT_ORDER]
    )
    op.create_index(
        "ix_assessments_check_status_listing",
        "assessments",
        ["check_ref", "status", *RESULT_ORDER],
    )

    op.create_table(
        "assessment_counts",
        sa.Column("run_id", ID, nullable=False),
        sa.Column("check_ref", sa.Integer(), nullable=False),
        sa.Column("status", ENUM, nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("run_id", "check_ref", "status", name="pk_assessment_counts"),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.run_id"], name="fk_assessment_counts_run_id", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["check_ref"], ["assessment_checks.id"], name="fk_assessment_counts_check_ref"
        ),
    )
    op.execute(
        "INSERT INTO assessment_counts (run_id, check_ref, status, count) "
        "SELECT run_id, check_ref, status, COUNT(*) FROM assessments "
        "GROUP BY run_id, check_ref, status"
    )

    _replace_indexes(_OLD_INDEXES, _NEW_INDEXES)


# (table, name, columns) of the small tables' indexes before and after this revision.
_OLD_INDEXES = [
    ("runs", "ix_runs_requested_at", ["requested_at"]),
    ("runs", "ix_runs_state", ["state"]),
    ("assessment_history", "ix_assessment_history_completed_at", ["completed_at"]),
    (
        "assessment_history",
        "ix_assessment_history_cluster_id_completed_at",
        ["cluster_id", "completed_at"],
    ),
    (
        "workflow_audit_events",
        "ix_workflow_audit_events_execution",
        ["execution_namespace", "execution_name", "occurred_at"],
    ),
    ("workflow_audit_events", "ix_workflow_audit_events_target", ["target"]),
    ("workflow_audit_events", "ix_workflow_audit_events_occurred_at", ["occurred_at"]),
]
_NEW_INDEXES = [
    ("runs", "ix_runs_requested_at_run_id", ["requested_at", "run_id"]),
    ("runs", "ix_runs_state_requested_at_run_id", ["state", "requested_at", "run_id"]),
    ("runs", "ix_runs_cluster_id_completed_at_run_id", ["cluster_id", "completed_at", "run_id"]),
    ("runs", "ix_runs_completed_at", ["completed_at"]),
    ("assessment_history", "ix_assessment_history_completed_at_id", ["completed_at", "id"]),
    (
        "assessment_history",
        "ix_assessment_history_cluster_id_completed_at_id",
        ["cluster_id", "completed_at", "id"],
    ),
    (
        "workflow_audit_events",
        "ix_workflow_audit_events_execution",
        ["execution_namespace", "execution_name", "occurred_at", "id"],
    ),
    (
        "workflow_audit_events",
        "ix_workflow_audit_events_namespace",
        ["execution_namespace", "occurred_at", "id"],
    ),
    ("workflow_audit_events", "ix_workflow_audit_events_target", ["target", "occurred_at", "id"]),
    (
        "workflow_audit_events",
        "ix_workflow_audit_events_event_type",
        ["event_type", "occurred_at", "id"],
    ),
    ("workflow_audit_events", "ix_workflow_audit_events_occurred_at", ["occurred_at", "id"]),
]


def _replace_indexes(
    old: list[tuple[str, str, list[str]]], new: list[tuple[str, str, list[str]]]
) -> None:
    for table, name, _ in old:
        op.drop_index(name, table_name=table)
    for table, name, columns in new:
        op.create_index(name, table, columns)


def downgrade() -> None:
    _replace_indexes(_NEW_INDEXES, _OLD_INDEXES)
    op.drop_table("assessment_counts")
    for name in (
        "ix_assessments_listing",
        "ix_assessments_pillar_status_listing",
        "ix_assessments_check_status_listing",
    ):
        op.drop_index(name, table_name="assessments")
    with op.batch_alter_table("assessments") as batch:
        batch.add_column(sa.Column("check_id", ID, nullable=True))
        batch.add_column(sa.Column("check_name", sa.String(255), nullable=True))
        batch.add_column(sa.Column("severity", ENUM, nullable=True))
        batch.add_column(sa.Column("remediation", sa.Text(), nullable=True))
    for column in ("check_id", "check_name", "severity", "remediation"):
        op.execute(
            f"UPDATE assessments SET {column} = "
            f"(SELECT c.{column} FROM assessment_checks c WHERE c.id = assessments.check_ref)"
        )
    with op.batch_alter_table("assessments") as batch:
        batch.drop_column("check_ref")
        batch.create_foreign_key(
            "fk_assessments_run_id", "runs", ["run_id"], ["run_id"], ondelete="CASCADE"
        )
        batch.alter_column("check_id", existing_type=ID, nullable=False)
        batch.alter_column("check_name", existing_type=sa.String(255), nullable=False)
        batch.alter_column("severity", existing_type=ENUM, nullable=False)
        batch.alter_column("remediation", existing_type=sa.Text(), nullable=False)
    op.create_index("ix_assessments_run_id_assessed_at", "assessments", ["run_id", "assessed_at"])
    op.create_index("ix_assessments_assessed_at", "assessments", ["assessed_at"])
    op.create_index("ix_assessments_pillar_status", "assessments", ["pillar", "status"])
    op.create_index("ix_assessments_check_id", "assessments", ["check_id"])
    op.drop_table("server_secrets")
    op.drop_table("assessment_checks")
