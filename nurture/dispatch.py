"""The dispatcher: claims due deliveries in batches and hands their ids to the broker.

The database is the schedule. A claim moves rows `scheduled|retrying → queued` with a lease;
rows still `queued` when the lease ends (their task message was lost) are claimed again, and
rows still `sending` when it ends (a worker died mid-send) become `unknown`, never re-sent.
On PostgreSQL the claim takes `FOR UPDATE SKIP LOCKED`, so dispatchers never block or double
up; on SQLite the whole UPDATE is one atomic statement under the database's write lock. Each
step is one `UPDATE … WHERE id IN (SELECT … LIMIT n [FOR UPDATE SKIP LOCKED]) RETURNING id`,
so a tick with nothing due costs a few index probes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Select, and_, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from nurture.keys import SCHEDULER_HEARTBEAT
from nurture.models import (
    Delivery,
    DeliveryEvent,
    DeliveryStatus,
    Enrollment,
    EnrollmentStatus,
    Heartbeat,
)

_CLAIMABLE = (DeliveryStatus.SCHEDULED, DeliveryStatus.RETRYING)


@dataclass(frozen=True)
class Tick:
    """What one dispatcher tick did."""

    claimed: list[int]
    redispatched: list[int]
    unknown: list[int]

    @property
    def to_enqueue(self) -> list[int]:
        return self.claimed + self.redispatched


def claim_due(session: Session, *, now: datetime, limit: int, lease: timedelta) -> list[int]:
    """Claim up to `limit` due deliveries of active enrollments, oldest first."""
    candidates = (
        select(Delivery.id)
        .join(Enrollment, Enrollment.id == Delivery.enrollment_id)
        .where(
            Delivery.status.in_(_CLAIMABLE),
            Delivery.due_at <= now,
            Enrollment.status == EnrollmentStatus.ACTIVE,
        )
        .order_by(Delivery.due_at)
        .limit(limit)
        .with_for_update(of=Delivery, skip_locked=True)
    )
    return _move(session, candidates, _CLAIMABLE, DeliveryStatus.QUEUED, now=now, lease=lease)


def reclaim_expired(session: Session, *, now: datetime, limit: int, lease: timedelta) -> list[int]:
    """Claim again deliveries left `queued` past their lease: their task message was lost."""
    candidates = (
        select(Delivery.id)
        .where(Delivery.status == DeliveryStatus.QUEUED, Delivery.lease_expires_at < now)
        .order_by(Delivery.lease_expires_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return _move(
        session,
        candidates,
        (DeliveryStatus.QUEUED,),
        DeliveryStatus.QUEUED,
        now=now,
        lease=lease,
        lease_expired=True,
    )


def expire_sending(session: Session, *, now: datetime, limit: int) -> list[int]:
    """Mark `unknown` deliveries left `sending` past their lease: a worker died mid-send."""
    candidates = (
        select(Delivery.id)
        .where(Delivery.status == DeliveryStatus.SENDING, Delivery.lease_expires_at < now)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    rows = (
        session.execute(
            update(Delivery)
            .where(
                Delivery.id.in_(candidates.scalar_subquery()),
                Delivery.status == DeliveryStatus.SENDING,
                Delivery.lease_expires_at < now,
            )
            .values(
                status=DeliveryStatus.UNKNOWN,
                lease_expires_at=None,
                updated_at=now,
                error_code="lease_expired",
                error_detail="the worker stopped mid-send; it may or may not have gone out",
            )
            .returning(Delivery.id)
            .execution_options(synchronize_session=False)
        )
        .scalars()
        .all()
    )
    _events(session, rows, DeliveryStatus.UNKNOWN, now, "lease expired while sending")
    return list(rows)


def _move(
    session: Session,
    candidates: Select[int],
    from_states: Sequence[DeliveryStatus],
    to_state: DeliveryStatus,
    *,
    now: datetime,
    lease: timedelta,
    lease_expired: bool = False,
) -> list[int]:
    # One statement: the locked candidates (SKIP LOCKED on PostgreSQL) are updated in place,
    # without sending their ids back and forth.
    condition = and_(
        Delivery.id.in_(candidates.scalar_subquery()), Delivery.status.in_(from_states)
    )
    if lease_expired:
        condition = and_(condition, Delivery.lease_expires_at < now)
    else:
        condition = and_(condition, Delivery.due_at <= now)
    # The conditional UPDATE is the claim: a row another dispatcher took meanwhile no longer
    # matches and is not returned, on every database.
    claimed = (
        session.execute(
            update(Delivery)
            .where(condition)
            .values(status=to_state, queued_at=now, lease_expires_at=now + lease, updated_at=now)
            .returning(Delivery.id)
            .execution_options(synchronize_session=False)
        )
        .scalars()
        .all()
    )
    return sorted(claimed)


def _events(
    session: Session, ids: Sequence[int], status: DeliveryStatus, now: datetime, detail: str
) -> None:
    if ids:
        session.execute(
            insert(DeliveryEvent),
            [
                {
                    "delivery_id": i,
                    "at": now,
                    "status": status.value,
                    "source": "dispatcher",
                    "detail": detail,
                }
                for i in ids
            ],
        )


def beat(session: Session, now: datetime, name: str = SCHEDULER_HEARTBEAT) -> None:
    """Record that the scheduler ticked (read by `nurture status`)."""
    dialect = session.get_bind().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    stmt = module.insert(Heartbeat).values(name=name, at=now)
    session.execute(stmt.on_conflict_do_update(index_elements=["name"], set_={"at": now}))


def dispatch_tick(session: Session, *, now: datetime, batch: int, lease: timedelta) -> Tick:
    """One dispatcher pass (in the caller's transaction): expire, reclaim, claim, heartbeat."""
    unknown = expire_sending(session, now=now, limit=batch)
    redispatched = reclaim_expired(session, now=now, limit=batch, lease=lease)
    claimed = claim_due(session, now=now, limit=batch, lease=lease)
    beat(session, now)
    return Tick(claimed=claimed, redispatched=redispatched, unknown=unknown)
