"""Calendly's signed webhooks (API v2): the signature, and `invitee.*` events as bookings.

Calendly sends `Calendly-Webhook-Signature: t=<unix seconds>,v1=<hex>`, where v1 is the
HMAC-SHA256 of `t + "." + raw body` under the subscription's signing key. A signature whose
`t` is more than three minutes from our clock is refused (a replay of a captured request).
The body is `{"event": "invitee.created" | "invitee.canceled", "created_at": …,
"payload": {"uri": <invitee URI>, "email", "name", "text_reminder_number",
"scheduled_event": {"start_time", …}, "event": <scheduled event URI>, "rescheduled", …}}`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from nurture.core.inputs import load_json, parse_unix_s
from nurture.track.events import BookingEvent, BookingKind
from nurture.track.signatures import aware_instant, hmac_hex, same_signature, text_or_none

SIGNATURE_HEADER = "Calendly-Webhook-Signature"
#: How far the signed timestamp may be from our clock, either way.
MAX_SKEW_S = 180
_KINDS = {"invitee.created": BookingKind.BOOKED, "invitee.canceled": BookingKind.CANCELED}


def _parts(header: str) -> dict[str, str]:
    parts: dict[str, str] = {}
    for item in header.split(","):
        key, sep, value = item.strip().partition("=")
        if sep:
            parts[key.strip()] = value.strip()
    return parts


def verify_signature(
    signing_key: str,
    payload: bytes,
    header: str | None,
    *,
    now: datetime,
    max_skew_s: float = MAX_SKEW_S,
) -> bool:
    """Whether Calendly signed exactly this body, recently, with `signing_key`."""
    if not signing_key or not header:
        return False
    parts = _parts(header)
    stamp, given = parts.get("t", ""), parts.get("v1", "")
    seconds = parse_unix_s(stamp)
    if seconds is None or not given:
        return False
    if abs(now.timestamp() - seconds) > max_skew_s:
        return False
    expected = hmac_hex(signing_key, stamp.encode() + b"." + payload)
    return same_signature(expected, given)


def parse_event(payload: bytes) -> BookingEvent | None:
    """The booking a webhook reports; None for events that are not about bookings.

    Raises ValueError for a body that is not a Calendly webhook."""
    data = load_json(payload)
    if not isinstance(data, dict) or not isinstance(data.get("payload"), dict):
        raise ValueError("a Calendly webhook is a JSON object with a `payload` object")
    kind = _KINDS.get(str(data.get("event", "")))
    if kind is None:
        return None
    invitee: dict[str, Any] = data["payload"]
    booking_id = str(invitee.get("uri") or invitee.get("event") or "")
    if not booking_id:
        raise ValueError("the Calendly payload has no invitee `uri`")
    scheduled = invitee.get("scheduled_event")
    start = scheduled.get("start_time") if isinstance(scheduled, dict) else None
    return BookingEvent(
        provider="calendly",
        booking_id=booking_id[:300],
        kind=kind,
        email=text_or_none(invitee.get("email")),
        phone=text_or_none(invitee.get("text_reminder_number")),
        starts_at=aware_instant(start),
    )
