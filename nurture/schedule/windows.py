"""When a message may go out: send windows, SMS quiet hours, and the next opening.

Every function here is pure: the current time is passed in, nothing reads the clock or the
network. Datetimes come in timezone-aware and go out in UTC; local wall-clock time exists
only inside these functions, where windows and calendar days are measured.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from nurture.schedule.delays import ALL_DAYS, WEEKDAYS, require_aware

# How far ahead next_send_at looks for an opening: a week covers every weekday, the second
# absorbs a window that is empty on one day because a DST gap swallows it.
_SEARCH_DAYS = 14
_SMS_HOURS = (time(8), time(21))
_SMS_HOURS_BY_REGION = {"US-FL": (time(8), time(20))}


@dataclass(frozen=True)
class SendWindow:
    """Local wall-clock hours [start, end) on weekdays `days` (0 = Monday) when sending is allowed.

    "No window" is `None` in the functions below; windows never run past midnight.
    """

    start: time
    end: time
    days: frozenset[int]

    def __post_init__(self) -> None:
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise ValueError("send window times are local wall-clock times, without a timezone")
        if self.end <= self.start:
            raise ValueError(f"send window end {self.end:%H:%M} is not after {self.start:%H:%M}")
        if not self.days or not self.days <= ALL_DAYS:
            raise ValueError(f"send window days must be some of 0-6, not {sorted(self.days)}")

    def __str__(self) -> str:
        days = ",".join(WEEKDAYS[d] for d in sorted(self.days))
        return f"{self.start:%H:%M}-{self.end:%H:%M} {days}"


def sms_quiet_hours(region: str | None) -> tuple[time, time]:
    """Hours SMS may be sent in recipient local time, (start inclusive, end exclusive).

    08:00-21:00 everywhere; Florida ("US-FL") narrows it to 08:00-20:00.
    """
    if region is None:
        return _SMS_HOURS
    return _SMS_HOURS_BY_REGION.get(region.upper(), _SMS_HOURS)


# Both are pure and asked the same few questions for every enrollment (the sequence's
# window, a channel, a region; a day, an hour, a zone): intake plans 8 deliveries a request.
@lru_cache(maxsize=256)
def _allowed_hours(
    window: SendWindow | None, channel: str, region: str | None
) -> SendWindow | None:
    """The window a delivery must land in: `window`, narrowed by quiet hours for SMS.

    None means any time. Raises ValueError when the two never overlap.
    """
    if channel != "sms":
        return window
    quiet_start, quiet_end = sms_quiet_hours(region)
    if window is None:
        return SendWindow(quiet_start, quiet_end, ALL_DAYS)
    start, end = max(window.start, quiet_start), min(window.end, quiet_end)
    if start >= end:
        raise ValueError(
            f"send window {window} never overlaps the SMS hours "
            f"{quiet_start:%H:%M}-{quiet_end:%H:%M}, so no SMS could ever be sent"
        )
    return SendWindow(start, end, window.days)


def window_allows_sms(window: SendWindow | None, region: str | None = None) -> bool:
    """Whether any SMS can be sent inside `window` given the quiet hours for `region`."""
    quiet_start, quiet_end = sms_quiet_hours(region)
    return window is None or max(window.start, quiet_start) < min(window.end, quiet_end)


@lru_cache(maxsize=4096)
def _first_instant_at(day: date, at: time, tz: ZoneInfo) -> datetime:
    """The first instant (UTC) on `day` at which the wall clock in `tz` reads `at` or later.

    That is when it reads `at` (the first time, if a fall-back repeats it), or, when `at` is
    skipped by a spring-forward gap, the instant the gap ends.
    """
    wall = datetime.combine(day, at)
    first = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
    if first.astimezone(tz).replace(tzinfo=None) == wall:
        return first
    # In a gap the two folds straddle the transition; zoneinfo transitions fall on whole
    # seconds, so bisect the seconds between them for the first one past it.
    lo, hi = sorted((first, wall.replace(tzinfo=tz, fold=1).astimezone(UTC)))
    lo_s, hi_s = math.floor(lo.timestamp()), math.floor(hi.timestamp())
    while hi_s - lo_s > 1:
        mid = (lo_s + hi_s) // 2
        if datetime.fromtimestamp(mid, tz).replace(tzinfo=None) >= wall:
            hi_s = mid
        else:
            lo_s = mid
    return datetime.fromtimestamp(hi_s, UTC)


def next_send_at(
    due: datetime,
    *,
    tz: ZoneInfo,
    window: SendWindow | None,
    channel: str,
    region: str | None = None,
) -> datetime:
    """The earliest instant at or after `due` (UTC) when this channel may send to the contact.

    It must fall inside `window` in `tz` and, for SMS, inside the quiet hours too. A due time
    outside is held to the next opening, never dropped and never moved earlier. Each day the
    allowed span runs from the first instant the wall clock reads the start (or later, if a DST
    gap skips it) to the first instant it reads the end.
    """
    require_aware(due, "due")
    due = due.astimezone(UTC)
    hours = _allowed_hours(window, channel, region)
    if hours is None:
        return due
    first_day = due.astimezone(tz).date()
    for offset in range(_SEARCH_DAYS + 1):
        day = first_day + timedelta(days=offset)
        if day.weekday() not in hours.days:
            continue
        opens = _first_instant_at(day, hours.start, tz)
        closes = _first_instant_at(day, hours.end, tz)
        if due < closes and opens < closes:
            return max(due, opens)
    raise ValueError(f"no opening in {hours} within {_SEARCH_DAYS} days of {due.isoformat()}")


def quiet_hours_end(now: datetime, tz: ZoneInfo, region: str | None) -> datetime:
    """The end of the SMS hours after `now` in the recipient's zone: the latest a text sent
    now may reach the handset (Twilio's ValidityPeriod)."""
    _, end = sms_quiet_hours(region)
    local = now.astimezone(tz)
    closing = local.replace(hour=end.hour, minute=end.minute, second=0, microsecond=0)
    if closing <= local:
        closing += timedelta(days=1)
    return closing.astimezone(UTC)
