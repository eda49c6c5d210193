"""Applying provider reports (delivered, undelivered, bounced, unsubscribed...) to deliveries.

Each event is applied once (its provider id is stored first, in the same transaction), and a
delivery's status only moves forward: a late `sent` never undoes `delivered`, whatever order
the callbacks arrive in. A report about a delivery still `sending` or `unknown` settles it:
the provider has it, so nothing will send it again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session

from nurture.core.addressing import address_of
from nurture.core.states import DeliveryStatus
from nurture.db.tables import Contact, Delivery
from nurture.db.transitions import move
from nurture.schedule.catalog import Catalog
from nurture.steering.consent import OPT_OUT, add_suppression, opt_out
from nurture.track.events import EventType, Suppress, TrackingEvent
from nurture.track.once import record_once

log = structlog.get_logger(__name__)

_TARGET = {
    EventType.SENT: DeliveryStatus.SENT,
    EventType.DELIVERED: DeliveryStatus.DELIVERED,
    EventType.UNDELIVERED: DeliveryStatus.UNDELIVERED,
    EventType.FAILED: DeliveryStatus.FAILED,
    EventType.BOUNCED: DeliveryStatus.BOUNCED,
}
#: How far along a delivery is; a report may only raise it. Final outcomes share the top
#: rank, so the first final report wins; everything not yet at the provider is 0.
_RANK = {
    DeliveryStatus.UNKNOWN: 1,
    DeliveryStatus.SENT: 2,
    DeliveryStatus.DELIVERED: 3,
    DeliveryStatus.UNDELIVERED: 3,
    DeliveryStatus.BOUNCED: 3,
    DeliveryStatus.FAILED: 3,
}


#: A delivery whose attempt reached for the provider but whose answer we never recorded.
UNANSWERED = (DeliveryStatus.SENDING, DeliveryStatus.UNKNOWN)


def rank(status: DeliveryStatus) -> int:
    return _RANK.get(status, 0)


@dataclass(frozen=True)
class Applied:
    """What one event did: `duplicate` (seen before), or the delivery it moved, if any."""

    duplicate: bool = False
    delivery_id: int | None = None
    status: DeliveryStatus | None = None


def apply_tracking_event(
    session: Session, event: TrackingEvent, *, now: datetime, catalog: Catalog | None = None
) -> Applied:
    """Apply one report: move its delivery forward, suppress or opt out where it says so."""
    delivery = _find_delivery(session, event)
    contact = _find_contact(session, event, delivery)
    detail = " ".join(p for p in (event.code, event.reason) if p) or None
    if not record_once(
        session,
        provider=event.provider,
        external_id=event.event_id,
        kind=event.event_type.value,
        now=now,
        delivery_id=delivery.id if delivery else None,
        contact_id=contact.id if contact else None,
        detail=detail,
    ):
        return Applied(duplicate=True)
    moved = None
    target = _TARGET.get(event.event_type)
    if delivery is not None and target is not None and rank(target) > rank(delivery.status):
        moved = target if _advance(session, delivery, target, event, detail, now) else None
    if event.suppress is not None:
        _suppress(session, event, delivery, contact, now, catalog)
    log.info(
        "webhook.applied",
        provider=event.provider,
        event_type=event.event_type.value,
        delivery_id=delivery.id if delivery else None,
        moved_to=moved.value if moved else None,
        code=event.code,
    )
    return Applied(delivery_id=delivery.id if delivery else None, status=moved)


def _find_delivery(session: Session, event: TrackingEvent) -> Delivery | None:
    """The delivery a report is about: the one on the report's channel that this provider
    accepted under the report's message id; failing that, the one our echoed id names, on
    that channel, whose send answer never came back (`sending`, `unknown`: the report is how
    we learn the provider has it). Nothing else: not a delivery still waiting to go, not one
    on another channel, not one the provider accepted under another id."""
    if not event.message_id:
        return None
    found = session.scalar(
        select(Delivery)
        .where(
            Delivery.provider_message_id == event.message_id,
            Delivery.channel == event.channel,
            Delivery.provider == event.provider,
        )
        .limit(1)
    )
    if found is not None or event.delivery_id is None:
        return found
    named = session.get(Delivery, event.delivery_id)
    if (
        named is not None
        and named.channel is event.channel
        and named.provider_message_id is None
        and named.status in UNANSWERED
    ):
        return named
    return None


def _find_contact(
    session: Session, event: TrackingEvent, delivery: Delivery | None
) -> Contact | None:
    if delivery is not None:
        return session.get(Contact, delivery.contact_id)
    if event.recipient and event.provider == "sendgrid":
        return session.scalar(select(Contact).where(Contact.email == event.recipient))
    return None


def _advance(
    session: Session,
    delivery: Delivery,
    target: DeliveryStatus,
    event: TrackingEvent,
    detail: str | None,
    now: datetime,
) -> bool:
    values: dict[str, object] = {}
    if target in (DeliveryStatus.UNDELIVERED, DeliveryStatus.FAILED, DeliveryStatus.BOUNCED):
        values["error_code"] = (event.code or event.event_type.value)[:50]
        values["error_detail"] = (event.reason or detail or "")[:500] or None
    if not delivery.provider_message_id and event.message_id:
        # The answer to our send was lost (or is still on its way): the report settles it.
        values.update(
            provider=event.provider,
            provider_message_id=event.message_id,
            sent_at=delivery.sent_at or event.occurred_at or now,
        )
    # Compared by rank, not to the status read before: a concurrent report that moved it a
    # step (sent) must not make this one (delivered) lose its turn.
    behind = [s for s in DeliveryStatus if rank(s) < rank(target)]
    return move(
        session,
        delivery.id,
        target,
        at=now,
        leaving=behind,
        source=f"webhook:{event.provider}",
        detail=detail,
        values=values,
        external_id=event.event_id,
    )


def _suppress(
    session: Session,
    event: TrackingEvent,
    delivery: Delivery | None,
    contact: Contact | None,
    now: datetime,
    catalog: Catalog | None,
) -> None:
    channel = event.channel
    address = (address_of(contact, channel) if contact else None) or event.recipient
    if event.suppress is Suppress.OPT_OUT and contact is not None:
        evidence = {
            "provider": event.provider,
            "event": event.event_type.value,
            "event_id": event.event_id,
            "delivery_id": delivery.id if delivery else None,
        }
        reason = OPT_OUT if event.event_type is not EventType.COMPLAINED else "complaint"
        opt_out(
            session,
            contact,
            channel,
            source="webhook",
            evidence=evidence,
            now=now,
            catalog=catalog,
            reason=reason,
        )
    elif address:
        reason = (
            OPT_OUT
            if event.suppress is Suppress.OPT_OUT
            else f"unusable:{event.provider}:{event.event_type.value}"
        )
        add_suppression(session, channel, address, reason=reason, source="webhook", now=now)
