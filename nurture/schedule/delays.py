"""How long after enrollment a step is due: delays (`90s`, `2h`, `1d`, `3bd`) and the clinic's
closed days that business days skip. Pure: the start time is passed in."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from nurture.errors import DelayError

#: Weekday names as written in schedule files; the index is `date.weekday()` (0 = Monday).
WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

#: Every weekday, by `date.weekday()` index.
ALL_DAYS = frozenset(range(7))
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_MAX_DAYS = 3650
_DELAY_RE = re.compile(r"([0-9]{1,20})(s|m|h|d|bd)")
_DELAY_HELP = "use a number and a unit s, m, h, d or bd (e.g. 90s, 10m, 2h, 1d, 3bd)"


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
        if not self.weekdays <= ALL_DAYS:
            raise ValueError(f"closed weekdays must be 0 (Mon) to 6 (Sun): {sorted(self.weekdays)}")

    def is_closed(self, day: date) -> bool:
        """Whether the clinic is closed on `day` (by weekday or by date)."""
        return day.weekday() in self.weekdays or day in self.dates


def require_aware(value: datetime, name: str) -> None:
    """ValueError unless `value` carries its timezone (naive datetimes are a bug here)."""
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
    require_aware(start, "start")
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
