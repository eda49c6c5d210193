"""`CatalogVersions`: the last schedule and template files that validated, in the database.

Its API is two calls: `store(files) -> version` and `latest() -> files` (None before any).
`files` maps 'schedules/…' and 'templates/…' paths to their text (`schedule/versions.py`
reads and writes such a set).
"""

from __future__ import annotations

from sqlalchemy import select

from nurture.db.engine import session_scope
from nurture.db.tables import CatalogVersion
from nurture.schedule.versions import files_sha256


class CatalogVersions:
    """The `catalog_versions` table of the configured database (or of `url`)."""

    def __init__(self, url: str | None = None) -> None:
        self.url = url

    def store(self, files: dict[str, str]) -> int:
        """Keep `files` as the latest good version; its id (the latest's, when it is that set
        already: storing the same files again adds nothing)."""
        sha = files_sha256(files)
        with session_scope(self.url) as session:
            last = session.scalar(select(CatalogVersion).order_by(CatalogVersion.id.desc()))
            if last is not None and last.sha256 == sha:
                return last.id
            version = CatalogVersion(sha256=sha, files=dict(files))
            session.add(version)
            session.flush()
            return version.id

    def latest(self) -> dict[str, str] | None:
        """The files of the latest version stored, or None if none was."""
        with session_scope(self.url) as session:
            files = session.scalar(
                select(CatalogVersion.files).order_by(CatalogVersion.id.desc()).limit(1)
            )
        return {str(k): str(v) for k, v in files.items()} if files is not None else None
