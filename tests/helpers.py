"""Small helpers shared by tests: enrolling, clocks, reading the outbox."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import Message
from pathlib import Path
from typing import Any

from sqlalchemy import select, update

from nurture.config import get_settings
from nurture.db import session_scope
from nurture.db.tables import Delivery
from nurture.intake.request import ConsultationRequestIn
from nurture.intake.service import submit
from nurture.schedule.catalog import load_catalog
from nurture.send.context import SendContext, build_send_context


def send_context() -> SendContext:
    """A fresh send context for the test's current settings (the worker's is cached)."""
    return build_send_context(get_settings())


def enroll(now: datetime, **fields: Any) -> dict[str, Any]:
    data = {
        "first_name": "Robin",
        "email": "robin@example.com",
        "phone": "+16175550199",
        "concern": "fast",
        "timezone": "Etc/UTC",
        **fields,
    }
    settings = get_settings()
    outcome = submit(
        ConsultationRequestIn(**data), catalog=load_catalog(settings.schedules_dir), now=now
    )
    return outcome.response


def deliveries() -> list[Delivery]:
    with session_scope() as s:
        return list(s.scalars(select(Delivery).order_by(Delivery.id)))


def later_steps_due(at: datetime, *, first: str = "doctor-first") -> None:
    """Every delivery but step `first`'s falls due at `at`. A test that acts between two
    steps holds the later ones off (an hour ahead) until it has acted, then makes them due:
    on a loaded machine a step a few seconds after the first would not wait for it."""
    with session_scope() as session:
        session.execute(update(Delivery).where(Delivery.step_id != first).values(due_at=at))


def outbox(kind: str) -> list[Path]:
    folder = get_settings().outbox_dir / kind
    return sorted(folder.glob("*.eml" if kind == "email" else "*.json")) if folder.exists() else []


def read_sms(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def read_email(path: Path) -> Message:
    return message_from_bytes(path.read_bytes(), policy=policy.default)


def at(text: str) -> datetime:
    """An aware UTC datetime from '2026-03-02 12:00'."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)
