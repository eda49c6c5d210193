"""`/studio/settings`: the clinic as a form. A save is a draft of clinic.yaml (the file on
disk unchanged), audited with the fields' names; bad values are refused with each field's
reason and nothing saved; only a manager saves."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from nurture.api import create_app
from nurture.config import get_settings
from nurture.content.live import live_catalog
from nurture.db import session_scope
from nurture.db.tables import AuditRow, Draft
from nurture.edit.settings import current, edit, examples
from tests.support.people import add_person, sign_in

# The studio's pages read and write drafts through the ORM only; what differs between the
# databases (row locks, the publish lock) is tested on both in tests/edit/test_drafts.py and
# test_publish.py. These run on SQLite alone.
pytestmark = pytest.mark.parametrize("db", ["sqlite"], indirect=True)

AUTH = {"Authorization": "Bearer test-key"}
CLINIC = "schedules/clinic.yaml"
#: Real values for every CHANGE-ME of the shipped clinic.yaml.
REAL = {
    "address": "12 Main Street, Suite 3\nCambridge, MA 02138",
    "phone": "(617) 555-0199",
    "from_email": "care@benjamin-clinic.example",
    "website": "https://benjamin-clinic.example/",
    "booking_url": "https://benjamin-clinic.example/book",
    "phone_consultation_url": "https://benjamin-clinic.example/call",
    "remote_evaluation_url": "https://benjamin-clinic.example/remote",
    "videos": {
        "basics": "https://benjamin-clinic.example/v/basics",
        "gluteus_medius": "https://benjamin-clinic.example/v/gluteus-medius",
    },
}


@pytest.fixture
def client(db: str) -> Iterator[TestClient]:
    with TestClient(create_app(), base_url="https://testserver") as test_client:
        yield test_client


def clinic_on_disk() -> str:
    return (get_settings().schedules_dir / "clinic.yaml").read_text()


def drafts() -> dict[str, str | None]:
    with session_scope() as session:
        return {d.path: d.text for d in session.scalars(select(Draft))}


def audit_rows(action: str) -> list[AuditRow]:
    with session_scope() as session:
        rows = session.scalars(select(AuditRow).where(AuditRow.action == action)).all()
        session.expunge_all()
        return list(rows)


def manager(client: TestClient) -> str:
    add_person(None, "manager@example.com", "manager")
    return sign_in(client, "manager@example.com")


def test_the_settings_page_shows_each_example_value_empty_with_a_hint(
    client: TestClient,
) -> None:
    manager(client)
    html = client.get("/studio/settings").text
    phone = re.search(r"<input id=\"f-phone\"[^>]*>", html, re.S)
    assert phone, html
    assert 'value=""' in phone.group(0)
    assert 'placeholder="+1 617 555 0100"' in phone.group(0)
    assert "ex-phone" in phone.group(0)
    assert 'id="ex-phone">Still the example value: replace it.' in html
    # A real value is shown as it is.
    assert 'value="Benjamin Friction Therapy"' in html
    assert 'id="notify"' in html and "Who is told of replies" in html
    assert 'id="save-settings"' in html


def test_bad_values_are_refused_each_next_to_its_field_and_nothing_is_saved(
    client: TestClient,
) -> None:
    csrf = manager(client)
    before = clinic_on_disk()
    response = client.post(
        "/studio/settings",
        data={
            "csrf_token": csrf,
            "name": "Benjamin Friction Therapy",
            "phone": "555",
            "from_email": "care at clinic",
            "website": "http://benjamin-clinic.example",
            "timezone": "Boston",
            "closed_dates": "25/12/2026",
            "notify_sms": "12",
        },
    )
    assert response.status_code == 422
    html = response.text
    for name, words in {
        "phone": "is not a phone number",
        "from_email": "is not an email address",
        "website": "is not a web link starting with https://",
        "timezone": "is not a timezone",
        "closed_dates": "is not a date",
        "notify_sms": "is not a phone number",
    }.items():
        error = re.search(rf'<p class="error" id="err-{name}">([^<]*)</p>', html)
        assert error, f"no error next to {name}"
        assert words in error.group(1), error.group(1)
        field = re.search(rf'id="f-{name}"[^>]*>', html, re.S)
        assert field and 'aria-invalid="true"' in field.group(0), name
        assert f"err-{name}" in field.group(0), name
    # What was typed is shown again, to be corrected.
    assert 'value="555"' in html
    assert drafts() == {} and clinic_on_disk() == before
    assert audit_rows("settings-changed") == []


def test_good_values_make_a_draft_the_file_on_disk_unchanged_and_an_audit_row(
    client: TestClient,
) -> None:
    csrf = manager(client)
    before = clinic_on_disk()
    response = client.post(
        "/studio/settings",
        data={
            "csrf_token": csrf,
            "phone": "(617) 555-0199",
            "notify_email": "desk@benjamin-clinic.example",
            "closed_weekdays": ["sun", "sat"],
            "video_name": ["basics", "gluteus_medius", ""],
            "video_url": ["https://benjamin-clinic.example/v/basics", "", ""],
        },
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/studio/settings?saved=1"
    assert clinic_on_disk() == before
    draft = drafts()[CLINIC]
    assert draft is not None
    assert 'phone: "(617) 555-0199"' in draft
    assert "notify:\n  email: [desk@benjamin-clinic.example]" in draft
    assert 'closed_days: [sat, sun, "2026-12-25"' in draft
    assert "basics: https://benjamin-clinic.example/v/basics" in draft
    # The example link left empty stays the example, for later.
    assert "gluteus_medius: https://change-me.example/CHANGE-ME/videos/gluteus-medius" in draft
    page = client.get("/studio/settings?saved=1").text
    assert "Saved as a draft: not used until you publish." in page
    assert "not sent to anyone until published" in page and 'href="/studio/publish"' in page
    [row] = audit_rows("settings-changed")
    assert row.detail == {
        "fields": "phone, videos, closed_weekdays, notify_email",
        "draft": True,
    }
    assert row.target == CLINIC
    assert "555" not in str(row.detail)


def test_the_json_twin_saves_a_draft_or_answers_every_error(client: TestClient) -> None:
    response = client.post("/studio/settings", json=REAL, headers=AUTH)
    assert response.status_code == 200, response.text
    assert response.json() == {"draft": True, "changed": list(REAL)}
    assert examples(current(drafts()[CLINIC] or "")) == []
    refused = client.post(
        "/studio/settings",
        json={"phone": "call us", "reply_to": "x@", "shoe_size": 9},
        headers=AUTH,
    )
    assert refused.status_code == 422
    errors = refused.json()["errors"]
    assert set(errors) == {"phone", "reply_to", "shoe_size"}
    assert errors["phone"].startswith("Phone: 'call us' is not a phone number")
    assert "'shoe_size' is not a setting" in errors["shoe_size"]
    # The draft is as the first save left it.
    assert "(617) 555-0199" in (drafts()[CLINIC] or "")


def test_a_draft_whose_file_changed_on_disk_is_refused_as_a_conflict(
    client: TestClient,
) -> None:
    first = client.post("/studio/settings", json={"phone": "+1 617 555 0123"}, headers=AUTH)
    assert first.status_code == 200
    path = get_settings().schedules_dir / "clinic.yaml"
    path.write_text(path.read_text().replace("Boston area", "Greater Boston"))
    response = client.post("/studio/settings", json={"phone": "+1 617 555 0124"}, headers=AUTH)
    assert response.status_code == 409
    assert "changed on disk since the draft began" in response.json()["errors"]["_file"]
    assert "+1 617 555 0123" in (drafts()[CLINIC] or "")


def test_front_desk_reads_the_settings_but_cannot_save_them(client: TestClient) -> None:
    add_person(None, "desk@example.com", "front-desk")
    csrf = sign_in(client, "desk@example.com")
    page = client.get("/studio/settings")
    assert page.status_code == 200
    assert 'id="save-settings"' not in page.text
    assert '<fieldset class="whole" disabled>' in page.text
    assert 'A manager can <a href="/studio/settings">replace them in Settings</a>' in page.text
    response = client.post("/studio/settings", data={"csrf_token": csrf, "phone": "+16175550100"})
    assert response.status_code == 403
    assert drafts() == {}


def publish_on_disk(values: dict[str, object]) -> None:
    """Write `values` into clinic.yaml on disk (as a publish would) and have this process's
    live catalog read it now."""
    settings = get_settings()
    path = settings.schedules_dir / "clinic.yaml"
    result = edit(path.read_text(), values)
    assert not result.errors, result.errors
    path.write_text(result.text)
    assert live_catalog(settings).refresh(force=True).ok, live_catalog(settings).problems


def test_every_staff_page_shows_one_examples_banner_until_real_values_are_published(
    client: TestClient,
) -> None:
    manager(client)
    for path in ("/today", "/ops", "/studio", "/studio/settings"):
        html = client.get(path).text
        assert html.count('id="clinic-examples"') == 1, path
        banner = html[html.index('id="clinic-examples"') :].split("</div>")[0]
        assert "Your clinic's details are still the examples" in banner, path
        assert '<a href="/studio/settings">Replace them in Settings</a>' in banner, path
    assert client.post("/studio/settings", json=REAL, headers=AUTH).status_code == 200
    banner = client.get("/today").text.split('id="clinic-examples"')[1].split("</div>")[0]
    assert '<a href="/studio/publish">publish to use them</a>' in banner
    publish_on_disk(REAL)
    for path in ("/today", "/ops", "/studio", "/studio/settings"):
        assert 'id="clinic-examples"' not in client.get(path).text, path


def test_the_public_form_and_thank_you_page_show_no_example_value(client: TestClient) -> None:
    for path in ("/forms/consultation", "/forms/consultation/thanks"):
        html = client.get(path).text
        assert "Benjamin Friction Therapy" in html, path
        assert "CHANGE-ME" not in html and "change-me" not in html, path
        assert "tel:" not in html, path  # no phone line rather than the example's
    publish_on_disk(REAL)
    html = client.get("/forms/consultation/thanks").text
    assert '<a href="tel:+16175550199">(617) 555-0199</a>' in html
    assert '<a href="https://benjamin-clinic.example/" target="_top">' in html


def test_the_json_twin_takes_a_session_with_its_csrf_token(client: TestClient) -> None:
    csrf = manager(client)
    stale = client.post("/studio/settings", json={"phone": "+1 617 555 0123"})
    assert stale.status_code == 403 and drafts() == {}
    response = client.post(
        "/studio/settings", json={"phone": "+1 617 555 0123"}, headers={"X-CSRF-Token": csrf}
    )
    assert response.json() == {"draft": True, "changed": ["phone"]}
    assert 'href="/studio/settings"' in client.get("/studio").text
