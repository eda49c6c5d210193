"""`clinic.yaml`: who the messages come from and where their links lead."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from pydantic import EmailStr, Field, field_validator

from nurture.core.zones import check_zone
from nurture.schedule.brand import Brand
from nurture.schedule.delays import ClosedDays
from nurture.schedule.sequence import Strict, weekday
from nurture.schedule.wording import ConsentWording


class LintTerms(Strict):
    """`lint:` in clinic.yaml: words the health-term lint also refuses, or lets through."""

    extra_terms: list[str] = Field(default_factory=list)
    allowed_terms: list[str] = Field(default_factory=list)


class Notify(Strict):
    """Staff told of each new reply from a prospect (a link to the inbox, never its text)."""

    email: list[EmailStr] = Field(default_factory=list)
    sms: list[str] = Field(default_factory=list)

    @field_validator("sms")
    @classmethod
    def _check_phones(cls, value: list[str]) -> list[str]:
        bad = [v for v in value if not re.fullmatch(r"\+[1-9]\d{6,14}", v)]
        if bad:
            raise ValueError(f"phone numbers must be E.164 (+15551234567): {', '.join(bad)}")
        return value


class Clinic(Strict):
    """The clinic: who the messages come from and where their links lead."""

    name: str
    practitioner: str
    address: str
    phone: str
    from_email: EmailStr
    from_name: str
    reply_to: EmailStr | None = None
    timezone: str
    website: str
    booking_url: str
    phone_consultation_url: str
    remote_evaluation_url: str
    service_area: str = "our area"
    videos: dict[str, str] = Field(default_factory=dict)
    closed_days: list[str | date] = Field(default_factory=list)
    # The hosted form (`/forms/consultation`): its look, its consent wording, and where a
    # prospect goes after sending it (else nurture's own thank-you page).
    brand: Brand = Field(default_factory=Brand)
    consent: ConsentWording = Field(default_factory=ConsentWording)
    thanks_url: str | None = Field(default=None, pattern=r"^https?://")
    # Clinic studio (lint): extra condition/body-part words, and default ones to allow.
    lint: LintTerms = Field(default_factory=LintTerms)
    # Replies (docs/REPLIES.md): who is told of each reply.
    notify: Notify = Field(default_factory=Notify)

    _known_zone = field_validator("timezone")(check_zone)

    @field_validator("closed_days", mode="before")
    @classmethod
    def _check_days(cls, value: Any) -> list[str | date]:
        if not isinstance(value, list):
            raise ValueError("must be a list of weekday names and/or ISO dates")
        days: list[str | date] = []
        for item in value:
            if isinstance(item, date):
                days.append(item)
            elif re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(item)):
                try:
                    days.append(date.fromisoformat(str(item)))
                except ValueError:
                    raise ValueError(f"invalid date {item!r}") from None
            else:
                weekday(str(item))
                days.append(str(item))
        return days

    @property
    def closed(self) -> ClosedDays:
        return ClosedDays(
            weekdays=frozenset(weekday(d) for d in self.closed_days if not isinstance(d, date)),
            dates=frozenset(d for d in self.closed_days if isinstance(d, date)),
        )
