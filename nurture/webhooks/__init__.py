"""Webhooks: each provider's payload, verified, becomes normalised events (`events.py`).

`twilio.py` and `sendgrid.py` each offer `verify_signature()` and parsers returning
`TrackingEvent` / `InboundSms`; nothing past them sees a provider's payload.
"""

from nurture.webhooks.events import EventType, InboundSms, Suppress, TrackingEvent

__all__ = ["EventType", "InboundSms", "Suppress", "TrackingEvent"]
