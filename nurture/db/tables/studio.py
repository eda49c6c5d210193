"""The studio's drafts and published versions of the schedule and template files.

The files on disk stay the source of truth for what is sent: a `Draft` is an edit waiting to
be published (it never changes what is sent), a `StudioVersion` is a set of files as one
publish or rollback wrote them, kept whole so any version can be restored.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from nurture.core.clock import utcnow
from nurture.db.tables.base import Base


class Draft(Base):
    """One file's unpublished text. `path` is a version path ('schedules/x.yaml',
    'templates/y/z.sms.j2'); `text` None means the publish deletes the file. `base_sha256`
    is the file's hash on disk when the draft began (None: the file did not exist), so an
    edit made on disk since is a conflict, never overwritten."""

    __tablename__ = "drafts"

    path: Mapped[str] = mapped_column(String(300), primary_key=True)
    text: Mapped[str | None] = mapped_column(Text)
    base_sha256: Mapped[str | None] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    saved_at: Mapped[datetime] = mapped_column(default=utcnow)
    saved_by: Mapped[str] = mapped_column(String(320))


class StudioVersion(Base):
    """A published set of files: `files` the whole set (path → text), `changed` the paths
    this version changed from the one before, `rollback_of` the version it restored."""

    __tablename__ = "studio_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    by: Mapped[str] = mapped_column(String(320))
    note: Mapped[str | None] = mapped_column(Text)
    changed: Mapped[list[str]] = mapped_column(JSON)
    files: Mapped[dict[str, Any]]
    sha256: Mapped[str] = mapped_column(String(64))
    rollback_of: Mapped[int | None]
