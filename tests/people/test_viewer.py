"""Viewers read the pages but never a prospect's words, and get no buttons."""

from __future__ import annotations

from fastapi.testclient import TestClient

from nurture.core.clock import utcnow
from nurture.core.states import Channel
from nurture.db import session_scope
from nurture.db.tables import Contact, InboundMessage
from tests.ops_helpers import seed_now
from tests.support.people import add_person, sign_in

SAID = "Is the knee appointment covered by my insurance?"


def _reply() -> int:
    with session_scope() as db:
        contact = db.query(Contact).first()
        assert contact is not None
        db.add(
            InboundMessage(
                provider="twilio",
                provider_message_id="SM" + "d" * 32,
                contact_id=contact.id,
                channel=Channel.SMS,
                from_address=contact.phone or "+16175550001",
                to_address="+16175550100",
                body=SAID,
                kind="reply",
                received_at=utcnow(),
            )
        )
        return contact.id


def test_a_viewer_sees_the_inbox_without_the_message_or_buttons(app_client: TestClient) -> None:
    seed_now()
    contact_id = _reply()
    add_person(None, "vic@example.com", "viewer")
    add_person(None, "desk@example.com", "front-desk")
    sign_in(app_client, "vic@example.com")
    inbox = app_client.get("/ops/replies").text
    assert SAID not in inbox and "message hidden for viewers" in inbox
    assert 'data-action="stop"' not in inbox
    prospect = app_client.get(f"/ops/contacts/{contact_id}").text
    assert SAID not in prospect and "message hidden for viewers" in prospect
    assert 'data-action="retry"' not in app_client.get("/ops").text

    app_client.cookies.clear()
    sign_in(app_client, "desk@example.com")
    inbox = app_client.get("/ops/replies").text
    assert SAID in inbox and 'data-action="stop"' in inbox
