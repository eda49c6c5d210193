"""A prospect who writes back: their sequence waits, the clinic reads the reply and resumes."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from typer.testing import CliRunner

from nurture.cli import app
from nurture.cli import replies as _replies_commands  # noqa: F401 - registers the commands
from nurture.config import get_settings
from nurture.core.states import Channel, DeliveryStatus, EnrollmentStatus
from nurture.db import session_scope
from nurture.db.tables import Contact, Enrollment
from nurture.dispatch.tick import claim_due
from nurture.schedule.catalog import load_catalog
from nurture.send.pipeline import send_delivery
from nurture.steering.replies import list_replies, pause_for_reply, resume_contact
from nurture.track.events import InboundSms
from nurture.track.inbound import apply_inbound
from tests.helpers import at, deliveries, enroll, send_context

T0 = at("2026-03-03 12:00")
LEASE = timedelta(seconds=300)


def _contact(session) -> Contact:  # type: ignore[no-untyped-def]
    found = session.scalar(select(Contact))
    assert found is not None
    return found


def _reply(text: str, sid: str = "SM" + "d" * 32) -> InboundSms:
    return InboundSms(
        provider="twilio",
        message_id=sid,
        sender="+16175550199",
        recipient="+16175550100",
        text=text,
    )


def test_a_message_already_queued_when_the_reply_came_is_held_not_skipped(db: str) -> None:
    enroll(T0)
    with session_scope() as s:
        claimed = claim_due(s, now=T0, limit=10, lease=LEASE)
    with session_scope() as s:
        pause_for_reply(s, _contact(s), catalog=load_catalog(get_settings().schedules_dir), now=T0)
    ctx = send_context()
    outcomes = {send_delivery(ctx, i, now=T0) for i in claimed}
    assert outcomes == {DeliveryStatus.SCHEDULED}
    held = [d for d in deliveries() if d.id in claimed]
    assert {(d.status, d.error_code) for d in held} == {
        (DeliveryStatus.SCHEDULED, "enrollment_paused")
    }
    assert all(d.attempts == 0 for d in held)


def test_resuming_shifts_the_waiting_steps_by_the_length_of_the_pause(db: str) -> None:
    enroll(T0)
    before = {(d.step_id, d.channel): d.due_at for d in deliveries()}
    with session_scope() as s:
        pause_for_reply(
            s,
            _contact(s),
            catalog=load_catalog(get_settings().schedules_dir),
            now=T0 + timedelta(seconds=2),
        )
    with session_scope() as s:
        assert resume_contact(s, _contact(s), now=T0 + timedelta(hours=3, seconds=2)) == 1
        assert s.scalar(select(Enrollment.status)) is EnrollmentStatus.ACTIVE
    after = {(d.step_id, d.channel): d.due_at for d in deliveries()}
    for key, due in before.items():
        assert after[key] == due + timedelta(hours=3), key


def test_the_clinic_lists_replies_marks_them_handled_and_resumes_from_the_command_line(
    db: str,
) -> None:
    enroll(T0)
    catalog = load_catalog(get_settings().schedules_dir)
    with session_scope() as s:
        assert apply_inbound(s, _reply("Is Saturday possible?"), catalog=catalog, now=T0) is None
        assert (
            apply_inbound(s, _reply(" STOP ", sid="SM" + "e" * 32), catalog=catalog, now=T0)
            is not None
        )
    runner = CliRunner()
    listed = runner.invoke(app, ["replies"])
    assert listed.exit_code == 0, listed.output
    assert "Is Saturday possible?" in listed.output and "1 reply" in listed.output
    assert "STOP" not in listed.output  # keywords are handled, not listed
    with session_scope() as s:
        [reply] = list_replies(s)
        reply_id = reply.id
    assert runner.invoke(app, ["replies", "--handled", str(reply_id)]).exit_code == 0
    assert "0 replies" in runner.invoke(app, ["replies"]).output
    resumed = runner.invoke(app, ["resume", "--phone", "+16175550199"])
    assert resumed.exit_code == 0 and "1 paused sequence(s) resumed" in resumed.output
    sms_left = {d.status for d in deliveries() if d.channel is Channel.SMS}
    assert sms_left == {DeliveryStatus.SKIPPED}  # the STOP still holds after resuming
