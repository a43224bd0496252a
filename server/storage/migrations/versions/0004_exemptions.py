"""Exempted results counted apart: ``assessments.exempted`` and ``exempted_count`` on runs
and history (the per-run counts table keeps them under the pseudo-status ``exempted``).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27

Existing rows are not exempted: before this revision an exempt result was stored as a plain
skipped result, and its message is all that tells it apart.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("assessments") as batch:
        batch.add_column(
            sa.Column("exempted", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    for table in ("runs", "assessment_history"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(
                sa.Column("exempted_count", sa.Integer(), nullable=False, server_default="0")
            )


def downgrade() -> None:
    for table in ("assessment_history", "runs"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("exempted_count")
    with op.batch_alter_table("assessments") as batch:
        batch.drop_column("exempted")
    op.execute("DELETE FROM assessment_counts WHERE status = 'exempted'")
