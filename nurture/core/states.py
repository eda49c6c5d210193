"""Where a message and a prospect's run stand, and how a message travels.

Plain enums, stored as their lowercase values; the database layer maps them to columns.
"""

from __future__ import annotations

from enum import StrEnum


class Channel(StrEnum):
    """How a message travels."""

    EMAIL = "email"
    SMS = "sms"


class DeliveryStatus(StrEnum):
    """Where one (enrollment, step, channel) message stands."""

    #: Written at enrollment; waits for its due time.
    SCHEDULED = "scheduled"
    #: Claimed by the dispatcher; a send task is on the broker (lease running).
    QUEUED = "queued"
    #: A worker took it (compare-and-set) and is talking to the provider (lease running).
    SENDING = "sending"
    #: The provider failed to process it; waits for its next attempt (due_at).
    RETRYING = "retrying"
    #: The provider accepted it.
    SENT = "sent"
    #: The provider reports it reached the handset or mailbox.
    DELIVERED = "delivered"
    #: The provider reports it could not be delivered (carrier filtering, unreachable).
    UNDELIVERED = "undelivered"
    #: The mailbox rejected it.
    BOUNCED = "bounced"
    #: Not sent on purpose: stopped, suppressed, no consent, no address, `when` false.
    SKIPPED = "skipped"
    #: Canceled by ops.
    CANCELED = "canceled"
    #: Refused for good, or retries spent.
    FAILED = "failed"
    #: A worker died mid-send: it may or may not have reached the provider. Reconciliation
    #: asks the provider (→ sent, scheduled or skipped); what it cannot tell, ops decide.
    UNKNOWN = "unknown"


#: States a stop or suppression can still prevent.
PENDING_STATES = (DeliveryStatus.SCHEDULED, DeliveryStatus.QUEUED, DeliveryStatus.RETRYING)


class EnrollmentStatus(StrEnum):
    """Where a contact's run through one sequence stands."""

    #: Deliveries go out as they fall due.
    ACTIVE = "active"
    #: The prospect wrote back; held until the clinic resumes or stops it.
    PAUSED = "paused"
    #: Stopped (booked, unsubscribed, by ops); pending deliveries were skipped.
    STOPPED = "stopped"
    #: Every delivery reached a terminal state.
    COMPLETED = "completed"


#: Runs that may still send: active, or paused until the clinic decides.
LIVE_ENROLLMENTS = (EnrollmentStatus.ACTIVE, EnrollmentStatus.PAUSED)
