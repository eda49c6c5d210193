"""Planning an enrollment's deliveries: pure, from the sequence, the contact and `now`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from nurture.models import Channel
from nurture.schedules import Clinic, Sequence
from nurture.timing import next_send_at, plan_due_at


@dataclass(frozen=True)
class PlannedDelivery:
    """One (step, channel) message and when it falls due; `skip_reason` if it cannot go."""

    step_id: str
    step_index: int
    channel: Channel
    template: str
    due_at: datetime
    skip_reason: str | None = None


def plan_schedule(
    sequence: Sequence,
    clinic: Clinic,
    *,
    start: datetime,
    tz: ZoneInfo,
    region: str | None,
    addresses: dict[Channel, str | None],
) -> list[PlannedDelivery]:
    """Every delivery of `sequence` for a contact enrolled at `start`, in due order.

    A channel without an address is planned as skipped (`no_address`), so the schedule shows it.
    """
    window = sequence.window
    planned: list[PlannedDelivery] = []
    for index, step in enumerate(sequence.steps, start=1):
        for channel in step.channels:
            due = plan_due_at(
                start,
                step.after,
                tz=tz,
                window=window,
                channel=channel.value,
                region=region,
                closed=clinic.closed,
            )
            planned.append(
                PlannedDelivery(
                    step_id=step.id,
                    step_index=index,
                    channel=channel,
                    template=step.template,
                    due_at=due,
                    skip_reason=None if addresses.get(channel) else "no_address",
                )
            )
    planned.sort(key=lambda p: (p.due_at, p.step_index, p.channel.value))
    return planned


def hold_until(
    now: datetime, *, tz: ZoneInfo, sequence: Sequence | None, channel: Channel, region: str | None
) -> datetime:
    """When a message due `now` may go: `now` itself, or the next opening of its windows."""
    window = sequence.window if sequence else None
    return next_send_at(now, tz=tz, window=window, channel=channel.value, region=region)


def first_sms_step(sequence: Sequence) -> str | None:
    """The id of the sequence's first SMS step: its message ends with the opt-out line."""
    for step in sequence.steps:
        if Channel.SMS in step.channels:
            return step.id
    return None
