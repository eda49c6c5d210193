"""Intake: one `enroll()` behind both the HTTP API and `nurture enroll`.

A request is validated, its contact upserted, consent recorded, and the enrollment with every
delivery written in one transaction: either all of it is stored or none.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from nurture.addresses import normalize_email, normalize_phone
from nurture.control import record_consent
from nurture.errors import IntakeError
from nurture.models import (
    Channel,
    ConsultationRequest,
    Contact,
    Delivery,
    DeliveryStatus,
    Enrollment,
    EnrollmentStatus,
    Suppression,
)
from nurture.schedules import Catalog
from nurture.scheduling import plan_schedule
from nurture.timing import region_for_phone, resolve_timezone


def _blank_to_none(value: Any) -> Any:
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


class ConsultationRequestIn(BaseModel):
    """A consultation request as a website or a form tool posts it."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    first_name: str = Field(min_length=1, max_length=100)
    last_name: str | None = Field(default=None, max_length=100)
    email: str | None = Field(default=None, max_length=320)
    phone: str | None = Field(default=None, max_length=40)
    timezone: str | None = Field(default=None, max_length=64)
    concern: str | None = Field(default=None, max_length=200)
    message: str | None = Field(default=None, max_length=5000)
    consent_email: bool | None = None
    consent_sms: bool | None = None
    source: str | None = Field(default=None, max_length=100)

    _blanks = field_validator(
        "last_name",
        "email",
        "phone",
        "timezone",
        "concern",
        "message",
        "source",
        "consent_email",
        "consent_sms",
        mode="before",
    )(_blank_to_none)

    @field_validator("first_name")
    @classmethod
    def _plain_name(cls, value: str) -> str:
        if any(ord(c) < 32 for c in value):
            raise ValueError("must not contain control characters")
        return value

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        return None if value is None else normalize_email(value)

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        return None if value is None else normalize_phone(value)

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown timezone {value!r}: use an IANA name such as America/New_York"
            ) from None
        return value

    @model_validator(mode="after")
    def _reachable(self) -> ConsultationRequestIn:
        if not self.email and not self.phone:
            raise ValueError("give an email or a phone number (or both)")
        return self


@dataclass(frozen=True)
class RequestMeta:
    """Where a request came from: kept as consent evidence."""

    source: str = "api"  # "api" | "form" | "cli"
    ip: str | None = None
    user_agent: str | None = None
    consent_text_version: str | None = None


@dataclass(frozen=True)
class EnrollOutcome:
    """What `enroll` answers: the response body and whether it created an enrollment."""

    response: dict[str, Any]
    created: bool
    #: True when this answer is the stored one for an Idempotency-Key seen before.
    replayed: bool = False

    @property
    def status_code(self) -> int:
        """201 when the (first) request created the enrollment, else 200."""
        return 200 if self.response.get("already_enrolled") else 201


def enroll(
    session: Session,
    request: ConsultationRequestIn,
    *,
    catalog: Catalog,
    now: datetime,
    meta: RequestMeta = RequestMeta(),
    idempotency_key: str | None = None,
    sequence_id: str | None = None,
) -> EnrollOutcome:
    """Enroll a prospect; the caller's transaction holds everything written here.

    The same `idempotency_key` again returns the first answer. A contact already live in the
    routed sequence keeps that enrollment (the request is still recorded): `created` is False.
    """
    if idempotency_key:
        previous = session.scalar(
            select(ConsultationRequest).where(
                ConsultationRequest.idempotency_key == idempotency_key
            )
        )
        if previous is not None and previous.response is not None:
            return EnrollOutcome(response=previous.response, created=False, replayed=True)

    sequence = (
        catalog.get(sequence_id) if sequence_id else catalog.route(request.concern, request.source)
    )
    contact = _upsert_contact(session, request, now)
    tz = resolve_timezone(request.timezone, contact.phone, catalog.clinic.timezone)
    if request.timezone or not contact.timezone:
        contact.timezone = tz.key
    record = ConsultationRequest(
        contact_id=contact.id,
        received_at=now,
        idempotency_key=idempotency_key,
        concern=request.concern,
        message=request.message,
        source=request.source or meta.source,
        ip=meta.ip,
        user_agent=meta.user_agent,
    )
    session.add(record)
    session.flush()
    _record_consent(session, contact, request, record.id, meta, now)

    live = session.scalar(
        select(Enrollment).where(
            Enrollment.contact_id == contact.id,
            Enrollment.sequence_id == sequence.id,
            Enrollment.status.in_([EnrollmentStatus.ACTIVE, EnrollmentStatus.PAUSED]),
        )
    )
    created = live is None
    if live is None:
        live = _start_enrollment(session, catalog, sequence.id, contact, record, tz, now)
    response = describe_enrollment(
        session, live, request_id=record.id, already_enrolled=not created
    )
    record.response = response
    session.flush()
    return EnrollOutcome(response=response, created=created)


def submit(
    request: ConsultationRequestIn,
    *,
    catalog: Catalog,
    now: datetime,
    meta: RequestMeta = RequestMeta(),
    idempotency_key: str | None = None,
    sequence_id: str | None = None,
    attempts: int = 3,
) -> EnrollOutcome:
    """`enroll` in its own transaction, tried again when a concurrent twin won a race.

    Two identical requests at once (the same Idempotency-Key, or the same new contact) meet
    on a unique constraint; the loser's transaction is rolled back whole and retried, and
    then finds the winner's rows.
    """
    from nurture.db import session_scope

    for attempt in range(attempts):
        try:
            with session_scope() as session:
                return enroll(
                    session,
                    request,
                    catalog=catalog,
                    now=now,
                    meta=meta,
                    idempotency_key=idempotency_key,
                    sequence_id=sequence_id,
                )
        except IntegrityError:
            if attempt == attempts - 1:
                raise IntakeError(
                    "a concurrent identical request is being processed; retry",
                    field="idempotency_key",
                ) from None
    raise AssertionError("unreachable")


def _upsert_contact(session: Session, request: ConsultationRequestIn, now: datetime) -> Contact:
    filters = []
    if request.email:
        filters.append(Contact.email == request.email)
    if request.phone:
        filters.append(Contact.phone == request.phone)
    matches = list(session.scalars(select(Contact).where(or_(*filters))))
    # Prefer the contact found by email; a phone held by another contact stays there.
    contact = next((c for c in matches if request.email and c.email == request.email), None)
    contact = contact or (matches[0] if matches else None)
    if contact is None:
        contact = Contact(
            email=request.email,
            phone=request.phone,
            first_name=request.first_name,
            created_at=now,
            updated_at=now,
        )
        session.add(contact)
    else:
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


def _record_consent(
    session: Session,
    contact: Contact,
    request: ConsultationRequestIn,
    request_id: int,
    meta: RequestMeta,
    now: datetime,
) -> None:
    """Append to the consent ledger for each channel the request gave an address for.

    An omitted consent flag with an address counts as consent by the request itself (the
    prospect asked to be contacted there); an explicit `false` records an opt-out.
    """
    for channel, address, flag in (
        (Channel.EMAIL, request.email, request.consent_email),
        (Channel.SMS, request.phone, request.consent_sms),
    ):
        if not address:
            continue
        granted = flag is not False
        evidence: dict[str, Any] = {
            "request_id": request_id,
            "basis": "explicit" if flag is not None else "request",
            "ip": meta.ip,
            "user_agent": meta.user_agent,
        }
        if meta.consent_text_version:
            evidence["consent_text_version"] = meta.consent_text_version
        record_consent(
            session,
            contact,
            channel,
            granted=granted,
            source=meta.source,
            evidence=evidence,
            now=now,
        )
        if flag is True:
            # A fresh, explicit opt-in lifts an earlier opt-out (not a dead-address suppression).
            session.query(Suppression).filter(
                Suppression.channel == channel,
                Suppression.address == address,
                Suppression.reason == "opt_out",
            ).delete()


def _start_enrollment(
    session: Session,
    catalog: Catalog,
    sequence_id: str,
    contact: Contact,
    record: ConsultationRequest,
    tz: ZoneInfo,
    now: datetime,
) -> Enrollment:
    sequence = catalog.get(sequence_id)
    region = region_for_phone(contact.phone)
    enrollment = Enrollment(
        contact_id=contact.id,
        request_id=record.id,
        sequence_id=sequence.id,
        status=EnrollmentStatus.ACTIVE,
        timezone=tz.key,
        region=region,
        started_at=now,
    )
    session.add(enrollment)
    session.flush()
    plan = plan_schedule(
        sequence,
        catalog.clinic,
        start=now,
        tz=tz,
        region=region,
        addresses={Channel.EMAIL: contact.email, Channel.SMS: contact.phone},
    )
    session.add_all(
        Delivery(
            enrollment_id=enrollment.id,
            contact_id=contact.id,
            step_id=p.step_id,
            step_index=p.step_index,
            channel=p.channel,
            template=p.template,
            due_at=p.due_at,
            status=DeliveryStatus.SKIPPED if p.skip_reason else DeliveryStatus.SCHEDULED,
            error_code=p.skip_reason,
            updated_at=now,
        )
        for p in plan
    )
    session.flush()
    return enrollment


def describe_enrollment(
    session: Session,
    enrollment: Enrollment,
    *,
    request_id: int | None = None,
    already_enrolled: bool = False,
) -> dict[str, Any]:
    """The JSON answer for an enrollment: who, which sequence, and every delivery's due time."""
    deliveries = session.scalars(
        select(Delivery)
        .where(Delivery.enrollment_id == enrollment.id)
        .order_by(Delivery.due_at, Delivery.step_index, Delivery.channel)
    )
    return {
        "request_id": request_id,
        "already_enrolled": already_enrolled,
        "enrollment": {
            "id": enrollment.id,
            "contact_id": enrollment.contact_id,
            "sequence": enrollment.sequence_id,
            "status": enrollment.status.value,
            "timezone": enrollment.timezone,
            "started_at": enrollment.started_at.isoformat(),
        },
        "schedule": [
            {
                "delivery_id": d.id,
                "step": d.step_id,
                "channel": d.channel.value,
                "due_at": d.due_at.isoformat(),
                "status": d.status.value,
                **({"reason": d.error_code} if d.error_code else {}),
            }
            for d in deliveries
        ],
    }
