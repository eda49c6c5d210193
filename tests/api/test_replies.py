"""The replies inbox: a text reply is listed and pauses the sequence, staff are told once per
address by a real worker (never the reply's text), and an answer typed on the page goes out
through Twilio, after the quiet hours when it was typed at night."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from nurture.api import create_app
from nurture.api.deps import now_dep
from nurture.core.states import EnrollmentStatus
from nurture.db import session_scope
from nurture.db.tables import Contact, InboundMessage, StaffMessage
from nurture.send.staff import send_staff_messages
from tests.conftest import use, use_providers, wait_for
from tests.fakes.provider import FakeProvider
from tests.helpers import at, send_context
from tests.signing import post_twilio
from tests.support.people import add_person, sign_in
from tests.track.webhook_setup import PHONE, contact, enrollment, first_step_sent

AUTH = {"Authorization": "Bearer test-key"}
INBOUND = "/webhooks/twilio/inbound"
STAFF_EMAILS = ["desk@clinic-staff.example", "owner@clinic-staff.example"]
STAFF_PHONE = "+16175550142"
REPLY = "Can I come on Tuesday? My hip is worse since Monday."


def add_notify(schedules_dir: Path) -> None:
    """clinic.yaml with two staff emails and one staff phone to tell of replies."""
    clinic = schedules_dir / "clinic.yaml"
    clinic.write_text(
        clinic.read_text()
        + f"\nnotify:\n  email: [{', '.join(STAFF_EMAILS)}]\n  sms: ['{STAFF_PHONE}']\n"
    )


@pytest.fixture
def client(
    db: str,
    env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    schedules_dir: Path,
    sendgrid_key: ec.EllipticCurvePrivateKey,
    fake_provider: FakeProvider,
) -> Iterator[TestClient]:
    """The API with the fake SendGrid/Twilio as channels and a clinic that notifies staff."""
    add_notify(schedules_dir)
    use_providers(env, monkeypatch, fake_provider, sendgrid_key)
    # https, as PUBLIC_URL: the session cookie is Secure, so a browser returns it over https only.
    with TestClient(create_app(), base_url="https://testserver") as test_client:
        yield test_client


def text_reply(body: str = REPLY, sid: str = "SM" + "b" * 32) -> dict[str, str]:
    return {
        "MessageSid": sid,
        "AccountSid": "AC" + "5" * 32,
        "From": PHONE,
        "To": "+16175550100",
        "Body": body,
    }


def reply_id() -> int:
    with session_scope() as s:
        found = s.scalar(select(InboundMessage.id).where(InboundMessage.kind == "reply"))
        assert found is not None
        return found


def set_now(client: TestClient, now: datetime) -> None:
    """The API's clock from here on."""
    client.app.dependency_overrides[now_dep] = lambda: now  # type: ignore[attr-defined]


def staff_received(fake: FakeProvider) -> list[tuple[str, str]]:
    """(address, text) of every message the fake took for a staff address."""
    staff = {*STAFF_EMAILS, STAFF_PHONE}
    return [(m.to, m.text) for m in fake.messages() if m.to in staff]


def test_a_signed_text_reply_is_listed_paused_and_told_once_to_each_staff_address(
    client: TestClient,
    fake_provider: FakeProvider,
    redis_url: str,
    env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    start_worker: object,
) -> None:
    use(env, monkeypatch, broker_url=redis_url, staff_interval_s="0.5")
    first_step_sent()
    for _ in range(2):  # Twilio retries a webhook that did not answer in time
        assert post_twilio(client, INBOUND, text_reply()).status_code == 200
    assert enrollment().status is EnrollmentStatus.PAUSED

    page = client.get("/ops/replies", headers=AUTH)
    assert page.status_code == 200
    rid = reply_id()
    assert f'id="reply-{rid}"' in page.text and 'data-waiting="yes"' in page.text
    assert "Tuesday? My hip is worse" in page.text and "fast" in page.text  # the sequence
    assert "doctor-first" in page.text  # the last step sent
    assert page.text.count('data-reply-id="') == 1

    assert staff_received(fake_provider) == []  # the webhook only queues: the worker sends
    worker = start_worker()  # type: ignore[operator]
    wait_for(
        lambda: len(staff_received(fake_provider)) >= 3,
        timeout_s=60,
        message=f"the three staff notices; worker log:\n{worker.log()[-3000:]}",
    )
    # The worker ticks every 0.5 s: give it several more chances to send anything twice.
    time.sleep(3)
    received = staff_received(fake_provider)
    assert sorted(to for to, _ in received) == sorted([*STAFF_EMAILS, STAFF_PHONE])
    for _, text in received:
        assert "Robin" in text and f"https://nurture.test/ops/replies#reply-{rid}" in text
        assert "Tuesday" not in text and "hip" not in text  # never the reply's text
        assert PHONE not in text  # the number is masked
    with session_scope() as s:
        states = list(s.scalars(select(StaffMessage.status).where(StaffMessage.kind == "notify")))
    assert states == ["sent"] * 3
    assert "Tuesday" not in worker.log() and STAFF_PHONE not in worker.log()  # ids only


def test_an_answer_typed_at_night_waits_for_the_quiet_hours_then_reaches_twilio(
    client: TestClient, fake_provider: FakeProvider
) -> None:
    first_step_sent()  # Robin's zone is Etc/UTC: texts only 08:00-21:00 UTC
    night, morning = at("2026-03-03 22:00"), at("2026-03-04 08:00")
    set_now(client, at("2026-03-03 21:50"))
    post_twilio(client, INBOUND, text_reply())
    rid = reply_id()
    set_now(client, night)
    answer = {"text": "Yes: Tuesday 3 pm works. See you then!", "form_key": "form-1"}
    for _ in range(2):  # the browser sends the form twice: one answer
        response = client.post(f"/ops/replies/{rid}/answer", data=answer, headers=AUTH)
        assert response.status_code == 200 and response.json()["done"] == "answer-held"

    ctx = send_context()
    sent_at_night = send_staff_messages(ctx, clock=lambda: night)
    assert sent_at_night.get("sent") == 3  # the staff notices go; the answer waits
    assert [
        m for m in fake_provider.messages("twilio") if m.to == PHONE and "Tuesday" in m.text
    ] == []
    page = client.get("/ops/replies", headers=AUTH).text
    assert 'held for quiet hours, goes <time datetime="2026-03-04T08:00:00Z"' in page

    assert send_staff_messages(ctx, clock=lambda: morning) == {"sent": 1}
    [sms] = [m for m in fake_provider.messages("twilio") if m.to == PHONE and "Tuesday" in m.text]
    assert sms.text == answer["text"]
    history = client.get(f"/ops/contacts/{contact().id}", headers=AUTH).text
    assert "the API key answered" in history and answer["text"] in history
    assert 'data-answer-status="sent"' in history
    with session_scope() as s:
        assert s.scalar(select(InboundMessage.handled_at).where(InboundMessage.id == rid))


def test_an_answer_by_day_goes_at_once_and_one_to_a_prospect_without_consent_is_refused(
    client: TestClient, fake_provider: FakeProvider
) -> None:
    first_step_sent()
    noon = at("2026-03-03 13:00")
    set_now(client, noon)
    post_twilio(client, INBOUND, text_reply())
    rid = reply_id()
    ok = client.post(f"/ops/replies/{rid}/answer", data={"text": "Call us?"}, headers=AUTH)
    assert ok.json()["done"] == "answer"
    assert send_staff_messages(send_context(), clock=lambda: noon).get("sent") == 4

    with session_scope() as s:
        s.execute(update(Contact).values(consent_sms=False))
    refused = client.post(f"/ops/replies/{rid}/answer", data={"text": "Hello?"}, headers=AUTH)
    assert refused.status_code == 409 and "not agreed to texts" in refused.text
    empty = client.post(f"/ops/replies/{rid}/answer", data={"text": "  "}, headers=AUTH)
    assert empty.status_code == 422 and "empty" in empty.text
    with session_scope() as s:
        answers = list(s.scalars(select(StaffMessage.body).where(StaffMessage.kind == "answer")))
    assert answers == ["Call us?"]


def test_the_inbox_buttons_resume_stop_and_mark_booked_through_the_services(
    client: TestClient,
) -> None:
    first_step_sent()
    post_twilio(client, INBOUND, text_reply())
    rid = reply_id()
    assert enrollment().status is EnrollmentStatus.PAUSED
    resumed = client.post(f"/ops/replies/{rid}/resume", headers=AUTH)
    assert resumed.json() == {"id": rid, "done": "resume"}
    assert enrollment().status is EnrollmentStatus.ACTIVE
    again = client.post(f"/ops/replies/{rid}/resume", headers=AUTH)
    assert again.status_code == 409 and "nothing to resume" in again.text
    client.post(f"/ops/replies/{rid}/booked", headers=AUTH)
    assert contact().booked_at is not None
    assert enrollment().status is EnrollmentStatus.STOPPED
    page = client.get("/ops/replies", headers=AUTH).text
    assert 'data-waiting="no"' in page and "booked" in page
    missing = client.post("/ops/replies/999999/handled", headers=AUTH)
    assert missing.status_code == 404


def test_an_inbox_form_without_its_csrf_token_is_refused(client: TestClient) -> None:
    first_step_sent()
    post_twilio(client, INBOUND, text_reply())
    add_person(None, "desk@example.com", "front-desk")
    sign_in(client, "desk@example.com")
    forged = client.post(f"/ops/replies/{reply_id()}/stop", data={"csrf_token": "nope"})
    assert forged.status_code == 403
    assert enrollment().status is EnrollmentStatus.PAUSED
    page = client.get("/ops/replies")
    assert page.status_code == 200 and 'name="csrf_token"' in page.text


def test_the_replies_command_lists_what_the_page_lists(client: TestClient) -> None:
    from typer.testing import CliRunner

    import nurture.cli.replies  # noqa: F401 - registers the commands on the app
    from nurture.cli import app

    first_step_sent()
    post_twilio(client, INBOUND, text_reply("Is Saturday possible?"))
    result = CliRunner().invoke(app, ["replies"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "Is Saturday possible?" in result.output and "1 reply" in result.output


def test_each_answer_names_the_person_who_wrote_it_and_a_booking_who_marked_it(
    client: TestClient,
) -> None:
    """Who answered and who marked booked, read back from the audit trail, on the inbox and
    on the prospect's page."""
    first_step_sent()
    post_twilio(client, INBOUND, text_reply())
    add_person(None, "maria@example.com", "front-desk")
    csrf = sign_in(client, "maria@example.com")
    answered = client.post(
        f"/ops/replies/{reply_id()}/answer",
        data={"text": "Yes, Tuesday at 3 works.", "csrf_token": csrf},
        follow_redirects=False,
    )
    assert answered.status_code == 303, answered.text
    inbox = client.get("/ops/replies").text
    assert '<span class="answerer">maria@example.com</span> answered' in inbox
    booked = client.post(
        f"/ops/contacts/{contact().id}/booked", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert booked.status_code == 303, booked.text
    page = client.get(f"/ops/contacts/{contact().id}").text
    assert "maria@example.com answered" in page
    assert 'id="booked-by">marked by maria@example.com<' in page
