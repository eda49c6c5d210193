"""Shared by the schedule tests: zones, windows and clocks built by hand."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

from nurture.schedule.windows import SendWindow, next_send_at, window_allows_sms

NY = ZoneInfo("America/New_York")
LONDON = ZoneInfo("Europe/London")
MIAMI_PHONE = "+13055550100"
BOSTON_PHONE = "+16175550100"
LONDON_PHONE = "+442079460000"
MON_SAT = frozenset(range(6))
MON_FRI = frozenset(range(5))
EVERY_DAY = frozenset(range(7))
CLINIC_HOURS = SendWindow(time(9), time(19), MON_SAT)


def ny(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0, *, fold: int = 0) -> datetime:
    """A New York wall-clock time as an aware datetime (fold=1: the repeated hour's second pass)."""
    return datetime(y, mo, d, h, mi, s, tzinfo=NY, fold=fold)


def utc(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, s, tzinfo=UTC)


def is_sendable(
    at: datetime,
    *,
    tz: ZoneInfo,
    window: SendWindow | None,
    channel: str,
    region: str | None = None,
) -> bool:
    """Whether a message may go at `at`: `next_send_at` keeps it there (never, if it cannot)."""
    if channel == "sms" and not window_allows_sms(window, region):
        return False
    return next_send_at(at, tz=tz, window=window, channel=channel, region=region) == at
