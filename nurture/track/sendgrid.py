"""SendGrid's signed Event Webhook: the ECDSA signature and the batch of events.

SendGrid signs `timestamp + raw body` with its private key; we verify with the public key from
its console (`NURTURE_SENDGRID_WEBHOOK_PUBLIC_KEY`, base64 DER) through the SDK's own
`EventWebhook`. Every event carries `sg_event_id` (idempotency) and our `custom_args`.
"""

from __future__ import annotations

import binascii
from datetime import datetime
from typing import Any

from sendgrid.helpers.eventwebhook import EventWebhook

from nurture.core.inputs import instant_from_unix_s, load_json, parse_id, parse_unix_s
from nurture.core.states import Channel
from nurture.errors import InvalidPublicKey
from nurture.track.events import EventType, Suppress, TrackingEvent

SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"

#: Reasons SendGrid drops a message that say the address itself must not be used.
_DROPPED_UNUSABLE = ("bounced address", "invalid")
_DROPPED_OPT_OUT = ("unsubscribed address", "spam reporting address")


#: How far a signed timestamp may be from our clock: an older signature is a replay. SendGrid
#: signs each delivery attempt afresh, so its own retries are never stale.
MAX_SKEW_S = 600


def verify_signature(
    public_key: str,
    payload: bytes,
    signature: str | None,
    timestamp: str | None,
    *,
    now: datetime | None = None,
    max_skew_s: float = MAX_SKEW_S,
) -> bool:
    """Whether SendGrid signed exactly this body at this timestamp, and recently (if `now`)."""
    if not signature or not timestamp:
        return False
    if now is not None:
        seconds = parse_unix_s(timestamp)
        if seconds is None or abs(now.timestamp() - seconds) > max_skew_s:
            return False
    try:
        verifier = EventWebhook(public_key)
    except (ValueError, TypeError) as exc:
        raise InvalidPublicKey(str(exc)) from None
    try:
        return bool(verifier.verify_signature(payload.decode("utf-8"), signature, timestamp))
    except (ValueError, TypeError, UnicodeDecodeError, binascii.Error):
        return False


def parse_events(payload: bytes) -> list[TrackingEvent]:
    """The events of one batch that mean something to us (open/click/processed do not)."""
    data = load_json(payload, "the event batch")
    if not isinstance(data, list):
        raise ValueError("a SendGrid event batch is a JSON array")
    events = []
    for raw in data:
        if isinstance(raw, dict):
            event = _event(raw)
            if event is not None:
                events.append(event)
    return events


def _event(raw: dict[str, Any]) -> TrackingEvent | None:
    kind = str(raw.get("event", ""))
    event_id = raw.get("sg_event_id")
    if not event_id:
        return None
    suppress: Suppress | None = None
    reason = str(raw.get("reason") or raw.get("response") or "") or None
    if kind == "delivered":
        event_type = EventType.DELIVERED
    elif kind == "bounce":
        event_type = EventType.BOUNCED
        # `blocked` is a temporary refusal (reputation, content); a bounce is a dead mailbox.
        if raw.get("type", "bounce") != "blocked":
            suppress = Suppress.UNUSABLE
    elif kind == "dropped":
        event_type = EventType.FAILED
        why = (reason or "").lower()
        if why.startswith(_DROPPED_UNUSABLE):
            suppress = Suppress.UNUSABLE
        elif why.startswith(_DROPPED_OPT_OUT):
            suppress = Suppress.OPT_OUT
    elif kind in ("unsubscribe", "group_unsubscribe"):
        event_type, suppress = EventType.UNSUBSCRIBED, Suppress.OPT_OUT
    elif kind == "spamreport":
        event_type, suppress = EventType.COMPLAINED, Suppress.OPT_OUT
    else:
        return None
    message_id = str(raw.get("sg_message_id") or "").split(".", 1)[0] or None
    return TrackingEvent(
        provider="sendgrid",
        event_id=f"sendgrid:{event_id}",
        event_type=event_type,
        channel=Channel.EMAIL,
        message_id=message_id,
        delivery_id=parse_id(str(raw.get("delivery_id") or "")),
        recipient=str(raw["email"]).strip().lower() if raw.get("email") else None,
        code=kind if raw.get("status") is None else f"{kind}:{raw['status']}",
        reason=reason[:300] if reason else None,
        suppress=suppress,
        occurred_at=instant_from_unix_s(raw.get("timestamp")),
    )
