"""A batch's provider calls: on the process's call threads, their outcomes recorded together.

Services with the clock passed in, on SQLite and PostgreSQL; the real SDKs over real HTTP to
the fake provider.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

import nurture.send.calls as calls
from nurture.core.states import DeliveryStatus
from nurture.db import session_scope
from nurture.dispatch.tick import dispatch_tick
from nurture.send.calls import call_pool
from nurture.send.context import SendContext
from nurture.send.pipeline import send_deliveries
from tests.fakes.provider import FakeProvider
from tests.helpers import at, deliveries, enroll

T0 = at("2026-03-03 12:00")


@pytest.fixture
def provider_settings() -> dict[str, str]:
    """A longer provider timeout for the pool's calls, and the claim's lease."""
    return {"provider_timeout_s": "5", "lease_s": "300"}


def _due_first_steps(prospects: int, tag: str) -> list[int]:
    for n in range(prospects):
        enroll(T0, email=f"{tag}{n}@example.com", phone=f"+1617555{ord(tag) % 10}{n:03d}")
    with session_scope() as s:
        return dispatch_tick(s, now=T0, batch=500, lease=timedelta(seconds=300)).claimed


def test_outcomes_of_calls_returning_together_are_recorded_in_one_statement(
    ctx: SendContext, fake_provider: FakeProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorded: list[int] = []
    real = calls.record

    def counting(c: SendContext, outcomes: list[Any]) -> set[int]:
        if outcomes:
            recorded.append(len(outcomes))
        return real(c, outcomes)

    monkeypatch.setattr(calls, "record", counting)
    # Generous, for a loaded machine: every call of the batch returns within it.
    monkeypatch.setattr(calls, "GROUP_WAIT_S", 10.0)
    ids = _due_first_steps(5, "g")
    assert len(ids) == 10

    statuses = send_deliveries(ctx, ids, clock=lambda: T0)

    assert statuses == [DeliveryStatus.SENT] * 10
    assert len(fake_provider.messages()) == 10
    sent = [d for d in deliveries() if d.id in ids]
    assert all(d.status is DeliveryStatus.SENT and d.provider_message_id for d in sent)
    # The first call to return is recorded at once; the rest join it or come in one more.
    assert sum(recorded) == 10 and len(recorded) <= 2


def test_batches_reuse_the_call_threads_of_their_process(
    ctx: SendContext, fake_provider: FakeProvider
) -> None:
    before = set(call_pool()._threads)  # the pool's own record of its threads
    for tag in ("a", "b", "c"):
        ids = _due_first_steps(5, tag)
        assert send_deliveries(ctx, ids, clock=lambda: T0) == [DeliveryStatus.SENT] * 10
    assert len(fake_provider.messages()) == 30
    # Thirty calls in three batches of ten: at most ten new threads (a pool per batch: 30).
    assert len(set(call_pool()._threads) - before) <= 10
