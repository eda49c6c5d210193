"""What the calendar webhooks share: HMAC-SHA256 hex signatures checked in constant time, and
reading their payloads' fields."""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime


def hmac_hex(secret: str, message: bytes) -> str:
    """The hex HMAC-SHA256 of `message` under `secret`."""
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def same_signature(expected: str, given: str) -> bool:
    """Whether `given` is `expected`, compared in constant time (case-insensitive hex)."""
    return hmac.compare_digest(expected.lower().encode(), given.strip().lower().encode())


def text_or_none(value: object) -> str | None:
    """A payload's string field, stripped; None when absent or empty."""
    return (str(value).strip() or None) if value else None


def aware_instant(value: object) -> datetime | None:
    """An ISO 8601 instant with its offset ('Z' too); None for anything else."""
    if not isinstance(value, str):
        return None
    try:
        stamp = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return stamp if stamp.tzinfo is not None else None
