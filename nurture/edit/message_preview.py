"""A step's draft as a send would make it: rendered from the *proposed* files (disk with
every draft laid over, `proposed.proposed_folders`) by the send path's own `Composer`, with
the findings `nurture validate` would report for that step.

Nothing here is a second copy of a rule: the render is `Composer.sample`, the findings are
`validate.run_checks` on the step's sequence, the segment count is `studio.sms_facts`.
Files in findings are named by version path ('templates/hip-pain/booking.sms.j2'), never by
the temporary folder they were checked in.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from functools import lru_cache
from pathlib import Path

from nurture.config import Settings
from nurture.content.compose import Composer
from nurture.content.context import ContactView, StepChannel
from nurture.content.findings import Finding, from_schedule_error
from nurture.content.message import OutgoingMessage
from nurture.content.render import Renderer
from nurture.content.studio import SmsFacts, sms_facts
from nurture.content.validate import run_checks
from nurture.core.states import Channel
from nurture.edit.drafts import Drafts
from nurture.edit.proposed import proposed_folders
from nurture.errors import TemplateError
from nurture.schedule import Catalog, Sequence, Step
from nurture.schedule.catalog import Scan, scan_catalog


@lru_cache(maxsize=8)
def _renderer(templates_dir: Path) -> Renderer:
    return Renderer(templates_dir)


@lru_cache(maxsize=8)
def _scan(schedules_dir: Path) -> Scan:
    # The folder is named by the hash of its files: the same folder, the same scan.
    return scan_catalog(schedules_dir)


@dataclass(frozen=True)
class Proposed:
    """The catalog a publish would make now, in folders (`var/studio/<hash>/`)."""

    schedules_dir: Path
    templates_dir: Path
    scan: Scan

    @property
    def folder(self) -> Path:
        return self.schedules_dir.parent

    @property
    def renderer(self) -> Renderer:
        return _renderer(self.templates_dir)

    @property
    def catalog(self) -> Catalog | None:
        """What loaded (even when another file has an error), None without a clinic."""
        scan = self.scan
        if scan.clinic is None:
            return None
        return Catalog(clinic=scan.clinic, sequences=scan.sequences, files=scan.files)

    def problems(self) -> list[Finding]:
        """The proposed schedule files' errors (a publish would refuse them), by version path."""
        return [self.named(from_schedule_error(e)) for e in self.scan.errors]

    def named(self, finding: Finding) -> Finding:
        """`finding` with its files named by version path, not this folder's."""
        prefix = f"{self.folder}/"
        file = finding.file
        if file and file.startswith(prefix):
            file = file[len(prefix) :]
        return replace(finding, file=file, message=finding.message.replace(prefix, ""))


def proposed(drafts: Drafts, root: Path) -> Proposed:
    """The proposed catalog under `root` (e.g. `settings.var_dir / "studio"`)."""
    schedules_dir, templates_dir = proposed_folders(drafts, root)
    return Proposed(schedules_dir, templates_dir, _scan(schedules_dir))


def step_findings(
    where: Proposed, settings: Settings, sequence_id: str, step_id: str
) -> list[Finding]:
    """What `nurture validate` would say of one step of the proposed files: missing files,
    template errors and the lint, for every sample prospect. Worked out once per proposed
    set (its folder is named by its files' hash) and step."""
    key = (where.schedules_dir, where.templates_dir, settings.public_url, sequence_id, step_id)
    found = _FOUND.get(key)
    if found is None:
        if len(_FOUND) >= _KEPT:
            _FOUND.clear()
        found = _FOUND[key] = _step_findings(where, settings, sequence_id, step_id)
    return list(found)


#: Findings by proposed set, settings' public URL, sequence and step.
_FOUND: dict[tuple[Path, Path, str, str, str], tuple[Finding, ...]] = {}
_KEPT = 64


def _step_findings(
    where: Proposed, settings: Settings, sequence_id: str, step_id: str
) -> tuple[Finding, ...]:
    scan = where.scan
    sequence = scan.sequences.get(sequence_id)
    if sequence is None or scan.clinic is None:
        return ()
    # Only this sequence's steps are checked (all of them: its first SMS step counts for the
    # opt-out rule); the others stay, stepless, for what reads every sequence (routing).
    others = {
        key: s if key == sequence_id else s.model_copy(update={"steps": []})
        for key, s in scan.sequences.items()
    }
    narrow = replace(scan, sequences=others, loose_steps=[], errors=[], warnings=[])
    report = run_checks(
        where.schedules_dir,
        where.templates_dir,
        settings=settings,
        renderer=where.renderer,
        scan=narrow,
    )
    return tuple(
        where.named(f)
        for f in report.findings
        if f.sequence_id == sequence_id and f.step_id == step_id
    )


@dataclass(frozen=True)
class MessagePreview:
    """One channel of a step composed for a sample prospect, or why it does not render."""

    channel: Channel
    message: OutgoingMessage | None
    error: str | None

    @property
    def sms(self) -> SmsFacts | None:
        if self.message is None or self.channel is not Channel.SMS:
            return None
        return sms_facts(self.message.text)

    def to_json(self) -> dict[str, str | int]:
        """The preview for a script: the subject and text part, or the SMS and its cost."""
        if self.message is None:
            return {"error": self.error or ""}
        if self.channel is Channel.EMAIL:
            return {"subject": self.message.subject or "", "text": self.message.text}
        facts = sms_facts(self.message.text)
        return {"sms": facts.text, "segments": facts.segments, "encoding": facts.encoding}


def preview_message(
    where: Proposed,
    settings: Settings,
    sequence: Sequence,
    step: Step,
    channel: Channel,
    contact: ContactView,
    now: datetime,
) -> MessagePreview:
    """`channel` of `step` as a send would compose it for `contact` from the proposed files."""
    catalog = where.catalog
    if catalog is None:
        return MessagePreview(channel, None, "the clinic file (clinic.yaml) does not load")
    composer = Composer(where.renderer, settings, catalog)
    try:
        _, message = composer.sample(StepChannel(sequence, step, channel), contact, now)
    except TemplateError as exc:
        return MessagePreview(channel, None, str(exc))
    return MessagePreview(channel, message, None)
