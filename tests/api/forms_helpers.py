"""Shared by the hosted form's tests: reading the form's hidden fields, a person's answers,
and counting what was stored."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import func, select

from nurture.core.clock import utcnow
from nurture.db import session_scope
from nurture.db.tables import ConsentEvent, ConsultationRequest, Contact, Delivery, Enrollment
from nurture.intake.formguard import issue_token
from tests.conftest import SECRET_KEY

SECRET = SECRET_KEY  # the env fixture's NURTURE_SECRET_KEY
FORM = "/forms/consultation"


def hidden_fields(html: str) -> dict[str, str]:
    """The form's hidden inputs (the token, the wording versions, the timezone)."""
    return dict(re.findall(r'<input type="hidden" name="([^"]+)"[^>]* value="([^"]*)"', html))


def aged_token(seconds: float = 120.0, *, secret: str = SECRET) -> str:
    """A token for a form served `seconds` ago: what a person who took that long posts."""
    return issue_token(secret, utcnow() - timedelta(seconds=seconds))


def person(n: int = 1, **changes: str) -> dict[str, str]:
    """What a person types into the form (the n-th person: their own email and phone)."""
    fields = {
        "first_name": "Dana",
        "last_name": "Reyes",
        "email": f"dana{n}@example.com",
        "phone": f"(617) 555-{100 + n:04d}",
        "concern": "Outer hip pain",
        "message": "It hurts on the outside of my hip when I climb stairs.",
        "consent_email": "yes",
        "consent_sms": "yes",
        "company_website": "",
    }
    fields.update(changes)
    return fields


def stored() -> tuple[int, ...]:
    """How many contacts, requests, enrollments, deliveries and consent rows there are."""
    with session_scope() as s:
        return tuple(
            s.scalar(select(func.count()).select_from(model)) or 0
            for model in (Contact, ConsultationRequest, Enrollment, Delivery, ConsentEvent)
        )


NOTHING = (0, 0, 0, 0, 0)
