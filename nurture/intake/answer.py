"""The answer to a consultation request: the request, the enrollment and every delivery's
due time, built from what was just written or read back from an enrollment."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from nurture.core.states import EnrollmentStatus
from nurture.db.tables import Delivery, Enrollment
from nurture.schedule import Sequence


def new_enrollment_answer(
    *,
    request_id: int,
    enrollment_id: int,
    contact_id: int,
    sequence: Sequence,
    tz: ZoneInfo,
    now: datetime,
    schedule: list[dict[str, Any]],
) -> dict[str, Any]:
    """The answer for an enrollment just written (what `describe_enrollment` would read)."""
    return answer(
        request_id=request_id,
        already_enrolled=False,
        enrollment={
            "id": enrollment_id,
            "contact_id": contact_id,
            "sequence": sequence.id,
            "status": EnrollmentStatus.ACTIVE.value,
            "timezone": tz.key,
            "started_at": now.isoformat(),
        },
        schedule=schedule,
    )


def schedule_row(delivery_id: int, row: dict[str, Any]) -> dict[str, Any]:
    return {
        "delivery_id": delivery_id,
        "step": row["step_id"],
        "channel": row["channel"].value,
        "due_at": row["due_at"].isoformat(),
        "status": row["status"].value,
        **({"reason": row["error_code"]} if row["error_code"] else {}),
    }


def answer(
    *,
    request_id: int | None,
    already_enrolled: bool,
    enrollment: dict[str, Any],
    schedule: list[dict[str, Any]],
) -> dict[str, Any]:
    """The JSON answer: the request, the enrollment, and every delivery's due time."""
    return {
        "request_id": request_id,
        "already_enrolled": already_enrolled,
        "enrollment": enrollment,
        "schedule": schedule,
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
            schedule_row(
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
    return answer(
        request_id=request_id,
        already_enrolled=already_enrolled,
        enrollment={
            "id": enrollment.id,
            "contact_id": enrollment.contact_id,
            "sequence": enrollment.sequence_id,
            "status": enrollment.status.value,
            "timezone": enrollment.timezone,
            "started_at": enrollment.started_at.isoformat(),
        },
        schedule=schedule,
    )
