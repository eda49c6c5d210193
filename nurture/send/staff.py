"""Sending staff messages (notices of a reply, forwards, answers from the inbox) on the
worker: claim the due ones, check an answer may still go, hand each to its channel, record
how it ended (`steering/outgoing.py` writes every state).

They go through the same channels as the sequences' messages (the outbox on the embedded
default, SendGrid or Twilio when configured), but they are no step of a sequence: no
delivery row, no step metrics. Log lines name ids only, never a body or an address.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import structlog

from nurture.content.message import OutgoingMessage
from nurture.core.states import Channel
from nurture.db.tables import Contact, StaffMessage
from nurture.errors import AmbiguousSendError, PermanentSendError, TransientSendError
from nurture.schedule.windows import quiet_hours_end
from nurture.send.backoff import compute_backoff
from nurture.send.context import SendContext
from nurture.steering.answers import answer_verdict
from nurture.steering.outgoing import (
    claim_due,
    expire_sending,
    has_work,
    hold,
    mark_failed,
    mark_sent,
    mark_skipped,
    mark_unknown,
)

log = structlog.get_logger(__name__)

#: Transient failures (the provider down) are retried this many times, then `failed`.
MAX_ATTEMPTS = 8


def send_staff_messages(ctx: SendContext, *, clock: Callable[[], datetime]) -> dict[str, int]:
    """Send every due staff message this call claims; how many ended in each state."""
    now = clock()
    with ctx.sessions() as session:
        if not has_work(session, now=now):
            return {}
    with ctx.sessions.begin() as session:
        lost = expire_sending(session, now=now)
        ids = claim_due(session, now=now, lease=timedelta(seconds=ctx.settings.lease_s))
    counts: dict[str, int] = {"unknown": lost} if lost else {}
    for message_id in ids:
        structlog.contextvars.bind_contextvars(staff_message_id=message_id)
        try:
            ended = send_staff_message(ctx, message_id, now=clock())
        except Exception as exc:
            # One message never takes its batch with it. Left `sending`, it becomes
            # `unknown` when its lease ends: never sent twice. The type only: an error's
            # text may quote what a prospect wrote.
            log.warning("staff.send_error", error=type(exc).__name__)
            ended = "error"
        finally:
            structlog.contextvars.unbind_contextvars("staff_message_id")
        counts[ended] = counts.get(ended, 0) + 1
    if ids or lost:
        log.info("staff.sent", **counts)
    return counts


def send_staff_message(ctx: SendContext, message_id: int, *, now: datetime) -> str:
    """Send one claimed (`sending`) staff message; the state it ended in."""
    with ctx.sessions.begin() as session:
        row = session.get_one(StaffMessage, message_id)
        not_after = None
        if row.kind == "answer":
            contact = session.get(Contact, row.contact_id) if row.contact_id else None
            if contact is None or contact.phone != row.address:
                mark_skipped(session, message_id, code="address_changed", now=now)
                return "skipped"
            verdict = answer_verdict(
                session, contact, clinic_tz=ctx.catalog.clinic.timezone, now=now
            )
            if verdict.refused is not None:
                mark_skipped(session, message_id, code=verdict.refused, now=now)
                return "skipped"
            if verdict.opening > now:
                hold(session, message_id, until=verdict.opening, code="quiet_hours", now=now)
                return "held"
            not_after = quiet_hours_end(now, verdict.tz, verdict.region)
        message = _message(ctx, row, now, not_after)
        attempts, channel = row.attempts, row.channel
    try:
        result = ctx.channels[channel].send(message)
    except TransientSendError as exc:
        with ctx.sessions.begin() as session:
            if attempts >= MAX_ATTEMPTS:
                mark_failed(session, message_id, code=exc.code or "transient", now=now)
                return "failed"
            delay = compute_backoff(
                attempts,
                base_s=ctx.settings.retry_base_s,
                max_s=ctx.settings.retry_max_s,
                retry_after_s=exc.retry_after_s,
            )
            until = now + timedelta(seconds=delay)
            hold(session, message_id, until=until, code=exc.code or "transient", now=now)
        return "retrying"
    except PermanentSendError as exc:
        with ctx.sessions.begin() as session:
            mark_failed(session, message_id, code=exc.code or "refused", now=now)
        return "failed"
    except AmbiguousSendError as exc:
        # It may have gone: never sent again by itself (at most once).
        with ctx.sessions.begin() as session:
            mark_unknown(session, message_id, code=exc.code or "ambiguous", now=now)
        return "unknown"
    except Exception as exc:
        # Not a provider's answer: the message could not be built or handed over (say, a
        # header no library would write). It fails alone, with the error's type as its
        # reason (never its text, which may quote the prospect), and is not tried again.
        with ctx.sessions.begin() as session:
            mark_failed(session, message_id, code=f"error:{type(exc).__name__}", now=now)
        log.warning("staff.message_error", error=type(exc).__name__)
        return "failed"
    with ctx.sessions.begin() as session:
        mark_sent(
            session,
            message_id,
            provider=result.provider,
            provider_message_id=result.message_id,
            now=now,
        )
    return "sent"


def _message(
    ctx: SendContext, row: StaffMessage, now: datetime, not_after: datetime | None
) -> OutgoingMessage:
    clinic = ctx.catalog.clinic
    email = row.channel is Channel.EMAIL
    return OutgoingMessage(
        # Not a delivery: 0 names none (a status callback for it matches no delivery).
        delivery_id=0,
        channel=row.channel,
        to=row.address,
        text=row.body,
        subject=row.subject if email else None,
        from_email=str(clinic.from_email),
        from_name=clinic.from_name,
        reply_to=row.reply_to if email else None,
        not_after=not_after,
        now=now,
        metadata={"staff_message_id": str(row.id), "kind": row.kind},
    )
