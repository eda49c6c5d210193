"""The message editor in a real headless Chromium against a real `nurture api`: the insert
buttons put a placeholder at the cursor (an email link around the selected words), a save
shows the draft's preview and findings, and the page passes the page checks at 390 and
1280 px before and after (screenshots: tests/artifacts/studio-edit-step*.png)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from nurture.db import upgrade
from tests.conftest import ROOT, ApiProcess, use, wait_for
from tests.support.pages import PageChecks
from tests.support.people import add_person, fill_sign_in

pytestmark = pytest.mark.slow

HIP = "hip-pain-consultation"
EDIT = f"/studio/sequences/{HIP}/steps/exercise-videos/edit"


@pytest.fixture
def api_server(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[str]:
    templates = tmp_path / "templates"
    shutil.copytree(ROOT / "templates", templates)
    use(env, monkeypatch, templates_dir=str(templates))
    upgrade()
    api = ApiProcess(env, tmp_path / "api.log").start()
    yield api.base
    api.stop()


def _value(browser: Any, field_id: str) -> str:
    return str(browser.execute_script(f"return document.getElementById('{field_id}').value"))


def _select(browser: Any, field_id: str, start: int, end: int) -> None:
    browser.execute_script(
        "var f = document.getElementById(arguments[0]); f.focus();"
        " f.setSelectionRange(arguments[1], arguments[2]);",
        field_id,
        start,
        end,
    )


def test_a_manager_edits_a_step_inserts_placeholders_and_sees_the_draft_preview(
    api_server: str, browser: Any, page_checks: PageChecks
) -> None:
    from selenium.webdriver.common.by import By

    add_person(None, "max@clinic.example", "manager")
    browser.get(f"{api_server}{EDIT}")
    fill_sign_in(browser, "max@clinic.example")
    wait_for(lambda: browser.find_elements(By.ID, "edit-form"), timeout_s=30, message="editor")
    page_checks(browser, "studio-edit-step")

    # The script shows the buttons; without it the guide's list is there to copy from.
    assert browser.find_elements(By.CSS_SELECTOR, "#placeholders code")
    sms_bar = browser.find_element(By.CSS_SELECTOR, '[data-insert-for="sms_body"]')
    assert sms_bar.is_displayed()

    # An SMS: the placeholder goes where the cursor is.
    browser.find_element(By.ID, "sms_body").clear()
    browser.find_element(By.ID, "sms_body").send_keys("Hello . See you soon.")
    _select(browser, "sms_body", 6, 6)
    sms_bar.find_element(By.XPATH, ".//button[normalize-space()='First name']").click()
    assert _value(browser, "sms_body") == "Hello {{ contact.first_name }}. See you soon."
    end = len(_value(browser, "sms_body"))
    _select(browser, "sms_body", end, end)
    sms_bar.find_element(By.XPATH, ".//button[normalize-space()='Booking page']").click()
    assert _value(browser, "sms_body").endswith("See you soon.{{ links.booking }}")
    sms = "Hello {{ contact.first_name }}, your visit: {{ links.booking }}"
    browser.execute_script("document.getElementById('sms_body').value = arguments[0]", sms)

    # An email: the selected words become the link's text.
    body = _value(browser, "email_body")
    start = body.index("Please read this through")
    _select(browser, "email_body", start, start + len("Please read this through"))
    email_bar = browser.find_element(By.CSS_SELECTOR, '[data-insert-for="email_body"]')
    email_bar.find_element(By.XPATH, ".//button[normalize-space()='Video: basics']").click()
    assert "[Please read this through]({{ links.videos.basics }})" in _value(browser, "email_body")

    subject = browser.find_element(By.ID, "email_subject")
    subject.clear()
    subject.send_keys("Your exercise for the hip")
    browser.find_element(By.ID, "save-draft").click()
    wait_for(lambda: browser.find_elements(By.ID, "saved"), timeout_s=30, message="saved")

    assert "not sent to anyone until published" in browser.find_element(By.ID, "saved").text
    bubble = browser.find_element(By.ID, "preview-sms").text
    assert bubble.startswith("Hello Alex, your visit: https://")
    assert browser.find_element(By.ID, "sms-facts").get_attribute("data-segments") == "1"
    assert browser.find_element(By.ID, "preview-subject").text == "Your exercise for the hip"
    findings = browser.find_element(By.ID, "findings-email").text
    assert "the subject names 'hip'" in findings
    frame = browser.find_element(By.CSS_SELECTOR, "#preview iframe")
    browser.switch_to.frame(frame)
    try:
        wait_for(
            lambda: "Please read this through" in browser.find_element(By.TAG_NAME, "body").text,
            timeout_s=15,
            message="the draft email in its frame",
        )
    finally:
        browser.switch_to.default_content()
    page_checks(browser, "studio-edit-step-saved")

    # A text whose placeholder is not closed: refused next to its box, what was typed kept.
    broken = "Hello {{ contact.first_name }, see you"
    browser.execute_script("document.getElementById('sms_body').value = arguments[0]", broken)
    browser.find_element(By.ID, "save-draft").click()
    wait_for(lambda: browser.find_elements(By.ID, "refused"), timeout_s=30, message="refusal")
    error = browser.find_element(By.ID, "err-sms_body").text
    assert error.startswith("The text message, line 1:")
    assert _value(browser, "sms_body") == broken
    assert browser.find_element(By.ID, "sms_body").get_attribute("aria-invalid") == "true"
    assert browser.find_element(By.ID, "preview-sms").text.startswith("Hello Alex, your visit")
    page_checks(browser, "studio-edit-step-refused")
