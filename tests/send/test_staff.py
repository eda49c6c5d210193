"""Staff messages on the worker: claimed once, retried when the provider did not take them,
failed when it refused them, `unknown` (never re-sent) when nobody knows."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import select

from nurture.core.states import Channel
from nurture.db import session_scope
from nurture.db.tables import StaffMessage
from nurture.send.staff import send_staff_messages
from nurture.steering.outgoing import StaffDraft, claim_due, expire_sending, queue_message
from tests.conftest import use_providers
from tests.fakes.provider import Failure, FakeProvider
from tests.helpers import at, send_context

T0 = at("2026-03-03 12:00")
DESK = "+16175550142"


@pytest.fixture
def providers(
    db: str,
    env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    sendgrid_key: ec.EllipticCurvePrivateKey,
    fake_provider: FakeProvider,
) -> Iterator[FakeProvider]:
    use_providers(env, monkeypatch, fake_provider, sendgrid_key)
    yield fake_provider


def notice(key: str = "notify:1:sms:desk") -> int | None:
    with session_scope() as s:
        return queue_message(
            s,
            StaffDraft(kind="notify", dedupe_key=key, channel=Channel.SMS, address=DESK, body="hi"),
            now=T0,
        )


def state() -> tuple[str, int, str | None]:
    with session_scope() as s:
        row = s.scalars(select(StaffMessage)).one()
        return row.status, row.attempts, row.error_code


def test_a_message_is_queued_once_per_key_and_claimed_by_one_caller(
    providers: FakeProvider,
) -> None:
    assert notice() is not None and notice() is None
    with session_scope() as s:
        first = claim_due(s, now=T0, lease=timedelta(seconds=60))
    with session_scope() as s:
        second = claim_due(s, now=T0, lease=timedelta(seconds=60))
    assert len(first) == 1 and second == []


def test_a_provider_that_did_not_take_it_is_tried_again_later(providers: FakeProvider) -> None:
    notice()
    providers.fail_next(Failure(status=503, api="twilio"))
    ctx = send_context()
    assert send_staff_messages(ctx, clock=lambda: T0) == {"retrying": 1}
    assert state()[0] == "pending"
    assert send_staff_messages(ctx, clock=lambda: T0) == {}  # not due yet: backoff
    later = T0 + timedelta(minutes=20)
    assert send_staff_messages(ctx, clock=lambda: later) == {"sent": 1}
    assert state()[:2] == ("sent", 2)
    assert [m.to for m in providers.messages("twilio")] == [DESK]


def test_a_refused_message_fails_and_an_ambiguous_one_is_never_sent_again(
    providers: FakeProvider,
) -> None:
    notice()
    providers.fail_next(Failure(status=400, code=21211, message="invalid To", api="twilio"))
    ctx = send_context()
    assert send_staff_messages(ctx, clock=lambda: T0) == {"failed": 1}
    assert state()[0] == "failed"
    notice("notify:2:sms:desk")
    providers.fail_next(Failure(status=500, api="twilio"))
    assert send_staff_messages(ctx, clock=lambda: T0) == {"unknown": 1}
    assert send_staff_messages(ctx, clock=lambda: T0 + timedelta(hours=1)) == {}


def test_a_send_whose_worker_died_becomes_unknown_not_sent_twice(providers: FakeProvider) -> None:
    notice()
    with session_scope() as s:
        assert claim_due(s, now=T0, lease=timedelta(seconds=60))
    with session_scope() as s:
        assert expire_sending(s, now=T0 + timedelta(seconds=61)) == 1
    assert state()[0] == "unknown"
    assert send_staff_messages(send_context(), clock=lambda: T0 + timedelta(hours=1)) == {}
    assert providers.messages() == []
