"""Run heartbeats: ``runs.heartbeat_at``, refreshed by the replica executing the run.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22

Crash recovery fails only runs whose heartbeat went stale, so a replica starting up no
longer fails the runs another live replica is executing.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("heartbeat_at")
