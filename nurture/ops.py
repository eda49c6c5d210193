"""The figures ops watch: states, backlog, lateness, what is coming, scheduler liveness."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from nurture.keys import SCHEDULER_HEARTBEAT
from nurture.models import Delivery, DeliveryStatus, Enrollment, EnrollmentStatus, Heartbeat

DUE_STATES = (DeliveryStatus.SCHEDULED, DeliveryStatus.RETRYING)


def collect_status(session: Session, *, now: datetime) -> dict[str, Any]:
    """Every figure of `/ops/status` and `nurture status --json` that the database holds."""
    counts = {s.value: 0 for s in DeliveryStatus}
    for state, count in session.execute(
        select(Delivery.status, func.count()).group_by(Delivery.status)
    ):
        counts[DeliveryStatus(state).value] = count
    due_now, oldest_due = session.execute(
        select(func.count(), func.min(Delivery.due_at))
        .join(Enrollment, Enrollment.id == Delivery.enrollment_id)
        .where(
            Delivery.status.in_(DUE_STATES),
            Delivery.due_at <= now,
            Enrollment.status == EnrollmentStatus.ACTIVE,
        )
    ).one()
    if oldest_due is not None and oldest_due.tzinfo is None:
        from datetime import UTC

        oldest_due = oldest_due.replace(tzinfo=UTC)
    next_24h = session.scalar(
        select(func.count()).where(
            Delivery.status.in_(DUE_STATES),
            Delivery.due_at > now,
            Delivery.due_at <= now + timedelta(hours=24),
        )
    )
    heartbeat = session.scalar(select(Heartbeat.at).where(Heartbeat.name == SCHEDULER_HEARTBEAT))
    enrollments = {s.value: 0 for s in EnrollmentStatus}
    for e_state, count in session.execute(
        select(Enrollment.status, func.count()).group_by(Enrollment.status)
    ):
        enrollments[EnrollmentStatus(e_state).value] = count
    return {
        "now": now.isoformat(),
        "deliveries": counts,
        "enrollments": enrollments,
        "due_now": due_now,
        "oldest_overdue_s": round((now - oldest_due).total_seconds(), 1) if oldest_due else 0.0,
        "next_24h": next_24h or 0,
        "scheduler_heartbeat_age_s": (
            round((now - heartbeat).total_seconds(), 1) if heartbeat else None
        ),
    }


def ping_workers(timeout_s: float = 1.0) -> int:
    """How many Celery workers answer a ping within `timeout_s` (0 on the embedded broker)."""
    from nurture.config import get_settings
    from nurture.worker import app

    if get_settings().embedded_broker:
        return 0
    try:
        replies = app.control.ping(timeout=timeout_s) or []
    except Exception:
        return 0
    return len(replies)
