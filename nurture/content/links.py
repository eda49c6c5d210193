"""Signed links in messages: unsubscribe (per contact and channel) and booking clicks."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from itsdangerous import BadSignature, URLSafeSerializer

from nurture.core.states import Channel
from nurture.errors import InvalidToken

_UNSUBSCRIBE = "nurture.unsubscribe"
_BOOKING = "nurture.booking"


@dataclass(frozen=True)
class UnsubscribeToken:
    contact_id: int
    channel: Channel


@dataclass(frozen=True)
class BookingToken:
    contact_id: int
    delivery_id: int | None


def _serializer(secret: str, salt: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret, salt=salt)


@lru_cache(maxsize=4096)  # the same for every message to a contact: built once, not twice
def make_unsubscribe_token(secret: str, contact_id: int, channel: Channel) -> str:
    return _serializer(secret, _UNSUBSCRIBE).dumps([contact_id, channel.value])


def read_unsubscribe_token(secret: str, token: str) -> UnsubscribeToken:
    try:
        contact_id, channel = _serializer(secret, _UNSUBSCRIBE).loads(token)
        return UnsubscribeToken(int(contact_id), Channel(channel))
    except (BadSignature, ValueError, TypeError) as exc:
        raise InvalidToken("this unsubscribe link is not valid") from exc


@lru_cache(maxsize=4096)  # a message's context and its envelope both ask for it
def make_booking_token(secret: str, contact_id: int, delivery_id: int | None) -> str:
    return _serializer(secret, _BOOKING).dumps([contact_id, delivery_id])


def read_booking_token(secret: str, token: str) -> BookingToken:
    try:
        contact_id, delivery_id = _serializer(secret, _BOOKING).loads(token)
        return BookingToken(int(contact_id), None if delivery_id is None else int(delivery_id))
    except (BadSignature, ValueError, TypeError) as exc:
        raise InvalidToken("this booking link is not valid") from exc
