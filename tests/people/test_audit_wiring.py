"""Every existing action writes its audit row: the prospect's page, delivery and reply
buttons, test sends (API and CLI), CLI retry/cancel/resolve/stop/resume, and exports."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

import nurture.cli.admin
import nurture.cli.ops
import nurture.cli.replies
import nurture.cli.report
import nurture.cli.studio  # noqa: F401
from nurture.api import create_app
from nurture.api.studio import testsend
from nurture.cli import app
from nurture.core.states import Channel, DeliveryStatus
from nurture.db import session_scope
from nurture.db.tables import InboundMessage
from tests.ops_helpers import rows, seed_now
from tests.support.audit import audit_rows

AUTH = {"Authorization": "Bearer test-key"}
runner = CliRunner()


@pytest.fixture
def client(db: str) -> Iterator[TestClient]:
    testsend._limiter.cache_clear()
    with TestClient(create_app(), base_url="https://testserver") as test_client:
        yield test_client
    testsend._limiter.cache_clear()


def _first(state: DeliveryStatus) -> int:
    return next(d.id for d in rows() if d.status is state)


def _reply(contact_id: int, sid: str) -> int:
    with session_scope() as s:
        reply = InboundMessage(
            provider="twilio",
            provider_message_id=sid,
            contact_id=contact_id,
            channel=Channel.SMS,
            from_address="+16175550001",
            to_address="+16175550100",
            body="Is Tuesday fine?",
            kind="reply",
        )
        s.add(reply)
        s.flush()
        return reply.id


def _seen() -> list[tuple[str, str, str | None]]:
    return [(r["actor_name"], r["action"], r["target"]) for r in audit_rows()]


def test_the_prospects_page_and_delivery_buttons_are_audited(client: TestClient) -> None:
    seeded = seed_now()[1]
    contact_id = seeded.failed["enrollment"]["contact_id"]  # type: ignore[index]
    failed, sent = _first(DeliveryStatus.FAILED), _first(DeliveryStatus.SENT)
    unknown = _first(DeliveryStatus.UNKNOWN)
    assert client.get(f"/ops/contacts/{contact_id}", headers=AUTH).status_code == 200
    assert client.post(f"/ops/deliveries/{failed}/retry", headers=AUTH).status_code == 200
    assert client.post(f"/ops/deliveries/{failed}/cancel", headers=AUTH).status_code == 200
    resolve = client.post(f"/ops/deliveries/{unknown}/resolve", headers=AUTH, data={"sent": "true"})
    assert resolve.status_code == 200
    # Refused actions and missing pages change nothing, so they record nothing.
    assert client.post(f"/ops/deliveries/{sent}/retry", headers=AUTH).status_code == 409
    assert client.get("/ops/contacts/999999", headers=AUTH).status_code == 404
    assert _seen() == [
        ("api-key", "prospect-viewed", f"contact:{contact_id}"),
        ("api-key", "delivery-retry", f"delivery:{failed}"),
        ("api-key", "delivery-cancel", f"delivery:{failed}"),
        ("api-key", "delivery-resolved", f"delivery:{unknown}"),
    ]
    first = audit_rows()[0]
    assert (first["actor_kind"], first["ip"]) == ("key", "testclient")
    assert audit_rows()[3]["detail"] == {"done": "resolved-sent", "status": "sent"}


def test_reply_buttons_are_audited_without_the_answers_text(client: TestClient) -> None:
    seeded = seed_now()[1]
    contact_id = seeded.failed["enrollment"]["contact_id"]  # type: ignore[index]
    first, second = _reply(contact_id, "SM" + "1" * 32), _reply(contact_id, "SM" + "2" * 32)
    answer = {"text": "Tuesday at 10 works, see you then."}
    assert client.post(f"/ops/replies/{first}/answer", headers=AUTH, data=answer).status_code == 200
    assert client.post(f"/ops/replies/{first}/handled", headers=AUTH).status_code == 200
    assert client.post(f"/ops/replies/{second}/stop", headers=AUTH).status_code == 200
    assert _seen() == [
        ("api-key", "reply-answered", f"reply:{first}"),
        ("api-key", "reply-resolved", f"reply:{first}"),
        ("api-key", "prospect-action", f"contact:{contact_id}"),
    ]
    assert audit_rows()[2]["detail"] == {"button": "stop", "reply": second}
    assert "Tuesday" not in str(audit_rows())


def test_a_test_send_from_the_studio_is_audited(client: TestClient) -> None:
    url = "/studio/sequences/hip-pain-consultation/steps/self-test/test-send"
    response = client.post(url, headers=AUTH, json={"channel": "sms", "to": "(617) 555-0100"})
    assert response.status_code == 200, response.text
    (row,) = audit_rows()
    assert (row["action"], row["target"]) == ("test-send", "sequence:hip-pain-consultation")
    assert row["detail"] == {"step": "self-test", "channel": "sms", "sample": "email-and-phone"}


def test_cli_actions_and_exports_are_audited_as_the_os_user(
    db: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("USER", "dana")
    seeded = seed_now()[1]
    contact_id = seeded.failed["enrollment"]["contact_id"]  # type: ignore[index]
    failed = _first(DeliveryStatus.FAILED)
    reply = _reply(contact_id, "SM" + "3" * 32)
    commands = [
        ["retry", str(failed)],
        ["cancel", str(failed)],
        ["stop", "--email", "failed@example.com"],
        ["resume", "--email", "failed@example.com"],
        ["replies", "--handled", str(reply)],
        ["export", "--email", "failed@example.com", "--out", str(tmp_path / "h.csv")],
        ["report", "--csv"],
        [
            "send-test",
            "hip-pain-consultation",
            "booking",
            "--channel",
            "sms",
            "--to",
            "+16175550100",
        ],
    ]
    for command in commands:
        result = runner.invoke(app, command)
        assert result.exit_code == 0, (command, result.output)
    contact = f"contact:{contact_id}"
    assert _seen() == [
        ("cli:dana", "delivery-retry", f"delivery:{failed}"),
        ("cli:dana", "delivery-cancel", f"delivery:{failed}"),
        ("cli:dana", "prospect-action", contact),
        ("cli:dana", "prospect-action", contact),
        ("cli:dana", "reply-resolved", f"reply:{reply}"),
        ("cli:dana", "export", contact),
        ("cli:dana", "export", None),
        ("cli:dana", "test-send", "sequence:hip-pain-consultation"),
    ]
    assert {r["actor_kind"] for r in audit_rows()} == {"system"}
