"""A batch's calls go out in turn when the provider answers quickly, at once when it does
not; either way each delivery is `sending` only once its own call is about to start.

On SQLite and PostgreSQL, the real SDKs over real HTTP to the fake provider.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest

import nurture.send.calls as calls
from nurture.channels.base import BaseChannel
from nurture.channels.outbox import OutboxEmailChannel
from nurture.core.states import Channel, DeliveryStatus
from nurture.db import session_scope
from nurture.dispatch.tick import dispatch_tick
from nurture.send.calls import in_turn
from nurture.send.context import SendContext
from nurture.send.pipeline import send_deliveries
from tests.fakes.provider import FakeProvider
from tests.helpers import at, deliveries, enroll

T0 = at("2026-03-03 12:00")


class _Channel(BaseChannel):
    provider = "test"
    channel = Channel.SMS

    def __init__(self, latency_s: float | None) -> None:
        self.latency_s = latency_s

    def _send(self, message: Any) -> Any:
        raise AssertionError("not called")


def test_calls_go_in_turn_only_when_all_of_them_are_known_to_be_quick() -> None:
    quick, slow, unknown = _Channel(0.002), _Channel(0.3), _Channel(None)
    assert in_turn([quick] * 10)  # 20 ms in all
    assert not in_turn([quick] * 200)  # 400 ms: at once
    assert not in_turn([quick, slow])
    assert not in_turn([quick, unknown])  # no call yet: at once, the safe way
    assert in_turn([])


def _timed(*seconds: float) -> _Channel:
    """A channel whose calls took `seconds`, one after another."""
    channel = _Channel(None)
    for s in seconds:
        channel._took(s)
    return channel


def test_a_busy_host_stretching_some_quick_calls_still_gets_them_in_turn() -> None:
    # Most calls waited for a core (30 ms), a few did not (1 ms): the provider is quick.
    stretched = _timed(*[0.03, 0.03, 0.001] * 6)
    assert stretched.latency_s is not None and stretched.latency_s * 20 > calls.IN_TURN_S
    assert in_turn([stretched] * 20)


def test_a_slow_provider_gets_the_calls_at_once_even_after_some_quick_answers() -> None:
    assert not in_turn([_timed(*[0.2] * 20)] * 2)  # every call slow
    # Quick refusals among slow answers: its average says slow, whatever the quickest.
    mixed = _timed(*[0.3, 0.001] * 8)
    assert not in_turn([mixed] * 20)
    # Only the latest calls count: quick ones long ago say nothing of it now.
    assert not in_turn([_timed(*[0.001] * 16, *[0.05] * 16)] * 20)


def test_a_call_time_told_outright_replaces_what_the_calls_said() -> None:
    channel = _timed(*[0.001] * 20)
    channel.latency_s = 0.3
    assert channel.quickest_s == 0.3
    assert not in_turn([channel, channel])


def test_local_channels_cost_nothing_in_the_choice(tmp_path: Any) -> None:
    assert in_turn([OutboxEmailChannel(tmp_path)] * 100)


def _due_first_steps(prospects: int) -> list[int]:
    for n in range(prospects):
        enroll(T0, email=f"t{n}@example.com", phone=f"+1617555{n:04d}")
    with session_scope() as s:
        return dispatch_tick(s, now=T0, batch=500, lease=timedelta(seconds=300)).claimed


def _answering_in(ctx: SendContext, seconds: float) -> None:
    """Every channel's recent call time, as if its provider had answered in `seconds`."""
    for channel in ctx.channels.values():
        channel.latency_s = seconds


def _watch_calls(ctx: SendContext, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """At each provider call: how many of the deliveries are still `queued` (not taken)."""
    seen: list[int] = []
    for channel in ctx.channels.values():
        real = channel._send

        def watching(message: Any, real: Any = real) -> Any:
            seen.append(sum(d.status is DeliveryStatus.QUEUED for d in deliveries()))
            return real(message)

        monkeypatch.setattr(channel, "_send", watching)
    return seen


class _NoThreads(ThreadPoolExecutor):
    def submit(self, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a quick provider's calls are made in turn, not on call threads")


def test_a_quick_provider_gets_the_calls_in_turn_each_taken_right_before_its_own(
    ctx: SendContext, fake_provider: FakeProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    _answering_in(ctx, 0.001)
    monkeypatch.setattr(calls, "call_pool", _NoThreads)
    seen = _watch_calls(ctx, monkeypatch)
    ids = _due_first_steps(4)

    statuses = send_deliveries(ctx, ids, clock=lambda: T0)

    assert statuses == [DeliveryStatus.SENT] * 8
    assert len(fake_provider.messages()) == 8
    # Each call finds every later delivery of the batch still queued: taken one by one.
    assert seen == [7, 6, 5, 4, 3, 2, 1, 0]


def test_outcomes_of_calls_made_in_turn_are_recorded_together_at_the_end_of_the_batch(
    ctx: SendContext, fake_provider: FakeProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    _answering_in(ctx, 0.001)
    groups: list[int] = []
    real_record = calls.record

    def record(ctx: SendContext, outcomes: list[Any]) -> Any:
        groups.append(len(outcomes))
        return real_record(ctx, outcomes)

    monkeypatch.setattr(calls, "record", record)
    ids = _due_first_steps(4)

    statuses = send_deliveries(ctx, ids, clock=lambda: T0)

    assert statuses == [DeliveryStatus.SENT] * 8
    assert groups == [8]
    sent = [d for d in deliveries() if d.id in ids]
    assert len(sent) == 8
    assert all(d.status is DeliveryStatus.SENT and d.provider_message_id for d in sent)


def test_a_slow_provider_gets_the_calls_at_once_each_taken_right_before_its_own(
    ctx: SendContext, fake_provider: FakeProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    _answering_in(ctx, 0.3)
    threads: list[str] = []
    for channel in ctx.channels.values():
        real = channel._send

        def watching(message: Any, real: Any = real) -> Any:
            threads.append(threading.current_thread().name)
            return real(message)

        monkeypatch.setattr(channel, "_send", watching)
    ids = _due_first_steps(4)

    statuses = send_deliveries(ctx, ids, clock=lambda: T0)

    assert statuses == [DeliveryStatus.SENT] * 8
    # Each call went to the call threads as soon as its delivery was taken.
    assert len(threads) == 8
    assert all(name.startswith("nurture-call") for name in threads), threads


def test_a_channel_learns_its_call_time_from_every_call(
    ctx: SendContext, fake_provider: FakeProvider
) -> None:
    sms = ctx.channels[Channel.SMS]
    sms.latency_s = None
    ids = _due_first_steps(2)
    send_deliveries(ctx, ids, clock=lambda: T0)
    assert sms.latency_s is not None and 0 < sms.latency_s < 5


def test_a_batch_keeps_at_most_at_once_calls_in_flight_taking_the_next_when_one_returns(
    ctx: SendContext, fake_provider: FakeProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(calls, "AT_ONCE", 3)
    fake_provider.latency_s = 0.1
    _answering_in(ctx, 0.3)
    lock = threading.Lock()
    in_flight, most, sending = [0], [0], []
    for channel in ctx.channels.values():
        real = channel._send

        def watching(message: Any, real: Any = real) -> Any:
            with lock:
                in_flight[0] += 1
                most[0] = max(most[0], in_flight[0])
            # Taken and not yet recorded: this call's and those still in flight, none waiting.
            sending.append(sum(d.status is DeliveryStatus.SENDING for d in deliveries()))
            try:
                return real(message)
            finally:
                with lock:
                    in_flight[0] -= 1

        monkeypatch.setattr(channel, "_send", watching)
    ids = _due_first_steps(4)

    statuses = send_deliveries(ctx, ids, clock=lambda: T0)

    assert statuses == [DeliveryStatus.SENT] * 8
    assert len(fake_provider.messages()) == 8
    assert most[0] == 3
    assert max(sending) <= 3
