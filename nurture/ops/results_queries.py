"""The grouped queries behind the results report (SQLAlchemy Core, PostgreSQL and SQLite).

Each returns rows keyed by sequence (and step and channel), counted by the database: nothing
here loops over deliveries in Python. The attribution rules are in `nurture.ops.results`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Integer,
    Table,
    and_,
    case,
    cast,
    func,
    literal,
    select,
    union_all,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from nurture.core.states import DeliveryStatus
from nurture.db.tables import (
    ConsentEvent,
    Contact,
    Delivery,
    DeliveryEvent,
    Enrollment,
    InboundMessage,
)
from nurture.track.clicks import CLICK_SOURCE

_D: Table = Delivery.__table__  # type: ignore[assignment]
_E: Table = Enrollment.__table__  # type: ignore[assignment]
_C: Table = Contact.__table__  # type: ignore[assignment]
_EV: Table = DeliveryEvent.__table__  # type: ignore[assignment]
_IN: Table = InboundMessage.__table__  # type: ignore[assignment]
_CE: Table = ConsentEvent.__table__  # type: ignore[assignment]

#: The figures attributed to "the last delivery sent before" an event.
ATTRIBUTED = ("replies", "opt_outs", "bookings")
#: Reached the provider and then failed to arrive.
NOT_ARRIVED = (DeliveryStatus.BOUNCED, DeliveryStatus.UNDELIVERED)


def _enrollment_filter(
    sequence_id: str | None, since: datetime | None, until: datetime | None
) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if sequence_id is not None:
        where.append(_E.c.sequence_id == sequence_id)
    if since is not None:
        where.append(_E.c.started_at >= since)
    if until is not None:
        where.append(_E.c.started_at < until)
    return where


def _seconds_between(session: Session, start: Any, end: Any) -> ColumnElement[Any]:
    if session.get_bind().dialect.name == "postgresql":
        return func.extract("epoch", end - start)
    return (func.julianday(end) - func.julianday(start)) * 86400.0


def sequence_rows(
    session: Session, *, sequence_id: str | None, since: datetime | None, until: datetime | None
) -> list[Any]:
    """Per sequence: enrollments, those booked after they started, and the median seconds
    from enrollment to booking (by row numbers, so both databases compute it alike)."""
    where = _enrollment_filter(sequence_id, since, until)
    booked = and_(_C.c.booked_at.is_not(None), _C.c.booked_at >= _E.c.started_at)
    counts = (
        select(
            _E.c.sequence_id,
            func.count().label("enrolled"),
            func.count(case((booked, 1))).label("booked"),
        )
        .select_from(_E.join(_C, _C.c.id == _E.c.contact_id))
        .where(*where)
        .group_by(_E.c.sequence_id)
    )
    seconds = _seconds_between(session, _E.c.started_at, _C.c.booked_at)
    durations = (
        select(
            _E.c.sequence_id.label("sequence_id"),
            seconds.label("s"),
            func.row_number().over(partition_by=_E.c.sequence_id, order_by=seconds).label("rn"),
            func.count().over(partition_by=_E.c.sequence_id).label("n"),
        )
        .select_from(_E.join(_C, _C.c.id == _E.c.contact_id))
        .where(booked, *where)
        .subquery()
    )
    middle = (cast(durations.c.n, Integer) + 1) // 2, (cast(durations.c.n, Integer) + 2) // 2
    medians = (
        select(durations.c.sequence_id, func.avg(durations.c.s).label("median_s"))
        .where(durations.c.rn.in_([middle[0], middle[1]]))
        .group_by(durations.c.sequence_id)
        .subquery()
    )
    totals = counts.subquery()
    query = select(totals, medians.c.median_s).select_from(
        totals.outerjoin(medians, medians.c.sequence_id == totals.c.sequence_id)
    )
    return list(session.execute(query))


def step_rows(
    session: Session, *, sequence_id: str | None, since: datetime | None, until: datetime | None
) -> list[Any]:
    """Per sequence, step and channel: sent, delivered, bounced or undelivered, and the
    booking-link clicks (each on the delivery whose link token was clicked), in one parallel
    pass over the deliveries; the clicks come from a small partial index, joined by hash."""
    clicks = (
        select(_EV.c.delivery_id, func.count().label("n"))
        .where(_EV.c.source == CLICK_SOURCE)
        .group_by(_EV.c.delivery_id)
        .subquery()
    )
    query = (
        select(
            _E.c.sequence_id,
            _D.c.step_id,
            _D.c.channel,
            func.min(_D.c.step_index).label("step_index"),
            func.count(_D.c.sent_at).label("sent"),
            func.count(case((_D.c.status == DeliveryStatus.DELIVERED.value, 1))).label("delivered"),
            func.count(case((_D.c.status.in_([s.value for s in NOT_ARRIVED]), 1))).label("bounced"),
            func.coalesce(func.sum(clicks.c.n), 0).label("clicks"),
        )
        .select_from(
            _D.join(_E, _E.c.id == _D.c.enrollment_id).outerjoin(
                clicks, clicks.c.delivery_id == _D.c.id
            )
        )
        .where(*_enrollment_filter(sequence_id, since, until))
        .group_by(_E.c.sequence_id, _D.c.step_id, _D.c.channel)
    )
    return list(session.execute(query))


def attribution_rows(
    session: Session, *, sequence_id: str | None, since: datetime | None, until: datetime | None
) -> list[Any]:
    """Per sequence, step and channel: the replies, opt-outs and bookings attributed to its
    deliveries. The attributed deliveries are few (one per event), so they are joined to their
    deliveries by primary key, apart from the parallel pass over every delivery (their
    correlated lookups would make that pass serial)."""
    per_delivery = _attributions()
    query = (
        select(
            _E.c.sequence_id,
            _D.c.step_id,
            _D.c.channel,
            *(func.sum(per_delivery.c[name]).label(name) for name in ATTRIBUTED),
        )
        .select_from(
            per_delivery.join(_D, _D.c.id == per_delivery.c.delivery_id).join(
                _E, _E.c.id == _D.c.enrollment_id
            )
        )
        .where(*_enrollment_filter(sequence_id, since, until))
        .group_by(_E.c.sequence_id, _D.c.step_id, _D.c.channel)
    )
    return list(session.execute(query))


def _last_sent(contact_id: Any, at: Any, channel: Any | None) -> Any:
    """The id of the last delivery sent to `contact_id` at or before `at` (on `channel`)."""
    query = select(_D.c.id).where(
        _D.c.contact_id == contact_id, _D.c.sent_at.is_not(None), _D.c.sent_at <= at
    )
    if channel is not None:
        query = query.where(_D.c.channel == channel)
    return query.order_by(_D.c.sent_at.desc(), _D.c.id.desc()).limit(1).scalar_subquery()


def _attributions() -> Any:
    """(delivery_id, replies, opt_outs, bookings): what is attributed to each delivery that
    has anything attributed to it."""
    reply_channel = _IN.c.channel
    events = union_all(
        # A reply: the last delivery sent on its channel before it arrived.
        select(
            _last_sent(_IN.c.contact_id, _IN.c.received_at, reply_channel).label("delivery_id"),
            literal("replies").label("kind"),
        ).where(_IN.c.kind == "reply", _IN.c.contact_id.is_not(None)),
        # An opt-out: the last delivery sent on its channel before it.
        select(
            _last_sent(_CE.c.contact_id, _CE.c.at, _CE.c.channel).label("delivery_id"),
            literal("opt_outs").label("kind"),
        ).where(_CE.c.action == "opt_out"),
        # A booking: the last delivery sent on any channel before it.
        select(
            _last_sent(_C.c.id, _C.c.booked_at, None).label("delivery_id"),
            literal("bookings").label("kind"),
        ).where(_C.c.booked_at.is_not(None)),
    ).subquery()
    return (
        select(
            events.c.delivery_id,
            *(func.count(case((events.c.kind == kind, 1))).label(kind) for kind in ATTRIBUTED),
        )
        .group_by(events.c.delivery_id)
        .subquery()
    )
