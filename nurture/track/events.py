"""The normalised events every webhook becomes, whatever provider sent it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from nurture.core.states import Channel


class EventType(StrEnum):
    """What a provider reports about a message or an address."""

    #: Handed to the carrier or the receiving mail server.
    SENT = "sent"
    #: Reached the handset or the mailbox.
    DELIVERED = "delivered"
    #: The carrier could not deliver it (Twilio `undelivered`).
    UNDELIVERED = "undelivered"
    #: The provider gave up on it after accepting it (Twilio `failed`, SendGrid `dropped`).
    FAILED = "failed"
    #: The receiving mail server rejected it.
    BOUNCED = "bounced"
    #: The recipient unsubscribed at the provider (SendGrid unsubscribe, group_unsubscribe).
    UNSUBSCRIBED = "unsubscribed"
    #: The recipient marked it as spam.
    COMPLAINED = "complained"


class Suppress(StrEnum):
    """What an event says about the address itself."""

    #: The address does not work (hard bounce, invalid): never use it again.
    UNUSABLE = "unusable"
    #: The recipient does not want it: an opt-out for the consent ledger.
    OPT_OUT = "opt_out"


@dataclass(frozen=True)
class TrackingEvent:
    """A provider's report about one message we sent, or about its recipient."""

    provider: str
    #: The provider's id for this event, unique across providers (idempotency key).
    event_id: str
    event_type: EventType
    #: The channel the provider carries (Twilio: SMS, SendGrid: email): a report never
    #: touches a delivery on another channel.
    channel: Channel
    #: The provider's message id (Twilio SID, SendGrid X-Message-Id), when given.
    message_id: str | None
    #: Our delivery id, when the provider echoes it back (status callback URL, custom_args).
    delivery_id: int | None
    recipient: str | None
    code: str | None = None
    reason: str | None = None
    suppress: Suppress | None = None
    occurred_at: datetime | None = None


@dataclass(frozen=True)
class InboundSms:
    """A text a prospect sent to the clinic's number."""

    provider: str
    message_id: str
    sender: str
    recipient: str
    text: str


class BookingKind(StrEnum):
    """What a calendar tool reports about an appointment."""

    #: An appointment was booked (Calendly `invitee.created`, Cal.com `BOOKING_CREATED`).
    BOOKED = "booked"
    #: It was moved to another time (Cal.com `BOOKING_RESCHEDULED`): still booked.
    RESCHEDULED = "rescheduled"
    #: It was canceled (Calendly `invitee.canceled`, Cal.com `BOOKING_CANCELLED`).
    CANCELED = "canceled"


@dataclass(frozen=True)
class BookingEvent:
    """A calendar tool's report about one appointment, whichever tool sent it."""

    provider: str
    #: The provider's id of the booking (Calendly invitee URI, Cal.com uid); with `kind`
    #: and `provider`, the idempotency key.
    booking_id: str
    kind: BookingKind
    email: str | None
    phone: str | None
    #: When the appointment starts, when given.
    starts_at: datetime | None = None


@dataclass(frozen=True)
class InboundEmail:
    """An email to the inbound domain, as SendGrid Inbound Parse posts it."""

    #: A digest of its Message-ID (or of its content when it has none): retries dedupe on it.
    message_key: str
    sender: str
    #: Every address it was sent to (the `to` and `cc` fields and the SMTP envelope).
    recipients: tuple[str, ...]
    subject: str
    text: str
    #: An automatic answer (out of office, auto-reply, bulk): recorded, pauses nothing.
    automatic: bool
