"""reconcile: what nurture needs to ask a provider about an `unknown` delivery

- `body_sha256`: a hash of the message as handed to the provider (channel, address, body),
  recorded when a worker takes the delivery to send. Only the hash: the body is never stored.
- `attempted_at`: when that attempt started (the safety lag counts from it).
- `provider_checked_at`: when reconciliation last asked the provider.
- `reconcile_after`: when it may ask again (it does not hammer the provider).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 04:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from nurture.db.types import UTCDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("body_sha256", sa.String(length=64), nullable=True))
        for name in ("attempted_at", "provider_checked_at", "reconcile_after"):
            batch_op.add_column(sa.Column(name, UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_column("reconcile_after")
        batch_op.drop_column("provider_checked_at")
        batch_op.drop_column("attempted_at")
        batch_op.drop_column("body_sha256")
