"""drop ix_deliveries_enrollment_id: uq_deliveries_step leads with enrollment_id

Every query on `deliveries.enrollment_id` (an enrollment's deliveries, stopping an
enrollment, the foreign key's checks) is served by the unique index on (enrollment_id,
step_id, channel), whose first column it is. The separate index only cost an entry per
delivery written (8 per enrollment) and per status change.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 12:20:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_deliveries_enrollment_id"))


def downgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_deliveries_enrollment_id"), ["enrollment_id"], unique=False
        )
