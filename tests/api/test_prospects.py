"""`/ops/prospects` and a prospect's page: everyone with their state in words, filters,
search, CSV; the buttons that act on a person; Retry offered only where a resend is right."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from nurture.api import create_app
from nurture.core.clock import utcnow
from nurture.core.states import DeliveryStatus, EnrollmentStatus
from nurture.db import session_scope
from nurture.db.tables import Contact, Delivery, Enrollment
from nurture.errors import PermanentSendError
from nurture.ops.prospects import list_prospects
from tests.helpers import enroll
from tests.ops_helpers import ids_of, pause, send, tick
from tests.support.people import add_person, sign_in

AUTH = {"Authorization": "Bearer test-key"}


@pytest.fixture
def client(db: str) -> Iterator[TestClient]:
    with TestClient(create_app(), base_url="https://testserver") as test_client:
        yield test_client


def _person(name: str, n: int, **fields: object) -> dict[str, object]:
    values: dict[str, object] = {
        "first_name": name,
        "email": f"{name.lower()}@example.com",
        "phone": f"+1617555{n:04d}",
        **fields,
    }
    return enroll(utcnow() - timedelta(minutes=n), **values)


def _contact_id(response: dict[str, object]) -> int:
    return int(response["enrollment"]["contact_id"])  # type: ignore[index]


def _states(html: str) -> dict[str, str]:
    """Contact id → the state the list shows, from its rows."""
    return dict(re.findall(r'data-contact-id="(\d+)" data-state="([a-z-]+)"', html))


def test_the_list_says_where_each_prospect_stands_and_filters_by_state(
    client: TestClient,
) -> None:
    new = _contact_id(_person("Nora", 1))
    waiting = _person("Wade", 2)
    pause(int(waiting["enrollment"]["id"]))  # type: ignore[index]
    unreachable = _contact_id(_person("Una", 3, consent_email=False, consent_sms=False))
    booked = _contact_id(_person("Bea", 4))
    assert client.post(f"/ops/contacts/{booked}/booked", headers=AUTH).status_code == 200

    page = client.get("/ops/prospects", headers=AUTH)
    assert page.status_code == 200
    shown = _states(page.text)
    assert shown == {
        str(new): "new",
        str(_contact_id(waiting)): "waiting",
        str(unreachable): "nothing-sent",
        str(booked): "booked",
    }
    assert "Wrote back: waiting for you" in page.text
    assert "Got nothing: call them" in page.text
    only = client.get("/ops/prospects?status=nothing-sent", headers=AUTH)
    assert _states(only.text) == {str(unreachable): "nothing-sent"}


@pytest.mark.parametrize("query", ["wade", "WADE@EXAMPLE", "617-555-0002", "Wa"])
def test_search_finds_a_prospect_by_name_email_or_phone(client: TestClient, query: str) -> None:
    wade = _contact_id(_person("Wade", 2))
    _person("Nora", 1)
    found = client.get("/ops/prospects", params={"q": query}, headers=AUTH)
    assert list(_states(found.text)) == [str(wade)]


def test_the_list_comes_in_pages(db: str) -> None:
    for n in range(5):
        _person(f"P{n}x", n + 1)
    with session_scope() as s:
        first = list_prospects(s, now=utcnow(), page=1, page_size=2)
        last = list_prospects(s, now=utcnow(), page=3, page_size=2)
        beyond = list_prospects(s, now=utcnow(), page=9, page_size=2)
        names = [r.contact.first_name for r in first.rows + last.rows]
    assert (first.total, first.pages, len(last.rows)) == (5, 3, 1)
    assert beyond.page == 3
    assert names == ["P0x", "P1x", "P4x"]


def test_the_csv_lists_everyone_with_their_state_and_defuses_formulas(client: TestClient) -> None:
    _person("=cmd", 5)
    response = client.get("/ops/prospects?format=csv", headers=AUTH)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0][:3] == ["id", "first name", "last name"]
    assert rows[1][1] == "'=cmd" and rows[1][5] == "New request"


def test_stop_needs_a_reason_and_then_skips_what_was_pending(client: TestClient) -> None:
    cid = _contact_id(_person("Sam", 6))
    refused = client.post(f"/ops/contacts/{cid}/stop", headers=AUTH, data={"reason": " "})
    assert refused.status_code == 422 and "why" in refused.text
    done = client.post(f"/ops/contacts/{cid}/stop", headers=AUTH, data={"reason": "asked by phone"})
    assert done.status_code == 200
    with session_scope() as s:
        statuses = {d.status for d in s.query(Delivery).filter_by(contact_id=cid)}
        run = s.query(Enrollment).filter_by(contact_id=cid).one()
    assert statuses == {DeliveryStatus.SKIPPED} and run.stop_reason == "asked by phone"
    page = client.get(f"/ops/contacts/{cid}", headers=AUTH).text
    assert "Stopped" in page and "stopped: asked by phone" in page


def test_resume_goes_on_after_a_pause_and_says_so_when_nothing_is_paused(
    client: TestClient,
) -> None:
    person = _person("Rae", 7)
    cid = _contact_id(person)
    nothing = client.post(f"/ops/contacts/{cid}/resume", headers=AUTH)
    assert nothing.status_code == 409 and "nothing to resume" in nothing.text
    pause(int(person["enrollment"]["id"]))  # type: ignore[index]
    assert client.post(f"/ops/contacts/{cid}/resume", headers=AUTH).status_code == 200
    with session_scope() as s:
        assert s.query(Enrollment).filter_by(contact_id=cid).one().status is EnrollmentStatus.ACTIVE


def test_a_button_without_the_csrf_token_changes_nothing(client: TestClient) -> None:
    cid = _contact_id(_person("Cy", 8))
    add_person(None, "desk@example.com", "front-desk")
    sign_in(client, "desk@example.com")
    refused = client.post(f"/ops/contacts/{cid}/booked", data={"csrf_token": "forged"})
    assert refused.status_code == 403
    with session_scope() as s:
        assert s.get_one(Contact, cid).booked_at is None


def test_an_unknown_prospect_is_a_404(client: TestClient) -> None:
    assert client.post("/ops/contacts/999999/booked", headers=AUTH).status_code == 404


def _skipped(contact_id: int, channel: str) -> Delivery:
    with session_scope() as s:
        return next(
            d
            for d in s.query(Delivery).filter_by(contact_id=contact_id).order_by(Delivery.id)
            if d.channel.value == channel and d.status is DeliveryStatus.SKIPPED
        )


def _retry_offered(client: TestClient, contact_id: int, delivery_id: int) -> bool:
    page = client.get(f"/ops/contacts/{contact_id}", headers=AUTH).text
    row = re.search(rf'<tr data-delivery-id="{delivery_id}".*?</tr>', page, re.S)
    assert row, f"delivery {delivery_id} not on the page"
    return 'data-action="retry"' in row.group(0)


def _send_first_step(response: dict[str, object]) -> None:
    now = utcnow()
    send(sorted(set(ids_of(response)) & set(tick(now))), now)


@pytest.mark.parametrize("why", ["booked", "stopped", "no-consent", "no-address"])
def test_retry_is_not_offered_for_a_message_skipped_on_purpose(
    client: TestClient, why: str
) -> None:
    fields: dict[str, object] = {}
    if why == "no-consent":
        fields["consent_email"] = False
    if why == "no-address":
        fields["phone"] = None
    person = _person("Kim", 9, **fields)
    cid = _contact_id(person)
    if why == "booked":
        client.post(f"/ops/contacts/{cid}/booked", headers=AUTH)
    if why == "stopped":
        client.post(f"/ops/contacts/{cid}/stop", headers=AUTH, data={"reason": "moved away"})
    if why == "no-consent":
        _send_first_step(person)
    delivery = _skipped(cid, "email" if why == "no-consent" else "sms")
    assert not _retry_offered(client, cid, delivery.id)
    refused = client.post(f"/ops/deliveries/{delivery.id}/retry", headers=AUTH)
    assert refused.status_code == 409
    with session_scope() as s:
        assert s.get_one(Delivery, delivery.id).status is DeliveryStatus.SKIPPED


def test_retry_is_offered_for_a_failed_message(client: TestClient) -> None:
    person = _person("Fay", 10)
    cid = _contact_id(person)
    now = utcnow()
    ids = sorted(set(ids_of(person)) & set(tick(now)))
    send(ids, now, PermanentSendError("refused", provider="twilio", code="30007"))
    failed = ids[0]
    assert _retry_offered(client, cid, failed)
    assert client.post(f"/ops/deliveries/{failed}/retry", headers=AUTH).status_code == 200


def test_the_prospect_page_says_consent_in_words_not_json(client: TestClient) -> None:
    cid = _contact_id(_person("Ida", 11, consent_email=True, consent_sms=False))
    page = client.get(f"/ops/contacts/{cid}", headers=AUTH).text
    consent = page[page.index('id="consent"') :]
    assert "Agreed to emails" in consent and "Said no to texts" in consent
    assert "{" not in consent.split("</table>")[0]
