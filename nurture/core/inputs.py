"""Numbers, times and JSON from outside (a URL, a header, a provider's payload, a field a
person typed), each parsed one way and within what the database and `datetime` can hold.

Python's own helpers are too lenient for this: `str.isdigit` accepts '²' (which `int` then
refuses), `int` accepts '٣', '1_000' and ' 7 ', an id past 64 bits overflows SQLite and
PostgreSQL, a date near year 1 or 9999 overflows when a day or a zone is added, and `json`
recurses once per nesting level. Each of those was a 500; here each is a clear refusal. Pure.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

from nurture.errors import InvalidValueError

#: The largest row id either database stores (a signed 64-bit integer).
MAX_ID = 2**63 - 1
_ID = re.compile(r"[0-9]{1,19}")
#: Unix seconds: up to 12 ASCII digits (year 33658), so `int` and `datetime` never overflow.
_UNIX_S = re.compile(r"[0-9]{1,12}")

#: The instants a person may name (a report's period, a timeline's start): every real
#: question fits, and a day added or a zone applied never reaches `datetime`'s own limits.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(3000, 1, 1, tzinfo=UTC)
_RANGE = "1970-01-01 to 2999-12-31"

#: How deep a JSON body may nest. Every payload nurture reads (intake, bookings, SendGrid,
#: Calendly, Cal.com) nests 8 levels or fewer.
MAX_JSON_DEPTH = 32
#: What matters to nesting: brackets, and the quotes and backslashes that hide them in strings.
_JSON_MARKS = re.compile(rb'[\[\]{}"\\]')


def parse_id(text: str | None) -> int | None:
    """A row id (1 to MAX_ID) in ASCII digits; None for anything else ('', '0', '²', '1e3')."""
    if text is None or not _ID.fullmatch(text):
        return None
    value = int(text)
    return value if 1 <= value <= MAX_ID else None


def parse_unix_s(text: str | None) -> int | None:
    """Seconds since 1970 in ASCII digits (a signature's timestamp); None for anything else."""
    if text is None or not _UNIX_S.fullmatch(text.strip()):
        return None
    return int(text.strip())


def instant_from_unix_s(value: object) -> datetime | None:
    """A payload's numeric timestamp as an aware instant; None unless it is a whole number
    of seconds within EARLIEST..LATEST."""
    if not isinstance(value, int) or isinstance(value, bool):
        return None
    if not EARLIEST.timestamp() <= value < LATEST.timestamp():
        return None
    return datetime.fromtimestamp(value, UTC)


def within_range(value: datetime, name: str) -> datetime:
    """`value` (aware) if it lies in EARLIEST..LATEST; InvalidValueError naming `name` else."""
    if not EARLIEST <= value < LATEST:
        raise InvalidValueError(f"{name}: {value:%Y-%m-%d} is out of range: use {_RANGE}")
    return value


def parse_instant(
    text: str | None, name: str, *, end_of_day: bool = False, zone: tzinfo = UTC
) -> datetime | None:
    """A date (`YYYY-MM-DD`: the day's start, or the next day's start with `end_of_day`) or an
    ISO time (in `zone` unless it carries an offset, then in UTC), as an aware instant in
    range; None for an empty value. InvalidValueError naming `name` and the value else."""
    text = (text or "").strip()
    if not text:
        return None
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            if not EARLIEST.date() <= day < LATEST.date():
                raise InvalidValueError(f"{name}: {text} is out of range: use {_RANGE}")
            start = datetime.combine(day, time(0), tzinfo=zone)
            return start + timedelta(days=1) if end_of_day else start
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        if isinstance(exc, InvalidValueError):
            raise
        raise InvalidValueError(
            f"{name}: {text!r} is not a date: use YYYY-MM-DD or an ISO time (2026-03-03T12:00)"
        ) from None
    if (
        not EARLIEST.replace(tzinfo=None)
        <= value.replace(tzinfo=None)
        < LATEST.replace(tzinfo=None)
    ):
        raise InvalidValueError(f"{name}: {text} is out of range: use {_RANGE}")
    return value.replace(tzinfo=zone) if value.tzinfo is None else value.astimezone(UTC)


def json_depth_over(raw: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether `raw` (JSON or not) opens more than `limit` brackets at once outside strings.

    Linear, and cheap for the usual body: one with `limit` brackets or fewer is not scanned."""
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return False
    depth, in_string, skip_to = 0, False, -1
    for mark in _JSON_MARKS.finditer(raw):
        at = mark.start()
        if at < skip_to:
            continue  # the character a backslash escapes
        char = raw[at]
        if in_string:
            if char == 0x5C:  # backslash
                skip_to = at + 2
            elif char == 0x22:  # quote
                in_string = False
        elif char == 0x22:
            in_string = True
        elif char in b"[{":
            depth += 1
            if depth > limit:
                return True
        elif char in b"]}":
            depth -= 1
    return False


def load_json(raw: bytes | str, what: str = "the body") -> Any:
    """JSON from outside, or InvalidValueError saying what is wrong with it: invalid, nested
    deeper than MAX_JSON_DEPTH, or a number too long to read."""
    data = raw.encode() if isinstance(raw, str) else raw
    if json_depth_over(data):
        raise InvalidValueError(f"{what}: JSON nested deeper than {MAX_JSON_DEPTH} levels")
    try:
        return json.loads(data)
    except json.JSONDecodeError as exc:
        raise InvalidValueError(f"{what}: invalid JSON: {exc}") from None
    except UnicodeDecodeError:
        raise InvalidValueError(f"{what}: invalid JSON: not UTF-8") from None
    except (ValueError, RecursionError):  # e.g. an integer of more than 4,300 digits
        raise InvalidValueError(f"{what}: JSON holds a value too large to read") from None
