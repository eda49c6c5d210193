"""What a publish changes, and for whom: the publish page's content.

- each draft as a readable diff of its file (for a template: the message text before and
  after, line by line);
- each step whose messages or timing change, with how many prospects are waiting for it now
  (deliveries `scheduled|queued|retrying`, one grouped query). Text is rendered at send time,
  so they get the new text; the send times already written for them stay (DESIGN.md rule 5:
  an enrollment keeps the schedule it started with);
- the timeline for a sample prospect before and after, for every sequence whose send times
  the publish changes (a sequence file, or the clinic's closed days or timezone).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Literal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from nurture.config import Settings
from nurture.content.context import ContactView
from nurture.content.render import Renderer
from nurture.content.samples import find_sample
from nurture.content.studio import example_times
from nurture.core.states import DeliveryStatus
from nurture.db.tables import Delivery, Enrollment
from nurture.edit.diffs import (
    DiffLine,
    describe_path,
    diff_lines,
    message_reads,
    template_name,
)
from nurture.edit.drafts import Drafts, DraftView
from nurture.edit.proposed import proposed_folders
from nurture.errors import NurtureError
from nurture.schedule import Catalog, Sequence
from nurture.schedule.catalog import CLINIC_FILE, load_catalog
from nurture.schedule.timeline import TimelineRow
from nurture.schedule.versions import SCHEDULES

#: The deliveries that are still to go: they are rendered from the files at send time.
WAITING = (DeliveryStatus.SCHEDULED, DeliveryStatus.QUEUED, DeliveryStatus.RETRYING)
NEW_TEXT = "they get the new text at send time"
KEPT_TIMES = "schedules already written keep their times"


@dataclass(frozen=True)
class FileChange:
    """One draft: its file, what it is, the lines that change, who saved it and when."""

    path: str
    what: str
    kind: Literal["edited", "new", "removed"]
    lines: list[DiffLine]
    saved_by: str
    saved_at: datetime
    conflict: bool
    #: For a message's file: the message as the sample prospect reads it, before and after
    #: (`reads_in`: which step it was composed for), or why it does not compose.
    reads: list[DiffLine] | None = None
    reads_in: str | None = None


@dataclass(frozen=True)
class StepChange:
    """A step the publish changes, and how many prospects wait for it now."""

    sequence_id: str
    sequence_name: str
    step_id: str
    why: str
    waiting: int


@dataclass(frozen=True)
class TimePair:
    """One message's send time before and after (None: the message is not there)."""

    step_id: str
    channel: str
    before: TimelineRow | None
    after: TimelineRow | None

    @property
    def changed(self) -> bool:
        if self.before is None or self.after is None:
            return True
        return (self.before.utc, self.before.reasons) != (self.after.utc, self.after.reasons)


@dataclass(frozen=True)
class TimelineChange:
    """A sequence's send times for the sample prospect, before and after (None: absent)."""

    sequence_id: str
    name: str
    before: list[TimelineRow] | None
    after: list[TimelineRow] | None
    zone: str

    @property
    def pairs(self) -> list[TimePair]:
        """Each message in the order it goes after the change (removed ones last)."""
        old = {(r.step_id, r.channel): r for r in self.before or []}
        new = {(r.step_id, r.channel): r for r in self.after or []}
        keys = list(new) + [k for k in old if k not in new]
        return [
            TimePair(step, channel, old.get((step, channel)), new.get((step, channel)))
            for step, channel in keys
        ]


@dataclass
class Changes:
    files: list[FileChange] = field(default_factory=list)
    steps: list[StepChange] = field(default_factory=list)
    timelines: list[TimelineChange] = field(default_factory=list)
    #: Everyone waiting for any message, when a file every message reads changes (None: no
    #: such file changes).
    everyone_waiting: int | None = None
    #: Why the proposed schedules do not load (the publish would be refused), if they don't.
    problem: str | None = None


def waiting_counts(session: Session) -> dict[tuple[str, str], int]:
    """Prospects waiting for each (sequence, step): one grouped query."""
    rows = session.execute(
        select(
            Enrollment.sequence_id,
            Delivery.step_id,
            func.count(func.distinct(Delivery.enrollment_id)),
        )
        .join(Enrollment, Enrollment.id == Delivery.enrollment_id)
        .where(Delivery.status.in_(WAITING))
        .group_by(Enrollment.sequence_id, Delivery.step_id)
    ).all()
    return {(str(seq), str(step)): int(count) for seq, step, count in rows}


def everyone_waiting(session: Session) -> int:
    """Prospects waiting for any message."""
    return int(
        session.scalar(
            select(func.count(func.distinct(Delivery.enrollment_id))).where(
                Delivery.status.in_(WAITING)
            )
        )
        or 0
    )


def _load(folder: Path) -> tuple[Catalog | None, str | None]:
    try:
        return load_catalog(folder), None
    except NurtureError as exc:
        return None, str(exc)


def changes(
    drafts: Drafts,
    session: Session,
    *,
    settings: Settings,
    now: datetime,
    pending: list[DraftView] | None = None,
) -> Changes:
    """Everything the publish page says about the drafts `pending` (default: all)."""
    pending = drafts.all() if pending is None else pending
    result = Changes()
    if not pending:
        return result
    conflicts = set(drafts.conflicts(pending))
    old, _ = _load(drafts.files.schedules_dir)
    schedules, templates = proposed_folders(drafts, settings.var_dir / "studio")
    new, result.problem = _load(schedules)
    before_side = (Renderer(drafts.files.templates_dir), old)
    after_side = (Renderer(templates), new)
    for draft in pending:
        before = drafts.files.read(draft.path)
        kind: Literal["edited", "new", "removed"] = (
            "removed" if draft.text is None else "new" if before is None else "edited"
        )
        result.files.append(
            FileChange(
                path=draft.path,
                what=describe_path(draft.path),
                kind=kind,
                lines=diff_lines(before, draft.text),
                saved_by=draft.saved_by,
                saved_at=draft.saved_at,
                conflict=draft.path in conflicts,
                **message_reads(draft.path, before_side, after_side, settings, now),
            )
        )
    counts = waiting_counts(session)
    result.steps = _step_changes(pending, old, new, counts)
    paths = {d.path for d in pending}
    shared = {f"{SCHEDULES}/{CLINIC_FILE}"} | {p for p in paths if "/_layout/" in p}
    if paths & shared:
        result.everyone_waiting = everyone_waiting(session)
    result.timelines = _timelines(old, new, now)
    return result


def _step_changes(
    pending: Iterable[DraftView],
    old: Catalog | None,
    new: Catalog | None,
    counts: dict[tuple[str, str], int],
) -> list[StepChange]:
    found: dict[tuple[str, str], tuple[str, str]] = {}  # (sequence, step) -> (name, why)
    names = {template_name(d.path) for d in pending} - {None}
    for catalog in (new, old):
        for sequence in catalog.sequences.values() if catalog else []:
            for step in sequence.steps:
                if step.template in names:
                    found.setdefault(
                        (sequence.id, step.id), (sequence.name, "its message text changes")
                    )
    if old is not None and new is not None:
        for sequence_id, before in old.sequences.items():
            after = new.sequences.get(sequence_id)
            for step in before.steps:
                why = _step_difference(step.id, before, after)
                if why:
                    found[(sequence_id, step.id)] = (before.name, why)
    return [
        StepChange(seq, name, step, why, counts.get((seq, step), 0))
        for (seq, step), (name, why) in sorted(found.items())
    ]


def _step_difference(step_id: str, before: Sequence, after: Sequence | None) -> str | None:
    old = before.step(step_id)
    if after is None:
        return "its sequence is removed: people waiting for this message will not get it"
    try:
        new = after.step(step_id)
    except KeyError:
        return "the step is removed: people waiting for it will not get it"
    if new == old:
        return None
    changed = [
        words
        for name, words in (
            ("after", "when it goes"),
            ("channels", "its channels"),
            ("when", "its condition"),
            ("template", "its messages"),
            ("description", "its description"),
        )
        if getattr(new, name) != getattr(old, name)
    ]
    return "changes " + ", ".join(changed) if changed else "the step changes"


def _timelines(old: Catalog | None, new: Catalog | None, now: datetime) -> list[TimelineChange]:
    """Before and after, for each sequence whose sample send times differ (none when the
    proposed schedules do not load: the page shows why instead)."""
    if new is None:
        return []
    contact = find_sample(None).contact
    before_all = old.sequences if old is not None else {}
    shown = []
    for sequence_id in sorted(set(before_all) | set(new.sequences)):
        before = _times(old, sequence_id, contact, now)
        after = _times(new, sequence_id, contact, now)
        if _same(before, after):
            continue
        sequence = new.sequences.get(sequence_id) or before_all[sequence_id]
        shown.append(TimelineChange(sequence_id, sequence.name, before, after, contact.timezone))
    return shown


def _times(
    catalog: Catalog | None, sequence_id: str, contact: ContactView, now: datetime
) -> list[TimelineRow] | None:
    if catalog is None or sequence_id not in catalog.sequences:
        return None
    try:
        return example_times(catalog.sequences[sequence_id], catalog, contact, now)
    except NurtureError:
        return None


def _same(before: list[TimelineRow] | None, after: list[TimelineRow] | None) -> bool:
    def key(rows: list[TimelineRow] | None) -> object:
        if rows is None:
            return None
        return [(r.step_id, r.channel, r.utc, tuple(r.reasons)) for r in rows]

    return key(before) == key(after)
