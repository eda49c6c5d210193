"""Specification of the one writer of a delivery's state: compare-and-set moves, each with
its event; in-flight moves (claims, takes) leave none; a note changes nothing."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import bindparam, select, update

from nurture.core.states import PENDING_STATES, DeliveryStatus
from nurture.db import session_scope
from nurture.db.outcomes import Move, move_each
from nurture.db.tables import Delivery, DeliveryEvent
from nurture.db.transitions import move, move_many, note, transition
from tests.helpers import at, deliveries, enroll

T0 = at("2026-03-03 12:00")


def _events() -> list[tuple[int, str, str, str | None, str | None]]:
    with session_scope() as s:
        rows = s.execute(
            select(
                DeliveryEvent.delivery_id,
                DeliveryEvent.status,
                DeliveryEvent.source,
                DeliveryEvent.detail,
                DeliveryEvent.external_id,
            ).order_by(DeliveryEvent.id)
        ).all()
    return [tuple(r) for r in rows]  # type: ignore[misc]


def _set(delivery_id: int, **values: object) -> None:
    with session_scope() as s:
        s.execute(update(Delivery).where(Delivery.id == delivery_id).values(**values))


def test_a_move_from_a_state_it_may_leave_changes_the_row_and_records_one_event(db: str) -> None:
    enroll(T0)
    first = deliveries()[0]
    _set(first.id, status=DeliveryStatus.SENDING, lease_expires_at=T0 + timedelta(minutes=5))
    with session_scope() as s:
        moved = move(
            s,
            first.id,
            DeliveryStatus.FAILED,
            at=T0,
            leaving=(DeliveryStatus.SENDING,),
            source="worker",
            detail="x" * 600,
            values={"error_code": "http_400"},
            external_id="provider:1",
        )
    assert moved
    row = next(d for d in deliveries() if d.id == first.id)
    assert (row.status, row.error_code, row.lease_expires_at, row.updated_at) == (
        DeliveryStatus.FAILED,
        "http_400",
        None,
        T0,
    )
    assert _events() == [(first.id, "failed", "worker", "x" * 500, "provider:1")]


def test_a_move_from_a_state_it_may_not_leave_changes_nothing(db: str) -> None:
    enroll(T0)
    first = deliveries()[0]
    _set(first.id, status=DeliveryStatus.DELIVERED)
    with session_scope() as s:
        assert not move(
            s, first.id, DeliveryStatus.SENT, at=T0, leaving=(DeliveryStatus.SENDING,), source="w"
        )
    assert next(d for d in deliveries() if d.id == first.id).status is DeliveryStatus.DELIVERED
    assert _events() == []


def test_in_flight_moves_leave_no_event_and_others_one_each(db: str) -> None:
    enroll(T0)
    ids = [d.id for d in deliveries()]
    queueing = transition(
        DeliveryStatus.QUEUED,
        (DeliveryStatus.SCHEDULED,),
        where=[Delivery.id.in_(bindparam("ids", expanding=True))],
        values={"queued_at": bindparam("now", type_=Delivery.queued_at.type)},
    )
    skipping = transition(DeliveryStatus.SKIPPED, PENDING_STATES, values={"error_code": "stop"})
    with session_scope() as s:
        queued = move_many(
            s, queueing, {"ids": ids[:2], "now": T0}, to=DeliveryStatus.QUEUED, at=T0, source="d"
        )
        skipped = move_many(
            s, skipping, None, to=DeliveryStatus.SKIPPED, at=T0, source="control", detail="stop"
        )
    assert sorted(r[0] for r in queued) == ids[:2]
    assert sorted(r[0] for r in skipped) == ids  # queued is pending too
    assert sorted(_events()) == [(i, "skipped", "control", "stop", None) for i in ids]


def test_a_batch_of_moves_changes_each_row_with_its_own_values(db: str) -> None:
    enroll(T0)
    a, b, c = (d.id for d in deliveries()[:3])
    for i in (a, b):
        _set(i, status=DeliveryStatus.SENDING)
    later = T0 + timedelta(minutes=3)
    moves = [
        Move(a, DeliveryStatus.SENT, T0, provider="twilio", provider_message_id="SM1", sent_at=T0),
        Move(
            b, DeliveryStatus.RETRYING, T0, detail="http_429", error_code="http_429", due_at=later
        ),
        Move(c, DeliveryStatus.SENT, T0, provider="twilio", provider_message_id="SM3"),
    ]
    with session_scope() as s:
        changed = move_each(
            s.connection(), moves, leaving=(DeliveryStatus.SENDING,), source="worker"
        )
    assert changed == {a, b}  # c was never sending
    rows = {d.id: d for d in deliveries()}
    assert (rows[a].provider_message_id, rows[a].sent_at) == ("SM1", T0)
    assert (rows[b].due_at, rows[b].error_code, rows[b].provider) == (later, "http_429", None)
    assert rows[c].status is DeliveryStatus.SCHEDULED
    assert sorted(_events()) == [
        (a, "sent", "worker", None, None),
        (b, "retrying", "worker", "http_429", None),
    ]


def test_a_note_records_an_event_at_the_current_status_and_changes_nothing(db: str) -> None:
    enroll(T0)
    first = deliveries()[0]
    with session_scope() as s:
        note(s, first.id, at=T0, source="link", detail="booking link clicked")
    assert next(d for d in deliveries() if d.id == first.id).updated_at == first.updated_at
    assert _events() == [(first.id, "scheduled", "link", "booking link clicked", None)]
