"""Recording a send's outcome survives the database connection dropping under it."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy import update

from nurture.core.states import DeliveryStatus
from nurture.db import session_scope, upgrade
from nurture.db.connections import _held, batch_connection
from nurture.db.tables import Delivery, DeliveryEvent
from nurture.send.outcome import Outcome, record_outcomes
from tests.conftest import PG_DSN, use
from tests.helpers import at, deliveries, enroll, send_context

T0 = at("2026-03-03 12:00")


def _cut_the_batch_connection() -> sa.Connection:
    """Terminate the backend of the batch's held connection, as a database restart would."""
    box = _held.get()
    assert box is not None
    pid = box.conn.execute(sa.text("SELECT pg_backend_pid()")).scalar()
    admin = sa.create_engine(PG_DSN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        assert conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar()
    admin.dispose()
    return box.conn


def test_an_outcome_is_recorded_even_when_its_connection_was_cut(
    pg_url: str, env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    use(env, monkeypatch, database_url=pg_url)
    upgrade()
    enroll(T0)
    first = deliveries()[0]
    with session_scope() as s:  # the worker won the claim and called the provider
        s.execute(
            update(Delivery).where(Delivery.id == first.id).values(status=DeliveryStatus.SENDING)
        )
    ctx = send_context()
    with batch_connection(ctx.engine):
        _cut_the_batch_connection()  # the database drops the batch's connection
        sent = Outcome(
            first.id, DeliveryStatus.SENT, T0, provider="twilio", provider_message_id="SM1"
        )
        changed = record_outcomes(ctx, [sent])
    assert changed == {first.id}
    row = next(d for d in deliveries() if d.id == first.id)
    assert (row.status, row.provider_message_id) == (DeliveryStatus.SENT, "SM1")


def test_a_batch_of_outcomes_changes_only_rows_still_sending(db: str) -> None:
    enroll(T0)
    rows = deliveries()[:4]
    moved_on = rows[3]
    with session_scope() as s:  # three sends in flight; a report already moved the last one on
        s.execute(
            update(Delivery)
            .where(Delivery.id.in_([r.id for r in rows[:3]]))
            .values(status=DeliveryStatus.SENDING)
        )
        s.execute(
            update(Delivery)
            .where(Delivery.id == moved_on.id)
            .values(status=DeliveryStatus.DELIVERED)
        )
    later = T0 + timedelta(minutes=10)
    outcomes = [
        Outcome(rows[0].id, DeliveryStatus.SENT, T0, provider="twilio", provider_message_id="SM1"),
        Outcome(rows[1].id, DeliveryStatus.RETRYING, T0, code="http_429", due_at=later),
        Outcome(rows[2].id, DeliveryStatus.FAILED, T0, code="http_400", detail="bad address"),
        Outcome(moved_on.id, DeliveryStatus.SENT, T0, provider="twilio", provider_message_id="SM4"),
    ]
    changed = record_outcomes(send_context(), outcomes)
    assert changed == {rows[0].id, rows[1].id, rows[2].id}
    after = {d.id: d for d in deliveries()}
    sent, retrying, failed, kept = (after[r.id] for r in rows)
    assert (sent.status, sent.provider, sent.provider_message_id) == (
        DeliveryStatus.SENT,
        "twilio",
        "SM1",
    )
    assert sent.sent_at == T0 and sent.lease_expires_at is None
    assert (retrying.status, retrying.due_at, retrying.error_code) == (
        DeliveryStatus.RETRYING,
        later,
        "http_429",
    )
    assert retrying.provider is None and retrying.sent_at is None
    assert (failed.status, failed.error_detail) == (DeliveryStatus.FAILED, "bad address")
    assert (kept.status, kept.provider_message_id) == (DeliveryStatus.DELIVERED, None)
    with session_scope() as s:
        events = s.execute(
            sa.select(DeliveryEvent.delivery_id, DeliveryEvent.status, DeliveryEvent.detail).where(
                DeliveryEvent.source == "worker"
            )
        ).all()
    assert sorted(events) == sorted(
        [
            (rows[0].id, "sent", None),
            (rows[1].id, "retrying", "http_429"),
            (rows[2].id, "failed", "http_400: bad address"),
        ]
    )


def test_a_batch_goes_on_after_its_connection_was_cut(
    pg_url: str, env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    use(env, monkeypatch, database_url=pg_url)
    upgrade()
    enroll(T0)
    first, second = deliveries()[:2]
    with session_scope() as s:
        s.execute(
            update(Delivery)
            .where(Delivery.id.in_([first.id, second.id]))
            .values(status=DeliveryStatus.SENDING)
        )
    ctx = send_context()
    with batch_connection(ctx.engine):
        box = _held.get()
        assert box is not None
        held = _cut_the_batch_connection()
        # The first outcome finds the connection dead and is written on a fresh one; the
        # next statements of the batch use the held connection again, reconnected.
        assert record_outcomes(ctx, [Outcome(first.id, DeliveryStatus.SENT, T0)])
        failed = Outcome(second.id, DeliveryStatus.FAILED, T0, code="http_400")
        assert record_outcomes(ctx, [failed])
        assert box.conn is not held and not box.conn.invalidated
    after = {d.id: d.status for d in deliveries()}
    assert (after[first.id], after[second.id]) == (DeliveryStatus.SENT, DeliveryStatus.FAILED)
