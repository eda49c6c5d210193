"""Addresses: email addresses and phone numbers as people type them, normalised for storage,
and which of a prospect's addresses a channel uses (the one place that says so)."""

from __future__ import annotations

from typing import Protocol, TypeVar

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from nurture.core.states import Channel
from nurture.errors import InvalidAddressError

DEFAULT_PHONE_REGION = "US"
_T = TypeVar("_T")


class Addressable(Protocol):
    """Anything that holds a prospect's addresses: a contact row, what templates see."""

    @property
    def email(self) -> str | None: ...

    @property
    def phone(self) -> str | None: ...


def per_channel(channel: Channel, email: _T, sms: _T) -> _T:
    """Of two things, the one that belongs to `channel`: an email's, or an SMS's."""
    return email if channel is Channel.EMAIL else sms


def address_of(holder: Addressable, channel: Channel) -> str | None:
    """The address `channel` reaches `holder` at: the email address, or the phone for SMS."""
    return per_channel(channel, holder.email, holder.phone)


def normalize_email(value: str) -> str:
    """A well-formed address, lowercased; InvalidAddressError names what is wrong."""
    try:
        checked = validate_email(value.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidAddressError(f"invalid email {value!r}: {exc}") from None
    return checked.normalized.lower()


#: Gmail ignores dots in an address's local part, and googlemail.com is gmail.com.
_DOTLESS_DOMAINS = {"gmail.com": "gmail.com", "googlemail.com": "gmail.com"}


def email_identity(address: str) -> str:
    """The mailbox behind a (normalised) address, for counting and for telling one person
    from another, never for sending: a `+tag` is dropped everywhere (`vary+1@x.example` is
    `vary@x.example`), dots too at Gmail (`v.ary@googlemail.com` is `vary@gmail.com`)."""
    local, at, domain = address.strip().lower().rpartition("@")
    if not at:
        return address.strip().lower()
    local = local.split("+", 1)[0] or local
    if domain in _DOTLESS_DOMAINS:
        domain = _DOTLESS_DOMAINS[domain]
        local = local.replace(".", "") or local
    return f"{local}@{domain}"


def normalize_phone(value: str, region: str = DEFAULT_PHONE_REGION) -> str:
    """E.164 (`+16175550123`) from what a person typed; national numbers are taken as US."""
    try:
        number = phonenumbers.parse(value.strip(), region)
    except phonenumbers.NumberParseException:
        raise InvalidAddressError(f"invalid phone {value!r}: not a phone number") from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidAddressError(f"invalid phone {value!r}: not a valid number") from None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def mask(address: str) -> str:
    """Enough of an address to recognise it, not enough to read it off a shared screen or
    a log line: `a***@example.com`, `***0123`."""
    if "@" in address:
        user, _, domain = address.partition("@")
        return f"{user[:1]}***@{domain}"
    return f"***{address[-4:]}"
