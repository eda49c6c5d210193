"""Each provider event is applied once: its id is stored first, in the same transaction as
its effects, so a provider's retry (Twilio's, SendGrid's) changes nothing."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from nurture.db.tables import ProviderEvent
from nurture.db.upsert import insert_or_ignore


def record_once(
    session: Session,
    *,
    provider: str,
    external_id: str,
    kind: str,
    now: datetime,
    delivery_id: int | None = None,
    contact_id: int | None = None,
    detail: str | None = None,
) -> bool:
    """Store a provider event's id; False if it was stored before (a retry: do nothing)."""
    inserted = insert_or_ignore(
        session,
        ProviderEvent,
        {
            "provider": provider,
            "external_id": external_id,
            "kind": kind,
            "delivery_id": delivery_id,
            "contact_id": contact_id,
            "received_at": now,
            "detail": detail[:500] if detail else None,
        },
        conflict=["external_id"],
        returning=[ProviderEvent.id],
    )
    return inserted.first() is not None
