"""Intake: one `enroll()` behind both the HTTP API and `nurture enroll`.

A request is validated, its contact upserted, consent recorded, and the enrollment with every
delivery written in one transaction: either all of it is stored or none. This module decides
what to write; `write.py` (and `write_pg.py`, a never-seen prospect in one statement on
PostgreSQL) writes it; `answer.py` builds the answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from nurture.config import get_settings
from nurture.core.states import Channel
from nurture.core.zones import resolve_timezone
from nurture.db import get_engine, session_scope
from nurture.db.tables import ConsultationRequest
from nurture.errors import IntakeError
from nurture.intake.answer import describe_enrollment
from nurture.intake.consent import consent_rows, given, record_consent
from nurture.intake.group import write_grouped
from nurture.intake.request import ConsultationRequestIn, RequestMeta
from nurture.intake.write import (
    enroll_new_contact,
    enroll_once,
    find_contacts,
    record_request,
    store_response,
    update_contact,
)
from nurture.intake.write_pg import NewProspect, enroll_new_prospect, new_prospect
from nurture.schedule import Catalog, Sequence
from nurture.steering.erase import address_digest, erased_earlier
from nurture.steering.notify import queue_unreached_notices


@dataclass(frozen=True)
class EnrollOutcome:
    """What `enroll` answers: the response body and whether it created an enrollment."""

    response: dict[str, Any]
    created: bool
    #: True when this answer is the stored one for an Idempotency-Key seen before.
    replayed: bool = False

    @property
    def status_code(self) -> int:
        """201 when the (first) request created the enrollment, 202 when it was accepted but
        nothing is sent (an address erased earlier), else 200."""
        if self.response.get("contacted") is False:
            return 202
        return 200 if self.response.get("already_enrolled") else 201


#: The polite answer to a request from an address erased earlier: nothing is stored or sent.
NOT_CONTACTED: dict[str, Any] = {
    "contacted": False,
    "detail": "received; this address asked to be forgotten earlier, so nothing is sent",
}


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

    sequence = sequence_for(request, catalog, sequence_id)
    if not known and session.get_bind().dialect.name == "postgresql":
        response = enroll_new_prospect(
            session.connection(),
            request,
            catalog=catalog,
            sequence=sequence,
            now=now,
            meta=meta,
            idempotency_key=idempotency_key,
            digests={},  # erased addresses are `submit`'s check, made in this transaction
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

    enrollment, schedule = enroll_once(
        session,
        contact=contact,
        sequence=sequence,
        catalog=catalog,
        request_id=request_id,
        tz=tz,
        now=now,
    )
    if schedule is not None:
        response = describe_enrollment(
            session, enrollment, request_id=request_id, schedule=schedule
        )
    else:
        response = describe_enrollment(
            session, enrollment, request_id=request_id, already_enrolled=True
        )
    if idempotency_key:
        # Kept only where it can be replayed: one UPDATE less for requests without a key.
        store_response(session, request_id, response)
    return EnrollOutcome(response=response, created=schedule is not None)


def sequence_for(
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
    """`enroll` in its own transaction (see `_submit`); a request that declined every
    channel then notifies staff to call (a link only)."""
    outcome = _submit(
        request,
        catalog=catalog,
        now=now,
        meta=meta,
        idempotency_key=idempotency_key,
        sequence_id=sequence_id,
        attempts=attempts,
    )
    if declines_every_channel(request) and not outcome.replayed:
        request_id = outcome.response.get("request_id")
        contact_id = (outcome.response.get("enrollment") or {}).get("contact_id")
        if isinstance(request_id, int) and isinstance(contact_id, int):
            with session_scope() as session:
                queue_unreached_notices(
                    session,
                    contact_id=contact_id,
                    request_id=request_id,
                    clinic=catalog.clinic,
                    public_url=get_settings().public_url,
                    now=now,
                )
    return outcome


def declines_every_channel(request: ConsultationRequestIn) -> bool:
    """The request says no to every channel it gives: staff are told to call instead."""
    flags = [flag for _, _, flag in given(request)]
    return bool(flags) and all(f is False for f in flags)


def unkeyed_prospect(
    request: ConsultationRequestIn,
    *,
    catalog: Catalog,
    now: datetime,
    meta: RequestMeta,
    sequence_id: str | None = None,
) -> NewProspect:
    """A keyless request's statement as a never-seen prospect. It also checks the keyed
    hash of each address against the erased ones (the addresses were normalised when the
    request was validated)."""
    secret_key = get_settings().secret_key
    addresses = ((Channel.EMAIL, request.email), (Channel.SMS, request.phone))
    return new_prospect(
        request,
        catalog=catalog,
        sequence=sequence_for(request, catalog, sequence_id),
        now=now,
        meta=meta,
        idempotency_key=None,
        digests={
            channel: address_digest(secret_key, channel, address, normalized=True)
            for channel, address in addresses
            if address
        },
    )


def _submit(
    request: ConsultationRequestIn,
    *,
    catalog: Catalog,
    now: datetime,
    meta: RequestMeta,
    idempotency_key: str | None,
    sequence_id: str | None,
    attempts: int,
) -> EnrollOutcome:
    """`enroll` in its own transaction, tried again when a concurrent twin won a race.

    Two identical requests at once (the same Idempotency-Key, or the same new contact) meet
    on a unique constraint; the loser's transaction is rolled back whole and retried, and
    then finds the winner's rows.
    """
    engine = get_engine()
    secret_key = get_settings().secret_key
    # Without an Idempotency-Key there is no answer to store: on PostgreSQL a never-seen
    # prospect is one statement, committed on its own (no BEGIN and COMMIT round trips),
    # which also checks that neither address was erased earlier.
    alone = not idempotency_key and engine.dialect.name == "postgresql"
    prospect = None
    if alone:
        prospect = unkeyed_prospect(
            request, catalog=catalog, now=now, meta=meta, sequence_id=sequence_id
        )
    for attempt in range(attempts):
        try:
            if prospect is not None:
                response = write_grouped(engine, prospect)
                if response is not None:
                    return EnrollOutcome(response=response, created=True)
            # A known contact, an erased address, an Idempotency-Key or SQLite.
            with session_scope() as session:
                if erased_earlier(
                    session,
                    secret_key=secret_key,
                    email=request.email,
                    phone=request.phone,
                    now=now,
                ):
                    # Counted (no data kept), committed with the session.
                    return EnrollOutcome(response=dict(NOT_CONTACTED), created=False)
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
