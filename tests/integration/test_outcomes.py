"""Recording a send's outcome survives the database connection dropping under it."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy import update

from nurture.db import session_scope, upgrade
from nurture.models import Delivery, DeliveryStatus
from nurture.outcomes import _held, batch_connection, record_outcome
from tests.conftest import PG_DSN, use
from tests.helpers import at, deliveries, enroll, send_context

T0 = at("2026-03-03 12:00")


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
    admin = sa.create_engine(PG_DSN, isolation_level="AUTOCOMMIT")
    with batch_connection(ctx):
        held = _held.get()
        assert held is not None
        pid = held.execute(sa.text("SELECT pg_backend_pid()")).scalar()
        with admin.connect() as conn:  # the database drops the batch's connection
            assert conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar()
        changed = record_outcome(
            ctx,
            first.id,
            DeliveryStatus.SENT,
            T0,
            extra={"provider": "twilio", "provider_message_id": "SM1", "sent_at": T0},
        )
    admin.dispose()
    assert changed
    row = next(d for d in deliveries() if d.id == first.id)
    assert (row.status, row.provider_message_id) == (DeliveryStatus.SENT, "SM1")
