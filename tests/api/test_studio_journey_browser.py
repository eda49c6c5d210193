"""The studio end to end, as a clinic manager does it, in a real headless Chromium against a
real `nurture api` and a real Celery worker on Redis and PostgreSQL:

the manager signs in, replaces the clinic's example (CHANGE-ME) values, edits a step's SMS and
an email's subject, sees the preview and a lint finding, saves a draft (the next message
still goes out as before), publishes (the next one carries the new text), then rolls back
(the old text returns). Each "next message" is a step made due by moving its due time to now,
so the test waits on the worker, not on the clock. Screenshots: tests/artifacts/journey-*.png.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from nurture.config import get_settings
from nurture.content.live import CHECK_INTERVAL_S
from nurture.core.clock import utcnow
from nurture.core.states import DeliveryStatus
from nurture.db import session_scope, upgrade
from nurture.db.tables import Delivery
from tests.conftest import ApiProcess, midday_zone, use, wait_for
from tests.helpers import outbox, read_email, read_sms
from tests.support.pages import PageChecks
from tests.support.people import add_person, fill_sign_in
from tests.support.studio import copy_templates

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

AUTH = {"Authorization": "Bearer test-key"}
PHONE = "+16175550123"
EMAIL = "dana@example.com"
JOURNEY = """
# A sequence for this test: four steps far apart, made due one at a time.
id: journey
name: Journey through the studio
match: {concern: [journey]}
steps:
  - id: first
    after: 0s
    channels: [email, sms]
    template: journey/note
  - id: second
    after: 2h
    channels: [email, sms]
    template: journey/note
  - id: third
    after: 4h
    channels: [email, sms]
    template: journey/note
  - id: fourth
    after: 6h
    channels: [email, sms]
    template: journey/note
"""
SUBJECT_ONE = "{{ step.id }}: a note from the clinic"
SMS_ONE = "{{ step.id }}: hello {{ contact.first_name }}, version one."
SMS_TWO = "{{ step.id }}: hello {{ contact.first_name }}, version two."
#: Names the body part in a subject, which lock screens show: the lint refuses it.
SUBJECT_HIP = "{{ step.id }}: your hip, version two"
SUBJECT_TWO = "{{ step.id }}: your exercise, version two"
CLINIC = {
    "f-address": "12 Main Street, Suite 3\nCambridge, MA 02138",
    "f-phone": "+1 617 555 0142",
    "f-from_email": "care@benjamin-clinic.example",
    "f-website": "https://benjamin-clinic.example/",
    "f-booking_url": "https://benjamin-clinic.example/book",
    "f-phone_consultation_url": "https://benjamin-clinic.example/call",
    "f-remote_evaluation_url": "https://benjamin-clinic.example/remote",
    "video-url-1": "https://benjamin-clinic.example/videos/basics",
    "video-url-2": "https://benjamin-clinic.example/videos/gluteus-medius",
}


@pytest.fixture
def stack(
    redis_url: str,
    pg_url: str,
    env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    start_worker: Any,
) -> Iterator[ApiProcess]:
    """The journey sequence and a copy of the templates, a worker and an API on Redis and
    PostgreSQL."""
    templates = copy_templates(tmp_path / "templates")
    (templates / "journey").mkdir()
    (templates / "journey/note.subject.j2").write_text(SUBJECT_ONE)
    (templates / "journey/note.md.j2").write_text("Hello {{ contact.first_name }}.\n")
    (templates / "journey/note.sms.j2").write_text(SMS_ONE)
    (Path(env["NURTURE_SCHEDULES_DIR"]) / "journey.yaml").write_text(JOURNEY)
    use(
        env,
        monkeypatch,
        database_url=pg_url,
        broker_url=redis_url,
        templates_dir=str(templates),
        dispatch_interval_s="0.5",
    )
    upgrade()
    start_worker()
    api = ApiProcess(env, tmp_path / "api.log").start()
    yield api
    api.stop()


def _sent() -> dict[str, tuple[str, str]]:
    """Step id → (the SMS text, the email subject) the prospect got."""
    texts = {
        body.split(":")[0]: body
        for p in outbox("sms")
        if (m := read_sms(p))["to"] == PHONE and ":" in (body := str(m["body"]))
    }
    subjects = {
        subject.split(":")[0]: subject
        for p in outbox("email")
        if EMAIL in str((mail := read_email(p))["To"]) and ":" in (subject := str(mail["Subject"]))
    }
    return {step: (texts[step], subjects[step]) for step in texts.keys() & subjects.keys()}


def _send_now(step: str) -> tuple[str, str]:
    """Make `step` due now; the SMS and the subject the worker then sends for it.

    A worker looks at the files at most every `CHECK_INTERVAL_S`: a send in the second after
    a publish may still carry the old text (docs/PUBLISHING.md: "within a second"), so the
    step is made due once that second has passed."""
    time.sleep(CHECK_INTERVAL_S + 0.5)
    with session_scope() as db:
        db.execute(
            update(Delivery)
            .where(Delivery.step_id == step, Delivery.status == DeliveryStatus.SCHEDULED)
            .values(due_at=utcnow())
        )
    sent: tuple[str, str] = wait_for(
        lambda: _sent().get(step), timeout_s=90, message=f"the {step} step's email and SMS"
    )
    return sent


def _type(browser: Any, element_id: str, text: str) -> None:
    from selenium.webdriver.common.by import By

    box = browser.find_element(By.ID, element_id)
    box.clear()
    box.send_keys(text)


def _set(browser: Any, element_id: str, text: str) -> None:
    """A textarea's whole value (send_keys would go through the editor's key handling)."""
    browser.execute_script(
        "document.getElementById(arguments[0]).value = arguments[1]", element_id, text
    )


def _text(browser: Any, element_id: str) -> str:
    """The element's text, or "" while the page that holds it is still loading."""
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    from selenium.webdriver.common.by import By

    try:
        return str(browser.find_element(By.ID, element_id).text)
    except (NoSuchElementException, StaleElementReferenceException):
        return ""


def _published(browser: Any) -> list[str]:
    """The version the page says was published ([] while it is still loading)."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By

    try:
        return [h.get_attribute("data-version") for h in browser.find_elements(By.ID, "published")]
    except StaleElementReferenceException:
        return []


def _click(browser: Any, css: str) -> None:
    from selenium.webdriver.common.by import By

    browser.find_element(By.CSS_SELECTOR, css).click()


def test_a_manager_edits_publishes_and_rolls_back_and_each_send_follows(
    stack: ApiProcess, browser: Any, page_checks: PageChecks
) -> None:
    from selenium.webdriver.common.by import By

    api = stack
    body = {
        "first_name": "Dana",
        "email": EMAIL,
        "phone": PHONE,
        "concern": "journey",
        "timezone": midday_zone(),
        "consent_email": True,
        "consent_sms": True,
    }
    answer = httpx.post(f"{api.base}/v1/consultation-requests", json=body, headers=AUTH, timeout=30)
    assert answer.status_code == 201, answer.text
    first = wait_for(lambda: _sent().get("first"), timeout_s=90, message="the first step")
    assert first[0].startswith("first: hello Dana, version one.")

    add_person(None, "max@benjamin-clinic.example", "manager")
    browser.get(f"{api.base}/studio/settings")
    fill_sign_in(browser, "max@benjamin-clinic.example")
    wait_for(lambda: browser.find_elements(By.ID, "settings-form"), message="the settings")
    assert browser.find_elements(By.ID, "clinic-examples"), "the CHANGE-ME banner"

    # 1. The clinic's example values replaced: a draft.
    for field, value in CLINIC.items():
        _type(browser, field, value)
    _click(browser, "#save-settings")
    wait_for(lambda: browser.find_elements(By.ID, "draft-note"), message="the settings draft")
    assert not browser.find_elements(By.ID, "error-summary"), browser.find_element(
        By.ID, "error-summary"
    ).text
    page_checks(browser, "journey-settings")

    # 2. The step's SMS and its email's subject: a draft, with its preview and findings.
    browser.get(f"{api.base}/studio/sequences/journey/steps/first/edit")
    wait_for(lambda: browser.find_elements(By.ID, "edit-form"), message="the message editor")
    _set(browser, "sms_body", SMS_TWO)
    _type(browser, "email_subject", SUBJECT_HIP)
    _click(browser, "#save-draft")
    wait_for(lambda: browser.find_elements(By.ID, "saved"), message="the message draft")
    assert "not sent to anyone until published" in browser.find_element(By.ID, "saved").text
    assert browser.find_element(By.ID, "preview-sms").text.startswith("first: hello")
    assert "version two" in browser.find_element(By.ID, "preview-sms").text
    assert browser.find_element(By.ID, "preview-subject").text == "first: your hip, version two"
    assert "'hip'" in browser.find_element(By.ID, "findings-email").text
    page_checks(browser, "journey-step")
    # The manager follows the finding: the subject reworded, the finding gone.
    _type(browser, "email_subject", SUBJECT_TWO)
    _click(browser, "#save-draft")
    wait_for(
        lambda: _text(browser, "preview-subject") == "first: your exercise, version two",
        message="the reworded subject's preview",
    )
    assert "'hip'" not in browser.find_element(By.TAG_NAME, "main").text

    # A draft changes nothing that is sent.
    assert _send_now("second") == (
        "second: hello Dana, version one.",
        "second: a note from the clinic",
    )

    # 3. Publish: the diff lists both files, then the next send carries the new text.
    browser.get(f"{api.base}/studio/publish")
    wait_for(lambda: browser.find_elements(By.ID, "publish"), message="the publish page")
    page_text = browser.find_element(By.TAG_NAME, "main").text
    for name in ("clinic.yaml", "note.sms.j2", "note.subject.j2"):
        assert name in page_text, name
    page_checks(browser, "journey-publish")
    _type(browser, "note", "Clinic details and a clearer first text")
    _click(browser, "#publish button[type=submit]")
    wait_for(
        lambda: _published(browser) == ["2"],
        message="the publish confirmation",
        timeout_s=60,
    )
    on_disk = (get_settings().schedules_dir / "clinic.yaml").read_text()
    values = [line for line in on_disk.splitlines() if not line.lstrip().startswith("#")]
    assert not [line for line in values if "CHANGE-ME" in line], values
    assert "booking_url: https://benjamin-clinic.example/book" in values
    assert "# The clinic itself" in on_disk, "the file's comments are kept"
    assert _send_now("third") == (
        "third: hello Dana, version two.",
        "third: your exercise, version two",
    )
    browser.get(f"{api.base}/today")
    wait_for(lambda: browser.find_elements(By.ID, "nav-today"), message="the Today page")
    assert not browser.find_elements(By.ID, "clinic-examples"), "the banner is gone"

    # 4. Roll back to the files as they were before the first publish: the old text returns.
    browser.get(f"{api.base}/studio/history")
    wait_for(
        lambda: browser.find_elements(By.LINK_TEXT, "Roll back to this version"), message="history"
    )
    page_checks(browser, "journey-history")
    browser.find_element(By.CSS_SELECTOR, 'a[href="/studio/history/1/rollback"]').click()
    wait_for(lambda: browser.find_elements(By.ID, "rollback"), message="the rollback page")
    _click(browser, "#rollback button[type=submit]")
    wait_for(
        lambda: _published(browser) == ["3"],
        message="the rollback confirmation",
    )
    assert _send_now("fourth") == (
        "fourth: hello Dana, version one.",
        "fourth: a note from the clinic",
    )
    history = httpx.get(
        f"{api.base}/studio/history", headers={**AUTH, "Accept": "application/json"}, timeout=30
    ).json()
    assert [v["version"] for v in history][:3] in ([3, 2, 1], [1, 2, 3])
    by_version = {v["version"]: v for v in history}
    assert by_version[2]["by"] == "max@benjamin-clinic.example"
    assert by_version[2]["note"] == "Clinic details and a clearer first text"
