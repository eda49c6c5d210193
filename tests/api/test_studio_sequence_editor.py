"""`/studio/sequences/{id}/edit` and `POST /studio/sequences/new`: a manager's edits become
drafts (the files on disk untouched), shown with the timeline the proposed files give."""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from nurture.api import create_app
from nurture.config import get_settings
from nurture.edit.drafts import Drafts
from nurture.edit.files import CatalogFiles
from tests.support.people import add_person, sign_in

# The studio's pages read and write drafts through the ORM only; what differs between the
# databases (row locks, the publish lock) is tested on both in tests/edit/test_drafts.py and
# test_publish.py. These run on SQLite alone.
pytestmark = pytest.mark.parametrize("db", ["sqlite"], indirect=True)

HIP = "hip-pain-consultation"
EDIT = f"/studio/sequences/{HIP}/edit"
FILE = "schedules/hip-pain-consultation.yaml"


@pytest.fixture
def client(db: str) -> Iterator[TestClient]:
    with TestClient(create_app(), base_url="https://testserver") as test_client:
        yield test_client


def drafts() -> Drafts:
    return Drafts(CatalogFiles.of(get_settings()))


def manager(client: TestClient) -> str:
    add_person(None, "manager@example.com", "manager")
    return sign_in(client, "manager@example.com")


def form_of(html: str) -> list[tuple[str, str]]:
    """The editor form's fields as a browser would post them (checked boxes only)."""
    form = html.split('id="sequence-form"')[1].split("</form>")[0]
    fields: list[tuple[str, str]] = []
    for tag in re.findall(r"<input [^>]*>", form):
        name = re.search(r'name="([^"]+)"', tag)
        value = re.search(r'value="([^"]*)"', tag)
        if name is None or ('type="checkbox"' in tag and " checked" not in tag):
            continue
        fields.append((name.group(1), value.group(1) if value else ""))
    for name, text in re.findall(r'<textarea [^>]*name="([^"]+)"[^>]*>([^<]*)</textarea>', form):
        fields.append((name, text))
    return [
        (k, v.replace("&#39;", "'").replace("&#34;", '"').replace("&amp;", "&")) for k, v in fields
    ]


def post(client: TestClient, fields: list[tuple[str, str]], action: str) -> Response:
    """The editor's form posted as a browser posts it (a name may repeat)."""
    return client.post(
        EDIT,
        content=urlencode([*fields, ("action", action)]),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )


def changed(fields: list[tuple[str, str]], **values: str) -> list[tuple[str, str]]:
    """`fields` with each named field's value replaced (names with '.' written '__')."""
    wanted = {k.replace("__", "."): v for k, v in values.items()}
    return [(k, wanted.get(k, v)) for k, v in fields]


def test_a_manager_saves_a_draft_the_file_is_untouched_and_the_timeline_follows_it(
    client: TestClient,
) -> None:
    manager(client)
    on_disk = CatalogFiles.of(get_settings()).read(FILE)
    page = client.get(EDIT)
    assert page.status_code == 200
    fields = changed(form_of(page.text), **{"step__self-test__after": "2bd"})
    response = post(client, fields, "save")
    assert response.status_code == 200, response.text
    html = response.text
    assert "Saved as a draft: not sent until published." in html
    assert "Draft saved" in html and "manager@example.com" in html
    assert CatalogFiles.of(get_settings()).read(FILE) == on_disk
    draft = drafts().get(FILE)
    assert draft is not None and draft.text is not None and "after: 2bd" in draft.text
    # The timeline is the draft's: self-test counted in business days, with its reasons.
    rows = re.findall(r'<tr data-step="self-test" data-channel="(\w+)">(.*?)</tr>', html, re.S)
    assert [channel for channel, _ in rows] == ["email", "sms"]
    assert all("2 business days after the request" in row for _, row in rows)
    assert any('data-reasons="' in row for _, row in rows)


def test_moving_a_step_up_saves_the_new_order_as_a_draft(client: TestClient) -> None:
    manager(client)
    fields = form_of(client.get(EDIT).text)
    response = post(client, fields, "up:booking")
    assert response.status_code == 200
    draft = drafts().get(FILE)
    assert draft is not None and draft.text is not None
    order = re.findall(r"- id: ([\w-]+)", draft.text)
    assert order == ["doctor-first", "self-test", "booking", "exercise-videos"]
    assert 'id="up-booking" autofocus' in response.text or (
        'value="up:booking" id="up-booking" autofocus' in response.text
    )


def test_adding_a_step_drafts_its_starter_messages_and_links_to_their_editor(
    client: TestClient,
) -> None:
    manager(client)
    fields = changed(
        form_of(client.get(EDIT).text),
        new__id="week-two",
        new__after="7d",
        new__description="A week on",
    )
    response = post(client, fields, "add")
    assert response.status_code == 200, response.text
    paths = {d.path for d in drafts().all()}
    assert paths == {
        FILE,
        "templates/hip-pain/week-two.subject.j2",
        "templates/hip-pain/week-two.md.j2",
        "templates/hip-pain/week-two.sms.j2",
    }
    assert f'href="/studio/sequences/{HIP}/steps/week-two/edit"' in response.text
    assert '<tr data-step="week-two" data-channel="sms">' in response.text
    assert 'data-finding="error"' not in response.text  # the starter texts pass the checks


def test_bad_values_come_back_next_to_their_fields_and_nothing_is_saved(
    client: TestClient,
) -> None:
    manager(client)
    fields = changed(
        form_of(client.get(EDIT).text),
        window_start="19:00",
        window_end="09:00",
        **{"step__booking__after": "soon", "step__booking__when": "contact.booked and"},
    )
    response = post(client, fields, "save")
    assert response.status_code == 422
    html = response.text
    assert 'data-error-for="window_end"' in html and "before it starts" in html
    assert 'data-error-for="step.booking.after"' in html and "invalid delay" in html
    assert 'data-error-for="step.booking.when"' in html
    assert 'value="soon"' in html  # what they typed is kept
    assert drafts().all() == []


def test_a_file_changed_on_disk_since_the_draft_began_is_a_conflict_not_overwritten(
    client: TestClient,
) -> None:
    manager(client)
    fields = form_of(client.get(EDIT).text)
    assert post(client, fields, "up:booking").status_code == 200
    files = CatalogFiles.of(get_settings())
    edited = (files.read(FILE) or "") + "# edited on the server\n"
    files.write(FILE, edited)
    fields = form_of(client.get(EDIT).text)
    response = post(client, fields, "up:self-test")
    assert response.status_code == 409
    assert "changed on disk since the draft began" in response.text
    assert files.read(FILE) == edited


def test_front_desk_may_not_open_the_editor_and_sees_no_edit_link(client: TestClient) -> None:
    add_person(None, "desk@example.com", "front-desk")
    csrf = sign_in(client, "desk@example.com")
    response = client.get(EDIT)
    assert response.status_code == 403 and "manager" in response.text
    assert client.post(EDIT, data={"csrf_token": csrf, "action": "save"}).status_code == 403
    page = client.get(f"/studio/sequences/{HIP}").text
    assert 'id="edit-sequence"' not in page and "/studio/sequences/new" not in page


def test_a_post_without_its_csrf_token_is_refused(client: TestClient) -> None:
    manager(client)
    fields = [(k, v) for k, v in form_of(client.get(EDIT).text) if k != "csrf_token"]
    response = post(client, fields, "save")
    assert response.status_code == 403 and "CSRF" in response.text
    assert drafts().all() == []


def test_the_sequence_page_offers_a_manager_edit_and_copy(client: TestClient) -> None:
    manager(client)
    page = client.get(f"/studio/sequences/{HIP}").text
    assert f'href="{EDIT}"' in page and 'action="/studio/sequences/new"' in page


def test_a_copy_by_json_is_a_draft_listed_on_the_studio_and_editable(client: TestClient) -> None:
    csrf = manager(client)
    body = {"from": HIP, "id": "hip-spring", "name": "Hip pain: spring"}
    response = client.post("/studio/sequences/new", json=body, headers={"X-CSRF-Token": csrf})
    assert response.status_code == 201, response.text
    assert response.json() == {"id": "hip-spring", "draft": True}
    assert CatalogFiles.of(get_settings()).read("schedules/hip-spring.yaml") is None
    draft = drafts().get("schedules/hip-spring.yaml")
    assert draft is not None and draft.creates
    index = client.get("/studio").text
    section = index.split('data-sequence="hip-spring"')[1].split("</section>")[0]
    assert "draft, not published" in section and "/studio/sequences/hip-spring/edit" in section
    editor = client.get("/studio/sequences/hip-spring/edit")
    assert editor.status_code == 200
    assert 'id="no-words"' in editor.text, editor.text.split("<main>")[1][:3000]
    assert "exists only as a draft" in editor.text
    assert '<tr data-step="booking" data-channel="email">' in editor.text


def test_a_copy_under_a_taken_id_is_refused_with_the_field_named(client: TestClient) -> None:
    csrf = manager(client)
    body = {"from": HIP, "id": "neck-pain", "name": ""}
    response = client.post("/studio/sequences/new", json=body, headers={"X-CSRF-Token": csrf})
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert "taken" in detail["id"] and "name" in detail
    form = {"from": HIP, "id": "neck-pain", "name": "Neck 2", "csrf_token": csrf}
    page = client.post("/studio/sequences/new", data=form)
    assert page.status_code == 422 and 'id="e-id"' in page.text
    assert drafts().all() == []


def test_a_copy_from_the_sequence_page_form_leads_to_its_editor(client: TestClient) -> None:
    csrf = manager(client)
    form = {"from": HIP, "id": "hip-two", "name": "Hip two", "csrf_token": csrf}
    response = client.post("/studio/sequences/new", data=form, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/studio/sequences/hip-two/edit?copied=1"
    page = client.get(response.headers["location"]).text
    assert "requests keep going to the original" in page


def test_a_file_the_form_cannot_show_is_refused_with_its_problem_never_a_500(
    client: TestClient,
) -> None:
    csrf = manager(client)
    broken = (CatalogFiles.of(get_settings()).read(FILE) or "").replace("after: 1d", "after: [1d]")
    drafts().save(FILE, broken, by="someone@example.com")
    page = client.get(EDIT)
    assert page.status_code == 422
    assert "cannot be edited here" in page.text and "steps.1.after" in page.text
    response = client.post(EDIT, data={"csrf_token": csrf, "action": "save", "steps": "x"})
    assert response.status_code == 422
    not_json = client.post(
        EDIT, content=b"[1]", headers={"Content-Type": "application/json", "X-CSRF-Token": csrf}
    )
    assert not_json.status_code == 422
    draft = drafts().get(FILE)
    assert draft is not None and draft.text == broken


def test_a_script_with_the_admin_key_copies_by_json_without_a_session(client: TestClient) -> None:
    body = {"from": "neck-pain", "id": "neck-two", "name": "Neck, second try"}
    response = client.post(
        "/studio/sequences/new", json=body, headers={"Authorization": "Bearer test-key"}
    )
    assert response.status_code == 201, response.text
    draft = drafts().get("schedules/neck-two.yaml")
    assert draft is not None and draft.saved_by == "api-key"
    assert client.post("/studio/sequences/new", json=body).status_code == 401
