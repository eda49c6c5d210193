"""The consent a request gives: the ledger's new rows, and opt-outs an explicit opt-in lifts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Table, insert
from sqlalchemy.orm import Session

from nurture.core.states import Channel
from nurture.db.tables import ConsentEvent
from nurture.intake.request import ConsultationRequestIn, RequestMeta
from nurture.steering.consent import lift_opt_out

_CONSENT_EVENTS: Table = ConsentEvent.__table__  # type: ignore[assignment]
# Built once: SQLAlchemy then finds it in its statement cache without walking a new one.
_INSERT_CONSENT = insert(_CONSENT_EVENTS)


def given(request: ConsultationRequestIn) -> list[tuple[Channel, str, bool | None]]:
    """Each channel the request gives an address for: (channel, address, consent flag)."""
    return [
        (channel, address, flag)
        for channel, address, flag in (
            (Channel.EMAIL, request.email, request.consent_email),
            (Channel.SMS, request.phone, request.consent_sms),
        )
        if address
    ]


def lifted(request: ConsultationRequestIn) -> list[tuple[Channel, str]]:
    """The addresses whose earlier opt-out this request lifts: those it explicitly consents
    to (a dead-address suppression is never lifted, only an opt-out)."""
    return [(channel, address) for channel, address, flag in given(request) if flag is True]


def consent_rows(
    request: ConsultationRequestIn,
    *,
    contact_id: int,
    request_id: int,
    meta: RequestMeta,
    now: datetime,
) -> tuple[list[dict[str, Any]], dict[Channel, bool]]:
    """The consent ledger's new rows, and the consent they leave on each channel.

    An omitted consent flag with an address counts as consent by the request itself (the
    prospect asked to be contacted there); an explicit `false` records an opt-out.
    """
    rows: list[dict[str, Any]] = []
    granted: dict[Channel, bool] = {}
    for channel, _, flag in given(request):
        granted[channel] = flag is not False
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
                "contact_id": contact_id,
                "channel": channel,
                "action": "opt_in" if granted[channel] else "opt_out",
                "source": meta.source,
                "evidence": evidence,
                "at": now,
                "wording_version": meta.wording_version(channel.value),
                "page_url": meta.page_url,
                "ip": meta.ip,
                "user_agent": meta.user_agent,
            }
        )
    return rows, granted


def record_consent(
    session: Session, rows: list[dict[str, Any]], request: ConsultationRequestIn
) -> None:
    """Append to the consent ledger; a fresh, explicit opt-in lifts an earlier opt-out."""
    for channel, address in lifted(request):
        lift_opt_out(session, channel, address)
    if rows:
        # One multi-row Core INSERT: the ledger rows are never read back in this request.
        session.execute(_INSERT_CONSENT, rows)
