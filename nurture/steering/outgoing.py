"""Staff messages: what nurture sends that is not a step of a sequence (a notice of a reply
to staff, an email reply forwarded to the clinic, an answer typed on the inbox page).

This module is the only one that writes `staff_messages`: it queues a message once per
`dedupe_key` (a provider's retry of a webhook, or a form sent twice, queues nothing more),
claims due ones (`pending → sending`, a compare-and-set with a lease, so one worker sends
each), and records how each ended. A send whose worker died is `unknown`, never re-sent:
at most once, as for deliveries.

States: `pending → sending → sent | failed`; `sending → pending` (held, or a transient
error before anything went out); `pending → skipped` (an answer whose prospect withdrew
consent meanwhile); `sending → unknown` (lease expired mid-send).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from nurture.core.states import Channel
from nurture.db.tables import StaffMessage
from nurture.db.upsert import insert_or_ignore

PENDING = "pending"
SENDING = "sending"
SENT = "sent"
FAILED = "failed"
SKIPPED = "skipped"
UNKNOWN = "unknown"


@dataclass(frozen=True)
class StaffDraft:
    """A staff message to queue."""

    kind: str
    dedupe_key: str
    channel: Channel
    address: str
    body: str
    subject: str | None = None
    reply_to: str | None = None
    reply_id: int | None = None
    contact_id: int | None = None


def queue_message(
    session: Session, draft: StaffDraft, *, now: datetime, due_at: datetime | None = None
) -> int | None:
    """Queue one message, due `due_at` (default now); its id, or None if its `dedupe_key`
    was queued before."""
    inserted = insert_or_ignore(
        session,
        StaffMessage,
        {
            "kind": draft.kind,
            "dedupe_key": draft.dedupe_key[:200],
            "reply_id": draft.reply_id,
            "contact_id": draft.contact_id,
            "channel": draft.channel,
            "address": draft.address,
            "subject": draft.subject,
            "body": draft.body,
            "reply_to": draft.reply_to,
            "status": PENDING,
            "due_at": due_at or now,
            "attempts": 0,
            "created_at": now,
            "updated_at": now,
        },
        conflict=["dedupe_key"],
        returning=[StaffMessage.id],
    )
    row = inserted.first()
    return int(row[0]) if row else None


def has_work(session: Session, *, now: datetime) -> bool:
    """Whether anything is due or stuck: one read, so an idle tick writes nothing."""
    found = session.scalar(
        select(StaffMessage.id)
        .where(
            or_(
                and_(StaffMessage.status == PENDING, StaffMessage.due_at <= now),
                and_(StaffMessage.status == SENDING, StaffMessage.lease_expires_at < now),
            )
        )
        .limit(1)
    )
    return found is not None


def claim_due(session: Session, *, now: datetime, lease: timedelta, limit: int = 50) -> list[int]:
    """Claim due pending messages for this worker (`pending → sending`); the ids it won."""
    candidates = list(
        session.scalars(
            select(StaffMessage.id)
            .where(StaffMessage.status == PENDING, StaffMessage.due_at <= now)
            .order_by(StaffMessage.due_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    won: list[int] = []
    for message_id in candidates:
        # One conditional UPDATE per row: of two workers, exactly one sees it still pending.
        result = session.execute(
            update(StaffMessage)
            .where(StaffMessage.id == message_id, StaffMessage.status == PENDING)
            .values(
                status=SENDING,
                attempts=StaffMessage.attempts + 1,
                lease_expires_at=now + lease,
                updated_at=now,
            )
        )
        if result.rowcount:  # type: ignore[attr-defined]
            won.append(message_id)
    return won


def _finish(
    session: Session, message_id: int, status: str, now: datetime, **values: object
) -> bool:
    result = session.execute(
        update(StaffMessage)
        .where(StaffMessage.id == message_id, StaffMessage.status == SENDING)
        .values(status=status, lease_expires_at=None, updated_at=now, **values)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def mark_sent(
    session: Session, message_id: int, *, provider: str, provider_message_id: str, now: datetime
) -> bool:
    return _finish(
        session,
        message_id,
        SENT,
        now,
        sent_at=now,
        provider=provider,
        provider_message_id=provider_message_id[:100],
        error_code=None,
    )


def mark_failed(session: Session, message_id: int, *, code: str, now: datetime) -> bool:
    return _finish(session, message_id, FAILED, now, error_code=code[:50])


def mark_skipped(session: Session, message_id: int, *, code: str, now: datetime) -> bool:
    return _finish(session, message_id, SKIPPED, now, error_code=code[:50])


def mark_unknown(session: Session, message_id: int, *, code: str, now: datetime) -> bool:
    return _finish(session, message_id, UNKNOWN, now, error_code=code[:50])


def hold(session: Session, message_id: int, *, until: datetime, code: str, now: datetime) -> bool:
    """Back to `pending`, due `until` (quiet hours, a transient error): never dropped."""
    return _finish(session, message_id, PENDING, now, due_at=until, error_code=code[:50])


def expire_sending(session: Session, *, now: datetime) -> int:
    """Messages left `sending` past their lease (a worker died mid-send) become `unknown`."""
    result = session.execute(
        update(StaffMessage)
        .where(StaffMessage.status == SENDING, StaffMessage.lease_expires_at < now)
        .values(status=UNKNOWN, error_code="lease_expired", lease_expires_at=None, updated_at=now)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
