"""Specification of timezones and regions: a prospect's zone, a number's US state."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from nurture.core.zones import region_for_phone, resolve_timezone
from nurture.errors import UnknownTimezoneError
from tests.schedule.clock import (
    BOSTON_PHONE,
    LONDON,
    LONDON_PHONE,
    MIAMI_PHONE,
    NY,
)

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
