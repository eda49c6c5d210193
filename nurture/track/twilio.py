"""Twilio webhooks: the signature, inbound texts, and message status callbacks.

Twilio signs the exact public URL it called (scheme, host, path, query) plus the posted form,
so the URL is rebuilt from `PUBLIC_URL`, never from the request's Host header.
"""

from __future__ import annotations

from collections.abc import Mapping

from twilio.request_validator import RequestValidator

from nurture.core.states import Channel
from nurture.track.events import EventType, InboundSms, TrackingEvent

SIGNATURE_HEADER = "X-Twilio-Signature"

#: Twilio MessageStatus values that change a delivery; the others (queued, sending,
#: accepted, scheduled, canceled, receiving, received) report nothing new.
_STATUSES = {
    "sent": EventType.SENT,
    "delivered": EventType.DELIVERED,
    "read": EventType.DELIVERED,
    "undelivered": EventType.UNDELIVERED,
    "failed": EventType.FAILED,
}


def signed_url(public_url: str, path: str, query: str) -> str:
    """The URL Twilio called, as configured in its console: PUBLIC_URL + path + query."""
    return f"{public_url}{path}?{query}" if query else f"{public_url}{path}"


def verify_signature(
    auth_token: str, url: str, params: Mapping[str, str], signature: str | None
) -> bool:
    """Whether `signature` is Twilio's for this URL and form, under the account's token."""
    if not auth_token or not signature:
        return False
    return bool(RequestValidator(auth_token).validate(url, dict(params), signature))


def parse_inbound(params: Mapping[str, str]) -> InboundSms | None:
    """The text a prospect sent; None for a form that is not an inbound message."""
    sid = params.get("MessageSid") or params.get("SmsSid")
    sender = params.get("From")
    if not sid or not sender:
        return None
    return InboundSms(
        provider="twilio",
        message_id=sid,
        sender=sender,
        recipient=params.get("To", ""),
        text=params.get("Body", ""),
    )


def parse_status(params: Mapping[str, str], delivery_id: int | None) -> list[TrackingEvent]:
    """A status callback as zero or one event (`delivery_id` is the `d` of the callback URL;
    0 or None names no delivery)."""
    sid = params.get("MessageSid") or params.get("SmsSid")
    status = (params.get("MessageStatus") or params.get("SmsStatus") or "").lower()
    event_type = _STATUSES.get(status)
    if not sid or event_type is None:
        return []
    code = params.get("ErrorCode") or None
    return [
        TrackingEvent(
            provider="twilio",
            event_id=f"twilio:status:{sid}:{status}",
            event_type=event_type,
            channel=Channel.SMS,
            message_id=sid,
            delivery_id=delivery_id or None,
            recipient=params.get("To"),
            code=code,
            reason=params.get("ErrorMessage") or (f"twilio error {code}" if code else None),
        )
    ]
