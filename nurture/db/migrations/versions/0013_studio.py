"""Studio: drafts (unpublished edits of the schedule and template files) and studio_versions

A draft never changes what is sent; a publish writes the files and keeps the whole set as a
version, which a rollback restores as a new version.

Revision ID: 0013_studio
Revises: 0012_front_desk
Create Date: 2026-12-07 04:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from nurture.db.types import UTCDateTime

revision = "0013_studio"
down_revision = "0012_front_desk"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "drafts",
        sa.Column("path", sa.String(length=300), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("base_sha256", sa.String(length=64), nullable=True),
        sa.Column("started_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("saved_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("saved_by", sa.String(length=320), nullable=False),
        sa.PrimaryKeyConstraint("path", name=op.f("pk_drafts")),
    )
    op.create_table(
        "studio_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("by", sa.String(length=320), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("changed", sa.JSON(), nullable=False),
        sa.Column("files", sa.JSON(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("rollback_of", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_studio_versions")),
    )


def downgrade() -> None:
    op.drop_table("studio_versions")
    op.drop_table("drafts")
