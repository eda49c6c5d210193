"""How a draft reads: its file's lines before and after, and for a message's file the
message itself as the sample prospect would get it, composed as a send composes it."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from datetime import datetime
from pathlib import PurePosixPath
from typing import Any, Literal

from nurture.config import Settings
from nurture.content.compose import Composer
from nurture.content.context import ContactView, StepChannel
from nurture.content.render import Renderer
from nurture.content.samples import find_sample
from nurture.core.states import Channel
from nurture.errors import NurtureError
from nurture.schedule import Catalog
from nurture.schedule.catalog import CLINIC_FILE
from nurture.schedule.versions import SCHEDULES, TEMPLATES

#: What each template file of a step is, as a clinic says it.
PART_WORDS = {
    "subject": "email subject",
    "md": "email text",
    "html": "email (HTML)",
    "txt": "email (plain text)",
    "sms": "text message (SMS)",
}

LineKind = Literal["same", "removed", "added", "gap"]


@dataclass(frozen=True)
class DiffLine:
    kind: LineKind
    text: str


def describe_path(path: str) -> str:
    """A version path as a clinic reads it."""
    parts = PurePosixPath(path).parts
    if parts[0] == SCHEDULES:
        if parts[-1] == CLINIC_FILE:
            return "the clinic's details (clinic.yaml)"
        return f"the sequence file {parts[-1]}"
    folder = "/".join(parts[1:-1])
    stem, _, rest = parts[-1].partition(".")
    part = rest.removesuffix(".j2")
    if folder == "_layout":
        return "the layout every email shares"
    what = PART_WORDS.get(part, part)
    return f"the {what} of {folder}/{stem}"


def diff_lines(before: str | None, after: str | None, context: int = 2) -> list[DiffLine]:
    """The lines that change, with `context` lines around each change."""
    old = (before or "").splitlines()
    new = (after or "").splitlines()
    lines: list[DiffLine] = []
    for group in difflib.SequenceMatcher(None, old, new, autojunk=False).get_grouped_opcodes(
        context
    ):
        if lines:
            lines.append(DiffLine("gap", "…"))
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                lines += [DiffLine("same", text) for text in old[i1:i2]]
                continue
            lines += [DiffLine("removed", text) for text in old[i1:i2]]
            lines += [DiffLine("added", text) for text in new[j1:j2]]
    return lines


def template_name(path: str) -> str | None:
    """'templates/hip-pain/booking.sms.j2' → 'hip-pain/booking' (None: not a template)."""
    parts = PurePosixPath(path).parts
    if parts[0] != TEMPLATES or len(parts) < 3:
        return None
    return "/".join([*parts[1:-1], parts[-1].partition(".")[0]])


Side = tuple[Renderer, Catalog | None]


def message_reads(
    path: str, before: Side, after: Side, settings: Settings, now: datetime
) -> dict[str, Any]:
    """The message a template file makes, for the sample prospect, before and after: the
    first step that uses it, composed as a send would compose it."""
    name = template_name(path)
    part = PurePosixPath(path).name.partition(".")[2].removesuffix(".j2")
    catalog = after[1] or before[1]
    if name is None or catalog is None:
        return {}
    channel = Channel.SMS if part == "sms" else Channel.EMAIL
    found = next(
        (
            (sequence, step)
            for sequence in catalog.sequences.values()
            for step in sequence.steps
            if step.template == name and channel in step.channels
        ),
        None,
    )
    if found is None:
        return {}
    sequence, step = found
    sample = find_sample(None)
    texts = [
        _compose(side, sequence.id, step.id, channel, part, sample.contact, settings, now)
        for side in (before, after)
    ]
    label = (
        f"step {step.id} of {sequence.name}, for the sample prospect {sample.contact.first_name}"
    )
    return {"reads": diff_lines(texts[0], texts[1], context=100), "reads_in": label}


def _compose(
    side: Side,
    sequence_id: str,
    step_id: str,
    channel: Channel,
    part: str,
    contact: ContactView,
    settings: Settings,
    now: datetime,
) -> str | None:
    renderer, catalog = side
    if catalog is None or sequence_id not in catalog.sequences:
        return None
    sequence = catalog.sequences[sequence_id]
    try:
        step = sequence.step(step_id)
        composer = Composer(renderer, settings, catalog)
        _, message = composer.sample(StepChannel(sequence, step, channel), contact, now)
    except (KeyError, NurtureError) as exc:
        return f"(does not compose: {exc})"
    if part == "subject":
        return message.subject
    return message.text
