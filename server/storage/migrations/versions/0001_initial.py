"""Initial schema: runs, assessments, assessment_history, workflow_audit_events.

Revision ID: 0001
Revises:
Create Date: 2026-02-16

Written by hand to match ``storage.models``; a test checks that autogenerate finds no
difference. Timestamps are ``timestamptz`` on PostgreSQL and UTC text on SQLite (the models'
``UTCDateTime`` does the conversion).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.String(128)
ENUM = sa.String(32)
K8S_NAME = sa.String(253)
K8S_NAMESPACE = sa.String(63)
TIMESTAMP = sa.DateTime(timezone=True)


def _count_columns() -> list[sa.Column[int]]:
    statuses = ("passing", "failing", "warning", "skipped", "error", "timeout")
    return [sa.Column(f"{status}_count", sa.Integer(), nullable=False) for status in statuses]


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("run_id", ID, nullable=False),
        sa.Column("state", ENUM, nullable=False),
        sa.Column("scope", ENUM, nullable=False),
        sa.Column("source", ENUM, nullable=False),
        sa.Column("pillars", sa.String(255), nullable=False),
        sa.Column("check_id", ID, nullable=False),
        sa.Column("cluster_id", K8S_NAME, nullable=False),
        sa.Column("requested_at", TIMESTAMP, nullable=False),
        sa.Column("started_at", TIMESTAMP, nullable=True),
        sa.Column("completed_at", TIMESTAMP, nullable=True),
        sa.Column("error", sa.Text(), nullable=False),
        *_count_columns(),
        sa.Column("diagnostics", sa.JSON(), nullable=False),
        sa.Column("check_count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("run_id", name="pk_runs"),
    )
    op.create_index("ix_runs_requested_at", "runs", ["requested_at"])
    op.create_index("ix_runs_state", "runs", ["state"])

    op.create_table(
        "assessments",
        sa.Column("id", ID, nullable=False),
        sa.Column("run_id", ID, nullable=False),
        sa.Column("pillar", ENUM, nullable=False),
        sa.Column("check_id", ID, nullable=False),
        sa.Column("check_name", sa.String(255), nullable=False),
        sa.Column("status", ENUM, nullable=False),
        sa.Column("severity", ENUM, nullable=False),
        sa.Column("object_kind", K8S_NAMESPACE, nullable=True),
        sa.Column("object_namespace", K8S_NAMESPACE, nullable=True),
        sa.Column("object_name", K8S_NAME, nullable=True),
        sa.Column("container", K8S_NAME, nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("remediation", sa.Text(), nullable=False),
        sa.Column("assessed_at", TIMESTAMP, nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_assessments"),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.run_id"], name="fk_assessments_run_id", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_assessments_run_id_assessed_at", "assessments", ["run_id", "assessed_at"])
    op.create_index("ix_assessments_assessed_at", "assessments", ["assessed_at"])
    op.create_index("ix_assessments_pillar_status", "assessments", ["pillar", "status"])
    op.create_index("ix_assessments_check_id", "assessments", ["check_id"])

    op.create_table(
        "assessment_history",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("run_id", ID, nullable=False),
        sa.Column("cluster_id", K8S_NAME, nullable=False),
        sa.Column("state", ENUM, nullable=False),
        sa.Column("completed_at", TIMESTAMP, nullable=False),
        *_count_columns(),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("by_pillar", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_assessment_history"),
        sa.UniqueConstraint("run_id", name="uq_assessment_history_run_id"),
    )
    op.create_index("ix_assessment_history_completed_at", "assessment_history", ["completed_at"])
    op.create_index(
        "ix_assessment_history_cluster_id_completed_at",
        "assessment_history",
        ["cluster_id", "completed_at"],
    )

    op.create_table(
        "workflow_audit_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("event_type", ENUM, nullable=False),
        sa.Column("execution_namespace", K8S_NAMESPACE, nullable=False),
        sa.Column("execution_name", K8S_NAME, nullable=False),
        sa.Column("execution_uid", ID, nullable=False),
        sa.Column("workflow_id", K8S_NAME, nullable=False),
        sa.Column("workflow_version", ID, nullable=False),
        sa.Column("target", sa.String(512), nullable=False),
        sa.Column("phase", ENUM, nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("correlation_id", ID, nullable=False),
        sa.Column("occurred_at", TIMESTAMP, nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_workflow_audit_events"),
        sa.UniqueConstraint("key", name="uq_workflow_audit_events_key"),
    )
    op.create_index(
        "ix_workflow_audit_events_execution",
        "workflow_audit_events",
        ["execution_namespace", "execution_name", "occurred_at"],
    )
    op.create_index("ix_workflow_audit_events_target", "workflow_audit_events", ["target"])
    op.create_index(
        "ix_workflow_audit_events_occurred_at", "workflow_audit_events", ["occurred_at"]
    )


def downgrade() -> None:
    op.drop_table("workflow_audit_events")
    op.drop_table("assessment_history")
    op.drop_table("assessments")
    op.drop_table("runs")
