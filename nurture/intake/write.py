"""Writing an enrollment: the contact, the request, the consent ledger and the deliveries
(`answer.py` builds the answer). `service.enroll` decides what to write; this module
writes it.

A request from a prospect never seen before (the common case) is written with one Core
INSERT per table, the deliveries as one batch, and the answer built from what was written:
no ORM unit of work, no read-back. A known prospect goes through the ORM, which updates what
the request changes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Table, insert, or_, select, update
from sqlalchemy.orm import Session

from nurture.core.states import LIVE_ENROLLMENTS, Channel, DeliveryStatus, EnrollmentStatus
from nurture.core.zones import region_for_phone, resolve_timezone
from nurture.db.tables import ConsultationRequest, Contact, Delivery, Enrollment
from nurture.intake.answer import new_enrollment_answer, schedule_row
from nurture.intake.consent import consent_rows, record_consent
from nurture.intake.request import ConsultationRequestIn, RequestMeta
from nurture.schedule import Catalog, Sequence
from nurture.schedule.plan import plan_schedule

_CONTACTS: Table = Contact.__table__  # type: ignore[assignment]
_REQUESTS: Table = ConsultationRequest.__table__  # type: ignore[assignment]
_ENROLLMENTS: Table = Enrollment.__table__  # type: ignore[assignment]
_DELIVERIES: Table = Delivery.__table__  # type: ignore[assignment]
# Built once: SQLAlchemy then finds them in its statement cache without walking a new one.
_INSERT_CONTACT = insert(_CONTACTS).returning(_CONTACTS.c.id)
_INSERT_REQUEST = insert(_REQUESTS).returning(_REQUESTS.c.id)
_INSERT_ENROLLMENT = insert(_ENROLLMENTS).returning(_ENROLLMENTS.c.id)
_INSERT_DELIVERIES = insert(_DELIVERIES).returning(_DELIVERIES.c.id, sort_by_parameter_order=True)


def find_contacts(session: Session, request: ConsultationRequestIn) -> list[Contact]:
    """The contacts holding the request's email or phone (at most two)."""
    filters = []
    if request.email:
        filters.append(Contact.email == request.email)
    if request.phone:
        filters.append(Contact.phone == request.phone)
    return list(session.scalars(select(Contact).where(or_(*filters))))


def update_contact(
    session: Session, matches: list[Contact], request: ConsultationRequestIn, now: datetime
) -> Contact:
    """The known contact the request is about, updated with what it gives."""
    # Prefer the contact found by email; a phone held by another contact stays there.
    contact = next((c for c in matches if request.email and c.email == request.email), None)
    contact = contact or matches[0]
    contact.first_name = request.first_name
    if request.email and not contact.email:
        contact.email = request.email
    phone_taken = any(c.phone == request.phone and c is not contact for c in matches)
    if request.phone and not phone_taken:
        contact.phone = request.phone
    contact.updated_at = now
    if request.last_name:
        contact.last_name = request.last_name
    session.flush()
    return contact


def delivery_rows(
    *,
    sequence: Sequence,
    catalog: Catalog,
    enrollment_id: int | None,
    contact_id: int | None,
    addresses: dict[Channel, str | None],
    tz: ZoneInfo,
    region: str | None,
    now: datetime,
) -> list[dict[str, Any]]:
    """The enrollment's deliveries as rows to insert, in the order the answer shows them."""
    plan = plan_schedule(
        sequence, catalog.clinic, start=now, tz=tz, region=region, addresses=addresses
    )
    return [
        {
            "enrollment_id": enrollment_id,
            "contact_id": contact_id,
            "step_id": p.step_id,
            "step_index": p.step_index,
            "channel": p.channel,
            "template": p.template,
            "due_at": p.due_at,
            "status": DeliveryStatus.SKIPPED if p.skip_reason else DeliveryStatus.SCHEDULED,
            "attempts": 0,
            "error_code": p.skip_reason,
            "updated_at": now,
        }
        for p in plan
    ]


def write_deliveries(
    session: Session,
    *,
    sequence: Sequence,
    catalog: Catalog,
    enrollment_id: int,
    contact_id: int,
    addresses: dict[Channel, str | None],
    tz: ZoneInfo,
    region: str | None,
    now: datetime,
) -> list[dict[str, Any]]:
    """Plan and write the enrollment's deliveries; the schedule as the answer shows it."""
    rows = delivery_rows(
        sequence=sequence,
        catalog=catalog,
        enrollment_id=enrollment_id,
        contact_id=contact_id,
        addresses=addresses,
        tz=tz,
        region=region,
        now=now,
    )
    # One batched INSERT instead of the ORM's unit of work: the answer is built from these
    # rows and their ids, in the order `describe_enrollment` reads them back.
    ids = session.scalars(_INSERT_DELIVERIES, rows).all()
    return [schedule_row(i, r) for i, r in zip(ids, rows, strict=True)]


def new_contact_values(
    request: ConsultationRequestIn, tz: ZoneInfo, now: datetime
) -> dict[str, Any]:
    """The `contacts` row of a never-seen prospect."""
    return {
        "email": request.email,
        "phone": request.phone,
        "first_name": request.first_name,
        "last_name": request.last_name,
        "timezone": tz.key,
        "consent_email": bool(request.email) and request.consent_email is not False,
        "consent_sms": bool(request.phone) and request.consent_sms is not False,
        "created_at": now,
        "updated_at": now,
    }


def request_values(
    request: ConsultationRequestIn,
    contact_id: int | None,
    now: datetime,
    meta: RequestMeta,
    idempotency_key: str | None,
) -> dict[str, Any]:
    """The `consultation_requests` row, as received."""
    return {
        "contact_id": contact_id,
        "received_at": now,
        "idempotency_key": idempotency_key,
        "concern": request.concern,
        "message": request.message,
        "source": request.source or meta.source,
        "ip": meta.ip,
        "user_agent": meta.user_agent,
    }


def enroll_new_contact(
    session: Session,
    request: ConsultationRequestIn,
    *,
    catalog: Catalog,
    sequence: Sequence,
    now: datetime,
    meta: RequestMeta,
    idempotency_key: str | None,
) -> dict[str, Any]:
    """Write a never-seen prospect, the request, consent and the enrollment; the answer."""
    tz = resolve_timezone(request.timezone, request.phone, catalog.clinic.timezone)
    contact_id = session.execute(_INSERT_CONTACT, new_contact_values(request, tz, now)).scalar_one()
    request_id = record_request(session, request, contact_id, now, meta, idempotency_key)
    rows, _ = consent_rows(
        request, contact_id=contact_id, request_id=request_id, meta=meta, now=now
    )
    record_consent(session, rows, request)
    region = region_for_phone(request.phone)
    enrollment_id = session.execute(
        _INSERT_ENROLLMENT,
        {
            "contact_id": contact_id,
            "request_id": request_id,
            "sequence_id": sequence.id,
            "status": EnrollmentStatus.ACTIVE,
            "timezone": tz.key,
            "region": region,
            "started_at": now,
        },
    ).scalar_one()
    schedule = write_deliveries(
        session,
        sequence=sequence,
        catalog=catalog,
        enrollment_id=enrollment_id,
        contact_id=contact_id,
        addresses={Channel.EMAIL: request.email, Channel.SMS: request.phone},
        tz=tz,
        region=region,
        now=now,
    )
    response = new_enrollment_answer(
        request_id=request_id,
        enrollment_id=enrollment_id,
        contact_id=contact_id,
        sequence=sequence,
        tz=tz,
        now=now,
        schedule=schedule,
    )
    if idempotency_key:
        store_response(session, request_id, response)
    return response


def record_request(
    session: Session,
    request: ConsultationRequestIn,
    contact_id: int,
    now: datetime,
    meta: RequestMeta,
    idempotency_key: str | None,
) -> int:
    """Keep the request as received (for the clinic, and for idempotent replays); its id."""
    request_id: int = session.execute(
        _INSERT_REQUEST, request_values(request, contact_id, now, meta, idempotency_key)
    ).scalar_one()
    return request_id


def store_response(session: Session, request_id: int, response: dict[str, Any]) -> None:
    """Keep the answer where an Idempotency-Key can replay it."""
    session.execute(update(_REQUESTS).where(_REQUESTS.c.id == request_id).values(response=response))


def enroll_once(
    session: Session,
    *,
    contact: Contact,
    sequence: Sequence,
    catalog: Catalog,
    request_id: int,
    tz: ZoneInfo,
    now: datetime,
) -> tuple[Enrollment, list[dict[str, Any]] | None]:
    """The contact's live enrollment in `sequence`, or a new one with its deliveries written.

    Returns the enrollment and, when it is new, its schedule (None: it was already live).
    """
    live = session.scalar(
        select(Enrollment).where(
            Enrollment.contact_id == contact.id,
            Enrollment.sequence_id == sequence.id,
            Enrollment.status.in_(LIVE_ENROLLMENTS),
        )
    )
    if live is not None:
        return live, None
    region = region_for_phone(contact.phone)
    enrollment = Enrollment(
        contact_id=contact.id,
        request_id=request_id,
        sequence_id=sequence.id,
        status=EnrollmentStatus.ACTIVE,
        timezone=tz.key,
        region=region,
        started_at=now,
    )
    session.add(enrollment)
    session.flush()
    schedule = write_deliveries(
        session,
        sequence=sequence,
        catalog=catalog,
        enrollment_id=enrollment.id,
        contact_id=contact.id,
        addresses={Channel.EMAIL: contact.email, Channel.SMS: contact.phone},
        tz=tz,
        region=region,
        now=now,
    )
    return enrollment, schedule
