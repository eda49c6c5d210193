"""The message editor of a step (`/studio/sequences/{id}/steps/{step}/edit` and its JSON
twin `.../draft`): a save makes drafts, never files; the preview and findings are the
proposed files rendered as a send would; only managers edit, with the session's CSRF."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from html import unescape
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from nurture.api import create_app
from nurture.config import get_settings
from nurture.edit.drafts import Drafts
from nurture.edit.files import CatalogFiles
from tests.conftest import ROOT, use
from tests.support.people import add_person, sign_in

# The studio's pages read and write drafts through the ORM only; what differs between the
# databases (row locks, the publish lock) is tested on both in tests/edit/test_drafts.py and
# test_publish.py. These run on SQLite alone.
pytestmark = pytest.mark.parametrize("db", ["sqlite"], indirect=True)

HIP = "hip-pain-consultation"
EDIT = f"/studio/sequences/{HIP}/steps/booking/edit"
DRAFT = f"/studio/sequences/{HIP}/steps/booking/draft"
SMS_FILE = "templates/hip-pain/booking.sms.j2"
AUTH = {"Authorization": "Bearer test-key"}


@pytest.fixture
def templates(
    db: str, env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Path:
    """A copy of the shipped templates as the configured folder (a test edits it on disk)."""
    folder = tmp_path / "templates"
    shutil.copytree(ROOT / "templates", folder)
    use(env, monkeypatch, templates_dir=str(folder))
    return folder


@pytest.fixture
def client(templates: Path) -> Iterator[TestClient]:
    with TestClient(create_app(), base_url="https://testserver") as test_client:
        yield test_client


def manager(client: TestClient) -> str:
    add_person(None, "manager@example.com", "manager")
    return sign_in(client, "manager@example.com")


def drafts() -> Drafts:
    return Drafts(CatalogFiles.of(get_settings()))


def sms_bubble(html: str) -> str:
    match = re.search(r'<div class="bubble" id="preview-sms">(.*?)</div>', html, re.DOTALL)
    assert match, "no SMS preview on the page"
    return unescape(match.group(1))


def test_a_manager_saves_an_sms_draft_and_sees_its_preview_while_the_file_stays(
    client: TestClient, templates: Path
) -> None:
    csrf = manager(client)
    before = (templates / "hip-pain/booking.sms.j2").read_text()
    page = client.get(EDIT)
    assert page.status_code == 200
    assert 'name="sms_body"' in page.text and 'name="email_body"' in page.text
    assert "{{ links.booking }}" in page.text  # the guide lists the placeholders to copy
    words = "Hi {{ contact.first_name }}, a new text. Book: {{ links.booking }}"
    response = client.post(
        EDIT,
        data={"csrf_token": csrf, "sms_body": words, "sample": "phone-only"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"].startswith(f"{EDIT}?sample=phone-only&saved=1")
    assert (templates / "hip-pain/booking.sms.j2").read_text() == before
    assert drafts().text(SMS_FILE) == words + "\n"
    shown = client.get(response.headers["location"]).text
    saved = re.search(r'<p class="flash" role="status" id="saved"[^>]*>(.*?)</p>', shown, re.DOTALL)
    assert saved and "Saved as a draft" in saved.group(1)
    assert "not sent to anyone until published" in saved.group(1)
    assert 'href="/studio/publish"' in shown
    # The email (unchanged) still shows the shipped CHANGE-ME links: a warning, no error.
    assert re.search(r"The checks found \d+ to check:", saved.group(1)), saved.group(1)
    again = client.get(EDIT).text
    assert "Draft saved" in again and "by manager@example.com" in again
    assert "not sent to anyone until published" in again
    assert sms_bubble(shown).startswith("Hi Pat, a new text. Book: https://nurture.test/b/")
    assert 'data-segments="1"' in shown and 'data-encoding="GSM-7"' in shown
    # The email was sent unchanged: it made no draft.
    assert [d.path for d in drafts().all()] == [SMS_FILE]


def test_the_json_twin_saves_an_email_and_answers_its_preview_and_findings(
    client: TestClient,
) -> None:
    csrf = manager(client)
    response = client.post(
        DRAFT,
        json={
            "channel": "email",
            "subject": "A visit, {{ contact.first_name }}?",
            "body": "Hello {{ contact.first_name }},\n\n"
            "[Book a visit]({{ links.booking }}){.button}\n",
        },
        headers={"X-CSRF-Token": csrf},
    )
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["draft"] is True
    assert answer["files"] == [
        "templates/hip-pain/booking.subject.j2",
        "templates/hip-pain/booking.md.j2",
    ]
    assert answer["preview"]["subject"] == "A visit, Alex?"
    assert "Book a visit (https://nurture.test/b/" in answer["preview"]["text"]
    # The shipped clinic.yaml still holds CHANGE-ME, and the layout shows its address.
    assert "placeholder" in {f["code"] for f in answer["findings"]}
    assert all(f["channel"] in (None, "email") for f in answer["findings"])
    frame = client.get(f"/studio/sequences/{HIP}/steps/booking/draft-preview.html")
    assert frame.status_code == 200 and "Book a visit" in frame.text
    assert "script-src 'none'" in frame.headers["content-security-policy"]
    # What is sent is the file on disk: the read-only preview has the old subject.
    assert "A visit, Alex?" not in client.get(f"/studio/sequences/{HIP}").text


def test_a_long_sms_and_a_health_word_are_findings_of_the_draft(client: TestClient) -> None:
    csrf = manager(client)
    long_text = "Thanks for asking about your hip. " + "We would be glad to help you. " * 18
    response = client.post(
        DRAFT, json={"channel": "sms", "body": long_text}, headers={"X-CSRF-Token": csrf}
    )
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["preview"]["segments"] == 4
    codes = {f["code"]: f for f in answer["findings"]}
    assert codes["sms-segments"]["severity"] == "warning"
    assert "'hip'" in codes["health-term"]["message"]
    page = client.get(EDIT).text
    assert 'data-finding="health-term"' in page and 'data-finding="sms-segments"' in page


def test_a_template_error_is_shown_next_to_its_field_with_what_was_typed_and_nothing_saved(
    client: TestClient,
) -> None:
    csrf = manager(client)
    typed = "Hi {{ contact.first_name },\nsee you soon"
    response = client.post(
        EDIT, data={"csrf_token": csrf, "sms_body": typed, "email_subject": "Changed too"}
    )
    assert response.status_code == 422
    html = response.text
    assert 'id="err-sms_body"' in html and "The text message, line 1:" in html
    assert 'aria-invalid="true" aria-describedby="err-sms_body"' in html
    assert unescape(typed) in unescape(html)  # the box keeps it
    assert 'value="Changed too"' in html
    assert drafts().all() == []


def test_the_json_twin_refuses_what_it_cannot_save_with_the_reason(client: TestClient) -> None:
    csrf = manager(client)
    headers = {"X-CSRF-Token": csrf}
    cases = [
        ({"channel": "fax", "body": "x"}, "channel 'fax': step 'booking' sends email and sms"),
        ({"channel": "sms", "subject": "Hi", "body": "x"}, "a text message has no subject"),
        ({"channel": "sms", "body": "Hi {% if %}"}, "the text message, line 1:"),
        ({"channel": "email", "body": 3}, "body must be text"),
        ({"channel": "email"}, "nothing to save"),
    ]
    for body, reason in cases:
        response = client.post(DRAFT, json=body, headers=headers)
        assert response.status_code == 422, (body, response.text)
        assert reason in response.json()["detail"], (body, response.json())
    syntax = client.post(DRAFT, json={"channel": "sms", "body": "a\n{{ x"}, headers=headers)
    assert syntax.json()["problems"] == [
        {"field": "sms", "line": 2, "message": syntax.json()["detail"]}
    ]
    not_json = client.post(
        DRAFT, content=b"[1]", headers={**headers, "Content-Type": "application/json"}
    )
    assert not_json.status_code == 422
    missing = client.post(
        f"/studio/sequences/{HIP}/steps/nope/draft",
        json={"channel": "sms", "body": "x"},
        headers=headers,
    )
    assert missing.status_code == 404 and "no step 'nope'" in missing.json()["detail"]
    assert drafts().all() == []


def test_a_draft_whose_file_changed_on_disk_is_refused_as_a_conflict(
    client: TestClient, templates: Path
) -> None:
    csrf = manager(client)
    headers = {"X-CSRF-Token": csrf}
    first = client.post(DRAFT, json={"channel": "sms", "body": "First draft"}, headers=headers)
    assert first.status_code == 200
    (templates / "hip-pain/booking.sms.j2").write_text("Edited on the server\n")
    again = client.post(DRAFT, json={"channel": "sms", "body": "Second draft"}, headers=headers)
    assert again.status_code == 409
    assert again.json()["files"] == [SMS_FILE]
    page = client.post(EDIT, data={"csrf_token": csrf, "sms_body": "Third draft"})
    assert page.status_code == 409 and 'id="conflict"' in page.text
    assert "Third draft" in page.text
    assert drafts().text(SMS_FILE) == "First draft\n"


def test_front_desk_may_not_edit_and_sees_no_edit_link(client: TestClient) -> None:
    add_person(None, "desk@example.com", "front-desk")
    csrf = sign_in(client, "desk@example.com")
    assert client.get(EDIT).status_code == 403
    form = client.post(EDIT, data={"csrf_token": csrf, "sms_body": "x"})
    assert form.status_code == 403
    twin = client.post(DRAFT, json={"channel": "sms", "body": "x"}, headers={"X-CSRF-Token": csrf})
    assert twin.status_code == 403
    assert "data-edit-step=" not in client.get(f"/studio/sequences/{HIP}").text
    assert drafts().all() == []


def test_a_manager_sees_an_edit_link_per_step(client: TestClient) -> None:
    manager(client)
    html = client.get(f"/studio/sequences/{HIP}").text
    steps = re.findall(r'data-edit-step="([^"]+)"', html)
    assert steps == ["doctor-first", "self-test", "exercise-videos", "booking"]


def test_a_save_without_the_sessions_csrf_token_is_refused(client: TestClient) -> None:
    manager(client)
    form = client.post(EDIT, data={"sms_body": "x"})
    assert form.status_code == 403 and "CSRF" in form.text
    twin = client.post(DRAFT, json={"channel": "sms", "body": "x"})
    assert twin.status_code == 403
    assert drafts().all() == []


def test_a_script_with_the_api_key_saves_a_draft(client: TestClient) -> None:
    response = client.post(DRAFT, json={"channel": "sms", "body": "From a script"}, headers=AUTH)
    assert response.status_code == 200, response.text
    assert response.json()["preview"]["sms"] == "From a script"
    [draft] = drafts().all()
    assert draft.saved_by == "api-key"


def test_the_editor_script_is_served_and_the_page_allows_only_our_scripts(
    client: TestClient,
) -> None:
    manager(client)
    page = client.get(EDIT)
    assert '<script src="/studio/editor.js" defer></script>' in page.text
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-src 'self'" in csp
    script = client.get("/studio/editor.js")
    assert script.status_code == 200 and "setRangeText" in script.text
    assert script.headers["content-type"].startswith("text/javascript")


OLD_SEQUENCE = """
id: old-style
name: A sequence written before Markdown
match: {concern: [old-style]}
stop_on: [booked, unsubscribed]
steps:
  - id: welcome
    after: 0m
    channels: [email]
    template: old/welcome
"""


def test_an_email_written_as_html_and_text_is_shown_read_only_its_subject_editable(
    client: TestClient, templates: Path
) -> None:
    (Path(get_settings().schedules_dir) / "old-style.yaml").write_text(OLD_SEQUENCE)
    (templates / "old").mkdir()
    (templates / "old/welcome.subject.j2").write_text("Welcome, {{ contact.first_name }}\n")
    (templates / "old/welcome.html.j2").write_text("<p>Hello {{ contact.first_name }}</p>\n")
    (templates / "old/welcome.txt.j2").write_text("Hello {{ contact.first_name }}, in text\n")
    csrf = manager(client)
    url = "/studio/sequences/old-style/steps/welcome"
    page = client.get(f"{url}/edit").text
    assert 'id="legacy-email"' in page and 'name="email_body"' not in page
    assert "Hello {{ contact.first_name }}, in text" in unescape(page)
    assert 'name="sms_body"' not in page  # the step sends no SMS
    headers = {"X-CSRF-Token": csrf}
    body = client.post(f"{url}/draft", json={"channel": "email", "body": "# Hi"}, headers=headers)
    assert body.status_code == 422 and "read-only" in body.json()["detail"]
    sms = client.post(f"{url}/draft", json={"channel": "sms", "body": "Hi"}, headers=headers)
    assert sms.status_code == 422 and "sends email" in sms.json()["detail"]
    subject = client.post(
        f"{url}/draft", json={"channel": "email", "subject": "Hello again"}, headers=headers
    )
    assert subject.status_code == 200, subject.text
    assert subject.json()["files"] == ["templates/old/welcome.subject.j2"]
    assert subject.json()["preview"]["subject"] == "Hello again"
    assert "Hello Alex, in text" in subject.json()["preview"]["text"]


def test_the_draft_preview_is_for_managers_and_says_why_a_draft_does_not_render(
    client: TestClient,
) -> None:
    csrf = manager(client)
    frame = f"/studio/sequences/{HIP}/steps/booking/draft-preview.html"
    saved = client.post(
        DRAFT,
        json={"channel": "email", "body": "Hi {{ contact.nickname }}"},
        headers={"X-CSRF-Token": csrf},
    )
    assert saved.status_code == 200  # it parses: saved, and its error is a finding
    [error] = [f for f in saved.json()["findings"] if f["severity"] == "error"]
    assert error["file"] == "templates/hip-pain/booking.md.j2"
    assert "nickname" in error["message"]
    assert "nickname" in saved.json()["preview"]["error"]
    refused = client.get(frame)
    assert refused.status_code == 422 and "nickname" in refused.text
    assert "script-src 'none'" in refused.headers["content-security-policy"]
    client.post("/logout", data={"csrf_token": csrf})
    add_person(None, "viewer@example.com", "viewer")
    sign_in(client, "viewer@example.com")
    assert client.get(frame).status_code == 403
