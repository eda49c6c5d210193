"""History: every published version, and a rollback that makes a new version equal to an
older one (nothing is ever rewritten: the history only grows).

A rollback writes the older version's schedule (.yaml) and template (.j2) files, removes the
ones it lacks, is validated like a publish, audited (`rollback`, `of: N`) and committed to
git like one. A file edited on disk since the latest version was recorded is a conflict: the
rollback is refused rather than overwrite an edit nobody published.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from nurture.config import Settings, get_settings
from nurture.core.inputs import MAX_ID
from nurture.db.engine import session_scope
from nurture.db.tables import StudioVersion
from nurture.edit.drafts import Conflict
from nurture.edit.files import CatalogFiles, sha256_of
from nurture.edit.publish import (
    NothingToPublish,
    Published,
    apply_set,
    check_set,
    publish_lock,
)
from nurture.errors import NotFoundError
from nurture.people.actor import Actor
from nurture.people.audit import AuditAction


class UnknownVersion(NotFoundError):
    """A version number the history does not hold."""


class EditedOnDisk(Conflict):
    """A rollback would overwrite files edited on disk since the latest version."""

    def __init__(self, paths: list[str]) -> None:
        super().__init__(paths)
        names = ", ".join(self.paths)
        self.args = (
            f"{names} changed on disk since the latest version was published: the rollback "
            "would overwrite that edit, so nothing was written. Put the file back as it was, "
            "or save it in the studio and publish it so the history keeps it.",
        )

    def __str__(self) -> str:
        return str(self.args[0])


@dataclass(frozen=True)
class VersionView:
    """One version as the history shows it (`files`: the paths it changed)."""

    version: int
    at: datetime
    by: str
    note: str | None
    files: list[str]
    rollback_of: int | None

    def to_json(self) -> dict[str, object]:
        return {
            "version": self.version,
            "at": self.at.isoformat(),
            "by": self.by,
            "note": self.note,
            "files": list(self.files),
            "rollback_of": self.rollback_of,
        }


def versions(url: str | None = None) -> list[VersionView]:
    """Every version, newest first."""
    with session_scope(url) as session:
        rows = session.execute(
            select(
                StudioVersion.id,
                StudioVersion.at,
                StudioVersion.by,
                StudioVersion.note,
                StudioVersion.changed,
                StudioVersion.rollback_of,
            ).order_by(StudioVersion.id.desc())
        ).all()
    return [
        VersionView(row.id, row.at, row.by, row.note, list(row.changed or []), row.rollback_of)
        for row in rows
    ]


def version_files(version: int, url: str | None = None) -> dict[str, str]:
    """The whole set of files of `version`; UnknownVersion when there is none."""
    with session_scope(url) as session:
        files = (
            session.scalar(select(StudioVersion.files).where(StudioVersion.id == version))
            if 1 <= version <= MAX_ID
            else None
        )
        latest = session.scalar(select(StudioVersion.id).order_by(StudioVersion.id.desc()))
    if files is None:
        known = f"versions 1 to {latest}" if latest else "no version yet (nothing was published)"
        raise UnknownVersion(f"there is no version {version}: the history holds {known}")
    return {str(k): str(v) for k, v in files.items()}


def _latest_files(url: str | None) -> dict[str, str] | None:
    with session_scope(url) as session:
        files = session.scalar(
            select(StudioVersion.files).order_by(StudioVersion.id.desc()).limit(1)
        )
    return {str(k): str(v) for k, v in files.items()} if files is not None else None


def rollback(
    version: int,
    actor: Actor,
    *,
    files: CatalogFiles | None = None,
    settings: Settings | None = None,
    note: str | None = None,
    url: str | None = None,
    ip: str | None = None,
) -> Published:
    """A new version whose files equal `version`'s. UnknownVersion, NothingToPublish (the
    files already are that version), Conflict (a file it would change was edited on disk
    since the latest version) or Refused (it no longer validates): nothing is written."""
    settings = settings or get_settings()
    files = files or CatalogFiles.of(settings)
    with publish_lock(settings):
        target = version_files(version, url)
        now = files.all()
        changed: dict[str, str | None] = {
            path: target.get(path)
            for path in sorted(set(now) | set(target))
            if now.get(path) != target.get(path)
        }
        if not changed:
            raise NothingToPublish(f"the files already are version {version}: nothing to change")
        recorded = _latest_files(url) or {}
        edited = [path for path in changed if now.get(path) != recorded.get(path)]
        if edited:
            raise EditedOnDisk(edited)
        check_set(target, files, settings)
        return apply_set(
            files,
            target,
            changed=changed,
            actor=actor,
            note=note or f"Rollback to version {version}",
            action=AuditAction.ROLLBACK,
            url=url,
            expect={path: sha256_of(recorded.get(path)) for path in changed},
            rollback_of=version,
            ip=ip,
        )
