"""Where a result's object was read from: ``assessments.origin_path`` and ``origin_line``
(the uploaded manifest file as the client named it, and the line its document starts at).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27

Both nullable: live results, results about no object and every row written before this
revision have no origin.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("assessments") as batch:
        batch.add_column(sa.Column("origin_path", sa.Text(), nullable=True))
        batch.add_column(sa.Column("origin_line", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("assessments") as batch:
        batch.drop_column("origin_line")
        batch.drop_column("origin_path")
