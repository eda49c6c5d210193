"""Signed links in messages: unsubscribe (per contact and channel) and booking clicks."""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from functools import cached_property, lru_cache

from itsdangerous import BadSignature, Signer, URLSafeSerializer

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


@lru_cache(maxsize=16)  # one per secret and purpose, not one per link
def _serializer(secret: str, salt: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret, salt=salt, signer=_KeptKeySigner)


class _KeptKeySigner(Signer):
    """itsdangerous' signer, its signing key derived once (not once per signature)."""

    @cached_property
    def _signing_key(self) -> bytes:
        return super().derive_key()

    def derive_key(self, secret_key: str | bytes | None = None) -> bytes:
        return self._signing_key if secret_key is None else super().derive_key(secret_key)


@lru_cache(maxsize=16)
def _signer(secret: str, salt: str) -> Signer:
    return _serializer(secret, salt).make_signer()


def _dumps(secret: str, salt: str, value: object) -> str:
    """`URLSafeSerializer(secret, salt=salt).dumps(value)`, the same token, with the
    serializer and its signer built once: a message signs one or two links."""
    payload = _serializer(secret, salt).dump_payload(value)
    return _signer(secret, salt).sign(payload).decode("utf-8")


@lru_cache(maxsize=4096)  # the same for every message to a contact: built once, not twice
def make_unsubscribe_token(secret: str, contact_id: int, channel: Channel) -> str:
    return _dumps(secret, _UNSUBSCRIBE, [contact_id, channel.value])


def read_unsubscribe_token(secret: str, token: str) -> UnsubscribeToken:
    try:
        contact_id, channel = _serializer(secret, _UNSUBSCRIBE).loads(token)
        return UnsubscribeToken(int(contact_id), Channel(channel))
    except (BadSignature, ValueError, TypeError) as exc:
        raise InvalidToken("this unsubscribe link is not valid") from exc


@lru_cache(maxsize=4096)  # a message's context and its envelope both ask for it
def make_booking_token(secret: str, contact_id: int, delivery_id: int | None) -> str:
    return _dumps(secret, _BOOKING, [contact_id, delivery_id])


def read_booking_token(secret: str, token: str) -> BookingToken:
    try:
        contact_id, delivery_id = _serializer(secret, _BOOKING).loads(token)
        return BookingToken(int(contact_id), None if delivery_id is None else int(delivery_id))
    except (BadSignature, ValueError, TypeError) as exc:
        raise InvalidToken("this booking link is not valid") from exc


#: `r-<enrollment id in base 36>-<16 hex of HMAC>`: lowercase only, because mail systems
#: may change the case of a local part (so itsdangerous' base64 would not survive them).
_REPLY_TOKEN = re.compile(r"r-([0-9a-z]{1,13})-([0-9a-f]{16})")


def _reply_mac(secret: str, enrollment_id: int) -> str:
    message = f"nurture.reply:{enrollment_id}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()[:16]


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        number, rest = divmod(number, 36)
        out = digits[rest] + out
        if not number:
            return out


def make_reply_address(secret: str, enrollment_id: int, domain: str) -> str:
    """The Reply-To of an enrollment's emails: a signed local part at the inbound domain."""
    return f"r-{_base36(enrollment_id)}-{_reply_mac(secret, enrollment_id)}@{domain}"


def read_reply_address(secret: str, address: str, domain: str) -> int | None:
    """The enrollment a reply address names; None if it is not one of ours at `domain`.

    InvalidToken if it looks like one but its signature is wrong (forged or mangled).
    """
    local, _, at = address.strip().lower().rpartition("@")
    if at != domain.strip().lower():
        return None
    match = _REPLY_TOKEN.fullmatch(local)
    if match is None:
        return None
    enrollment_id = int(match.group(1), 36)
    if not hmac.compare_digest(match.group(2), _reply_mac(secret, enrollment_id)):
        raise InvalidToken("this reply address is not valid")
    return enrollment_id
