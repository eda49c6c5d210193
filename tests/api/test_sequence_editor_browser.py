"""The sequence editor in a real headless Chromium against a real `nurture api`: reorder and
save with the keyboard only (no script on the page), errors next to their fields; axe-core,
no sideways scroll at 390 and 1280 px, the Nu checker. Screenshots: tests/artifacts/
sequence-editor*-{390,1280}.png."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from nurture.config import get_settings
from nurture.db import upgrade
from nurture.edit.drafts import Drafts
from nurture.edit.files import CatalogFiles
from tests.conftest import ApiProcess, wait_for
from tests.support.pages import PageChecks
from tests.support.people import add_person, sign_in_browser

#: A server and a browser to start, and pages checked at two widths, on a shared machine.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

HIP = "hip-pain-consultation"
FILE = "schedules/hip-pain-consultation.yaml"


@pytest.fixture
def api_server(env: dict[str, str], tmp_path: Path) -> Iterator[str]:
    upgrade()
    add_person(None, "manager@example.com", "manager")
    api = ApiProcess(env, tmp_path / "api.log").start()
    yield api.base
    api.stop()


def _press_enter_on(driver: Any, element_id: str) -> None:
    """Focus an element and press Enter, as a keyboard user does."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    element = driver.find_element(By.ID, element_id)
    driver.execute_script("arguments[0].focus()", element)
    ActionChains(driver).send_keys(Keys.ENTER).perform()


def _steps(driver: Any) -> list[str]:
    from selenium.webdriver.common.by import By

    found = driver.find_elements(By.CSS_SELECTOR, "fieldset.step[data-step]")
    return [str(f.get_attribute("data-step")) for f in found]


def _saved(driver: Any) -> bool:
    from selenium.webdriver.common.by import By

    return bool(driver.find_elements(By.ID, "saved"))


def test_a_manager_reorders_and_saves_with_the_keyboard_and_the_page_passes_the_checks(
    api_server: str, browser: Any, page_checks: PageChecks
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    files = CatalogFiles.of(get_settings())
    on_disk = files.read(FILE)
    sign_in_browser(browser, api_server, "manager@example.com")
    browser.get(f"{api_server}/studio/sequences/{HIP}/edit")
    assert browser.find_elements(By.CSS_SELECTOR, "script") == []
    assert _steps(browser) == ["doctor-first", "self-test", "exercise-videos", "booking"]
    page_checks(browser, "sequence-editor")

    # Move up, by the keyboard: the page comes back with the order saved and the focus
    # still on the step that moved.
    _press_enter_on(browser, "up-booking")
    wait_for(lambda: _saved(browser), timeout_s=30, message="the saved page after Move up")
    assert _steps(browser) == ["doctor-first", "self-test", "booking", "exercise-videos"]
    assert browser.execute_script("return document.activeElement.id") == "up-booking"
    # Enter in a text box saves (the form's first button), it never moves a step.
    name = browser.find_element(By.ID, "f-name")
    name.clear()
    name.send_keys("Outer hip pain, spring wording", Keys.ENTER)
    wait_for(
        lambda: "spring wording" in browser.find_element(By.TAG_NAME, "h1").text,
        timeout_s=30,
        message="the saved page after Enter in the name",
    )
    assert _steps(browser) == ["doctor-first", "self-test", "booking", "exercise-videos"]
    draft = Drafts(files).get(FILE)
    assert draft is not None and draft.text is not None
    assert 'name: "Outer hip pain, spring wording"' in draft.text
    assert files.read(FILE) == on_disk  # a draft: nothing sent changes
    assert browser.find_elements(By.CSS_SELECTOR, "#times tr[data-step='booking']")
    page_checks(browser, "sequence-editor-saved")

    # A bad delay: the error next to its field, what was typed kept, nothing saved.
    after = browser.find_element(By.ID, "f-step-self-test-after")
    after.clear()
    after.send_keys("two days")
    _press_enter_on(browser, "save")
    wait_for(lambda: browser.find_elements(By.ID, "errors"), timeout_s=30, message="the errors")
    error = browser.find_element(By.ID, "e-step-self-test-after")
    assert "invalid delay 'two days'" in error.text
    field = browser.find_element(By.ID, "f-step-self-test-after")
    assert field.get_attribute("value") == "two days"
    assert field.get_attribute("aria-invalid") == "true"
    assert Drafts(files).get(FILE) == draft
    page_checks(browser, "sequence-editor-errors")


def test_a_manager_copies_a_sequence_from_its_page_and_edits_the_draft(
    api_server: str, browser: Any, page_checks: PageChecks
) -> None:
    from selenium.webdriver.common.by import By

    sign_in_browser(browser, api_server, "manager@example.com")
    browser.get(f"{api_server}/studio/sequences/{HIP}")
    browser.find_element(By.CSS_SELECTOR, "#copy-sequence summary").click()
    copy_id = browser.find_element(By.ID, "copy-id")
    copy_id.clear()
    copy_id.send_keys("neck-pain")  # taken
    browser.find_element(By.CSS_SELECTOR, "#copy-sequence button[type=submit]").click()
    wait_for(lambda: browser.find_elements(By.ID, "e-id"), timeout_s=30, message="refused")
    assert "taken by schedules/neck-pain.yaml" in browser.find_element(By.ID, "e-id").text
    page_checks(browser, "sequence-copy-refused")

    copy_id = browser.find_element(By.ID, "f-id")
    copy_id.clear()
    copy_id.send_keys("hip-pain-spring")
    browser.find_element(By.CSS_SELECTOR, "#copy-form button[type=submit]").click()
    wait_for(lambda: browser.find_elements(By.ID, "no-words"), timeout_s=30, message="copy")
    assert browser.current_url.endswith("/studio/sequences/hip-pain-spring/edit?copied=1")
    assert "requests keep going to the original" in browser.find_element(By.ID, "saved").text
    assert "exists only as a draft" in browser.find_element(By.ID, "draft-state").text
    page_checks(browser, "sequence-editor-copy")
    files = CatalogFiles.of(get_settings())
    assert files.read("schedules/hip-pain-spring.yaml") is None
    assert Drafts(files).get("schedules/hip-pain-spring.yaml") is not None
