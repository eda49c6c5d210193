"""reply inbox: email replies and answers in inbound_messages, staff_messages

inbound_messages gains the channel (sms or email), a subject, the enrollment a Reply-To
token named, and addresses long enough for email. staff_messages holds what is sent that
is not a step of a sequence: notices of a reply to staff, forwards, answers from the inbox.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 04:18:07.580396
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import nurture.db.types

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "staff_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("dedupe_key", sa.String(length=200), nullable=False),
        sa.Column("reply_id", sa.Integer(), nullable=True),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column(
            "channel",
            sa.Enum("email", "sms", name="channel", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("address", sa.String(length=320), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("reply_to", sa.String(length=320), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("due_at", nurture.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("lease_expires_at", nurture.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("sent_at", nurture.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("provider", sa.String(length=20), nullable=True),
        sa.Column("provider_message_id", sa.String(length=100), nullable=True),
        sa.Column("error_code", sa.String(length=50), nullable=True),
        sa.Column("created_at", nurture.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", nurture.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contacts.id"], name=op.f("fk_staff_messages_contact_id_contacts")
        ),
        sa.ForeignKeyConstraint(
            ["reply_id"],
            ["inbound_messages.id"],
            name=op.f("fk_staff_messages_reply_id_inbound_messages"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_messages")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_staff_messages_dedupe_key")),
    )
    with op.batch_alter_table("staff_messages", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_staff_messages_contact_id"), ["contact_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_staff_messages_reply_id"), ["reply_id"], unique=False)
        batch_op.create_index("ix_staff_messages_status_due", ["status", "due_at"], unique=False)

    with op.batch_alter_table("inbound_messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("enrollment_id", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "channel",
                sa.Enum("email", "sms", name="channel", native_enum=False, length=20),
                server_default="sms",
                nullable=False,
            )
        )
        batch_op.add_column(sa.Column("subject", sa.String(length=300), nullable=True))
        batch_op.alter_column(
            "from_address",
            existing_type=sa.VARCHAR(length=40),
            type_=sa.String(length=320),
            existing_nullable=False,
        )
        batch_op.alter_column(
            "to_address",
            existing_type=sa.VARCHAR(length=40),
            type_=sa.String(length=320),
            existing_nullable=False,
        )
        batch_op.create_index(
            "ix_inbound_messages_kind_received", ["kind", "received_at"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_inbound_messages_enrollment_id_enrollments"),
            "enrollments",
            ["enrollment_id"],
            ["id"],
        )


def downgrade() -> None:
    with op.batch_alter_table("inbound_messages", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_inbound_messages_enrollment_id_enrollments"), type_="foreignkey"
        )
        batch_op.drop_index("ix_inbound_messages_kind_received")
        batch_op.alter_column(
            "to_address",
            existing_type=sa.String(length=320),
            type_=sa.VARCHAR(length=40),
            existing_nullable=False,
        )
        batch_op.alter_column(
            "from_address",
            existing_type=sa.String(length=320),
            type_=sa.VARCHAR(length=40),
            existing_nullable=False,
        )
        batch_op.drop_column("subject")
        batch_op.drop_column("channel")
        batch_op.drop_column("enrollment_id")

    with op.batch_alter_table("staff_messages", schema=None) as batch_op:
        batch_op.drop_index("ix_staff_messages_status_due")
        batch_op.drop_index(batch_op.f("ix_staff_messages_reply_id"))
        batch_op.drop_index(batch_op.f("ix_staff_messages_contact_id"))

    op.drop_table("staff_messages")
