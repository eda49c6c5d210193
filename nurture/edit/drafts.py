"""Drafts: the studio's unpublished edits, one per file, kept in the database.

A draft never changes what is sent: the files on disk do, and only a publish writes them.
Each draft remembers the hash its file had on disk when the draft began (`base_sha256`);
when the file on disk has changed since (someone edited it on the server), saving again or
publishing is refused with a `Conflict` naming the file, and the draft is kept.

The editor pages read `text(path)`: the draft's text when there is one, else the file's.
`proposed()` is the whole set a publish would write: the files on disk with every draft laid
over them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select

from nurture.core.clock import utcnow
from nurture.db.engine import session_scope
from nurture.db.tables import Draft
from nurture.edit.files import CatalogFiles, check_path, sha256_of
from nurture.errors import NurtureError
from nurture.people.actor import Actor
from nurture.people.audit import AuditAction, record


class Conflict(NurtureError):
    """Files changed on disk since their drafts began: refused, never overwritten."""

    def __init__(self, paths: list[str]) -> None:
        self.paths = sorted(paths)
        names = ", ".join(self.paths)
        super().__init__(
            f"{names} changed on disk since the draft began: the draft was kept and nothing "
            "was written. Discard the draft to start again from the file as it is now."
        )


@dataclass(frozen=True)
class DraftView:
    """One draft, read."""

    path: str
    text: str | None
    base_sha256: str | None
    started_at: datetime
    saved_at: datetime
    saved_by: str

    @property
    def deletes(self) -> bool:
        """The publish removes this file."""
        return self.text is None

    @property
    def creates(self) -> bool:
        """The file did not exist when the draft began."""
        return self.base_sha256 is None


def _view(row: Draft) -> DraftView:
    return DraftView(
        path=row.path,
        text=row.text,
        base_sha256=row.base_sha256,
        started_at=row.started_at,
        saved_at=row.saved_at,
        saved_by=row.saved_by,
    )


class Drafts:
    """The drafts of the catalog in `files`, in the configured database (or `url`'s)."""

    def __init__(self, files: CatalogFiles, url: str | None = None) -> None:
        self.files = files
        self.url = url

    def save(self, path: str, text: str | None, *, by: str) -> DraftView | None:
        """Keep `text` as the draft of `path` (None: delete the file on publish). The first
        save records the file's hash on disk; a later one is refused with `Conflict` when
        the file changed on disk since. A draft equal to the file on disk is dropped (None
        returned): there is nothing left to publish for it."""
        check_path(path)
        on_disk = self.files.read(path)
        now = utcnow()
        with session_scope(self.url) as session:
            row = session.get(Draft, path, with_for_update=True)
            if row is not None and row.base_sha256 != sha256_of(on_disk):
                raise Conflict([path])
            if text == on_disk:
                if row is not None:
                    session.delete(row)
                return None
            if row is None:
                row = Draft(path=path, base_sha256=sha256_of(on_disk), started_at=now)
                session.add(row)
            row.text = text
            row.saved_at = now
            row.saved_by = by
            session.flush()
            return _view(row)

    def get(self, path: str) -> DraftView | None:
        with session_scope(self.url) as session:
            row = session.get(Draft, check_path(path))
            return _view(row) if row is not None else None

    def text(self, path: str) -> str | None:
        """What the editor shows: the draft's text, else the file's (None: neither)."""
        draft = self.get(path)
        return draft.text if draft is not None else self.files.read(path)

    def all(self) -> list[DraftView]:
        """Every draft, by path."""
        with session_scope(self.url) as session:
            return [_view(row) for row in session.scalars(select(Draft).order_by(Draft.path))]

    def discard(
        self, paths: list[str] | None = None, *, by: Actor | None = None, ip: str | None = None
    ) -> int:
        """Drop the drafts of `paths` (every draft when None); how many were dropped. With
        `by`, a `draft-discarded` audit row per file, in the same transaction."""
        with session_scope(self.url) as session:
            query = delete(Draft)
            if paths is not None:
                query = query.where(Draft.path.in_([check_path(p) for p in paths]))
            dropped = sorted(session.scalars(query.returning(Draft.path)))
            for path in dropped:
                if by is not None:
                    record(
                        session.connection(),
                        actor=by,
                        action=AuditAction.DRAFT_DISCARDED,
                        target=path,
                        ip=ip,
                    )
            return len(dropped)

    def conflicts(self, drafts: list[DraftView] | None = None) -> list[str]:
        """The drafts' files that changed on disk since their draft began."""
        return [
            d.path
            for d in (self.all() if drafts is None else drafts)
            if self.files.sha256(d.path) != d.base_sha256
        ]

    def proposed(self, drafts: list[DraftView] | None = None) -> dict[str, str]:
        """The whole set a publish would write: the files on disk, each draft laid over."""
        files = self.files.all()
        for draft in self.all() if drafts is None else drafts:
            if draft.text is None:
                files.pop(draft.path, None)
            else:
                files[draft.path] = draft.text
        return files
