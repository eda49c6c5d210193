"""Email addresses and phone numbers as people type them, normalised for storage."""

from __future__ import annotations

import phonenumbers
from email_validator import EmailNotValidError, validate_email

DEFAULT_PHONE_REGION = "US"


def normalize_email(value: str) -> str:
    """A well-formed address, lowercased; ValueError names what is wrong."""
    try:
        checked = validate_email(value.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValueError(f"invalid email {value!r}: {exc}") from None
    return checked.normalized.lower()


def normalize_phone(value: str, region: str = DEFAULT_PHONE_REGION) -> str:
    """E.164 (`+16175550123`) from what a person typed; national numbers are taken as US."""
    try:
        number = phonenumbers.parse(value.strip(), region)
    except phonenumbers.NumberParseException:
        raise ValueError(f"invalid phone {value!r}: not a phone number") from None
    if not phonenumbers.is_valid_number(number):
        raise ValueError(f"invalid phone {value!r}: not a valid number") from None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
