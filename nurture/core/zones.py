"""Timezones and regions: the one check of an IANA zone name, a prospect's zone from what
they gave, and the US state a phone number rings in (for stricter SMS hours). Pure: no clock,
no network."""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from phonenumbers import timezone as phone_timezone

from nurture.errors import UnknownTimezoneError

#: US area codes that ring in Florida, where SMS may only be sent 08:00-20:00 local time.
#: A table rather than the geocoder alone, because new overlay codes reach it late.
FLORIDA_AREA_CODES: tuple[str, ...] = (
    "239", "305", "321", "324", "352", "386", "407", "448", "561", "645", "656", "689",
    "727", "728", "754", "772", "786", "813", "850", "863", "904", "941", "954",
)  # fmt: skip
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


def zone(name: str) -> ZoneInfo:
    """The IANA zone `name` (e.g. America/New_York); UnknownTimezoneError names it otherwise."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise UnknownTimezoneError(name) from None


def check_zone(name: str) -> str:
    """`name` itself when it is an IANA zone (for validators); UnknownTimezoneError else."""
    zone(name)
    return name


def _parse_phone(e164: str | None) -> phonenumbers.PhoneNumber | None:
    if not e164:
        return None
    try:
        return phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return None


def load_geocoder() -> None:
    """Load the geocoder's tables now (seconds), so the first request need not wait for them."""
    from phonenumbers import geocoder  # noqa: F401


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
    # Imported here: its tables take seconds to load, and every command that imports this
    # module would pay for them at start. The API loads them at start (load_geocoder).
    from phonenumbers import geocoder

    place = geocoder.description_for_number(number, "en")
    if re.fullmatch(r".+, [A-Z]{2}", place):
        return f"US-{place[-2:]}"
    state = _US_STATES.get(place)
    return f"US-{state}" if state else None


def resolve_timezone(explicit: str | None, phone_e164: str | None, clinic_tz: str) -> ZoneInfo:
    """The contact's timezone: `explicit` if given, else the phone number's, else the clinic's.

    A number spanning several zones (toll-free, some area codes) takes the clinic's zone when
    it is one of them, else the first listed. Unknown names raise UnknownTimezoneError.
    """
    if explicit and explicit.strip():
        return zone(explicit.strip())
    number = _parse_phone(phone_e164)
    if number is not None:
        zones = [z for z in phone_timezone.time_zones_for_number(number) if z != "Etc/Unknown"]
        for name in sorted(zones, key=lambda z: z != clinic_tz):
            try:
                return ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError, OSError):
                continue
    return zone(clinic_tz)
