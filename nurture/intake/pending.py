"""Requests that arrive while no valid schedules were ever loaded: stored now, enrolled later.

`store_pending` writes the contact, the request (flagged `pending_enrollment`) and the consent
ledger, exactly as an enrollment would, but no enrollment: there is no sequence to route to.
`enroll_pending` (the scheduler's tick, once a valid catalog is loaded) routes each flagged
request and enrolls it as of then, so its schedule starts when it can be followed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from nurture.core.states import Channel
from nurture.core.zones import resolve_timezone
from nurture.db.tables import ConsultationRequest, Contact
from nurture.intake.consent import consent_rows, record_consent
from nurture.intake.request import ConsultationRequestIn, RequestMeta
from nurture.intake.write import enroll_once, find_contacts, record_request, update_contact
from nurture.schedule import Catalog


def store_pending(
    session: Session,
    request: ConsultationRequestIn,
    *,
    now: datetime,
    meta: RequestMeta = RequestMeta(),
    idempotency_key: str | None = None,
) -> dict[str, Any]:
    """Store the request, its contact and consent, flagged for enrollment later; the answer."""
    if idempotency_key:
        previous = session.scalar(
            select(ConsultationRequest).where(
                ConsultationRequest.idempotency_key == idempotency_key
            )
        )
        if previous is not None and previous.response is not None:
            return previous.response
    matches = find_contacts(session, request)
    if matches:
        contact = update_contact(session, matches, request, now)
    else:
        contact = Contact(
            email=request.email,
            phone=request.phone,
            first_name=request.first_name,
            last_name=request.last_name,
            timezone=_zone_or_none(request),
            consent_email=bool(request.email) and request.consent_email is not False,
            consent_sms=bool(request.phone) and request.consent_sms is not False,
            created_at=now,
            updated_at=now,
        )
        session.add(contact)
        session.flush()
    if request.timezone:
        contact.timezone = _zone_or_none(request)
    request_id = record_request(session, request, contact.id, now, meta, idempotency_key)
    rows, granted = consent_rows(
        request, contact_id=contact.id, request_id=request_id, meta=meta, now=now
    )
    if Channel.EMAIL in granted:
        contact.consent_email = granted[Channel.EMAIL]
    if Channel.SMS in granted:
        contact.consent_sms = granted[Channel.SMS]
    record_consent(session, rows, request)
    stored = session.get(ConsultationRequest, request_id)
    assert stored is not None
    stored.pending_enrollment = True
    answer = {
        "request_id": request_id,
        "contact_id": contact.id,
        "pending": True,
        "detail": "stored; it will be enrolled as soon as the schedule files validate",
    }
    if idempotency_key:
        stored.response = answer
    session.flush()
    return answer


def _zone_or_none(request: ConsultationRequestIn) -> str | None:
    """The request's explicit or phone zone; None (the clinic's, at enrollment) otherwise."""
    if not (request.timezone or request.phone):
        return None
    zone = resolve_timezone(request.timezone, request.phone, "Etc/UTC")
    return None if zone.key == "Etc/UTC" and not request.timezone else zone.key


def enroll_pending(session: Session, catalog: Catalog, *, now: datetime, limit: int = 100) -> int:
    """Enroll up to `limit` stored requests flagged pending; how many were handled."""
    pending = list(
        session.scalars(
            select(ConsultationRequest)
            .where(ConsultationRequest.pending_enrollment.is_(True))
            .order_by(ConsultationRequest.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    for stored in pending:
        contact = session.get(Contact, stored.contact_id)
        assert contact is not None
        sequence = catalog.route(stored.concern, stored.source)
        tz = resolve_timezone(contact.timezone, contact.phone, catalog.clinic.timezone)
        contact.timezone = tz.key
        enroll_once(
            session,
            contact=contact,
            sequence=sequence,
            catalog=catalog,
            request_id=stored.id,
            tz=tz,
            now=now,
        )
        stored.pending_enrollment = False
    session.flush()
    return len(pending)
