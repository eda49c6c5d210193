"""booking events from the calendar; indexes for the results report

`booking_events` keeps every booking and cancellation Calendly or Cal.com reports, matched or
not, once per (provider, booking id, kind). `ix_delivery_events_link` is a partial index of
the booking-link clicks only, so the results report counts them without reading every
state change.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 04:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import nurture.db.types

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "booking_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(length=20), nullable=False),
        sa.Column("external_id", sa.String(length=300), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("phone", sa.String(length=40), nullable=True),
        sa.Column("starts_at", nurture.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("received_at", nurture.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contacts.id"], name=op.f("fk_booking_events_contact_id_contacts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_booking_events")),
        sa.UniqueConstraint("provider", "external_id", "kind", name="uq_booking_events_external"),
    )
    with op.batch_alter_table("booking_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_booking_events_contact_id"), ["contact_id"], unique=False
        )
    with op.batch_alter_table("delivery_events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_delivery_events_link",
            ["delivery_id"],
            unique=False,
            sqlite_where=sa.text("source = 'link'"),
            postgresql_where=sa.text("source = 'link'"),
        )

    # ix_deliveries_contact_sent serves every lookup by contact (its first column) and the
    # report's "last delivery sent before" in one backward scan: it replaces the plain index.
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.create_index("ix_deliveries_contact_sent", ["contact_id", "sent_at"], unique=False)
        batch_op.drop_index(batch_op.f("ix_deliveries_contact_id"))


def downgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_deliveries_contact_id"), ["contact_id"], unique=False)
        batch_op.drop_index("ix_deliveries_contact_sent")
    with op.batch_alter_table("delivery_events", schema=None) as batch_op:
        batch_op.drop_index("ix_delivery_events_link")
    with op.batch_alter_table("booking_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_booking_events_contact_id"))
    op.drop_table("booking_events")
