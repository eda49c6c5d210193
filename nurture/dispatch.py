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
from functools import lru_cache
from typing import Any

from sqlalchemy import Integer, Select, Table, bindparam, insert, select, update
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
    params = {"now": now, "limit": limit, "lease_until": now + lease}
    return sorted(session.execute(_claim_due_statement(), params).scalars())


def reclaim_expired(session: Session, *, now: datetime, limit: int, lease: timedelta) -> list[int]:
    """Claim again deliveries left `queued` past their lease: their task message was lost."""
    params = {"now": now, "limit": limit, "lease_until": now + lease}
    return sorted(session.execute(_reclaim_statement(), params).scalars())


def expire_sending(session: Session, *, now: datetime, limit: int) -> list[int]:
    """Mark `unknown` deliveries left `sending` past their lease: a worker died mid-send."""
    rows = list(session.execute(_expire_statement(), {"now": now, "limit": limit}).scalars())
    _events(session, rows, DeliveryStatus.UNKNOWN, now, "lease expired while sending")
    return rows


# The statements are built once, with bound parameters: building and hashing them anew on
# every tick cost more than running them (a tick is four of them, about every second).
_D: Table = Delivery.__table__  # type: ignore[assignment]
_E: Table = Enrollment.__table__  # type: ignore[assignment]
_NOW = bindparam("now", type_=_D.c.due_at.type)
_LIMIT = bindparam("limit", type_=Integer())


@lru_cache(maxsize=1)
def _claim_due_statement() -> Any:
    candidates = (
        select(_D.c.id)
        .join(_E, _E.c.id == _D.c.enrollment_id)
        .where(
            _D.c.status.in_(_CLAIMABLE),
            _D.c.due_at <= _NOW,
            _E.c.status == EnrollmentStatus.ACTIVE,
        )
        .order_by(_D.c.due_at)
        .limit(_LIMIT)
        .with_for_update(of=_D, skip_locked=True)
    )
    return _moving(candidates, _CLAIMABLE, _D.c.due_at <= _NOW)


@lru_cache(maxsize=1)
def _reclaim_statement() -> Any:
    candidates = (
        select(_D.c.id)
        .where(_D.c.status == DeliveryStatus.QUEUED, _D.c.lease_expires_at < _NOW)
        .order_by(_D.c.lease_expires_at)
        .limit(_LIMIT)
        .with_for_update(skip_locked=True)
    )
    return _moving(candidates, (DeliveryStatus.QUEUED,), _D.c.lease_expires_at < _NOW)


def _moving(candidates: Select[Any], from_states: Sequence[DeliveryStatus], still: Any) -> Any:
    # One statement: the locked candidates (SKIP LOCKED on PostgreSQL) are updated in place,
    # without sending their ids back and forth. The conditional UPDATE is the claim: a row
    # another dispatcher took meanwhile no longer matches and is not returned, on every
    # database.
    return (
        update(_D)
        .where(_D.c.id.in_(candidates.scalar_subquery()), _D.c.status.in_(from_states), still)
        .values(
            status=DeliveryStatus.QUEUED,
            queued_at=_NOW,
            lease_expires_at=bindparam("lease_until", type_=_D.c.lease_expires_at.type),
            updated_at=_NOW,
        )
        .returning(_D.c.id)
    )


@lru_cache(maxsize=1)
def _expire_statement() -> Any:
    candidates = (
        select(_D.c.id)
        .where(_D.c.status == DeliveryStatus.SENDING, _D.c.lease_expires_at < _NOW)
        .limit(_LIMIT)
        .with_for_update(skip_locked=True)
    )
    return (
        update(_D)
        .where(
            _D.c.id.in_(candidates.scalar_subquery()),
            _D.c.status == DeliveryStatus.SENDING,
            _D.c.lease_expires_at < _NOW,
        )
        .values(
            status=DeliveryStatus.UNKNOWN,
            lease_expires_at=None,
            updated_at=_NOW,
            error_code="lease_expired",
            error_detail="the worker stopped mid-send; it may or may not have gone out",
        )
        .returning(_D.c.id)
    )


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
