"""The figures ops watch, read from the database: states, backlog, lateness, what is coming.

Every function takes `now` and a session; none reads the clock, the broker or a worker.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from nurture.core.keys import SCHEDULER_HEARTBEAT
from nurture.core.states import PENDING_STATES, Channel, DeliveryStatus, EnrollmentStatus
from nurture.db.tables import Delivery, Enrollment, Heartbeat

#: Waiting for their due time (or their next attempt): what the dispatcher will claim.
WAITING_STATES = (DeliveryStatus.SCHEDULED, DeliveryStatus.RETRYING)
#: Due and not yet handed to a provider: a row claimed but never sent is still late.
UNSENT_STATES = (*WAITING_STATES, DeliveryStatus.QUEUED, DeliveryStatus.SENDING)
HOURS_AHEAD = 24


def delivery_counts(session: Session) -> dict[str, int]:
    """Deliveries per state, every state present (zero when none)."""
    counts = {s.value: 0 for s in DeliveryStatus}
    for state, count in session.execute(
        select(Delivery.status, func.count()).group_by(Delivery.status)
    ):
        counts[DeliveryStatus(state).value] = count
    return counts


def enrollment_counts(session: Session) -> dict[str, int]:
    """Enrollments per state, every state present."""
    counts = {s.value: 0 for s in EnrollmentStatus}
    for state, count in session.execute(
        select(Enrollment.status, func.count()).group_by(Enrollment.status)
    ):
        counts[EnrollmentStatus(state).value] = count
    return counts


def backlog(session: Session, *, now: datetime) -> tuple[int, float]:
    """How many deliveries of active enrollments are due and unsent, and how late the oldest
    is in seconds (0 when none). `queued` and `sending` rows count: if no worker takes them,
    they are late all the same."""
    count, oldest = session.execute(
        select(func.count(), func.min(Delivery.due_at))
        .join(Enrollment, Enrollment.id == Delivery.enrollment_id)
        .where(
            Delivery.status.in_(UNSENT_STATES),
            Delivery.due_at <= now,
            Enrollment.status == EnrollmentStatus.ACTIVE,
        )
    ).one()
    if oldest is None:
        return int(count), 0.0
    return int(count), round(max((now - _aware(oldest)).total_seconds(), 0.0), 1)


def next_hours(
    session: Session, *, now: datetime, hours: int = HOURS_AHEAD
) -> list[dict[str, Any]]:
    """What falls due in each of the next `hours` hours, per channel.

    Bucket `i` holds deliveries due in `(now + i h, now + (i + 1) h]`, of active enrollments,
    still waiting. One scan: each bucket is a conditional sum, grouped by channel.
    """
    edges = [now + timedelta(hours=i) for i in range(hours + 1)]
    sums = [
        func.sum(
            case((and_(Delivery.due_at > edges[i], Delivery.due_at <= edges[i + 1]), 1), else_=0)
        )
        for i in range(hours)
    ]
    rows = session.execute(
        select(Delivery.channel, *sums)
        .join(Enrollment, Enrollment.id == Delivery.enrollment_id)
        .where(
            Delivery.status.in_(WAITING_STATES),
            Delivery.due_at > now,
            Delivery.due_at <= edges[-1],
            Enrollment.status == EnrollmentStatus.ACTIVE,
        )
        .group_by(Delivery.channel)
    ).all()
    per_channel = {Channel(row[0]).value: [int(n or 0) for n in row[1:]] for row in rows}
    buckets = []
    for i in range(hours):
        bucket: dict[str, Any] = {"hour": i, "start": edges[i].isoformat()}
        for channel in Channel:
            bucket[channel.value] = per_channel.get(channel.value, [0] * hours)[i]
        bucket["total"] = sum(bucket[c.value] for c in Channel)
        buckets.append(bucket)
    return buckets


def paused_count(session: Session) -> int:
    """Deliveries held because their enrollment is paused (the prospect wrote back)."""
    return int(
        session.scalar(
            select(func.count())
            .select_from(Delivery)
            .join(Enrollment, Enrollment.id == Delivery.enrollment_id)
            .where(
                Delivery.status.in_(PENDING_STATES),
                Enrollment.status == EnrollmentStatus.PAUSED,
            )
        )
        or 0
    )


def heartbeat_age_s(
    session: Session, *, now: datetime, name: str = SCHEDULER_HEARTBEAT
) -> float | None:
    """Seconds since the scheduler last ticked; None if it never has."""
    at = session.scalar(select(Heartbeat.at).where(Heartbeat.name == name))
    return round((now - _aware(at)).total_seconds(), 1) if at is not None else None


def collect_status(session: Session, *, now: datetime) -> dict[str, Any]:
    """Every figure of `/ops/status` and `nurture status --json` that the database holds."""
    deliveries = delivery_counts(session)
    due_now, oldest_overdue_s = backlog(session, now=now)
    by_hour = next_hours(session, now=now)
    return {
        "now": now.isoformat(),
        "deliveries": deliveries,
        "enrollments": enrollment_counts(session),
        "due_now": due_now,
        "oldest_overdue_s": oldest_overdue_s,
        "next_24h": sum(b["total"] for b in by_hour),
        "next_24h_by_hour": by_hour,
        "failed": deliveries[DeliveryStatus.FAILED.value],
        "unknown": deliveries[DeliveryStatus.UNKNOWN.value],
        "paused": paused_count(session),
        "scheduler_heartbeat_age_s": heartbeat_age_s(session, now=now),
    }


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value
