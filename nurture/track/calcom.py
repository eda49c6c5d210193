"""Cal.com's signed webhooks: the signature, and `BOOKING_*` triggers as bookings.

Cal.com sends `X-Cal-Signature-256`: the hex HMAC-SHA256 of the raw body under the secret set
on the webhook (Settings > Developer > Webhooks). The body is `{"triggerEvent":
"BOOKING_CREATED" | "BOOKING_RESCHEDULED" | "BOOKING_CANCELLED", "createdAt": …, "payload":
{"uid", "startTime", "attendees": [{"email", "name", "timeZone", "phoneNumber"?}],
"responses": {"email": {"value"}, "attendeePhoneNumber": {"value"}, …}?, …}}`. Cal.com signs
no timestamp, so a replay is answered by the idempotency of the booking id and kind.
"""

from __future__ import annotations

from typing import Any

from nurture.core.inputs import load_json
from nurture.track.events import BookingEvent, BookingKind
from nurture.track.signatures import aware_instant, hmac_hex, same_signature, text_or_none

SIGNATURE_HEADER = "X-Cal-Signature-256"
_KINDS = {
    "BOOKING_CREATED": BookingKind.BOOKED,
    "BOOKING_RESCHEDULED": BookingKind.RESCHEDULED,
    "BOOKING_CANCELLED": BookingKind.CANCELED,
}


def verify_signature(secret: str, payload: bytes, signature: str | None) -> bool:
    """Whether Cal.com signed exactly this body with `secret`."""
    if not secret or not signature:
        return False
    return same_signature(hmac_hex(secret, payload), signature)


def _response(responses: object, key: str) -> str | None:
    if not isinstance(responses, dict):
        return None
    answer = responses.get(key)
    if isinstance(answer, dict):
        answer = answer.get("value")
    return text_or_none(answer) if isinstance(answer, str) else None


def parse_event(payload: bytes) -> BookingEvent | None:
    """The booking a webhook reports; None for triggers that are not about bookings (a ping,
    a meeting starting). Raises ValueError for a body that is not a Cal.com webhook."""
    data = load_json(payload)
    if not isinstance(data, dict):
        raise ValueError("a Cal.com webhook is a JSON object")
    kind = _KINDS.get(str(data.get("triggerEvent", "")))
    if kind is None:
        return None
    booking = data.get("payload")
    if not isinstance(booking, dict):
        raise ValueError("the Cal.com webhook has no `payload` object")
    uid = text_or_none(booking.get("uid")) or text_or_none(booking.get("bookingId"))
    if uid is None:
        raise ValueError("the Cal.com payload has no booking `uid`")
    attendees = booking.get("attendees")
    first: dict[str, Any] = (
        attendees[0]
        if isinstance(attendees, list) and attendees and isinstance(attendees[0], dict)
        else {}
    )
    responses = booking.get("responses")
    return BookingEvent(
        provider="calcom",
        booking_id=uid[:300],
        kind=kind,
        email=text_or_none(first.get("email")) or _response(responses, "email"),
        phone=text_or_none(first.get("phoneNumber")) or _response(responses, "attendeePhoneNumber"),
        starts_at=aware_instant(booking.get("startTime")),
    )
