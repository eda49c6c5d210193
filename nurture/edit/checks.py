"""One value a clinic manager typed into the settings form, checked: a phone number, an
email address, an https link, a timezone, a date, a weekday, a list of words. Each check
returns the value as it will be written, or raises `BadValue` saying what is wrong in the
manager's words (the caller adds which field)."""

from __future__ import annotations

import re
from datetime import date
from functools import lru_cache
from urllib.parse import urlsplit
from zoneinfo import available_timezones

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from nurture.core.zones import check_zone
from nurture.errors import NurtureError
from nurture.schedule.catalog import PLACEHOLDER
from nurture.schedule.delays import WEEKDAYS

#: Numbers written without a country code are read as this country's (the clinic's).
DEFAULT_REGION = "US"
#: A video's name is how a message names its link: `links.videos.NAME`.
VIDEO_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_SPLIT = re.compile(r"[\n,;]+")


class BadValue(ValueError):
    """A typed value that cannot be used, with the reason in plain words."""


def no_placeholder(text: str) -> str:
    if PLACEHOLDER.lower() in text.lower():
        raise BadValue(f"still holds the example's {PLACEHOLDER}: type the clinic's own value")
    return text


def check_phone(text: str) -> str:
    """A phone number as the clinic wrote it ("+1 617 555 0100", "(617) 555-0100"),
    kept as written when it is a valid number."""
    _parse_phone(text)
    return " ".join(text.split())


def to_e164(text: str) -> str:
    """A mobile number as +15551234567, the form texts are sent to."""
    return phonenumbers.format_number(_parse_phone(text), phonenumbers.PhoneNumberFormat.E164)


def _parse_phone(text: str) -> phonenumbers.PhoneNumber:
    no_placeholder(text)
    try:
        number = phonenumbers.parse(text, DEFAULT_REGION)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        raise BadValue(
            f"{text!r} is not a phone number: write it with its area code, "
            "e.g. +1 617 555 0100 or (617) 555-0100"
        )
    return number


def check_email(text: str) -> str:
    """An email address (its form only: nothing is looked up on the internet)."""
    no_placeholder(text)
    try:
        validate_email(text, check_deliverability=False)
    except EmailNotValidError as exc:
        raise BadValue(f"{text!r} is not an email address: {exc}") from None
    return text


def check_https(text: str) -> str:
    """A web link that starts with https:// and names a site."""
    no_placeholder(text)
    if any(c.isspace() for c in text):
        raise BadValue(f"{text!r} has a space in it: copy the link from the browser's address bar")
    parts = urlsplit(text)
    if parts.scheme != "https" or not parts.hostname or "." not in parts.hostname:
        raise BadValue(
            f"{text!r} is not a web link starting with https:// "
            "(copy it from the browser's address bar, e.g. https://clinic.example/book)"
        )
    return text


def check_timezone(text: str) -> str:
    """An IANA timezone name, e.g. America/New_York."""
    try:
        return check_zone(text)
    except (NurtureError, ValueError):
        raise BadValue(
            f"{text!r} is not a timezone: choose one from the list, e.g. America/New_York"
        ) from None


@lru_cache(maxsize=1)
def zone_names() -> tuple[str, ...]:
    """Every timezone the checks accept, for the form's list."""
    return tuple(sorted(z for z in available_timezones() if "/" in z and not z.startswith("Etc")))


def check_date(text: str) -> date:
    """A day as YYYY-MM-DD (2026-12-25)."""
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            raise ValueError
        return date.fromisoformat(text)
    except ValueError:
        raise BadValue(
            f"{text!r} is not a date: write it as year-month-day, e.g. 2026-12-25"
        ) from None


def check_weekday(text: str) -> str:
    """A day of the week as the files write it (mon … sun)."""
    name = text.strip().lower()[:3]
    if len(text.strip()) < 3 or name not in WEEKDAYS:
        raise BadValue(f"{text!r} is not a day of the week: use {', '.join(WEEKDAYS)}")
    return name


def check_video_name(text: str) -> str:
    if not VIDEO_NAME.match(text):
        raise BadValue(
            f"{text!r} cannot name a video: use small letters, digits and _ "
            "(e.g. gluteus_medius); messages link to it as links.videos.NAME"
        )
    return text


def check_term(text: str) -> str:
    if len(text) > 60:
        raise BadValue(f"{text[:20]!r}… is longer than 60 characters: one word or phrase each")
    return text


def split_items(value: object) -> list[str]:
    """A list typed one per line or separated by commas (or given as a JSON list), trimmed,
    empty items and repeats left out."""
    if value is None:
        items: list[str] = []
    elif isinstance(value, list | tuple):
        items = [str(v) for v in value]
    else:
        items = _SPLIT.split(str(value))
    seen: list[str] = []
    for item in (" ".join(i.split()) for i in items):
        if item and item not in seen:
            seen.append(item)
    return seen
