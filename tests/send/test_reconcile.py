"""Reconciliation: each decision on its own (pure), then on SQLite and PostgreSQL with the
outbox, which can always say whether it has a message."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from typer.testing import CliRunner

import nurture.cli.reconcile  # noqa: F401 - registers the command on the app
from nurture.channels.base import Answer, Lookup
from nurture.cli import app
from nurture.core.states import Channel, DeliveryStatus
from nurture.db import session_scope
from nurture.db.tables import DeliveryEvent
from nurture.dispatch.tick import dispatch_tick, expire_sending
from nurture.send.context import SendContext
from nurture.send.load import load_queued
from nurture.send.reconcile import Facts, Verdict, decide, reconcile
from nurture.send.render import compose
from nurture.send.take import take_one
from nurture.steering.contacts import find_contact
from nurture.steering.stop import stop_contact
from tests.helpers import at, deliveries, enroll, outbox, send_context

T0 = at("2026-03-03 12:00")  # a Tuesday, noon UTC
LAG_S = 300.0
EVERY_S = 600.0


def _facts(
    attempted_at: datetime = T0, stop_reason: str | None = None, opening: datetime = T0
) -> Facts:
    return Facts(1, attempted_at=attempted_at, stop_reason=stop_reason, opening=opening)


def _decide(facts: Facts, lookup: Lookup, now: datetime):  # type: ignore[no-untyped-def]
    return decide(facts, lookup, now=now, lag_s=LAG_S, every_s=EVERY_S)


LATER = T0 + timedelta(minutes=10)  # past the lag


def test_a_message_the_provider_has_becomes_sent_with_its_id() -> None:
    found = Lookup(Answer.FOUND, "1 listed, SM1 matches", message_id="SM1")
    decision = _decide(_facts(), found, LATER)
    assert (decision.verdict, decision.message_id) == (Verdict.SENT, "SM1")
    assert "SM1 matches" in decision.evidence


def test_a_message_the_provider_has_is_sent_even_if_the_prospect_stopped_since() -> None:
    found = Lookup(Answer.FOUND, "activity api: 1 message", message_id="abc")
    assert _decide(_facts(stop_reason="enrollment_stopped"), found, LATER).verdict is Verdict.SENT


def test_clearly_absent_and_older_than_the_lag_goes_out_again() -> None:
    decision = _decide(_facts(), Lookup(Answer.ABSENT, "0 listed"), LATER)
    assert (decision.verdict, decision.due_at) == (Verdict.SCHEDULED, LATER)
    assert "0 listed" in decision.evidence


def test_clearly_absent_but_younger_than_the_lag_stays_unknown_until_the_lag_has_passed() -> None:
    soon = T0 + timedelta(seconds=60)
    decision = _decide(_facts(), Lookup(Answer.ABSENT, "0 listed"), soon)
    assert decision.verdict is Verdict.STAYS
    assert decision.ask_again_at == T0 + timedelta(seconds=LAG_S)


def test_absent_outside_its_window_is_replanned_to_the_next_opening() -> None:
    opening = T0 + timedelta(hours=20)
    decision = _decide(_facts(opening=opening), Lookup(Answer.ABSENT, "0 listed"), LATER)
    assert (decision.verdict, decision.due_at) == (Verdict.SCHEDULED, opening)


def test_absent_but_stopped_meanwhile_is_skipped_never_scheduled() -> None:
    for reason in ("enrollment_stopped", "suppressed", "no_consent", "booked"):
        decision = _decide(_facts(stop_reason=reason), Lookup(Answer.ABSENT, "0 listed"), LATER)
        assert (decision.verdict, decision.reason) == (Verdict.SKIPPED, reason)
        assert decision.due_at is None


def test_an_activity_api_that_answers_403_cannot_tell_and_stays_unknown() -> None:
    decision = _decide(_facts(), Lookup(Answer.CANNOT_TELL, "activity api 403"), LATER)
    assert decision.verdict is Verdict.STAYS
    assert decision.evidence == "cannot tell: activity api 403"
    assert decision.ask_again_at == LATER + timedelta(seconds=EVERY_S)


def test_a_provider_error_or_timeout_stays_unknown_and_old_ones_are_asked_less_often() -> None:
    timeout = Lookup(Answer.CANNOT_TELL, "twilio message list: read timeout")
    assert _decide(_facts(), timeout, LATER).verdict is Verdict.STAYS
    a_day_later = T0 + timedelta(days=1)
    decision = _decide(_facts(), timeout, a_day_later)
    assert decision.ask_again_at == a_day_later + timedelta(hours=12)


# --- on a database, with the outbox --------------------------------------------------------


def _stranded(ctx: SendContext, *, handed_over: bool) -> dict[Channel, int]:
    """Both deliveries of a first step taken at T0, (maybe) handed to the outbox, then left
    `unknown` by an expired lease, as a worker killed mid-send leaves them."""
    enroll(T0)
    with session_scope() as s:
        ids = dispatch_tick(s, now=T0, batch=500, lease=timedelta(seconds=300)).claimed
    stranded = {}
    for delivery_id in ids:
        [taken] = load_queued(ctx, [delivery_id]).values()
        message = compose(ctx, taken, T0)
        assert take_one(ctx, taken, T0, message.body_sha256)
        if handed_over:
            ctx.channels[taken.delivery.channel].send(message)
        stranded[taken.delivery.channel] = delivery_id
    with session_scope() as s:
        assert expire_sending(s, now=T0 + timedelta(seconds=301), limit=10) == sorted(ids)
    return stranded


def _events(delivery_id: int) -> list[tuple[str, str, str | None]]:
    with session_scope() as s:
        rows = s.execute(
            select(DeliveryEvent.status, DeliveryEvent.source, DeliveryEvent.detail)
            .where(DeliveryEvent.delivery_id == delivery_id)
            .order_by(DeliveryEvent.id)
        ).all()
    return [tuple(r) for r in rows]  # type: ignore[misc]


def test_unknown_deliveries_the_outbox_has_become_sent_with_their_id(db: str) -> None:
    ctx = send_context()
    ids = _stranded(ctx, handed_over=True)
    decisions = reconcile(ctx, now=LATER)
    assert {d.verdict for d in decisions} == {Verdict.SENT}
    rows = {d.id: d for d in deliveries()}
    for delivery_id in ids.values():
        row = rows[delivery_id]
        assert row.status is DeliveryStatus.SENT and row.provider == "outbox"
        assert row.provider_message_id and row.provider_checked_at == LATER
        status, source, detail = _events(delivery_id)[-1]
        assert (status, source) == ("sent", "reconcile")
        assert detail is not None and "outbox file" in detail
    assert len(outbox("email")) == 1 and len(outbox("sms")) == 1


def test_unknown_deliveries_the_outbox_lacks_go_out_again_once(db: str) -> None:
    ctx = send_context()
    ids = _stranded(ctx, handed_over=False)
    assert reconcile(ctx, now=T0 + timedelta(seconds=60)) != []  # younger than the lag
    assert {d.status for d in deliveries() if d.id in ids.values()} == {DeliveryStatus.UNKNOWN}
    assert reconcile(ctx, now=T0 + timedelta(seconds=120)) == []  # not asked again before
    decisions = reconcile(ctx, now=LATER)
    assert {d.verdict for d in decisions} == {Verdict.SCHEDULED}
    for row in deliveries():
        if row.id in ids.values():
            assert (row.status, row.due_at) == (DeliveryStatus.SCHEDULED, LATER)
            assert row.error_code == "reconciled_not_sent"
    with session_scope() as s:
        again = dispatch_tick(s, now=LATER, batch=500, lease=timedelta(seconds=300)).claimed
    assert set(ids.values()) <= set(again)  # (with the later steps now due)


def test_a_prospect_stopped_meanwhile_is_skipped_and_never_goes_out_again(db: str) -> None:
    ctx = send_context()
    ids = _stranded(ctx, handed_over=False)
    with session_scope() as s:
        contact = find_contact(s, email="robin@example.com")
        stop_contact(s, contact, reason="booked elsewhere", now=T0 + timedelta(seconds=400))
    decisions = reconcile(ctx, now=LATER)
    assert {d.verdict for d in decisions} == {Verdict.SKIPPED}
    assert {d.status for d in deliveries() if d.id in ids.values()} == {DeliveryStatus.SKIPPED}
    with session_scope() as s:
        assert dispatch_tick(s, now=LATER, batch=500, lease=timedelta(seconds=300)).claimed == []


def test_a_dry_run_asks_and_changes_nothing(db: str) -> None:
    ctx = send_context()
    ids = _stranded(ctx, handed_over=False)
    before = _events(ids[Channel.SMS])
    decisions = reconcile(ctx, now=LATER, dry_run=True)
    assert {d.verdict for d in decisions} == {Verdict.SCHEDULED}
    assert {d.status for d in deliveries() if d.id in ids.values()} == {DeliveryStatus.UNKNOWN}
    assert _events(ids[Channel.SMS]) == before


def test_the_reconcile_command_shows_its_decisions_and_a_dry_run_changes_nothing(
    db: str,
) -> None:
    ctx = send_context()
    ids = _stranded(ctx, handed_over=False)
    runner = CliRunner()
    dry = runner.invoke(app, ["reconcile", "--dry-run"], env={"COLUMNS": "200"})
    assert dry.exit_code == 0, dry.output
    assert "dry run" in dry.output and "scheduled" in dry.output
    assert "no file for it in the outbox" in dry.output
    assert {d.status for d in deliveries() if d.id in ids.values()} == {DeliveryStatus.UNKNOWN}
    done = runner.invoke(app, ["reconcile"], env={"COLUMNS": "200"})
    assert done.exit_code == 0, done.output
    assert "2 asked: 2 scheduled" in done.output
    assert {d.status for d in deliveries() if d.id in ids.values()} == {DeliveryStatus.SCHEDULED}
    again = runner.invoke(app, ["reconcile"])
    assert again.output.strip() == "No unknown deliveries to ask about."


def test_a_delivery_sent_again_at_night_is_replanned_into_its_window(db: str) -> None:
    ctx = send_context()
    ids = _stranded(ctx, handed_over=False)
    night = at("2026-03-03 23:00")  # the prospect's (UTC) SMS quiet hours
    reconcile(ctx, now=night)
    rows = {d.id: d for d in deliveries()}
    sms, email = rows[ids[Channel.SMS]], rows[ids[Channel.EMAIL]]
    assert (sms.status, sms.due_at) == (DeliveryStatus.SCHEDULED, at("2026-03-04 08:00"))
    assert (email.status, email.due_at) == (DeliveryStatus.SCHEDULED, night)
