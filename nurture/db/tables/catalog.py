"""The schedule and template files as they last validated, kept so every process has them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from nurture.core.clock import utcnow
from nurture.db.tables.base import Base


class CatalogVersion(Base):
    """One set of files that validated: `files` maps 'schedules/x.yaml' or
    'templates/y.sms.j2' to its text; `sha256` identifies the set (`schedule/versions.py`)."""

    __tablename__ = "catalog_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    files: Mapped[dict[str, Any]]
    stored_at: Mapped[datetime] = mapped_column(default=utcnow)
