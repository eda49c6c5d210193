"""What the clinic studio shows: each step of a sequence composed for a sample prospect,
through the send path's own functions (`compose.Composer.sample`), so what the page shows
is what a provider would be handed. Pure: the clock comes in as `now`."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from nurture.content.compose import Composer
from nurture.content.context import ContactView, StepChannel
from nurture.content.findings import Finding
from nurture.content.lint import preheader_of
from nurture.content.message import OutgoingMessage
from nurture.content.sms import sms_encoding, sms_segments
from nurture.core.addressing import address_of
from nurture.core.states import Channel
from nurture.core.zones import zone
from nurture.errors import TemplateError
from nurture.schedule import Catalog, Sequence, Step
from nurture.schedule.delays import Delay
from nurture.schedule.plan import (
    BUSINESS_DAYS,
    CLOSED_DAY,
    FLORIDA_HOURS,
    SEND_WINDOW,
    SMS_QUIET_HOURS,
    SPACING,
)
from nurture.schedule.timeline import TimelineRow, timeline

#: How much of the plain text an inbox shows after the subject, when there is no preheader.
INBOX_PREVIEW_CHARS = 110


@dataclass(frozen=True)
class SmsFacts:
    """An SMS body and what it costs."""

    text: str
    chars: int
    encoding: str
    segments: int


def sms_facts(text: str) -> SmsFacts:
    return SmsFacts(text, len(text), sms_encoding(text), sms_segments(text))


def inbox_preview(text: str) -> str:
    """The start of the plain text, as an inbox shows it after the subject."""
    flat = " ".join(text.split())
    return flat if len(flat) <= INBOX_PREVIEW_CHARS else flat[: INBOX_PREVIEW_CHARS - 1] + "…"


@dataclass(frozen=True)
class MessageView:
    """One channel of one step: the message, or the error that stops it rendering."""

    channel: Channel
    message: OutgoingMessage | None
    error: str | None
    #: The sample prospect has no address on this channel: they would not get it.
    no_address: bool
    findings: list[Finding] = field(default_factory=list)

    @property
    def sms(self) -> SmsFacts | None:
        if self.message is None or self.channel is not Channel.SMS:
            return None
        return sms_facts(self.message.text)

    @property
    def preheader(self) -> str:
        """The inbox's preview line: the email's preheader, else the start of its text."""
        if self.message is None:
            return ""
        hidden = preheader_of(self.message.html)
        return inbox_preview(hidden if hidden is not None else self.message.text)

    @property
    def state(self) -> str:
        return state_of([*self.findings], error=self.error is not None)


@dataclass(frozen=True)
class StepView:
    step: Step
    index: int
    messages: list[MessageView]
    findings: list[Finding]


def state_of(findings: Iterable[Finding], *, error: bool = False) -> str:
    """ "errors", "warnings" or "ok" for a set of findings."""
    severities = {f.severity for f in findings}
    if error or "error" in severities:
        return "errors"
    return "warnings" if "warning" in severities else "ok"


def _concern(finding: Finding, sequence_id: str, step_id: str | None) -> bool:
    return finding.sequence_id == sequence_id and finding.step_id == step_id


def step_views(
    composer: Composer,
    sequence: Sequence,
    contact: ContactView,
    findings: list[Finding],
    now: datetime,
) -> list[StepView]:
    """Every step of `sequence` composed for `contact`, each with its findings."""
    views = []
    for index, step in enumerate(sequence.steps, start=1):
        messages = []
        for channel in step.channels:
            message: OutgoingMessage | None = None
            error = None
            try:
                target = StepChannel(sequence, step, channel)
                _, message = composer.sample(target, contact, now)
            except TemplateError as exc:
                error = str(exc)
            mine = [
                f
                for f in findings
                if _concern(f, sequence.id, step.id) and f.channel == channel.value
            ]
            messages.append(
                MessageView(
                    channel=channel,
                    message=message,
                    error=error,
                    no_address=address_of(contact, channel) is None,
                    findings=mine,
                )
            )
        whole = [f for f in findings if _concern(f, sequence.id, step.id) and not f.channel]
        views.append(StepView(step=step, index=index, messages=messages, findings=whole))
    return views


def sequence_findings(findings: list[Finding], sequence_id: str) -> list[Finding]:
    """Findings about the sequence as a whole (no step named)."""
    return [f for f in findings if f.sequence_id == sequence_id and f.step_id is None]


def example_times(
    sequence: Sequence, catalog: Catalog, contact: ContactView, now: datetime
) -> list[TimelineRow]:
    """Each message's send time, and why it moved, for `contact` asking at `now` (taken in
    the clinic's timezone): the planner's own answer (`schedule.timeline`)."""
    start = now.astimezone(zone(catalog.clinic.timezone))
    return timeline(sequence, catalog.clinic, start, contact.timezone, contact.phone)


#: Each reason a send time moved, as a clinic reads it.
REASON_WORDS = {
    SEND_WINDOW: "held to the sequence's send window",
    SMS_QUIET_HOURS: "held: texts only 08:00-21:00 the prospect's time",
    FLORIDA_HOURS: "held: Florida texts only 08:00-20:00",
    CLOSED_DAY: "moved past a day the clinic is closed",
    BUSINESS_DAYS: "counted in business days",
    SPACING: "kept its gap after an earlier step that was held",
}


def describe_reason(reason: str) -> str:
    return REASON_WORDS.get(reason, reason)


_UNIT_WORDS = {"s": "second", "m": "minute", "h": "hour", "d": "day", "bd": "business day"}


def describe_delay(delay: Delay) -> str:
    """A step's `after:` as a clinic reads it: "right away", "1 day", "3 business days"."""
    if delay.amount == 0:
        return "right away"
    word = _UNIT_WORDS[delay.unit]
    return f"{delay.amount} {word}{'' if delay.amount == 1 else 's'} after the request"


def describe_match(sequence: Sequence) -> str:
    """Which requests enroll in `sequence`, in words."""
    parts = []
    for key, terms in (sequence.match or {}).items():
        label = "the concern mentions" if key == "concern" else "the source is"
        parts.append(f"{label} {', '.join(repr(t) for t in terms)}")
    if sequence.default:
        parts.append("any request no other sequence takes (default)")
    return "; or ".join(parts)


_STOP_WORDS = {"booked": "books", "unsubscribed": "unsubscribes", "replied": "writes back"}


def describe_stop(sequence: Sequence) -> str:
    """`stop_on` in words: "the prospect books or unsubscribes"."""
    if not sequence.stop_on:
        return "never (it runs to the end)"
    words = [_STOP_WORDS.get(s, s) for s in sequence.stop_on]
    listed = words[0] if len(words) == 1 else f"{', '.join(words[:-1])} or {words[-1]}"
    return f"the prospect {listed}"


def short_path(path: str | None, *folders: Path) -> str:
    """A file as the clinic knows it: relative to the schedules or templates folder."""
    if not path:
        return ""
    for folder in folders:
        try:
            return str(Path(path).resolve().relative_to(folder.resolve()))
        except ValueError:
            continue
    return Path(path).name
