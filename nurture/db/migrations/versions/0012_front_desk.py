"""Front desk: erasure (contacts.erased_at, erased_addresses); the form's allowed sites

An erased prospect's contact row stays as an empty tombstone (`erased_at`) so the consent
ledger keeps the fact and time of each consent and opt-out; each of their addresses is kept
only as a keyed hash, so a new request from it is accepted but never contacted. The websites
recorded by `nurture form-snippet --site` may frame the hosted form and post to it.

Revision ID: 0012_front_desk
Revises: 0011_people
Create Date: 2026-12-07 01:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from nurture.db.types import UTCDateTime

revision = "0012_front_desk"
down_revision = "0011_people"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("erased_at", UTCDateTime(timezone=True), nullable=True))
    op.create_table(
        "erased_addresses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "channel",
            sa.Enum("email", "sms", name="channel", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("erased_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("requested_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_erased_addresses")),
        sa.UniqueConstraint("digest", name=op.f("uq_erased_addresses_digest")),
    )
    op.create_table(
        "form_origins",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("origin", sa.String(length=300), nullable=False),
        sa.Column("added_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_form_origins")),
        sa.UniqueConstraint("origin", name=op.f("uq_form_origins_origin")),
    )


def downgrade() -> None:
    op.drop_table("form_origins")
    op.drop_table("erased_addresses")
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.drop_column("erased_at")
