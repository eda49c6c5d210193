"""A worker takes a delivery right before its provider call: the compare-and-set
`queued → sending`, with the stop, consent, booking and suppression checks in its WHERE, so
a stop that committed first is always seen and of any number of task messages for one
delivery (redeliveries, duplicates, a re-dispatch) exactly one wins. (The dispatcher *claims*
due deliveries for the broker; a worker *takes* one to send.)

The take records the attempt's start (`attempted_at`) and the message's hash
(`body_sha256`): reconciliation asks the provider about an `unknown` delivery with both.
`take_one` is one guarded UPDATE, made right before the delivery's own call, so a worker
killed mid-batch leaves `sending` only the calls in flight; `take_together` takes local
calls (the outbox), which take no time, with one statement.
"""

from __future__ import annotations

from collections.abc import Sequence as Seq
from datetime import datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from sqlalchemy import Boolean, Integer, Table, bindparam, case, column, exists, func, or_, true
from sqlalchemy.dialects.postgresql import ARRAY

from nurture.core.addressing import per_channel
from nurture.core.states import Channel, DeliveryStatus, EnrollmentStatus
from nurture.db.connections import autocommit
from nurture.db.driver import DriverStatement
from nurture.db.tables import Contact, Delivery, Enrollment, Suppression
from nurture.db.transitions import move_many, transition
from nurture.send.taken import Taken

if TYPE_CHECKING:
    from nurture.send.context import SendContext

_DELIVERIES: Table = Delivery.__table__  # type: ignore[assignment]
_ENROLLMENTS: Table = Enrollment.__table__  # type: ignore[assignment]
_CONTACTS: Table = Contact.__table__  # type: ignore[assignment]
_SUPPRESSIONS: Table = Suppression.__table__  # type: ignore[assignment]


def take_one(ctx: SendContext, c: Taken, now: datetime, body_sha256: str | None) -> bool:
    """Take a loaded delivery whose verdict was go, with one guarded UPDATE that records
    its message's hash; whether this call won it (then it is `sending` here).

    Not won (stopped, suppressed, changed since it was read, or another worker won it): the
    caller loads it again and decides on what it reads then.
    """
    params = {
        "delivery_id": c.delivery.id,
        "address": c.address,
        "now": now,
        "lease_expires_at": now + timedelta(seconds=ctx.settings.lease_s),
        "body_sha256": body_sha256,
    }
    stmt = _guarded_take(c.delivery.channel, check_booked=not c.contact.booked)
    # `sending` is in flight: no event to write with it (`move_many` would write none).
    with autocommit(ctx.engine) as conn:
        rows = stmt.rows(conn, params)
    if not rows:
        return False
    c.delivery.attempts = rows[0][1]
    c.delivery.status = DeliveryStatus.SENDING
    return True


def take_together(ctx: SendContext, ahead: Seq[tuple[Taken, str]], now: datetime) -> set[int]:
    """`take_one` for several (delivery, message hash) pairs at once; the ids won.

    For local channels (the outbox), whose calls take no time: one statement for them all on
    PostgreSQL (one per delivery on SQLite). A kill between this take and their files leaves
    them `unknown`, and reconciliation answers for each from the outbox folder.
    """
    if not ahead:
        return set()
    if ctx.engine.dialect.name != "postgresql":
        return {c.delivery.id for c, sha in ahead if take_one(ctx, c, now, sha)}
    params: dict[str, Any] = {
        "ids": [c.delivery.id for c, _ in ahead],
        "addresses": [c.address for c, _ in ahead],
        "check_booked": [not c.contact.booked for c, _ in ahead],
        "hashes": [sha for _, sha in ahead],
        "now": now,
        "lease_expires_at": now + timedelta(seconds=ctx.settings.lease_s),
    }
    with autocommit(ctx.engine) as conn:
        rows = move_many(
            conn, _guarded_takes(), params, to=DeliveryStatus.SENDING, at=now, source="worker"
        )
    won = dict(rows)
    for c, _ in ahead:
        if c.delivery.id in won:
            c.delivery.attempts = won[c.delivery.id]
            c.delivery.status = DeliveryStatus.SENDING
    return set(won)


def _taking(where: Seq[Any], returning: Seq[Any], body_sha256: Any = None) -> Any:
    """`queued → sending` with one more attempt, a fresh lease, the attempt's start and the
    message's hash (a bound parameter unless given), where `where` holds."""
    d = _DELIVERIES
    if body_sha256 is None:
        body_sha256 = bindparam("body_sha256", type_=d.c.body_sha256.type)
    return transition(
        DeliveryStatus.SENDING,
        (DeliveryStatus.QUEUED,),
        where=where,
        values={
            "attempts": d.c.attempts + 1,
            "lease_expires_at": bindparam("lease_expires_at", type_=d.c.lease_expires_at.type),
            "updated_at": bindparam("now", type_=d.c.updated_at.type),
            "attempted_at": bindparam("now", type_=d.c.attempted_at.type),
            "body_sha256": body_sha256,
        },
        returning=returning,
    )


@lru_cache(maxsize=1)
def _guarded_takes() -> Any:
    """`_guarded_take` for several deliveries (PostgreSQL): the ids, the addresses as read,
    whether to check the booking and the hashes come as arrays, so it is built once."""
    d, e, k, s = _DELIVERIES, _ENROLLMENTS, _CONTACTS, _SUPPRESSIONS
    v = (
        func.unnest(
            bindparam("ids", type_=ARRAY(Integer)),
            bindparam("addresses", type_=ARRAY(k.c.email.type)),
            bindparam("check_booked", type_=ARRAY(Boolean)),
            bindparam("hashes", type_=ARRAY(d.c.body_sha256.type)),
        )
        .table_valued(
            column("id", Integer),
            column("address", k.c.email.type),
            column("check_booked", Boolean),
            column("body_sha256", d.c.body_sha256.type),
        )
        .render_derived(name="v")
    )
    email = d.c.channel == Channel.EMAIL
    may_go = (
        exists()
        .where(
            e.c.id == d.c.enrollment_id,
            e.c.status == EnrollmentStatus.ACTIVE,
            k.c.id == d.c.contact_id,
            case((email, k.c.consent_email), else_=k.c.consent_sms).is_(True),
            case((email, k.c.email), else_=k.c.phone) == v.c.address,
            or_(~v.c.check_booked, k.c.booked_at.is_(None)),
            ~exists()
            .where(s.c.channel == d.c.channel, s.c.address == v.c.address)
            .correlate_except(s),
        )
        .correlate_except(e, k)
    )
    return _taking([d.c.id == v.c.id, may_go], [d.c.attempts], body_sha256=v.c.body_sha256)


@lru_cache(maxsize=4)
def _guarded_take(channel: Channel, *, check_booked: bool) -> DriverStatement:
    """The CAS with the checks in its WHERE, for `take_one`; built and compiled once per
    variant, and run on the driver's connection (`db/driver.py`): it runs once per message."""
    d, e, k, s = _DELIVERIES, _ENROLLMENTS, _CONTACTS, _SUPPRESSIONS
    address = bindparam("address", type_=k.c.email.type)
    # Everything `skip_reason` read that others may change, checked again in the take itself.
    may_go = exists().where(
        e.c.id == d.c.enrollment_id,
        e.c.status == EnrollmentStatus.ACTIVE,
        k.c.id == d.c.contact_id,
        per_channel(channel, k.c.consent_email, k.c.consent_sms).is_(True),
        per_channel(channel, k.c.email, k.c.phone) == address,
        k.c.booked_at.is_(None) if check_booked else true(),
        ~exists().where(s.c.channel == channel, s.c.address == address),
    )
    return DriverStatement(_taking([d.c.id == bindparam("delivery_id"), may_go], [d.c.attempts]))
