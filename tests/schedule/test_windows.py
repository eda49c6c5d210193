"""Specification of send windows and SMS quiet hours: when a message may go, pure."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from nurture.core.zones import region_for_phone
from nurture.schedule.delays import WEEKDAYS
from nurture.schedule.windows import SendWindow, next_send_at, sms_quiet_hours, window_allows_sms
from tests.schedule.clock import (
    BOSTON_PHONE,
    CLINIC_HOURS,
    EVERY_DAY,
    MIAMI_PHONE,
    MON_FRI,
    NY,
    is_sendable,
    ny,
    utc,
)

# --- send windows and SMS quiet hours -----------------------------------------------------


def send(
    due: datetime,
    channel: str = "email",
    window: SendWindow | None = CLINIC_HOURS,
    region: str | None = None,
) -> datetime:
    return next_send_at(due, tz=NY, window=window, channel=channel, region=region)


def test_a_message_due_inside_its_window_is_sent_when_due() -> None:
    result = send(ny(2026, 6, 3, 12, 15))  # Wednesday
    assert result == ny(2026, 6, 3, 12, 15)
    assert result.tzinfo is UTC


def test_a_message_due_before_the_window_opens_waits_for_the_opening() -> None:
    assert send(ny(2026, 6, 3, 6, 45)) == ny(2026, 6, 3, 9)


def test_a_message_due_after_the_window_closes_waits_for_the_next_days_opening() -> None:
    assert send(ny(2026, 6, 3, 19)) == ny(2026, 6, 4, 9)  # the end is exclusive
    assert send(ny(2026, 6, 3, 23, 59)) == ny(2026, 6, 4, 9)


def test_a_message_due_on_a_day_outside_the_window_waits_for_the_next_allowed_day() -> None:
    assert send(ny(2026, 6, 7, 12)) == ny(2026, 6, 8, 9)  # Sunday -> Monday
    weekdays_only = SendWindow(time(9), time(17), MON_FRI)
    assert send(ny(2026, 6, 5, 18), window=weekdays_only) == ny(2026, 6, 8, 9)  # Fri -> Mon


def test_an_email_without_a_window_goes_at_any_hour() -> None:
    assert send(ny(2026, 6, 3, 23, 30), window=None) == ny(2026, 6, 3, 23, 30)


def test_an_sms_due_at_night_is_held_to_eight_the_next_morning() -> None:
    assert send(ny(2026, 6, 3, 22), "sms", window=None) == ny(2026, 6, 4, 8)
    assert send(ny(2026, 6, 3, 21), "sms", window=None) == ny(2026, 6, 4, 8)


def test_an_sms_due_before_eight_is_held_to_eight_the_same_morning() -> None:
    assert send(ny(2026, 6, 3, 5), "sms", window=None) == ny(2026, 6, 3, 8)


def test_an_sms_in_the_evening_goes_out_unless_the_recipient_is_in_florida() -> None:
    evening = ny(2026, 6, 3, 20, 30)
    miami, boston = region_for_phone(MIAMI_PHONE), region_for_phone(BOSTON_PHONE)
    assert send(evening, "sms", window=None, region=miami) == ny(2026, 6, 4, 8)
    assert send(evening, "sms", window=None, region=boston) == evening


def test_sms_quiet_hours_are_eight_to_nine_except_eight_to_eight_in_florida() -> None:
    assert sms_quiet_hours(None) == (time(8), time(21))
    assert sms_quiet_hours("US-MA") == (time(8), time(21))
    assert sms_quiet_hours("US-FL") == (time(8), time(20))


def test_an_sms_must_be_inside_both_the_window_and_the_quiet_hours() -> None:
    wide = SendWindow(time(7), time(22), EVERY_DAY)
    assert send(ny(2026, 6, 3, 7, 30), "sms", window=wide) == ny(2026, 6, 3, 8)
    assert send(ny(2026, 6, 3, 21, 30), "sms", window=wide) == ny(2026, 6, 4, 8)
    assert send(ny(2026, 6, 3, 8, 30), "sms") == ny(2026, 6, 3, 9)
    assert send(ny(2026, 6, 3, 19, 30), "sms") == ny(2026, 6, 4, 9)


def test_an_email_is_not_subject_to_sms_quiet_hours() -> None:
    wide = SendWindow(time(7), time(22), EVERY_DAY)
    assert send(ny(2026, 6, 3, 7, 30), window=wide) == ny(2026, 6, 3, 7, 30)
    assert send(ny(2026, 6, 3, 21, 30), window=wide) == ny(2026, 6, 3, 21, 30)


def test_a_window_that_never_meets_the_sms_hours_is_refused_for_sms() -> None:
    late = SendWindow(time(22), time(23), EVERY_DAY)
    assert not window_allows_sms(late)
    assert not is_sendable(ny(2026, 6, 3, 22, 30), tz=NY, window=late, channel="sms")
    with pytest.raises(ValueError, match="never overlaps the SMS hours 08:00-21:00"):
        send(ny(2026, 6, 3, 12), "sms", window=late)
    assert send(ny(2026, 6, 3, 12), "email", window=late) == ny(2026, 6, 3, 22)


def test_a_window_may_allow_sms_elsewhere_but_not_in_florida() -> None:
    evening = SendWindow(time(20), time(22), EVERY_DAY)
    assert window_allows_sms(None)
    assert window_allows_sms(evening)
    assert not window_allows_sms(evening, "US-FL")


def test_is_sendable_tells_whether_a_message_may_go_at_that_instant() -> None:
    assert is_sendable(ny(2026, 6, 3, 10), tz=NY, window=CLINIC_HOURS, channel="sms")
    assert not is_sendable(ny(2026, 6, 7, 10), tz=NY, window=CLINIC_HOURS, channel="sms")
    assert not is_sendable(ny(2026, 6, 3, 8, 30), tz=NY, window=CLINIC_HOURS, channel="email")


def test_a_naive_due_time_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        send(datetime(2026, 6, 3, 12))


def test_a_window_must_end_after_it_starts_and_have_days() -> None:
    with pytest.raises(ValueError, match="end 06:00 is not after 22:00"):
        SendWindow(time(22), time(6), EVERY_DAY)
    with pytest.raises(ValueError, match="must be some of 0-6"):
        SendWindow(time(9), time(17), frozenset())
    assert str(CLINIC_HOURS) == "09:00-19:00 mon,tue,wed,thu,fri,sat"
    assert WEEKDAYS.index("sun") == date(2026, 6, 7).weekday()


# --- DST around send windows --------------------------------------------------------------


def test_a_window_opening_in_the_spring_forward_gap_opens_when_the_gap_ends() -> None:
    window = SendWindow(time(2, 30), time(5), EVERY_DAY)
    result = send(ny(2026, 3, 8, 0, 10), window=window)
    assert result == ny(2026, 3, 8, 3) == utc(2026, 3, 8, 7)
    assert is_sendable(result, tz=NY, window=window, channel="email")
    assert not is_sendable(result - timedelta(seconds=1), tz=NY, window=window, channel="email")


def test_a_window_lying_inside_the_spring_forward_gap_opens_the_next_day() -> None:
    window = SendWindow(time(2, 10), time(2, 50), EVERY_DAY)
    assert send(ny(2026, 3, 8, 1), window=window) == ny(2026, 3, 9, 2, 10)


def test_an_sms_held_across_the_fall_back_night_goes_at_eight_standard_time() -> None:
    result = send(ny(2026, 10, 31, 22), "sms", window=None)
    assert result == ny(2026, 11, 1, 8) == utc(2026, 11, 1, 13)
    assert result - ny(2026, 10, 31, 22) == timedelta(hours=11)


def test_a_window_in_the_repeated_fall_back_hour_is_open_on_its_first_pass_only() -> None:
    window = SendWindow(time(1), time(1, 30), EVERY_DAY)
    assert send(ny(2026, 11, 1, 1, 15), window=window) == utc(2026, 11, 1, 5, 15)
    second_pass = ny(2026, 11, 1, 1, 15, fold=1)
    assert send(second_pass, window=window) == ny(2026, 11, 2, 1)


# --- properties ---------------------------------------------------------------------------

# Each zone's 2026 clock changes (UTC): Santiago springs forward at midnight, Lord Howe by
# half an hour. Due times are drawn within three days of one, where holding is hardest.
DST_CHANGES = {
    "America/New_York": (utc(2026, 3, 8, 7), utc(2026, 11, 1, 6)),
    "Europe/London": (utc(2026, 3, 29, 1), utc(2026, 10, 25, 1)),
    "America/Santiago": (utc(2026, 4, 5, 3), utc(2026, 9, 6, 4)),
    "Australia/Lord_Howe": (utc(2026, 4, 4, 15), utc(2026, 10, 3, 15, 30)),
    "UTC": (utc(2026, 6, 1),),
}
near_a_change = st.integers(-3 * 86400, 3 * 86400).map(lambda s: timedelta(seconds=s))


@st.composite
def windows(draw: st.DrawFn) -> SendWindow | None:
    if draw(st.booleans()):
        return None
    start = draw(st.integers(0, 24 * 4 - 1))
    end = draw(st.integers(start + 1, 24 * 4))
    days = draw(st.frozensets(st.integers(0, 6), min_size=1))

    def quarter(n: int) -> time:
        return time(23, 59, 59) if n == 96 else time(n // 4, n % 4 * 15)

    return SendWindow(quarter(start), quarter(end), days)


@settings(database=None, max_examples=500, deadline=None)
@given(
    zone=st.sampled_from(sorted(DST_CHANGES)),
    change=st.integers(0, 1),
    first=near_a_change,
    second=near_a_change,
    window=windows(),
    channel=st.sampled_from(["email", "sms"]),
    region=st.sampled_from([None, "US-FL"]),
)
def test_holding_never_drops_never_goes_early_keeps_order_and_lands_on_a_sendable_instant(
    zone: str,
    change: int,
    first: timedelta,
    second: timedelta,
    window: SendWindow | None,
    channel: str,
    region: str | None,
) -> None:
    assume(channel != "sms" or window_allows_sms(window, region))
    tz = ZoneInfo(zone)
    changes = DST_CHANGES[zone]
    at = changes[change % len(changes)]
    early, late = sorted((at + first, at + second))
    sent_early = next_send_at(early, tz=tz, window=window, channel=channel, region=region)
    sent_late = next_send_at(late, tz=tz, window=window, channel=channel, region=region)
    assert early <= sent_early <= sent_late
    assert late <= sent_late
    assert is_sendable(sent_early, tz=tz, window=window, channel=channel, region=region)
