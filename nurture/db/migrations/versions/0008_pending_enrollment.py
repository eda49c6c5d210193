"""consultation_requests.pending_enrollment: stored while no valid schedules were loaded

A request that arrives while the process has never loaded a valid catalog (the schedule
files were broken when it started) is stored with its contact and consent, flagged here, and
enrolled by the scheduler's tick once the files are fixed.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 05:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("consultation_requests", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("pending_enrollment", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.create_index(
            "ix_consultation_requests_pending",
            ["pending_enrollment"],
            unique=False,
            sqlite_where=sa.text("pending_enrollment"),
            postgresql_where=sa.text("pending_enrollment"),
        )


def downgrade() -> None:
    with op.batch_alter_table("consultation_requests", schema=None) as batch_op:
        batch_op.drop_index("ix_consultation_requests_pending")
        batch_op.drop_column("pending_enrollment")
