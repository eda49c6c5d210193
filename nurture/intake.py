"""Intake: one `enroll()` behind both the HTTP API and `nurture enroll`.

A request is validated, its contact upserted, consent recorded, and the enrollment with every
delivery written in one transaction: either all of it is stored or none (the writes are in
`nurture.enrolling`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from nurture.addresses import normalize_email, normalize_phone
from nurture.answers import describe_enrollment
from nurture.enrolling import (
    consent_rows,
    enroll_new_contact,
    find_contacts,
    record_consent,
    record_request,
    store_response,
    update_contact,
    write_deliveries,
)
from nurture.enrolling_pg import enroll_new_prospect
from nurture.errors import IntakeError
from nurture.models import Channel, ConsultationRequest, Enrollment, EnrollmentStatus
from nurture.schedules import Catalog, Sequence
from nurture.timing import region_for_phone, resolve_timezone

__all__ = ["ConsultationRequestIn", "RequestMeta", "describe_enrollment", "enroll", "submit"]


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
    #: Which version of the consent text the form showed (kept as consent evidence).
    consent_text_version: str | None = Field(default=None, max_length=50)

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
        "consent_text_version",
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
    known: bool = False,
) -> EnrollOutcome:
    """Enroll a prospect; the caller's transaction holds everything written here.

    The same `idempotency_key` again returns the first answer. A contact already live in the
    routed sequence keeps that enrollment (the request is still recorded): `created` is False.
    `known`: the caller has just found that the email or phone belongs to a contact.
    """
    if idempotency_key:
        previous = session.scalar(
            select(ConsultationRequest).where(
                ConsultationRequest.idempotency_key == idempotency_key
            )
        )
        if previous is not None and previous.response is not None:
            return EnrollOutcome(response=previous.response, created=False, replayed=True)

    sequence = _sequence_for(request, catalog, sequence_id)
    if not known and session.get_bind().dialect.name == "postgresql":
        response = enroll_new_prospect(
            session.connection(),
            request,
            catalog=catalog,
            sequence=sequence,
            now=now,
            meta=meta,
            idempotency_key=idempotency_key,
        )
        if response is not None:
            if idempotency_key:
                store_response(session, response["request_id"], response)
            return EnrollOutcome(response=response, created=True)
    matches = find_contacts(session, request)
    if not matches:
        # The common case, written without the ORM; nothing to update, no enrollment to find.
        response = enroll_new_contact(
            session,
            request,
            catalog=catalog,
            sequence=sequence,
            now=now,
            meta=meta,
            idempotency_key=idempotency_key,
        )
        return EnrollOutcome(response=response, created=True)

    contact = update_contact(session, matches, request, now)
    tz = resolve_timezone(request.timezone, contact.phone, catalog.clinic.timezone)
    if request.timezone or not contact.timezone:
        contact.timezone = tz.key
    request_id = record_request(session, request, contact.id, now, meta, idempotency_key)
    rows, granted = consent_rows(
        request, contact_id=contact.id, request_id=request_id, meta=meta, now=now
    )
    if Channel.EMAIL in granted:
        contact.consent_email = granted[Channel.EMAIL]
    if Channel.SMS in granted:
        contact.consent_sms = granted[Channel.SMS]
    record_consent(session, rows, request)

    live = session.scalar(
        select(Enrollment).where(
            Enrollment.contact_id == contact.id,
            Enrollment.sequence_id == sequence.id,
            Enrollment.status.in_([EnrollmentStatus.ACTIVE, EnrollmentStatus.PAUSED]),
        )
    )
    if live is None:
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
        response = describe_enrollment(
            session, enrollment, request_id=request_id, schedule=schedule
        )
    else:
        response = describe_enrollment(session, live, request_id=request_id, already_enrolled=True)
    if idempotency_key:
        # Kept only where it can be replayed: one UPDATE less for requests without a key.
        store_response(session, request_id, response)
    return EnrollOutcome(response=response, created=live is None)


def _sequence_for(
    request: ConsultationRequestIn, catalog: Catalog, sequence_id: str | None
) -> Sequence:
    if sequence_id:
        return catalog.get(sequence_id)
    return catalog.route(request.concern, request.source)


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
    from nurture.db import get_engine, session_scope

    engine = get_engine()
    # Without an Idempotency-Key there is no answer to store: on PostgreSQL a never-seen
    # prospect is one statement, committed on its own (no BEGIN and COMMIT round trips).
    alone = not idempotency_key and engine.dialect.name == "postgresql"
    for attempt in range(attempts):
        try:
            if alone:
                sequence = _sequence_for(request, catalog, sequence_id)
                with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                    response = enroll_new_prospect(
                        conn,
                        request,
                        catalog=catalog,
                        sequence=sequence,
                        now=now,
                        meta=meta,
                        idempotency_key=None,
                    )
                if response is not None:
                    return EnrollOutcome(response=response, created=True)
            with session_scope() as session:
                return enroll(
                    session,
                    request,
                    catalog=catalog,
                    now=now,
                    meta=meta,
                    idempotency_key=idempotency_key,
                    sequence_id=sequence_id,
                    known=alone,
                )
        except IntegrityError:
            if attempt == attempts - 1:
                raise IntakeError(
                    "a concurrent identical request is being processed; retry",
                    field="idempotency_key",
                ) from None
    raise AssertionError("unreachable")
