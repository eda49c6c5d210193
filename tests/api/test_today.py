"""`/today`, where staff land: new requests, replies waiting, bookings, requests that got
nothing (why, and the phone to call); the counts in the navigation; the banner while nobody
is told; the staff notice of a request that declined every channel."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from nurture.api import create_app
from nurture.api.ops.today import VISIT_COOKIE, visit_window
from nurture.config import get_settings
from nurture.core.clock import utcnow
from nurture.db import session_scope
from nurture.db.tables import StaffMessage
from nurture.schedule.catalog import load_catalog
from nurture.track.events import InboundSms
from nurture.track.inbound import apply_inbound
from tests.helpers import enroll
from tests.support.people import PASSWORD, add_person

AUTH = {"Authorization": "Bearer test-key"}
NOTIFY = "\nnotify:\n  email: [front-desk@clinic.example]\n"


@pytest.fixture
def client(db: str) -> Iterator[TestClient]:
    with TestClient(create_app(), base_url="https://testserver") as test_client:
        yield test_client


@pytest.fixture
def notified(schedules_dir: Path) -> None:
    """clinic.yaml names a staff address to tell."""
    clinic = schedules_dir / "clinic.yaml"
    clinic.write_text(clinic.read_text() + NOTIFY)


def _contact(response: dict[str, object]) -> int:
    return int(response["enrollment"]["contact_id"])  # type: ignore[index]


def _writes_back(phone: str, text: str) -> None:
    with session_scope() as s:
        apply_inbound(
            s,
            InboundSms(
                provider="twilio",
                message_id="SM" + "e" * 32,
                sender=phone,
                recipient="+16175550100",
                text=text,
            ),
            catalog=load_catalog(get_settings().schedules_dir),
            now=utcnow(),
        )


def _section(html: str, name: str) -> str:
    match = re.search(rf'<section id="{name}".*?</section>', html, re.S)
    assert match, f"no section {name}"
    return match.group(0)


def test_today_shows_what_waits_each_with_its_action(client: TestClient) -> None:
    new = _contact(enroll(utcnow(), first_name="Nora", email="nora@example.com", phone=None))
    enroll(utcnow(), first_name="Wade", email="wade@example.com", phone="+16175550112")
    _writes_back("+16175550112", "Could I come on Tuesday?")
    unreached = enroll(
        utcnow(),
        first_name="Una",
        email="una@example.com",
        phone="+16175550113",
        consent_email=False,
        consent_sms=False,
    )
    booked = _contact(enroll(utcnow(), first_name="Bea", email="bea@example.com"))
    client.post(f"/ops/contacts/{booked}/booked", headers=AUTH)

    html = client.get("/today", headers=AUTH).text
    replies = _section(html, "replies-waiting")
    assert "Wade" in replies and 'href="/ops/replies#reply-' in replies
    assert "Tuesday" not in html, "Today links to the reply; it does not show it"
    call = _section(html, "nothing-sent")
    assert "Una" in call and 'href="tel:+16175550113"' in call
    assert "Did not agree to emails, did not agree to texts" in call
    assert f'data-contact-id="{_contact(unreached)}"' in call
    assert f'href="/ops/contacts/{new}"' in _section(html, "new")
    assert f'data-contact-id="{booked}"' in _section(html, "bookings")


def test_logging_in_lands_on_today(client: TestClient) -> None:
    add_person(None, "desk@example.com", "front-desk")
    response = client.post(
        "/login",
        data={"email": "desk@example.com", "password": PASSWORD},
        follow_redirects=False,
    )
    assert response.headers["location"] == "/today"
    assert client.get("/today").status_code == 200


def test_new_means_since_the_last_visit_and_a_reload_keeps_it() -> None:
    now = utcnow()
    assert visit_window(None, now) == (now - timedelta(hours=24), now)
    assert visit_window("garbage|x", now)[0] == now - timedelta(hours=24)
    earlier, seen = now - timedelta(hours=30), now - timedelta(minutes=10)
    # A reload within the hour: the same visit, so the same requests are still new.
    assert visit_window(f"{earlier.isoformat()}|{seen.isoformat()}", now)[0] == earlier
    # Back after three hours: new since that last visit.
    away = now - timedelta(hours=3)
    assert visit_window(f"{earlier.isoformat()}|{away.isoformat()}", now)[0] == away
    long_ago = now - timedelta(days=30)
    assert visit_window(f"{long_ago.isoformat()}|{long_ago.isoformat()}", now)[0] == (
        now - timedelta(days=7)
    )


def test_a_request_before_the_last_visit_is_no_longer_new(client: TestClient) -> None:
    enroll(utcnow() - timedelta(hours=5), first_name="Old", email="old@example.com")
    last = utcnow() - timedelta(hours=2)
    client.cookies.set(VISIT_COOKIE, f"{last.isoformat()}|{last.isoformat()}", path="/today")
    html = client.get("/today", headers=AUTH).text
    assert "Old" not in _section(html, "new")


def test_the_navigation_counts_what_waits_and_a_banner_says_nobody_is_told(
    client: TestClient,
) -> None:
    enroll(utcnow(), first_name="Wade", email="wade@example.com", phone="+16175550112")
    _writes_back("+16175550112", "Hello?")
    enroll(utcnow(), first_name="Una", email="una@example.com", consent_email=False, phone=None)
    for path in ("/today", "/ops/prospects", "/ops", "/ops/replies"):
        html = client.get(path, headers=AUTH).text
        assert re.search(r'id="count-replies">1<', html), path
        assert re.search(r'id="count-nothing-sent">1<', html), path
        banner = re.search(r'id="notify-missing".*?</div>', html, re.S)
        assert banner and "notify" in banner.group(0) and "1 reply waiting" in banner.group(0)
        assert 'href="/studio/settings#notify"' in banner.group(0), path


@pytest.mark.usefixtures("notified")
def test_no_banner_once_staff_are_told_and_a_declined_request_notifies_them(
    client: TestClient,
) -> None:
    request = {
        "first_name": "Una",
        "last_name": "Quist",
        "email": "una@example.com",
        "phone": "+16175550113",
        "message": "My hip hurts at night",
        "consent_email": False,
        "consent_sms": False,
    }
    response = client.post("/v1/consultation-requests", json=request, headers=AUTH)
    assert response.status_code == 201, response.text
    html = client.get("/today", headers=AUTH).text
    assert 'id="count-nothing-sent">1<' in html
    assert 'id="notify-missing"' not in html
    with session_scope() as s:
        notices = list(s.scalars(select(StaffMessage).where(StaffMessage.kind == "notify")))
    assert [n.address for n in notices] == ["front-desk@clinic.example"]
    body = notices[0].body
    assert f"/ops/contacts/{_contact(response.json())}" in body
    for private in ("Una", "Quist", "una@example.com", "0113", "hip"):
        assert private not in body
