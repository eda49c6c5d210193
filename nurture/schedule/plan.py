"""Planning an enrollment's deliveries: pure, from the sequence, the contact and `now`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from nurture.core.states import Channel
from nurture.schedule.clinic import Clinic
from nurture.schedule.delays import ClosedDays, Delay, add_delay
from nurture.schedule.sequence import Sequence
from nurture.schedule.windows import SendWindow, next_send_at


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


def plan_due_at(
    request_at: datetime,
    delay: Delay,
    *,
    tz: ZoneInfo,
    window: SendWindow | None,
    channel: str,
    region: str | None = None,
    closed: ClosedDays = ClosedDays(),
) -> datetime:
    """The due time (UTC) written at enrollment for one step on one channel: delay, then hold."""
    due = add_delay(request_at, delay, tz=tz, closed=closed)
    return next_send_at(due, tz=tz, window=window, channel=channel, region=region)


def hold_until(
    now: datetime, *, tz: ZoneInfo, sequence: Sequence | None, channel: Channel, region: str | None
) -> datetime:
    """When a message due `now` may go: `now` itself, or the next opening of its windows."""
    window = sequence.window if sequence else None
    return next_send_at(now, tz=tz, window=window, channel=channel.value, region=region)
