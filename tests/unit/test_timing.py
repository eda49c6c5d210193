"""Specification of nurture.timing: delays, send windows, SMS quiet hours and timezones."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from nurture.timing import (
    WEEKDAYS,
    ClosedDays,
    Delay,
    DelayError,
    SendWindow,
    UnknownTimezoneError,
    add_delay,
    is_sendable,
    next_send_at,
    parse_delay,
    plan_due_at,
    region_for_phone,
    resolve_timezone,
    sms_quiet_hours,
    window_allows_sms,
)

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


# --- delays -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "amount", "unit"),
    [("90s", 90, "s"), ("10m", 10, "m"), ("2h", 2, "h"), ("5d", 5, "d"), ("3bd", 3, "bd")],
)
def test_a_delay_is_a_whole_number_and_a_unit(text: str, amount: int, unit: str) -> None:
    assert parse_delay(text) == Delay(amount, unit)


def test_a_zero_delay_means_at_once() -> None:
    assert parse_delay("0m") == Delay(0, "m")


def test_whitespace_around_a_delay_is_ignored() -> None:
    assert parse_delay("  5d\t") == Delay(5, "d")


@pytest.mark.parametrize("text", ["3x", "-1d", "1.5h", "", "d", "5 d", "1M", "+2h", "2 bd"])
def test_a_malformed_delay_is_refused_naming_the_text(text: str) -> None:
    with pytest.raises(DelayError, match=r"invalid delay '.*': use a number and a unit") as err:
        parse_delay(text)
    assert repr(text) in str(err.value)
    assert err.value.text == text


def test_a_delay_of_more_than_ten_years_is_refused() -> None:
    assert parse_delay("3650d") == Delay(3650, "d")
    with pytest.raises(DelayError, match="invalid delay '3651d': at most 3650d"):
        parse_delay("3651d")
    with pytest.raises(DelayError, match="at most"):
        parse_delay("99999999999s")


def test_a_delay_prints_as_it_is_written() -> None:
    assert str(Delay(3, "bd")) == "3bd"


def test_a_delay_with_an_unknown_unit_cannot_be_built() -> None:
    with pytest.raises(DelayError):
        Delay(1, "w")


# --- adding delays ------------------------------------------------------------------------


@pytest.mark.parametrize("unit", ["s", "m", "h", "d", "bd"])
def test_zero_of_any_unit_returns_the_start_in_utc(unit: str) -> None:
    saturday_noon = ny(2026, 6, 6, 12)
    result = add_delay(saturday_noon, Delay(0, unit), tz=NY)
    assert result == saturday_noon
    assert result.tzinfo is UTC


def test_hours_are_elapsed_time_even_across_spring_forward() -> None:
    # 01:00 EST + 2h of real time is 04:00 EDT: the clocks skipped 02:00-03:00.
    assert add_delay(ny(2026, 3, 8, 1), Delay(2, "h"), tz=NY) == ny(2026, 3, 8, 4)
    assert add_delay(ny(2026, 3, 8, 1), Delay(90, "s"), tz=NY) == utc(2026, 3, 8, 6, 1, 30)


def test_one_day_keeps_the_local_wall_time_across_spring_forward() -> None:
    result = add_delay(ny(2026, 3, 7, 9), Delay(1, "d"), tz=NY)
    assert result == ny(2026, 3, 8, 9) == utc(2026, 3, 8, 13)
    assert result - ny(2026, 3, 7, 9) == timedelta(hours=23)


def test_one_day_keeps_the_local_wall_time_across_fall_back() -> None:
    result = add_delay(ny(2026, 10, 31, 9), Delay(1, "d"), tz=NY)
    assert result == ny(2026, 11, 1, 9) == utc(2026, 11, 1, 14)
    assert result - ny(2026, 10, 31, 9) == timedelta(hours=25)


def test_a_day_landing_in_the_spring_forward_gap_moves_forward_by_the_gap() -> None:
    # 02:30 does not exist on 2026-03-08 in New York; it becomes 03:30 EDT.
    assert add_delay(ny(2026, 3, 7, 2, 30), Delay(1, "d"), tz=NY) == ny(2026, 3, 8, 3, 30)


def test_a_day_landing_on_a_repeated_time_takes_its_first_occurrence() -> None:
    result = add_delay(ny(2026, 10, 31, 1, 30), Delay(1, "d"), tz=NY)
    assert result == utc(2026, 11, 1, 5, 30)  # 01:30 EDT, not 01:30 EST


def test_days_are_counted_in_the_contacts_timezone() -> None:
    # 03:00 UTC on Friday is still Thursday 23:00 in New York, but Friday 04:00 in London.
    start = utc(2026, 6, 5, 3)
    assert add_delay(start, Delay(1, "bd"), tz=NY) == ny(2026, 6, 5, 23)
    assert add_delay(start, Delay(1, "bd"), tz=LONDON) == datetime(2026, 6, 8, 4, tzinfo=LONDON)


def test_one_business_day_after_friday_is_monday() -> None:
    assert add_delay(ny(2026, 6, 5, 10), Delay(1, "bd"), tz=NY) == ny(2026, 6, 8, 10)


def test_business_days_skip_a_closed_date() -> None:
    closed = ClosedDays(dates=frozenset({date(2026, 6, 8)}))
    thursday = ny(2026, 6, 4, 10)
    assert add_delay(thursday, Delay(2, "bd"), tz=NY, closed=closed) == ny(2026, 6, 9, 10)


def test_business_days_skip_a_closed_weekday() -> None:
    closed_mondays = ClosedDays(weekdays=frozenset({0}))
    friday = ny(2026, 6, 5, 10)
    assert add_delay(friday, Delay(1, "bd"), tz=NY, closed=closed_mondays) == ny(2026, 6, 9, 10)


def test_a_business_day_delay_starting_on_saturday_lands_on_monday() -> None:
    saturday = ny(2026, 6, 6, 15)
    assert add_delay(saturday, Delay(1, "bd"), tz=NY) == ny(2026, 6, 8, 15)
    assert add_delay(saturday, Delay(2, "bd"), tz=NY) == ny(2026, 6, 9, 15)


def test_business_days_cannot_be_counted_when_every_weekday_is_closed() -> None:
    with pytest.raises(ValueError, match="closed every weekday"):
        add_delay(ny(2026, 6, 5), Delay(1, "bd"), tz=NY, closed=ClosedDays(weekdays=MON_FRI))


def test_a_naive_start_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        add_delay(datetime(2026, 6, 5), Delay(1, "d"), tz=NY)


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


# --- planning -----------------------------------------------------------------------------


def test_planning_adds_the_delay_then_holds_to_the_window() -> None:
    saturday_evening = ny(2026, 6, 6, 19, 30)
    # One day later is Sunday, outside Monday-Saturday: held to Monday's opening.
    due = plan_due_at(saturday_evening, Delay(1, "d"), tz=NY, window=CLINIC_HOURS, channel="sms")
    assert due == ny(2026, 6, 8, 9)
    closed = ClosedDays(dates=frozenset({date(2026, 6, 8)}))
    due = plan_due_at(
        saturday_evening, Delay(1, "bd"), tz=NY, window=CLINIC_HOURS, channel="email", closed=closed
    )
    assert due == ny(2026, 6, 10, 9)  # Tuesday 19:30 is after closing


def test_an_immediate_step_inside_the_window_is_due_at_the_request() -> None:
    request = ny(2026, 6, 3, 11, 5)
    assert plan_due_at(request, Delay(0, "m"), tz=NY, window=CLINIC_HOURS, channel="sms") == request


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


# --- phone numbers and timezones ----------------------------------------------------------


def test_a_miami_number_is_in_florida_and_a_boston_number_is_not() -> None:
    assert region_for_phone(MIAMI_PHONE) == "US-FL"
    assert region_for_phone(BOSTON_PHONE) == "US-MA"
    assert region_for_phone("+14155550100") == "US-CA"  # geocoded as "San Francisco, CA"


def test_a_new_florida_overlay_code_is_in_florida() -> None:
    assert region_for_phone("+16455550100") == "US-FL"


@pytest.mark.parametrize("phone", [None, "", "not a phone", "+1555", "3055550100", LONDON_PHONE])
def test_a_phone_without_a_known_us_state_has_no_region(phone: str | None) -> None:
    assert region_for_phone(phone) is None


def test_an_explicit_timezone_wins() -> None:
    assert resolve_timezone("Europe/London", BOSTON_PHONE, "America/Chicago") == LONDON


def test_an_unknown_explicit_timezone_is_refused_naming_it() -> None:
    with pytest.raises(UnknownTimezoneError, match="unknown timezone 'Mars/Base': use an IANA"):
        resolve_timezone("Mars/Base", BOSTON_PHONE, "America/Chicago")
    with pytest.raises(UnknownTimezoneError, match=r"'\.\./etc'"):
        resolve_timezone("../etc", None, "America/Chicago")


def test_without_an_explicit_timezone_the_phone_number_gives_it() -> None:
    assert resolve_timezone(None, BOSTON_PHONE, "America/Chicago") == NY
    assert resolve_timezone("", LONDON_PHONE, "America/Chicago") == LONDON
    assert resolve_timezone(None, "+14155550100", "America/Chicago") == ZoneInfo(
        "America/Los_Angeles"
    )


def test_a_number_spanning_several_zones_prefers_the_clinics() -> None:
    toll_free = "+18005550100"
    assert resolve_timezone(None, toll_free, "America/Chicago") == ZoneInfo("America/Chicago")


@pytest.mark.parametrize("phone", [None, "", "garbage", "+3312345"])
def test_without_a_usable_phone_number_the_clinics_timezone_is_used(phone: str | None) -> None:
    assert resolve_timezone(None, phone, "America/Chicago") == ZoneInfo("America/Chicago")


def test_an_unknown_clinic_timezone_is_refused() -> None:
    with pytest.raises(UnknownTimezoneError, match="'Nowhere/Town'"):
        resolve_timezone(None, None, "Nowhere/Town")
