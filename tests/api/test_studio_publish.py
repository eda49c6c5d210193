"""`/studio/publish` and `/studio/history`: the page of what a publish changes for whom, the
JSON twins (Bearer, or a signed-in manager with CSRF), roles, and the CLI twins."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from nurture.api import create_app
from nurture.db import session_scope
from nurture.db.tables import AuditRow
from tests.cli.test_cli import nurture
from tests.conftest import use
from tests.support.people import add_person, sign_in
from tests.support.studio import (
    HIP_FILE,
    HIP_SMS,
    HIP_SUBJECT,
    NECK_SMS,
    copy_templates,
    replaced,
    studio_files,
)

# The studio's pages read and write drafts through the ORM only; what differs between the
# databases (row locks, the publish lock) is tested on both in tests/edit/test_drafts.py and
# test_publish.py. These run on SQLite alone.
pytestmark = pytest.mark.parametrize("db", ["sqlite"], indirect=True)

AUTH = {"Authorization": "Bearer test-key"}
JSON = {**AUTH, "Accept": "application/json"}


@pytest.fixture
def client(
    db: str, env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[TestClient]:
    use(env, monkeypatch, templates_dir=str(copy_templates(tmp_path / "templates")))
    with TestClient(create_app(), base_url="https://testserver") as test_client:
        yield test_client


def draft_sms_and_subject() -> tuple[str, str]:
    files, drafts = studio_files()
    sms = replaced(files, HIP_SMS, "simple self-check", "quick self-check")
    subject = "Book a visit, or a short call first\n"
    drafts.save(HIP_SMS, sms, by="ann@example.com")
    drafts.save(HIP_SUBJECT, subject, by="ann@example.com")
    return sms, subject


def test_publish_history_and_rollback_through_the_json_twins_with_a_bearer_key(
    client: TestClient,
) -> None:
    files, _ = studio_files()
    original = files.read(HIP_SMS)
    sms, _ = draft_sms_and_subject()

    published = client.post("/studio/publish", json={"note": "Shorter texts"}, headers=AUTH)

    assert published.status_code == 201, published.text
    assert published.json()["version"] == 2
    assert files.read(HIP_SMS) == sms
    history = client.get("/studio/history", headers=JSON)
    assert history.status_code == 200
    rows = history.json()
    assert [r["version"] for r in rows] == [2, 1]
    assert set(rows[0]) >= {"version", "at", "by", "note", "files"}
    assert rows[0]["by"] == "api-key" and rows[0]["note"] == "Shorter texts"
    assert rows[0]["files"] == [HIP_SUBJECT, HIP_SMS]

    back = client.post("/studio/history/1/rollback", json={}, headers=AUTH)

    assert back.status_code == 201 and back.json()["version"] == 3
    assert files.read(HIP_SMS) == original
    assert client.get("/studio/history", headers=JSON).json()[0]["rollback_of"] == 1
    missing = client.post("/studio/history/99/rollback", json={}, headers=AUTH)
    assert missing.status_code == 404 and "versions 1 to 3" in missing.json()["detail"]


def test_a_signed_in_manager_publishes_and_rolls_back_with_the_session_csrf(
    client: TestClient,
) -> None:
    add_person(None, "manager@example.com", "manager")
    csrf = sign_in(client, "manager@example.com")
    draft_sms_and_subject()
    assert client.post("/studio/publish", json={"note": "x"}).status_code == 403  # no CSRF

    page = client.post("/studio/publish", data={"csrf_token": csrf, "note": "Friendlier"})

    assert page.status_code == 200 and 'id="published" data-version="2"' in page.text
    as_json = client.post("/studio/history/1/rollback", json={}, headers={"X-CSRF-Token": csrf})
    assert as_json.status_code == 201 and as_json.json()["version"] == 3
    rows = client.get("/studio/history", headers={"Accept": "application/json"}).json()
    assert rows[1]["by"] == "manager@example.com" and rows[1]["note"] == "Friendlier"


def test_a_publish_that_breaks_validation_answers_422_with_every_finding_and_keeps_the_drafts(
    client: TestClient,
) -> None:
    files, drafts = studio_files()
    before = files.all()
    drafts.save(HIP_FILE, replaced(files, HIP_FILE, "after: 1d", "after: 1x"), by="a")
    drafts.save(
        NECK_SMS, replaced(files, NECK_SMS, "{{ links.booking }}", "{{ links.booking "), by="a"
    )

    refused = client.post("/studio/publish", json={}, headers=AUTH)

    assert refused.status_code == 422
    errors = [f for f in refused.json()["findings"] if f["severity"] == "error"]
    assert {f["file"] for f in errors} >= {HIP_FILE, NECK_SMS}
    assert files.all() == before and len(drafts.all()) == 2
    page = client.post("/studio/publish", data={"note": ""}, headers=AUTH)
    assert page.status_code == 422
    assert 'id="refusal"' in page.text and f'data-file="{HIP_FILE}"' in page.text
    assert f'data-file="{NECK_SMS}"' in page.text and "line 20" in page.text


def test_a_file_changed_on_disk_since_its_draft_began_answers_409_naming_it(
    client: TestClient,
) -> None:
    files, drafts = studio_files()
    drafts.save(HIP_SMS, replaced(files, HIP_SMS, "few minutes", "minute or two"), by="a")
    edited = replaced(files, HIP_SMS, "at home", "in the kitchen")
    files.location(HIP_SMS).write_text(edited, encoding="utf-8")

    conflict = client.post("/studio/publish", json={}, headers=AUTH)

    assert conflict.status_code == 409
    assert conflict.json()["paths"] == [HIP_SMS] and HIP_SMS in conflict.json()["detail"]
    assert files.read(HIP_SMS) == edited
    page = client.get("/studio/publish", headers=AUTH).text
    assert "changed this file on the server" in page


def test_the_publish_page_shows_each_diff_who_waits_for_each_step_and_the_timelines(
    client: TestClient,
) -> None:
    for name in ("Dana", "Robin"):
        asked = client.post(
            "/v1/consultation-requests",
            json={"first_name": name, "email": f"{name}@example.com", "concern": "outer hip"},
            headers=AUTH,
        )
        assert asked.status_code == 201, asked.text
    files, drafts = studio_files()
    drafts.save(
        HIP_SMS, replaced(files, HIP_SMS, "simple self-check", "quick self-check"), by="ann"
    )
    drafts.save(HIP_FILE, replaced(files, HIP_FILE, "after: 3d", "after: 4d"), by="ann")

    html = client.get("/studio/publish", headers=AUTH).text

    assert f'data-draft="{HIP_SMS}"' in html and f'data-draft="{HIP_FILE}"' in html
    assert "The text message (SMS) of hip-pain/self-test" in html
    assert '<li class="removed">' in html and "quick self-check" in html
    assert f'data-reads="{HIP_SMS}"' in html and "How it reads: step self-test" in html
    assert 'data-step="self-test" data-waiting="2"' in html
    assert 'data-step="exercise-videos" data-waiting="2"' in html
    assert "changes when it goes" in html
    assert "they get the new text at send time" in html
    assert "schedules already written keep their times" in html
    assert 'data-timeline="hip-pain-consultation"' in html
    assert html.count("Discard this draft") == 2 and 'id="publish"' in html


def test_discarding_a_draft_keeps_the_file_and_the_page_says_so(client: TestClient) -> None:
    add_person(None, "manager@example.com", "manager")
    csrf = sign_in(client, "manager@example.com")
    draft_sms_and_subject()
    files, drafts = studio_files()
    subject = files.read(HIP_SUBJECT)

    done = client.post("/studio/drafts/discard", data={"csrf_token": csrf, "path": HIP_SUBJECT})

    assert done.status_code == 200 and "The draft was discarded" in done.text
    assert [d.path for d in drafts.all()] == [HIP_SMS] and files.read(HIP_SUBJECT) == subject
    bad = client.post("/studio/drafts/discard", json={"path": "../etc/passwd"}, headers=AUTH)
    assert bad.status_code == 422 and "not a schedule file" in bad.json()["detail"]
    again = client.post("/studio/drafts/discard", json={"path": HIP_SUBJECT}, headers=AUTH)
    assert again.json() == {"discarded": 0}
    with session_scope() as db:
        rows = db.execute(
            select(AuditRow.actor_name, AuditRow.target).where(AuditRow.action == "draft-discarded")
        ).all()
    assert [tuple(r) for r in rows] == [("manager@example.com", HIP_SUBJECT)], "one row, by whom"


def test_the_nav_and_the_studio_count_the_drafts_waiting(client: TestClient) -> None:
    add_person(None, "manager@example.com", "manager")
    sign_in(client, "manager@example.com")
    assert 'id="count-drafts"' not in client.get("/studio").text
    draft_sms_and_subject()

    html = client.get("/studio").text

    assert '<span class="badge" id="count-drafts">2<' in html
    assert "2 drafts waiting to be published" in html and 'href="/studio/publish"' in html
    empty_after = client.post("/studio/publish", json={}, headers=AUTH)
    assert empty_after.status_code == 201
    nothing = client.get("/studio/publish").text
    assert 'id="no-drafts"' in nothing and 'href="/studio/history"' in nothing


def test_front_desk_may_not_publish_or_roll_back_and_a_viewer_sees_no_buttons(
    client: TestClient,
) -> None:
    draft_sms_and_subject()
    assert client.post("/studio/publish", json={}, headers=AUTH).status_code == 201
    add_person(None, "desk@example.com", "front-desk")
    add_person(None, "viewer@example.com", "viewer")
    csrf = sign_in(client, "desk@example.com")
    assert client.get("/studio/publish").status_code == 403
    assert client.post("/studio/publish", data={"csrf_token": csrf}).status_code == 403
    rollback = client.post("/studio/history/1/rollback", data={"csrf_token": csrf})
    assert rollback.status_code == 403
    assert client.get("/studio/history/1/rollback").status_code == 403
    client.cookies.clear()
    sign_in(client, "viewer@example.com")

    html = client.get("/studio/history").text

    assert 'data-version="2"' in html and 'data-version="1"' in html
    assert "Roll back" not in html and "/rollback" not in html
    assert "Review and publish" not in client.get("/studio").text


def test_the_rollback_button_leads_to_a_confirmation_naming_what_changes(
    client: TestClient,
) -> None:
    draft_sms_and_subject()
    client.post("/studio/publish", json={}, headers=AUTH)
    history = client.get("/studio/history", headers=AUTH).text
    assert 'href="/studio/history/1/rollback"' in history
    assert 'href="/studio/history/2/rollback"' not in history  # version 2 is in use

    confirm = client.get("/studio/history/1/rollback", headers=AUTH).text

    assert 'id="rollback"' in confirm and HIP_SMS in confirm and HIP_SUBJECT in confirm
    assert client.get("/studio/history/2/rollback", headers=AUTH).text.count('id="already"') == 1


@pytest.mark.timeout(600)  # five commands, each a new process (minutes on a loaded machine)
def test_history_rollback_and_publish_through_the_cli(
    client: TestClient, env: dict[str, str]
) -> None:
    files, _ = studio_files()
    original = files.read(HIP_SMS)
    sms, _ = draft_sms_and_subject()
    assert nurture(env, "history").stdout.startswith("nothing was published")

    published = nurture(env, "publish", "--note", "From the terminal")

    assert published.returncode == 0, published.stderr
    assert "published: version 2" in published.stdout and files.read(HIP_SMS) == sms
    listed = nurture(env, "history", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert rows[0]["version"] == 2 and rows[0]["note"] == "From the terminal"
    assert rows[0]["by"].startswith("cli:")

    back = nurture(env, "rollback", "1")

    assert back.returncode == 0, back.stderr
    assert "rolled back to version 1: version 3" in back.stdout
    assert files.read(HIP_SMS) == original
    unknown = nurture(env, "rollback", "7")
    assert unknown.returncode == 1 and "Traceback" not in unknown.stderr
    assert "there is no version 7" in unknown.stderr and len(unknown.stderr.splitlines()) == 1
    again = nurture(env, "publish")
    assert again.returncode == 1 and "no draft to publish" in again.stderr
