"""When a message may go out: delays, send windows, SMS quiet hours and timezones.

Every function here is pure: the current time is passed in, nothing reads the clock or the
network. Datetimes come in timezone-aware and go out in UTC; local wall-clock time exists
only inside these functions, where windows and calendar days are measured.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from phonenumbers import geocoder
from phonenumbers import timezone as phone_timezone

#: Weekday names as written in schedule files; the index is `date.weekday()` (0 = Monday).
WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

_ALL_DAYS = frozenset(range(7))
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_MAX_DAYS = 3650
_DELAY_RE = re.compile(r"([0-9]{1,20})(s|m|h|d|bd)")
_DELAY_HELP = "use a number and a unit s, m, h, d or bd (e.g. 90s, 10m, 2h, 1d, 3bd)"
# How far ahead next_send_at looks for an opening: a week covers every weekday, the second
# absorbs a window that is empty on one day because a DST gap swallows it.
_SEARCH_DAYS = 14

#: US area codes that ring in Florida, where SMS may only be sent 08:00-20:00 local time.
#: A table rather than the geocoder alone, because new overlay codes reach it late.
FLORIDA_AREA_CODES: tuple[str, ...] = (
    "239", "305", "321", "324", "352", "386", "407", "448", "561", "645", "656", "689",
    "727", "728", "754", "772", "786", "813", "850", "863", "904", "941", "954",
)  # fmt: skip
_SMS_HOURS = (time(8), time(21))
_SMS_HOURS_BY_REGION = {"US-FL": (time(8), time(20))}
# The geocoder's names for US states, as it spells them ("Washington State").
_US_STATES = {
    "Alabama": "AL", "Alaska": "AK", "Arizona": "AZ", "Arkansas": "AR", "California": "CA",
    "Colorado": "CO", "Connecticut": "CT", "Delaware": "DE", "Washington D.C.": "DC",
    "Florida": "FL", "Georgia": "GA", "Hawaii": "HI", "Idaho": "ID", "Illinois": "IL",
    "Indiana": "IN", "Iowa": "IA", "Kansas": "KS", "Kentucky": "KY", "Louisiana": "LA",
    "Maine": "ME", "Maryland": "MD", "Massachusetts": "MA", "Michigan": "MI", "Minnesota": "MN",
    "Mississippi": "MS", "Missouri": "MO", "Montana": "MT", "Nebraska": "NE", "Nevada": "NV",
    "New Hampshire": "NH", "New Jersey": "NJ", "New Mexico": "NM", "New York": "NY",
    "North Carolina": "NC", "North Dakota": "ND", "Ohio": "OH", "Oklahoma": "OK", "Oregon": "OR",
    "Pennsylvania": "PA", "Rhode Island": "RI", "South Carolina": "SC", "South Dakota": "SD",
    "Tennessee": "TN", "Texas": "TX", "Utah": "UT", "Vermont": "VT", "Virginia": "VA",
    "Washington State": "WA", "West Virginia": "WV", "Wisconsin": "WI", "Wyoming": "WY",
}  # fmt: skip


class DelayError(ValueError):
    """A step's `after:` text is not a delay; the message names the text and the fix."""

    def __init__(self, message: str, text: str = "") -> None:
        super().__init__(message)
        self.text = text


class UnknownTimezoneError(ValueError):
    """A timezone name is not in the IANA database; the message names it."""

    def __init__(self, name: str) -> None:
        super().__init__(f"unknown timezone {name!r}: use an IANA name such as America/New_York")
        self.name = name


@dataclass(frozen=True)
class Delay:
    """How long after enrollment a step is due: `amount` of `unit` (s, m, h, d or bd)."""

    amount: int
    unit: str

    def __post_init__(self) -> None:
        if self.unit not in ("s", "m", "h", "d", "bd") or self.amount < 0:
            raise DelayError(f"invalid delay '{self}': {_DELAY_HELP}", str(self))
        days = self.amount if self.unit == "bd" else self.amount * _UNIT_SECONDS[self.unit] / 86400
        if days > _MAX_DAYS:
            raise DelayError(f"invalid delay '{self}': at most {_MAX_DAYS}d", str(self))

    def __str__(self) -> str:
        return f"{self.amount}{self.unit}"


def parse_delay(text: str) -> Delay:
    """Parse a schedule file's `after:` value such as "90s", "2h", "1d" or "3bd".

    Surrounding whitespace is ignored; anything else that is not digits then a lowercase unit
    (signs, decimals, inner spaces, "1M") is refused, so a typo never becomes a wrong delay.
    """
    match = _DELAY_RE.fullmatch(text.strip())
    if match is None:
        raise DelayError(f"invalid delay {text!r}: {_DELAY_HELP}", text)
    return Delay(int(match.group(1)), match.group(2))


@dataclass(frozen=True)
class ClosedDays:
    """Days the clinic is closed, skipped by business-day (`bd`) delays besides weekends."""

    weekdays: frozenset[int] = frozenset()
    dates: frozenset[date] = frozenset()

    def __post_init__(self) -> None:
        if not self.weekdays <= _ALL_DAYS:
            raise ValueError(f"closed weekdays must be 0 (Mon) to 6 (Sun): {sorted(self.weekdays)}")

    def is_closed(self, day: date) -> bool:
        """Whether the clinic is closed on `day` (by weekday or by date)."""
        return day.weekday() in self.weekdays or day in self.dates


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
        if not self.days or not self.days <= _ALL_DAYS:
            raise ValueError(f"send window days must be some of 0-6, not {sorted(self.days)}")

    def __str__(self) -> str:
        days = ",".join(WEEKDAYS[d] for d in sorted(self.days))
        return f"{self.start:%H:%M}-{self.end:%H:%M} {days}"


def _require_aware(value: datetime, name: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got {value.isoformat()}")


def add_delay(
    start: datetime, delay: Delay, *, tz: ZoneInfo, closed: ClosedDays = ClosedDays()
) -> datetime:
    """`start` plus `delay`, in UTC.

    s/m/h are elapsed time. d and bd keep the local wall-clock time in `tz`, so "1d" across a
    DST change still lands at the same hour; a time that does not exist that day moves forward
    by the gap, an ambiguous one takes its first occurrence. bd counts days that are not
    Saturday, Sunday or closed.
    """
    _require_aware(start, "start")
    if delay.amount == 0:
        return start.astimezone(UTC)
    if delay.unit in ("s", "m", "h"):
        # Add in UTC: an aware datetime plus a timedelta is wall-clock arithmetic in its own zone.
        return start.astimezone(UTC) + timedelta(seconds=delay.amount * _UNIT_SECONDS[delay.unit])
    local = start.astimezone(tz)
    day = local.date()
    if delay.unit == "d":
        day += timedelta(days=delay.amount)
    else:
        if set(range(5)) <= closed.weekdays:
            raise ValueError(f"cannot add {delay}: the clinic is closed every weekday")
        remaining = delay.amount
        while remaining:
            day += timedelta(days=1)
            if day.weekday() < 5 and not closed.is_closed(day):
                remaining -= 1
    # fold=0: zoneinfo then reads a gap time with the pre-transition offset (forward by the
    # gap) and an ambiguous time as its first occurrence.
    wall = datetime.combine(day, local.time().replace(fold=0), tzinfo=tz)
    return wall.astimezone(UTC)


def sms_quiet_hours(region: str | None) -> tuple[time, time]:
    """Hours SMS may be sent in recipient local time, (start inclusive, end exclusive).

    08:00-21:00 everywhere; Florida ("US-FL") narrows it to 08:00-20:00.
    """
    if region is None:
        return _SMS_HOURS
    return _SMS_HOURS_BY_REGION.get(region.upper(), _SMS_HOURS)


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
        return SendWindow(quiet_start, quiet_end, _ALL_DAYS)
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
    _require_aware(due, "due")
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


def is_sendable(
    at: datetime,
    *,
    tz: ZoneInfo,
    window: SendWindow | None,
    channel: str,
    region: str | None = None,
) -> bool:
    """Whether `at` may send now, i.e. `next_send_at(at, ...) == at`; False if it never can."""
    if channel == "sms" and not window_allows_sms(window, region):
        return False
    return next_send_at(at, tz=tz, window=window, channel=channel, region=region) == at


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


def _parse_phone(e164: str | None) -> phonenumbers.PhoneNumber | None:
    if not e164:
        return None
    try:
        return phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return None


def region_for_phone(e164: str | None) -> str | None:
    """The US state of a phone number as "US-XX" (e.g. "US-FL"), or None when unknown.

    Florida comes from its area-code table; other states from the phonenumbers geocoder,
    which names a state ("Massachusetts") or a place ("Boston, MA"). Never raises.
    """
    number = _parse_phone(e164)
    if number is None or not phonenumbers.is_possible_number(number):
        return None
    national = str(number.national_number)
    if number.country_code == 1 and len(national) == 10 and national[:3] in FLORIDA_AREA_CODES:
        return "US-FL"
    if phonenumbers.region_code_for_number(number) != "US":
        return None
    place = geocoder.description_for_number(number, "en")
    if re.fullmatch(r".+, [A-Z]{2}", place):
        return f"US-{place[-2:]}"
    state = _US_STATES.get(place)
    return f"US-{state}" if state else None


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise UnknownTimezoneError(name) from None


def resolve_timezone(explicit: str | None, phone_e164: str | None, clinic_tz: str) -> ZoneInfo:
    """The contact's timezone: `explicit` if given, else the phone number's, else the clinic's.

    A number spanning several zones (toll-free, some area codes) takes the clinic's zone when
    it is one of them, else the first listed. Unknown names raise UnknownTimezoneError.
    """
    if explicit and explicit.strip():
        return _zone(explicit.strip())
    number = _parse_phone(phone_e164)
    if number is not None:
        zones = [z for z in phone_timezone.time_zones_for_number(number) if z != "Etc/Unknown"]
        for name in sorted(zones, key=lambda z: z != clinic_tz):
            try:
                return ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError, OSError):
                continue
    return _zone(clinic_tz)
