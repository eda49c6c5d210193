"""Specification of delays: `after:` values and adding them across DST and closed days."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from nurture.errors import DelayError
from nurture.schedule.delays import ClosedDays, Delay, add_delay, parse_delay
from tests.schedule.clock import (
    LONDON,
    MON_FRI,
    NY,
    ny,
    utc,
)

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
