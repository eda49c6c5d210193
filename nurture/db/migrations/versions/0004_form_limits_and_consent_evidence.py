"""the hosted form: rate-limit counters, and consent evidence columns

`form_hits` counts form posts per client IP and per address in fixed windows when there is
no Redis; `consent_events` gains the consent wording's version, the page URL, the IP and the
user agent of the request that gave it.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 04:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from nurture.db.types import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "form_hits",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("hits", sa.Integer(), nullable=False),
        sa.Column("expires_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_form_hits")),
    )
    with op.batch_alter_table("form_hits", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_form_hits_expires_at"), ["expires_at"], unique=False)
    with op.batch_alter_table("consent_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("wording_version", sa.String(length=50), nullable=True))
        batch_op.add_column(sa.Column("page_url", sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column("ip", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("user_agent", sa.String(length=400), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("consent_events", schema=None) as batch_op:
        batch_op.drop_column("user_agent")
        batch_op.drop_column("ip")
        batch_op.drop_column("page_url")
        batch_op.drop_column("wording_version")
    with op.batch_alter_table("form_hits", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_form_hits_expires_at"))
    op.drop_table("form_hits")
