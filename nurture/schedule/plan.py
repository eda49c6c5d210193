"""Planning an enrollment's deliveries: pure, from the sequence, the contact and `now`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from nurture.core.states import Channel
from nurture.schedule.clinic import Clinic
from nurture.schedule.delays import ClosedDays, Delay, add_delay
from nurture.schedule.sequence import Sequence
from nurture.schedule.windows import SendWindow, next_send_at

# Why a planned time moved from its plain delay; short strings shown by `nurture timeline`.
SEND_WINDOW = "send window"
SMS_QUIET_HOURS = "sms quiet hours"
FLORIDA_HOURS = "florida hours"
CLOSED_DAY = "closed day"
BUSINESS_DAYS = "business days"
SPACING = "spacing"


@dataclass(frozen=True)
class PlannedDelivery:
    """One (step, channel) message and when it falls due; `skip_reason` if it cannot go.

    `reasons` says why `due_at` is later than the step's plain delay (empty when it is not);
    enrollment keeps only the time.
    """

    step_id: str
    step_index: int
    channel: Channel
    template: str
    due_at: datetime
    skip_reason: str | None = None
    reasons: tuple[str, ...] = ()


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

    Each step is due `after` its delay, then held to its windows. When a hold moves a step
    later, every later step keeps the gap the file gives between them: it goes no earlier
    than the moved step plus that gap (`spacing`), then is held to its windows in turn.
    A channel without an address is planned as skipped (`no_address`), so the schedule shows it.
    """
    window, closed = sequence.window, clinic.closed
    planned: list[PlannedDelivery] = []
    previous: tuple[datetime, datetime] | None = None  # (plain due, planned time) of last step
    for index, step in enumerate(sequence.steps, start=1):
        plain, reasons = _after_delay(start, step.after, tz=tz, closed=closed)
        due = plain
        if previous is not None:
            spaced = _keep_gap(previous, plain, tz)
            if spaced > plain:
                due, reasons = spaced, [SPACING]
        times: list[PlannedDelivery] = []
        for channel in step.channels:
            at, held = _hold(due, tz=tz, window=window, channel=channel, region=region)
            times.append(
                PlannedDelivery(
                    step_id=step.id,
                    step_index=index,
                    channel=channel,
                    template=step.template,
                    due_at=at,
                    skip_reason=None if addresses.get(channel) else "no_address",
                    reasons=tuple(dict.fromkeys(reasons + held)),
                )
            )
        planned += times
        sent = [t.due_at for t in times if t.skip_reason is None] or [t.due_at for t in times]
        previous = (plain, max(sent))
    planned.sort(key=lambda p: (p.due_at, p.step_index, p.channel.value))
    return planned


def _after_delay(
    start: datetime, delay: Delay, *, tz: ZoneInfo, closed: ClosedDays
) -> tuple[datetime, list[str]]:
    """`start` plus `delay`, and why business days or closed days made it later."""
    due = add_delay(start, delay, tz=tz, closed=closed)
    reasons: list[str] = []
    if delay.unit == "bd":
        open_every_day = add_delay(start, delay, tz=tz)
        if add_delay(start, Delay(delay.amount, "d"), tz=tz) < open_every_day:
            reasons.append(BUSINESS_DAYS)
        if due > open_every_day:
            reasons.append(CLOSED_DAY)
    return due, reasons


def _keep_gap(previous: tuple[datetime, datetime], plain: datetime, tz: ZoneInfo) -> datetime:
    """The earliest time a step may go: the previous step's planned time plus the wall-clock
    gap between the two steps' plain due times."""
    previous_plain, previous_at = previous
    if previous_at <= previous_plain:
        return plain
    gap = plain.astimezone(tz).replace(tzinfo=None) - previous_plain.astimezone(tz).replace(
        tzinfo=None
    )
    wall = previous_at.astimezone(tz).replace(tzinfo=None) + gap
    return max(plain, wall.replace(tzinfo=tz, fold=0).astimezone(UTC))


def _hold(
    due: datetime, *, tz: ZoneInfo, window: SendWindow | None, channel: Channel, region: str | None
) -> tuple[datetime, list[str]]:
    """`due` held to the channel's windows, and which of them held it."""
    in_window = next_send_at(due, tz=tz, window=window, channel="email")
    reasons = [SEND_WINDOW] if in_window > due else []
    if channel is not Channel.SMS:
        return in_window, reasons
    anywhere = next_send_at(due, tz=tz, window=window, channel="sms")
    if anywhere > in_window:
        reasons.append(SMS_QUIET_HOURS)
    here = next_send_at(due, tz=tz, window=window, channel="sms", region=region)
    if here > anywhere:
        reasons.append(FLORIDA_HOURS if (region or "").upper() == "US-FL" else SMS_QUIET_HOURS)
    return here, reasons


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
    """The due time (UTC) of one step on one channel on its own: delay, then hold."""
    due = add_delay(request_at, delay, tz=tz, closed=closed)
    return next_send_at(due, tz=tz, window=window, channel=channel, region=region)


def hold_until(
    now: datetime, *, tz: ZoneInfo, sequence: Sequence | None, channel: Channel, region: str | None
) -> datetime:
    """When a message due `now` may go: `now` itself, or the next opening of its windows."""
    window = sequence.window if sequence else None
    return next_send_at(now, tz=tz, window=window, channel=channel.value, region=region)
