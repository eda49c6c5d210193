"""The dispatcher's tick: claims due deliveries in batches for the broker.

The database is the schedule. A claim moves rows `scheduled|retrying → queued` with a lease;
rows still `queued` when the lease ends (their task message was lost) are claimed again, and
rows still `sending` when it ends (a worker died mid-send) become `unknown`, never re-sent
blindly (reconciliation, `send/reconcile.py`, asks the provider).
On PostgreSQL the claim takes `FOR UPDATE SKIP LOCKED`, so dispatchers never block or double
up; on SQLite the whole UPDATE is one atomic statement under the database's write lock. Each
step is one `UPDATE … WHERE id IN (SELECT … LIMIT n [FOR UPDATE SKIP LOCKED]) RETURNING id`,
so a tick with nothing due costs a few index probes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import Integer, Select, Table, bindparam, select
from sqlalchemy.orm import Session

from nurture.core.keys import SCHEDULER_HEARTBEAT
from nurture.core.states import DeliveryStatus, EnrollmentStatus
from nurture.db.tables import Delivery, Enrollment, Heartbeat
from nurture.db.transitions import move_many, transition
from nurture.db.upsert import insert_or_update

_CLAIMABLE = (DeliveryStatus.SCHEDULED, DeliveryStatus.RETRYING)


@dataclass(frozen=True)
class Tick:
    """What one dispatcher tick did."""

    claimed: list[int]
    redispatched: list[int]
    unknown: list[int]
    #: Claimed ahead: due within the tick's look-ahead, not yet; (id, due_at) by due time.
    #: Their send tasks must wait for their due times (`nurture.dispatch.ahead`).
    ahead: list[tuple[int, datetime]] = field(default_factory=list)

    @property
    def to_enqueue(self) -> list[int]:
        return self.claimed + self.redispatched


def claim_due(session: Session, *, now: datetime, limit: int, lease: timedelta) -> list[int]:
    """Claim up to `limit` due deliveries of active enrollments, oldest first."""
    return [i for i, _ in claim_until(session, now=now, until=now, limit=limit, lease=lease)]


def claim_until(
    session: Session, *, now: datetime, until: datetime, limit: int, lease: timedelta
) -> list[tuple[int, datetime]]:
    """Claim up to `limit` deliveries of active enrollments due by `until` (`now`, or a
    little ahead of it), oldest first; (id, due_at) of each, by due time.

    A delivery claimed before its due time is queued but not yet sendable: whoever claimed
    it publishes its task only once it is due.
    """
    params = {"now": now, "until": until, "limit": limit, "lease_until": now + lease}
    rows = move_many(
        session,
        _claim_due_statement(),
        params,
        to=DeliveryStatus.QUEUED,
        at=now,
        source="dispatcher",
    )
    return sorted(((row[0], row[1]) for row in rows), key=lambda r: (r[1], r[0]))


def reclaim_expired(session: Session, *, now: datetime, limit: int, lease: timedelta) -> list[int]:
    """Claim again deliveries left `queued` past their lease: their task message was lost."""
    params = {"now": now, "limit": limit, "lease_until": now + lease}
    return _ids(session, _reclaim_statement(), params, DeliveryStatus.QUEUED, now)


def expire_sending(session: Session, *, now: datetime, limit: int) -> list[int]:
    """Mark `unknown` deliveries left `sending` past their lease: a worker died mid-send."""
    return _ids(
        session,
        _expire_statement(),
        {"now": now, "limit": limit},
        DeliveryStatus.UNKNOWN,
        now,
        detail="lease expired while sending",
    )


def _ids(
    session: Session,
    statement: Any,
    params: dict[str, Any],
    to: DeliveryStatus,
    now: datetime,
    detail: str | None = None,
) -> list[int]:
    rows = move_many(session, statement, params, to=to, at=now, source="dispatcher", detail=detail)
    return sorted(row[0] for row in rows)


# The statements are built once, with bound parameters: building and hashing them anew on
# every tick cost more than running them (a tick is four of them, about every second).
_D: Table = Delivery.__table__  # type: ignore[assignment]
_E: Table = Enrollment.__table__  # type: ignore[assignment]
_NOW = bindparam("now", type_=_D.c.due_at.type)
_LIMIT = bindparam("limit", type_=Integer())
_UNTIL = bindparam("until", type_=_D.c.due_at.type)


@lru_cache(maxsize=1)
def _claim_due_statement() -> Any:
    candidates = (
        select(_D.c.id)
        .join(_E, _E.c.id == _D.c.enrollment_id)
        .where(
            _D.c.status.in_(_CLAIMABLE),
            _D.c.due_at <= _UNTIL,
            _E.c.status == EnrollmentStatus.ACTIVE,
        )
        .order_by(_D.c.due_at)
        .limit(_LIMIT)
        .with_for_update(of=_D, skip_locked=True)
    )
    return _queueing(candidates, _CLAIMABLE, _D.c.due_at <= _UNTIL, returning=[_D.c.due_at])


@lru_cache(maxsize=1)
def _reclaim_statement() -> Any:
    candidates = (
        select(_D.c.id)
        .where(_D.c.status == DeliveryStatus.QUEUED, _D.c.lease_expires_at < _NOW)
        .order_by(_D.c.lease_expires_at)
        .limit(_LIMIT)
        .with_for_update(skip_locked=True)
    )
    return _queueing(candidates, (DeliveryStatus.QUEUED,), _D.c.lease_expires_at < _NOW)


def _queueing(
    candidates: Select[Any],
    leaving: Sequence[DeliveryStatus],
    still: Any,
    returning: Sequence[Any] = (),
) -> Any:
    # One statement: the locked candidates (SKIP LOCKED on PostgreSQL) are updated in place,
    # without sending their ids back and forth. The conditional UPDATE is the claim: a row
    # another dispatcher took meanwhile no longer matches and is not returned, on every
    # database.
    return transition(
        DeliveryStatus.QUEUED,
        leaving,
        where=[_D.c.id.in_(candidates.scalar_subquery()), still],
        values={
            "queued_at": _NOW,
            "lease_expires_at": bindparam("lease_until", type_=_D.c.lease_expires_at.type),
            "updated_at": _NOW,
        },
        returning=returning,
    )


@lru_cache(maxsize=1)
def _expire_statement() -> Any:
    candidates = (
        select(_D.c.id)
        .where(_D.c.status == DeliveryStatus.SENDING, _D.c.lease_expires_at < _NOW)
        .limit(_LIMIT)
        .with_for_update(skip_locked=True)
    )
    return transition(
        DeliveryStatus.UNKNOWN,
        (DeliveryStatus.SENDING,),
        where=[_D.c.id.in_(candidates.scalar_subquery()), _D.c.lease_expires_at < _NOW],
        values={
            "updated_at": _NOW,
            "error_code": "lease_expired",
            "error_detail": "the worker stopped mid-send; it may or may not have gone out",
        },
    )


def beat(session: Session, now: datetime, name: str = SCHEDULER_HEARTBEAT) -> None:
    """Record that the scheduler ticked (read by `nurture status`)."""
    insert_or_update(
        session, Heartbeat, {"name": name, "at": now}, conflict=["name"], update={"at": now}
    )


def dispatch_tick(
    session: Session,
    *,
    now: datetime,
    batch: int,
    lease: timedelta,
    ahead: timedelta = timedelta(0),
) -> Tick:
    """One dispatcher pass (in the caller's transaction): expire, reclaim, claim (what is
    due, and what falls due within `ahead`), heartbeat."""
    unknown = expire_sending(session, now=now, limit=batch)
    redispatched = reclaim_expired(session, now=now, limit=batch, lease=lease)
    rows = claim_until(session, now=now, until=now + ahead, limit=batch, lease=lease)
    beat(session, now)
    claimed, later = split_due(rows, now)
    return Tick(claimed=claimed, redispatched=redispatched, unknown=unknown, ahead=later)


def split_due(
    rows: list[tuple[int, datetime]], now: datetime
) -> tuple[list[int], list[tuple[int, datetime]]]:
    """Claimed rows split at `now`: the ids due (in id order), and the rest, by due time."""
    return sorted(i for i, at in rows if at <= now), [(i, at) for i, at in rows if at > now]
