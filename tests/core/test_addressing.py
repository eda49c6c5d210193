"""Specification of addresses: normalising what people type, and which address a channel uses."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from nurture.core.addressing import address_of, normalize_email, normalize_phone, per_channel
from nurture.core.states import Channel
from nurture.errors import InvalidAddressError, InvalidValueError


@dataclass(frozen=True)
class Person:
    email: str | None
    phone: str | None


def test_an_email_is_lowercased_and_stripped() -> None:
    assert normalize_email("  Ann.Lee@Example.COM ") == "ann.lee@example.com"


@pytest.mark.parametrize("typed", ["+1 617 555 0123", "(617) 555-0123", "617.555.0123"])
def test_a_us_phone_number_becomes_e164_however_it_is_typed(typed: str) -> None:
    assert normalize_phone(typed) == "+16175550123"


def test_a_foreign_number_keeps_its_country() -> None:
    assert normalize_phone("+44 20 7946 0000") == "+442079460000"


@pytest.mark.parametrize(
    ("normalize", "typed", "named"),
    [
        (normalize_email, "ann@", "invalid email 'ann@'"),
        (normalize_phone, "call me", "invalid phone 'call me': not a phone number"),
        (normalize_phone, "+1 555 0123", "invalid phone '+1 555 0123': not a valid number"),
    ],
)
def test_what_is_not_an_address_is_refused_naming_it(
    normalize: object, typed: str, named: str
) -> None:
    with pytest.raises(InvalidAddressError, match="^" + named.replace("+", r"\+")):
        normalize(typed)  # type: ignore[operator]


def test_an_address_error_is_a_value_error_for_validators_and_one_of_ours() -> None:
    assert issubclass(InvalidAddressError, ValueError)
    assert issubclass(InvalidAddressError, InvalidValueError)


def test_email_goes_to_the_email_address_and_sms_to_the_phone() -> None:
    person = Person(email="ann@example.com", phone="+16175550123")
    assert address_of(person, Channel.EMAIL) == "ann@example.com"
    assert address_of(person, Channel.SMS) == "+16175550123"
    assert address_of(Person(email=None, phone="+16175550123"), Channel.EMAIL) is None


def test_per_channel_picks_the_value_that_belongs_to_the_channel() -> None:
    assert per_channel(Channel.EMAIL, "e", "s") == "e"
    assert per_channel(Channel.SMS, "e", "s") == "s"
