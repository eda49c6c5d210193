"""A request that comes while no valid schedules were ever loaded is stored whole (contact,
request, consent) and enrolled, once, when they are."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from nurture.config import get_settings
from nurture.db import session_scope
from nurture.db.tables import ConsentEvent, ConsultationRequest, Contact, Delivery, Enrollment
from nurture.intake.pending import enroll_pending, store_pending
from nurture.intake.request import ConsultationRequestIn
from nurture.schedule.catalog import load_catalog

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
REQUEST = {
    "first_name": "Dana",
    "email": "dana@example.com",
    "phone": "+16175550134",
    "concern": "outer hip pain",
    "consent_sms": True,
}


def _count(model: type) -> int:
    with session_scope() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_a_pending_request_keeps_contact_request_and_consent_then_is_enrolled_once(
    db: str,
) -> None:
    with session_scope() as session:
        answer = store_pending(
            session, ConsultationRequestIn(**REQUEST), now=NOW, idempotency_key="k1"
        )
    assert answer["pending"] is True
    with session_scope() as session:
        again = store_pending(
            session, ConsultationRequestIn(**REQUEST), now=NOW, idempotency_key="k1"
        )
    assert again == answer, "an Idempotency-Key replays the first answer"
    assert (_count(Contact), _count(ConsultationRequest), _count(Enrollment)) == (1, 1, 0)
    assert _count(ConsentEvent) >= 1
    with session_scope() as session:
        contact = session.scalar(select(Contact))
        assert contact is not None and contact.consent_sms and contact.consent_email

    catalog = load_catalog(get_settings().schedules_dir)
    later = NOW + timedelta(hours=3)
    with session_scope() as session:
        assert enroll_pending(session, catalog, now=later) == 1
    with session_scope() as session:
        assert enroll_pending(session, catalog, now=later) == 0, "enrolled once"
        enrollment = session.scalar(select(Enrollment))
        assert enrollment is not None
        assert enrollment.sequence_id == "hip-pain-consultation"
        assert enrollment.request_id == answer["request_id"]
        assert enrollment.started_at.replace(tzinfo=UTC) == later
        assert enrollment.timezone == "America/New_York"
        assert session.scalar(select(ConsultationRequest.pending_enrollment)) is False
    assert _count(Delivery) == 8


def test_a_known_contact_already_in_the_sequence_is_not_enrolled_twice(db: str) -> None:
    from nurture.intake.service import submit

    catalog = load_catalog(get_settings().schedules_dir)
    submit(ConsultationRequestIn(**REQUEST), catalog=catalog, now=NOW)
    with session_scope() as session:
        store_pending(session, ConsultationRequestIn(**REQUEST), now=NOW)
    with session_scope() as session:
        assert enroll_pending(session, catalog, now=NOW) == 1
    assert (_count(Contact), _count(ConsultationRequest), _count(Enrollment)) == (1, 2, 1)
