"""Publish: the drafts become the files that are sent, as one new version.

In order, under one lock so two publishes (or a publish and a rollback) never interleave:
1. refuse with `Conflict` when a draft's file changed on disk since the draft began;
2. validate the whole proposed set exactly as `nurture validate` does (the files written to
   a folder of their own, `validate_all`); any error refuses with `Refused`, carrying every
   finding (file as its version path, line, reason); warnings do not refuse;
3. in one database transaction: the first publish first records version 1, the files as
   they were found; the new version (the whole set, the paths changed, who, the note); the
   published drafts dropped; the audit row. The files are written atomically inside that
   transaction, so a failed write leaves neither the files nor the version half done;
4. when the folders are in a git work tree, a commit of the changed files (`gitcommit`).

`history.rollback` is the same path with another set of files (`apply_set`).
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import delete, func, select, text
from sqlalchemy.orm import Session

from nurture.config import Settings, get_settings
from nurture.content.findings import Finding
from nurture.content.validate import validate_all
from nurture.db.engine import session_scope
from nurture.db.tables import Draft, StudioVersion, User
from nurture.edit.drafts import Conflict, Drafts, DraftView
from nurture.edit.files import CatalogFiles, sha256_of
from nurture.edit.gitcommit import Author, author_for, commit_files
from nurture.edit.proposed import folders_for
from nurture.errors import NurtureError
from nurture.people.actor import Actor
from nurture.people.audit import AuditAction, record
from nurture.schedule.versions import SCHEDULES, TEMPLATES, files_sha256

#: Who version 1 (the files as found before the first publish) is recorded as.
AS_FOUND_BY = "nurture"
AS_FOUND_NOTE = "The files as they were before the first publish from the studio."
#: The PostgreSQL advisory lock a publish holds inside its transaction (beside the file lock).
PUBLISH_LOCK_KEY = 0x6E757274  # "nurt"


class NothingToPublish(NurtureError):
    """No draft is waiting (or a rollback would change no file)."""


class Refused(NurtureError):
    """The proposed files do not validate: every finding, errors and warnings."""

    def __init__(self, findings: list[Finding]) -> None:
        self.findings = findings
        errors = [f for f in findings if f.is_error]
        first = errors[0].line_text() if errors else ""
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        super().__init__(
            f"not published: {len(errors)} error{'s' if len(errors) != 1 else ''} in the "
            f"proposed files, {first}{more}; the drafts were kept and nothing was written"
        )

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.is_error]


@dataclass(frozen=True)
class Published:
    """A version written: its number, the paths it changed, and what git said (if anything)."""

    version: int
    changed: list[str]
    git_problems: list[str] = field(default_factory=list)


@contextmanager
def publish_lock(settings: Settings) -> Iterator[None]:
    """One publish or rollback at a time on this machine (a lock file under var/studio)."""
    folder = settings.var_dir / "studio"
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "publish.lock", "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def version_findings(
    files: dict[str, str], catalog_files: CatalogFiles, settings: Settings
) -> list[Finding]:
    """`nurture validate`'s findings for the set `files`, each file named by version path."""
    schedules, templates = folders_for(
        files, settings.var_dir / "studio", catalog_files.schedules_dir
    )
    found = validate_all(schedules, templates, settings=settings)
    return [_named(f, schedules, templates) for f in found]


def _named(finding: Finding, schedules: Path, templates: Path) -> Finding:
    if not finding.file:
        return finding
    file = Path(finding.file)
    for top, folder in ((SCHEDULES, schedules), (TEMPLATES, templates)):
        if file.is_relative_to(folder):
            name = f"{top}/{file.relative_to(folder).as_posix()}"
            return Finding(
                finding.severity,
                finding.code,
                finding.message,
                name,
                finding.line,
                finding.sequence_id,
                finding.step_id,
                finding.channel,
            )
    return finding


def check_set(files: dict[str, str], catalog_files: CatalogFiles, settings: Settings) -> None:
    """Refused (with every finding) when `files` would not validate."""
    findings = version_findings(files, catalog_files, settings)
    if any(f.is_error for f in findings):
        raise Refused(findings)


def publish(
    files: CatalogFiles,
    drafts: Drafts,
    *,
    actor: Actor,
    note: str | None,
    settings: Settings | None = None,
    ip: str | None = None,
) -> int:
    """Publish every draft as a new version; its number. Conflict, Refused or
    NothingToPublish when it is refused (then nothing is written and the drafts are kept)."""
    return publish_drafts(files, drafts, actor=actor, note=note, settings=settings, ip=ip).version


def publish_drafts(
    files: CatalogFiles,
    drafts: Drafts,
    *,
    actor: Actor,
    note: str | None,
    settings: Settings | None = None,
    ip: str | None = None,
) -> Published:
    """`publish`, saying also which files changed and what git said."""
    settings = settings or get_settings()
    with publish_lock(settings):
        pending = drafts.all()
        if not pending:
            raise NothingToPublish("there is no draft to publish")
        conflicts = drafts.conflicts(pending)
        if conflicts:
            raise Conflict(conflicts)
        proposed = drafts.proposed(pending)
        check_set(proposed, files, settings)
        return apply_set(
            files,
            proposed,
            changed={d.path: d.text for d in pending},
            actor=actor,
            note=note,
            action=AuditAction.PUBLISH,
            url=drafts.url,
            drop=pending,
            expect={d.path: d.base_sha256 for d in pending},
            ip=ip,
        )


def apply_set(
    files: CatalogFiles,
    whole: dict[str, str],
    *,
    changed: dict[str, str | None],
    actor: Actor,
    note: str | None,
    action: AuditAction,
    url: str | None,
    drop: Sequence[DraftView] = (),
    expect: dict[str, str | None] | None = None,
    rollback_of: int | None = None,
    ip: str | None = None,
) -> Published:
    """Write `changed` (path → text, None removes) so the files equal `whole`, and record it
    as a new version, dropping the drafts `drop` and auditing `action`, in one transaction.
    The caller holds `publish_lock` and has validated `whole`; `expect` (path → hash) is
    what each file must still be on disk, checked again right before writing."""
    as_found = files.all()
    edited = [p for p, sha in (expect or {}).items() if sha256_of(as_found.get(p)) != sha]
    if edited:
        raise Conflict(edited)
    written = False
    try:
        with session_scope(url) as session:
            _serialise(session)
            _first_version(session, as_found)
            version = StudioVersion(
                by=actor.name,
                note=(note or "").strip() or None,
                changed=sorted(changed),
                files=dict(whole),
                sha256=files_sha256(whole),
                rollback_of=rollback_of,
            )
            session.add(version)
            session.flush()
            for draft in drop:
                # A draft saved again since it was read stays (its base no longer matches:
                # a conflict the next publish names), never dropped unpublished.
                session.execute(
                    delete(Draft).where(Draft.path == draft.path, Draft.saved_at == draft.saved_at)
                )
            _write(files, changed, as_found)
            written = True
            detail: dict[str, str | int | None] = {"files": len(changed)}
            if rollback_of is not None:
                detail["of"] = rollback_of
            record(
                session.connection(),
                actor=actor,
                action=action,
                target=f"version {version.id}",
                detail=detail,
                ip=ip,
            )
            number = version.id
    except BaseException:
        if written:  # the database said no: the files go back to what they were
            for path in changed:
                files.write(path, as_found.get(path))
        raise
    author = _author(actor, url)
    message = _message(note, number, action, rollback_of)
    problems = commit_files(
        [files.location(path) for path in sorted(changed)], author=author, message=message
    )
    return Published(number, sorted(changed), problems)


def _serialise(session: Session) -> None:
    """Across machines sharing a PostgreSQL database too: one version written at a time."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PUBLISH_LOCK_KEY})


def _first_version(session: Session, as_found: dict[str, str]) -> None:
    """Version 1 is the files as found, so a rollback to before the first publish exists."""
    if session.scalar(select(func.count()).select_from(StudioVersion)):
        return
    session.add(
        StudioVersion(
            by=AS_FOUND_BY,
            note=AS_FOUND_NOTE,
            changed=[],
            files=dict(as_found),
            sha256=files_sha256(as_found),
        )
    )
    session.flush()


def _write(files: CatalogFiles, changed: dict[str, str | None], before: dict[str, str]) -> None:
    """Each file atomically; when one fails, the ones already written are put back."""
    done: list[str] = []
    try:
        for path in sorted(changed):
            files.write(path, changed[path])
            done.append(path)
    except BaseException:
        for path in done:
            files.write(path, before.get(path))
        raise


def _author(actor: Actor, url: str | None) -> Author:
    if actor.kind == "person" and actor.id is not None:
        with session_scope(url) as session:
            user = session.get(User, actor.id)
            if user is not None:
                return author_for(user.name or user.email, user.email)
    return author_for(actor.name, actor.name)


def _message(note: str | None, version: int, action: AuditAction, of: int | None) -> str:
    said = (note or "").strip()
    what = (
        f"nurture studio: version {version}, a rollback to version {of}"
        if action is AuditAction.ROLLBACK
        else f"nurture studio: version {version} published"
    )
    return f"{said}\n\n{what}" if said else what
