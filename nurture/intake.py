"""Intake: one `enroll()` behind both the HTTP API and `nurture enroll`.

A request is validated, its contact upserted, consent recorded, and the enrollment with every
delivery written in one transaction: either all of it is stored or none.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy import Table, insert, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from nurture.errors import IntakeError
from nurture.models import (
    Channel,
    ConsentEvent,
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

DEFAULT_PHONE_REGION = "US"
_DELIVERIES: Table = Delivery.__table__  # type: ignore[assignment]
_CONSENT_EVENTS: Table = ConsentEvent.__table__  # type: ignore[assignment]


def normalize_email(value: str) -> str:
    """A deliverable-looking address, lowercased; IntakeError names what is wrong."""
    try:
        checked = validate_email(value.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValueError(f"invalid email {value!r}: {exc}") from None
    return checked.normalized.lower()


def normalize_phone(value: str, region: str = DEFAULT_PHONE_REGION) -> str:
    """E.164 (`+16175550123`) from what a person typed; national numbers are taken as US."""
    try:
        number = phonenumbers.parse(value.strip(), region)
    except phonenumbers.NumberParseException:
        raise ValueError(f"invalid phone {value!r}: not a phone number") from None
    if not phonenumbers.is_valid_number(number):
        raise ValueError(f"invalid phone {value!r}: not a valid number") from None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


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
            return EnrollOutcome(response=previous.response, created=False)

    sequence = (
        catalog.get(sequence_id) if sequence_id else catalog.route(request.concern, request.source)
    )
    contact, new_contact = _upsert_contact(session, request, now, catalog.clinic.timezone)
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

    # A contact created by this request has no enrollment yet: no need to look.
    live = None
    if not new_contact:
        live = session.scalar(
            select(Enrollment).where(
                Enrollment.contact_id == contact.id,
                Enrollment.sequence_id == sequence.id,
                Enrollment.status.in_([EnrollmentStatus.ACTIVE, EnrollmentStatus.PAUSED]),
            )
        )
    created = live is None
    if live is None:
        live, schedule = _start_enrollment(session, catalog, sequence.id, contact, record, tz, now)
        response = describe_enrollment(session, live, request_id=record.id, schedule=schedule)
    else:
        response = describe_enrollment(session, live, request_id=record.id, already_enrolled=True)
    if idempotency_key:
        # Kept only where it can be replayed: one UPDATE less for requests without a key.
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


def _upsert_contact(
    session: Session, request: ConsultationRequestIn, now: datetime, clinic_tz: str
) -> tuple[Contact, bool]:
    """The contact found by email or phone, updated, or a new one; and whether it is new."""
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
        # Everything the request decides about a new contact goes into its one INSERT.
        contact = Contact(
            email=request.email,
            phone=request.phone,
            first_name=request.first_name,
            timezone=resolve_timezone(request.timezone, request.phone, clinic_tz).key,
            consent_email=bool(request.email) and request.consent_email is not False,
            consent_sms=bool(request.phone) and request.consent_sms is not False,
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
    return contact, not matches


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
    rows: list[dict[str, Any]] = []
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
        rows.append(
            {
                "contact_id": contact.id,
                "channel": channel,
                "action": "opt_in" if granted else "opt_out",
                "source": meta.source,
                "evidence": evidence,
                "at": now,
            }
        )
        if channel is Channel.EMAIL:
            contact.consent_email = granted
        else:
            contact.consent_sms = granted
        if flag is True:
            # A fresh, explicit opt-in lifts an earlier opt-out (not a dead-address suppression).
            session.query(Suppression).filter(
                Suppression.channel == channel,
                Suppression.address == address,
                Suppression.reason == "opt_out",
            ).delete()
    if rows:
        # One multi-row Core INSERT: the ledger rows are never read back in this request.
        session.execute(insert(_CONSENT_EVENTS), rows)


def _start_enrollment(
    session: Session,
    catalog: Catalog,
    sequence_id: str,
    contact: Contact,
    record: ConsultationRequest,
    tz: ZoneInfo,
    now: datetime,
) -> tuple[Enrollment, list[dict[str, Any]]]:
    """The enrollment and its deliveries, written; with the schedule as the answer shows it."""
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
    rows = [
        {
            "enrollment_id": enrollment.id,
            "contact_id": contact.id,
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
    # One multi-row Core INSERT instead of the ORM's unit of work: the answer is built from
    # these rows and their ids, in the order `describe_enrollment` reads them back.
    ids = session.scalars(
        insert(_DELIVERIES).returning(_DELIVERIES.c.id, sort_by_parameter_order=True),
        rows,
    ).all()
    schedule = [_schedule_row(i, r) for i, r in zip(ids, rows, strict=True)]
    return enrollment, schedule


def _schedule_row(delivery_id: int, row: dict[str, Any]) -> dict[str, Any]:
    return {
        "delivery_id": delivery_id,
        "step": row["step_id"],
        "channel": row["channel"].value,
        "due_at": row["due_at"].isoformat(),
        "status": row["status"].value,
        **({"reason": row["error_code"]} if row["error_code"] else {}),
    }


def describe_enrollment(
    session: Session,
    enrollment: Enrollment,
    *,
    request_id: int | None = None,
    already_enrolled: bool = False,
    schedule: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The JSON answer for an enrollment: who, which sequence, and every delivery's due time.

    `schedule` is the answer's schedule when the caller has just written it (no read back).
    """
    if schedule is None:
        deliveries = session.scalars(
            select(Delivery)
            .where(Delivery.enrollment_id == enrollment.id)
            .order_by(Delivery.due_at, Delivery.step_index, Delivery.channel)
        )
        schedule = [
            _schedule_row(
                d.id,
                {
                    "step_id": d.step_id,
                    "channel": d.channel,
                    "due_at": d.due_at,
                    "status": d.status,
                    "error_code": d.error_code,
                },
            )
            for d in deliveries
        ]
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
        "schedule": schedule,
    }
