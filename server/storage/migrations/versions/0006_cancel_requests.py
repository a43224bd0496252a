"""Cancel requests and run owners: ``runs.owner``, ``runs.cancel_requested_at``,
``runs.cancel_reason``.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27

A CancelRun that reaches a replica other than the one executing the run stores the request
on the run; the owner picks it up with its next heartbeat. ``owner`` names the replica that
executes the run, so a server restarted under the same name fails its predecessor's runs at
once instead of waiting for their heartbeat to go stale. Existing runs have no owner.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("owner", sa.String(255), nullable=True))
        batch.add_column(
            sa.Column("cancel_requested_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch.add_column(sa.Column("cancel_reason", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("cancel_reason")
        batch.drop_column("cancel_requested_at")
        batch.drop_column("owner")
