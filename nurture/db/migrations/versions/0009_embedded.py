"""catalog_versions: the schedule and template files as they last validated

A process that starts while the files on disk are broken sends from the last version that
validated, kept here by whichever process validated it.

Revision ID: 0009_embedded
Revises: 0008
Create Date: 2026-12-07 01:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import nurture.db.types

revision = "0009_embedded"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "catalog_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("files", sa.JSON(), nullable=False),
        sa.Column("stored_at", nurture.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalog_versions")),
    )
    op.create_index(
        op.f("ix_catalog_versions_sha256"), "catalog_versions", ["sha256"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_catalog_versions_sha256"), table_name="catalog_versions")
    op.drop_table("catalog_versions")
