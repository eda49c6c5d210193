"""Reconciliation: an `unknown` delivery settles itself by asking its provider.

A delivery is `unknown` when a send may or may not have reached the provider (a worker died
mid-call, an answer was lost). Reconciliation asks the provider (`BaseChannel.lookup`: the
Twilio message list matched on the body's hash, SendGrid's Email Activity API on the
delivery's custom argument, the outbox folder) and decides (`decide`, pure):

- found: `unknown → sent`, with the provider's id;
- clearly absent, and the attempt older than the safety lag (`NURTURE_RECONCILE_LAG_S`,
  default the lease): `unknown → scheduled` to go out again, due at its window's next
  opening; or `unknown → skipped` when a stop, suppression or lost consent forbids it now
  (the same checks as the claim, read in the transaction that moves it);
- absent but younger than the lag: stays `unknown`, asked again once the lag has passed;
- cannot tell (no such API, 403/404, errors, timeouts): stays `unknown` for a person, asked
  again later, never more often than `NURTURE_RECONCILE_EVERY_S`.

Each decision is an event in the delivery's history with its evidence (never a body).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

import structlog
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from nurture.channels.base import Answer, Lookup, LookupQuery
from nurture.core.addressing import per_channel
from nurture.core.states import DeliveryStatus, EnrollmentStatus
from nurture.db.tables import Contact, Delivery, Enrollment
from nurture.db.transitions import move, note
from nurture.send.context import SendContext
from nurture.send.load import load
from nurture.send.verdict import skip_reason, window_opening

log = structlog.get_logger(__name__)
SOURCE = "reconcile"


class Verdict(StrEnum):
    """What reconciliation does with one `unknown` delivery."""

    SENT = "sent"
    SCHEDULED = "scheduled"
    SKIPPED = "skipped"
    #: Stays `unknown`: asked again later (and visible to a person meanwhile).
    STAYS = "unknown"


@dataclass(frozen=True)
class Facts:
    """What the decision reads of one delivery, besides the provider's answer."""

    delivery_id: int
    attempted_at: datetime
    #: Why it must not go out again now (stopped, suppressed, no consent...), or None.
    stop_reason: str | None
    #: When it may go out again: now, or its window's next opening.
    opening: datetime


@dataclass(frozen=True)
class Decision:
    """One delivery's reconciliation: the verdict and its evidence."""

    delivery_id: int
    verdict: Verdict
    evidence: str
    message_id: str | None = None
    #: When a rescheduled delivery is due again.
    due_at: datetime | None = None
    #: When a delivery that stays `unknown` may be asked about again.
    ask_again_at: datetime | None = None
    #: The skip's reason (a stop, a suppression...).
    reason: str | None = None
    #: Who has it, and when it went out (the attempt), when found.
    provider: str | None = None
    sent_at: datetime | None = None


def decide(
    facts: Facts, lookup: Lookup, *, now: datetime, lag_s: float, every_s: float
) -> Decision:
    """The decision for one `unknown` delivery given the provider's answer (pure)."""
    d = facts.delivery_id
    if lookup.answer is Answer.FOUND:
        return Decision(d, Verdict.SENT, f"found: {lookup.evidence}", lookup.message_id)
    if lookup.answer is Answer.ABSENT:
        ready_at = facts.attempted_at + timedelta(seconds=lag_s)
        if now < ready_at:
            evidence = (
                f"absent, but the attempt is younger than the {lag_s:g}s lag: {lookup.evidence}"
            )
            return Decision(d, Verdict.STAYS, evidence, ask_again_at=ready_at)
        if facts.stop_reason is not None:
            evidence = f"absent, not sent again ({facts.stop_reason}): {lookup.evidence}"
            return Decision(d, Verdict.SKIPPED, evidence, reason=facts.stop_reason)
        due = max(facts.opening, now)
        return Decision(d, Verdict.SCHEDULED, f"absent: {lookup.evidence}", due_at=due)
    # Cannot tell: ask again later, less often the older the attempt (a stuck one is not
    # asked about every few minutes forever).
    age_s = (now - facts.attempted_at).total_seconds()
    wait = timedelta(seconds=max(every_s, age_s / 2))
    return Decision(d, Verdict.STAYS, f"cannot tell: {lookup.evidence}", ask_again_at=now + wait)


def due_for_reconcile(session: Session, *, now: datetime, limit: int) -> list[int]:
    """`unknown` deliveries that may be asked about now, oldest first."""
    return list(
        session.scalars(
            select(Delivery.id)
            .where(
                Delivery.status == DeliveryStatus.UNKNOWN,
                or_(Delivery.reconcile_after.is_(None), Delivery.reconcile_after <= now),
            )
            .order_by(Delivery.id)
            .limit(limit)
        )
    )


def reconcile(
    ctx: SendContext, *, now: datetime, dry_run: bool = False, limit: int | None = None
) -> list[Decision]:
    """Ask the providers about the `unknown` deliveries due for it; the decisions, applied
    unless `dry_run` (then nothing changes and nothing is recorded)."""
    settings = ctx.settings
    with ctx.sessions() as session:
        ids = due_for_reconcile(session, now=now, limit=limit or settings.reconcile_batch)
    decisions = []
    for delivery_id in ids:
        asked = _ask(ctx, delivery_id)
        if asked is None:
            continue
        lookup, attempted_at = asked
        with ctx.sessions.begin() as session:
            decision = _decide_now(session, ctx, delivery_id, lookup, attempted_at, now)
            if decision is None:
                continue
            if not dry_run and not apply(session, decision, now):
                continue  # it moved meanwhile (a late answer, a person): nothing to do
        log.info(
            "reconcile.decided",
            delivery_id=delivery_id,
            verdict=decision.verdict.value,
            dry_run=dry_run,
        )
        decisions.append(decision)
    return decisions


def _ask(ctx: SendContext, delivery_id: int) -> tuple[Lookup, datetime] | None:
    """The provider's answer about one delivery's attempt, and when that attempt started;
    None if it is no longer unknown."""
    with ctx.sessions() as session:
        row = session.execute(
            select(Delivery, Contact.email, Contact.phone)
            .join(Contact, Contact.id == Delivery.contact_id)
            .where(Delivery.id == delivery_id, Delivery.status == DeliveryStatus.UNKNOWN)
        ).one_or_none()
    if row is None:
        return None
    delivery, email, phone = row
    address = per_channel(delivery.channel, email, phone)
    attempted_at = delivery.attempted_at or delivery.updated_at
    if not address:
        return Lookup(Answer.CANNOT_TELL, "no address left to ask about"), attempted_at
    query = LookupQuery(
        delivery_id=delivery.id,
        to=address,
        body_sha256=delivery.body_sha256,
        attempted_at=attempted_at,
    )
    try:
        return ctx.channels[delivery.channel].lookup(query), attempted_at
    except Exception as exc:  # a lookup must never guess, nor stop the others
        log.warning("reconcile.lookup_error", delivery_id=delivery_id, error=type(exc).__name__)
        return Lookup(Answer.CANNOT_TELL, f"lookup failed: {type(exc).__name__}"), attempted_at


def _decide_now(
    session: Session,
    ctx: SendContext,
    delivery_id: int,
    lookup: Lookup,
    attempted_at: datetime,
    now: datetime,
) -> Decision | None:
    """Read the checks in the caller's transaction (the enrollment locked, so a stop
    committing now waits for it or is seen) and decide; None when the delivery is no
    longer the `unknown` attempt the provider was asked about (another run, a person)."""
    session.execute(
        select(Enrollment.id)
        .join(Delivery, Delivery.enrollment_id == Enrollment.id)
        .where(Delivery.id == delivery_id)
        .with_for_update(of=Enrollment)
    )
    c = load(session, ctx, delivery_id)
    if c.delivery.status is not DeliveryStatus.UNKNOWN:
        return None
    if (c.delivery.attempted_at or c.delivery.updated_at) != attempted_at:
        return None  # tried again since the question: that answer is not about this attempt
    reason = None
    if c.enrollment.status is not EnrollmentStatus.PAUSED:  # paused: held, as at the claim
        reason = skip_reason(c, ctx)
    facts = Facts(
        delivery_id=delivery_id,
        attempted_at=c.delivery.attempted_at or c.delivery.updated_at,
        stop_reason=reason,
        opening=window_opening(c, now),
    )
    settings = ctx.settings
    decision = decide(
        facts, lookup, now=now, lag_s=settings.reconcile_lag, every_s=settings.reconcile_every_s
    )
    if decision.verdict is Verdict.SENT:
        provider = ctx.channels[c.delivery.channel].provider
        decision = replace(decision, provider=provider, sent_at=facts.attempted_at)
    return decision


def apply(session: Session, decision: Decision, now: datetime) -> bool:
    """Record one decision (the delivery's move or a note, with its evidence); whether the
    delivery was still `unknown`."""
    d = decision.delivery_id
    checked = {"provider_checked_at": now, "reconcile_after": decision.ask_again_at}
    detail = f"reconciled: {decision.evidence}"
    unknown = (DeliveryStatus.UNKNOWN,)
    if decision.verdict is Verdict.STAYS:
        changed = session.execute(
            update(Delivery)
            .where(Delivery.id == d, Delivery.status == DeliveryStatus.UNKNOWN)
            .values(**checked, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        if not changed.rowcount:  # type: ignore[attr-defined]
            return False
        note(session, d, at=now, source=SOURCE, detail=detail)
        return True
    values: dict[str, object] = {**checked}
    if decision.verdict is Verdict.SENT:
        values.update(error_code=None, error_detail=None)
        found = {
            "provider": decision.provider,
            "provider_message_id": decision.message_id,
            "sent_at": decision.sent_at,
        }
        values.update({k: v for k, v in found.items() if v is not None})
    elif decision.verdict is Verdict.SCHEDULED:
        values.update(due_at=decision.due_at, error_code="reconciled_not_sent", error_detail=None)
    else:
        values.update(error_code=decision.reason, error_detail=None)
    return move(
        session,
        d,
        DeliveryStatus(decision.verdict.value),
        at=now,
        leaving=unknown,
        source=SOURCE,
        detail=detail,
        values=values,
    )


def summary(decisions: Sequence[Decision]) -> dict[str, int]:
    """How many decisions of each verdict."""
    counts = {v.value: 0 for v in Verdict}
    for decision in decisions:
        counts[decision.verdict.value] += 1
    return counts
